/* SPDX-License-Identifier: MIT */
/* doctor's socket directory check against real files in a scratch root,
 * and the upstream connect (the parsers of the system facts:
 * test-sysfacts.c; X lock files and displays: test-display.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "addr.h"
#include "doctor.h"
#include "upstream.h"
#include "scratch-root.h"

/* ---- below a scratch root (scratch-root.h) ---- */

static void test_dir_states(void **state)
{
	struct doctor_system sys;
	struct doctor_dir dir;
	char path[PATH_MAX];

	assert_int_equal(doctor_system_read(&sys, root), 0);
	assert_false(sys.facts.live);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_MISSING);

	make_dir("/tmp/.X11-unix", 01777);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_OK);
	assert_int_equal(dir.mode, 01777);

	snprintf(path, sizeof(path), "%s/tmp/.X11-unix", root);
	assert_int_equal(chmod(path, 0777), 0);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_ABSTRACT_ONLY);
	assert_int_equal(dir.judged, DISPLAY_DIR_NOT_STICKY);
	assert_false(dir.wslg);

	/* The root's /proc/mounts says read-only: WSLg's 0777 mount. */
	write_file("/proc/mounts", "none /tmp/.X11-unix tmpfs ro,relatime 0 0\n");
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_ABSTRACT_ONLY);
	assert_int_equal(dir.judged, DISPLAY_DIR_READONLY);
	assert_true(dir.wslg);

	/* A symbolic link of ours (or root's): the abstract socket only;
	 * WSLg's when it points to /mnt/wslg/.X11-unix. */
	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink("/", path), 0);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_ABSTRACT_ONLY);
	assert_int_equal(dir.judged, DISPLAY_DIR_SYMLINK);
	assert_false(dir.wslg);
	assert_string_equal(dir.link_target, "/");
	assert_int_equal(unlink(path), 0);
	assert_int_equal(symlink("/mnt/wslg/.X11-unix", path), 0);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.judged, DISPLAY_DIR_SYMLINK);
	assert_true(dir.wslg);
	if (geteuid() == 0) {
		/* Another user's link: refused. */
		assert_int_equal(lchown(path, 4242, 4242), 0);
		assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
		assert_int_equal(dir.state, DIR_NOT_DIR);
		assert_int_equal(dir.judged, DISPLAY_DIR_FOREIGN_SYMLINK);
	}
	assert_int_equal(unlink(path), 0);

	if (geteuid() == 0) {
		/* Owned by someone else than root or us. */
		make_dir("/tmp/.X11-unix", 01777);
		assert_int_equal(chown(path, 4242, 4242), 0);
		assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
		assert_int_equal(dir.state, DIR_FOREIGN_OWNER);
		assert_int_equal(dir.uid, 4242);
		assert_int_equal(rmdir(path), 0);
	}
}


static void test_upstream_connect(void **state)
{
	struct addr a;
	char path[PATH_MAX];
	uint64_t start;
	int lfd, fd;

	snprintf(path, sizeof(path), "%s/s", root);
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		skip();
	assert_int_equal(addr_unix(path, &a), 0);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -ENOENT);

	lfd = listen_unix(path, false);
	fd = upstream_connect(&a, 0, upstream_now_ms() + 1000);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	/* Nothing to read: the wait ends at the deadline. */
	start = upstream_now_ms();
	assert_int_equal(upstream_wait(fd, POLLIN, start + 150), -ETIMEDOUT);
	assert_true(upstream_now_ms() - start >= 150);
	close(fd);
	close(lfd);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -ECONNREFUSED);
	unlink(path);

	/* An unresolved tcp name is refused before any socket. */
	assert_int_equal(addr_parse("tcp:localhost:6000", &a, NULL), 0);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -EDESTADDRREQ);
	/* A deadline already passed. */
	assert_int_equal(addr_parse("tcp:127.0.0.1:1", &a, NULL), 0);
	fd = upstream_connect(&a, 0, upstream_now_ms());
	assert_true(fd == -ECONNREFUSED || fd == -ETIMEDOUT);
}

/* The connect-failure sentence that run logs and doctor reports: the
 * registry key on a Hyper-V VM, X410's own WSL2/VSOCK option on WSL2. */
static void test_upstream_hint_wsl2(void **state)
{
	struct addr a;
	char hint[1024];

	(void)state;
	addr_vsock(2, 6005, &a);
	upstream_hint_set_wsl2(false, NULL);
	upstream_error_hint(&a, true, 5, 3000, -ECONNRESET, hint, sizeof(hint));
	assert_string_equal(hint, "X410 is not listening on vsock port 6005 (display 5): is X410 running with /listen hyperv and the registry key 00001775-facb-11e6-bd58-64006a7986d3 present?");

	upstream_hint_set_wsl2(true, "6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b");
	upstream_error_hint(&a, true, 5, 3000, -ETIMEDOUT, hint, sizeof(hint));
	assert_string_equal(hint, "connect timed out after 3000 ms: X410 is not accepting VSOCK connections from WSL2 on port 6005 (display 5) (this WSL2 VM's id is 6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b): X410 must itself accept them; is X410 running with its WSL2/VSOCK option on?");
	upstream_hint_set_wsl2(true, "");
	upstream_error_hint(&a, true, 5, 3000, -ECONNREFUSED, hint, sizeof(hint));
	assert_null(strstr(hint, "registry"));
	assert_null(strstr(hint, "VM's id"));
	assert_non_null(strstr(hint, "WSL2/VSOCK option"));
	/* Not X410's address (--connect): no X410 advice at all. */
	upstream_error_hint(&a, false, 5, 3000, -ECONNREFUSED, hint, sizeof(hint));
	assert_string_equal(hint, "nobody is listening on vsock:2:6005 (Connection refused)");
	upstream_hint_set_wsl2(false, NULL);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_dir_states, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_upstream_connect, setup_root, teardown_root),
		cmocka_unit_test(test_upstream_hint_wsl2),
	};

	return cmocka_run_group_tests_name("doctor", tests, NULL, NULL);
}
