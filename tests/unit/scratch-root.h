/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * A scratch root directory for the unit tests that read files below a root
 * (doctor --root, display.c): created by setup_root() with /tmp (1777),
 * /proc and /proc/net, removed by teardown_root(); write_file() and
 * make_dir() take paths inside it.  And listen_unix(), a listening UNIX
 * socket (abstract when asked).  Include after <cmocka.h>.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>

static char root[256];

static inline void write_file(const char *rel, const char *content)
{
	char path[PATH_MAX];
	FILE *f;

	snprintf(path, sizeof(path), "%s%s", root, rel);
	f = fopen(path, "we");
	assert_non_null(f);
	fputs(content, f);
	assert_int_equal(fclose(f), 0);
}

static inline void make_dir(const char *rel, mode_t mode)
{
	char path[PATH_MAX];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	assert_int_equal(mkdir(path, mode), 0);
	assert_int_equal(chmod(path, mode), 0);
}

static inline int setup_root(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/x410-unit-root.XXXXXX", tmp ? tmp : "/tmp");
	if (!mkdtemp(root))
		return -1;
	make_dir("/tmp", 01777);
	make_dir("/proc", 0755);
	make_dir("/proc/net", 0755);
	return 0;
}

static inline int teardown_root(void **state)
{
	char cmd[PATH_MAX + 16];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	return system(cmd) == 0 ? 0 : -1;
}

static inline int listen_unix(const char *path, bool abstract)
{
	struct sockaddr_un sun = { .sun_family = AF_UNIX };
	socklen_t len;
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	assert_true(fd >= 0);
	if (abstract) {
		memcpy(sun.sun_path + 1, path, strlen(path));
		len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(path));
	} else {
		assert_true(strlen(path) < sizeof(sun.sun_path));
		strcpy(sun.sun_path, path);
		len = sizeof(sun);
	}
	assert_int_equal(bind(fd, (struct sockaddr *)&sun, len), 0);
	assert_int_equal(listen(fd, 4), 0);
	return fd;
}
