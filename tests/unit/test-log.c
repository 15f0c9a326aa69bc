/* SPDX-License-Identifier: MIT */
/* Logging: plain "x410-vsock: LEVEL: ..." lines, and syslog priority
 * prefixes only when JOURNAL_STREAM names the stream stderr really is. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdbool.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"

struct capture {
	int saved_stderr;
	int fd;
	char path[64];
};

/* Point stderr at a fresh file; returns its "dev:ino". */
static void capture_start(struct capture *c, char *journal_stream, size_t size)
{
	struct stat st;

	strcpy(c->path, "/tmp/x410-test-log.XXXXXX");
	c->fd = mkostemp(c->path, O_CLOEXEC);
	assert_true(c->fd >= 0);
	fflush(stderr);
	c->saved_stderr = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	assert_true(c->saved_stderr >= 0);
	assert_int_equal(dup2(c->fd, STDERR_FILENO), STDERR_FILENO);
	assert_int_equal(fstat(STDERR_FILENO, &st), 0);
	snprintf(journal_stream, size, "%llu:%llu",
		 (unsigned long long)st.st_dev, (unsigned long long)st.st_ino);
}

/* Restore stderr and return what was written (malloc'd). */
static char *capture_end(struct capture *c)
{
	char *buf = calloc(1, 4096);
	ssize_t n;

	assert_non_null(buf);
	fflush(stderr);
	assert_int_equal(dup2(c->saved_stderr, STDERR_FILENO), STDERR_FILENO);
	close(c->saved_stderr);
	n = pread(c->fd, buf, 4095, 0);
	assert_true(n >= 0);
	close(c->fd);
	unlink(c->path);
	return buf;
}

static void log_every_level(void)
{
	log_set_max_level(LOG_DEBUG);
	assert_int_equal(log_error_errno(-ENOENT, "e %m"), -ENOENT);
	assert_int_equal(log_warning("w"), 0);
	log_notice("n");
	log_info("i");
	log_debug("d");
	(void)usage_error("regfile", "u");
	log_set_max_level(LOG_INFO);
}

static void test_journal_prefix(void **state)
{
	struct capture c;
	char js[64];
	char *out;

	(void)state;
	capture_start(&c, js, sizeof(js));
	setenv("JOURNAL_STREAM", js, 1);
	log_open();
	log_every_level();
	out = capture_end(&c);
	assert_string_equal(out,
		"<3>x410-vsock: ERROR: e No such file or directory\n"
		"<4>x410-vsock: WARNING: w\n"
		"<5>x410-vsock: n\n"
		"<6>x410-vsock: i\n"
		"<7>x410-vsock: DEBUG: d\n"
		"<3>x410-vsock: ERROR: u\n"
		"<3>Try 'x410-vsock regfile --help'.\n");
	free(out);
}

static const char plain[] =
	"x410-vsock: ERROR: e No such file or directory\n"
	"x410-vsock: WARNING: w\n"
	"x410-vsock: n\n"
	"x410-vsock: i\n"
	"x410-vsock: DEBUG: d\n"
	"x410-vsock: ERROR: u\n"
	"Try 'x410-vsock regfile --help'.\n";

static void plain_with(const char *value, bool mismatch)
{
	struct capture c;
	char js[64];
	char *out;

	capture_start(&c, js, sizeof(js));
	if (mismatch) {
		/* The same device, another inode: stderr was redirected. */
		char other[80];
		unsigned long long dev, ino;

		assert_int_equal(sscanf(js, "%llu:%llu", &dev, &ino), 2);
		snprintf(other, sizeof(other), "%llu:%llu", dev, ino + 1);
		setenv("JOURNAL_STREAM", other, 1);
	} else if (value)
		setenv("JOURNAL_STREAM", value, 1);
	else
		unsetenv("JOURNAL_STREAM");
	log_open();
	log_every_level();
	out = capture_end(&c);
	print_message("# JOURNAL_STREAM=%s\n", getenv("JOURNAL_STREAM") ?: "(unset)");
	assert_string_equal(out, plain);
	free(out);
}

static void test_plain(void **state)
{
	(void)state;
	plain_with(NULL, false);
	plain_with(NULL, true);
	plain_with("", false);
	plain_with("0:0", false);
	plain_with("junk", false);
	plain_with("1:", false);
	plain_with(":1", false);
	plain_with("-1:-1", false);
	plain_with("99999999999999999999999:1", false);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_journal_prefix),
		cmocka_unit_test(test_plain),
	};

	return cmocka_run_group_tests_name("log", tests, NULL, NULL);
}
