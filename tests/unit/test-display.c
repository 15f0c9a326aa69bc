/* SPDX-License-Identifier: MIT */
/* The local displays as run and doctor both see them (display.c): lock file
 * and /proc/net/unix parsers, the socket directory rule, each display's
 * state below a scratch root and on the live system, and the free displays
 * suggested. */
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
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "addr.h"
#include "display.h"
#include "scratch-root.h"

static void test_lock_parse(void **state)
{
	static const struct {
		const char *s;
		int r;
		pid_t pid;
	} cases[] = {
		{ "      4242\n", 0, 4242 },
		{ "4242\n", 0, 4242 },
		{ "4242", 0, 4242 },
		{ "2147483647\n", 0, 2147483647 },
		{ "", -EINVAL, 0 },
		{ "\n", -EINVAL, 0 },
		{ "         0\n", -EINVAL, 0 },
		{ "2147483648\n", -EINVAL, 0 },
		{ "99999999999999999999\n", -EINVAL, 0 },
		{ "-1\n", -EINVAL, 0 },
		{ "12 34\n", -EINVAL, 0 },
		{ "1234\n\n", -EINVAL, 0 },
		{ "1234x\n", -EINVAL, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		pid_t pid = 0;
		int r = display_lock_parse(cases[i].s, strlen(cases[i].s), &pid);

		if (r != cases[i].r || (r == 0 && pid != cases[i].pid))
			fail_msg("'%s': %d %d", cases[i].s, r, (int)pid);
	}
	/* An embedded NUL is not a PID. */
	{
		pid_t pid;

		assert_int_equal(display_lock_parse("12\0" "3\n", 5, &pid), -EINVAL);
	}
}

static void test_lock_parse_lengths(void **state)
{
	pid_t pid = 0;

	(void)state;
	assert_int_equal(display_lock_parse("      1234\n", 11, &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(display_lock_parse("1234\n", 5, &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(display_lock_parse("1234", 4, &pid), 0);
	assert_int_equal(pid, 1234);
	assert_int_equal(display_lock_parse("2147483647\n", 11, &pid), 0);
	assert_int_equal(pid, 2147483647);

	/* Empty (a server writing it in place), partial or foreign content. */
	assert_int_equal(display_lock_parse("", 0, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("          ", 10, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("\n", 1, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("         0\n", 11, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("2147483648\n", 11, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("     -1234\n", 11, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("1234\n\n", 6, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("1234x", 5, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("12 34\n", 6, &pid), -EINVAL);
	assert_int_equal(display_lock_parse("99999999999999999999\n", 21, &pid), -EINVAL);
	/* The length counts, not a NUL. */
	assert_int_equal(display_lock_parse("1234\0" "5", 6, &pid), -EINVAL);
}

static void test_unix_line(void **state)
{
	char path[128];
	bool listening;

	assert_int_equal(display_unix_line_parse("Num       RefCount Protocol Flags    Type St Inode Path", &listening, path, sizeof(path)), 0);
	assert_int_equal(display_unix_line_parse("000000009f59e0df: 00000003 00000000 00000000 0001 03  1092", &listening, path, sizeof(path)), 0);
	assert_int_equal(display_unix_line_parse("0000000000000000: 00000002 00000000 00010000 0001 01 23457 /tmp/.X11-unix/X0\n", &listening, path, sizeof(path)), 1);
	assert_true(listening);
	assert_string_equal(path, "/tmp/.X11-unix/X0");
	assert_int_equal(display_unix_line_parse("0000000000000000: 00000002 00000000 00010000 0001 01 23456 @/tmp/.X11-unix/X0", &listening, path, sizeof(path)), 1);
	assert_true(listening);
	assert_string_equal(path, "@/tmp/.X11-unix/X0");
	assert_int_equal(display_unix_line_parse("0000000000000000: 00000003 00000000 00000000 0001 03 23458 /run/a path with blanks", &listening, path, sizeof(path)), 1);
	assert_false(listening);
	assert_string_equal(path, "/run/a path with blanks");
	/* Malformed. */
	assert_int_equal(display_unix_line_parse("", &listening, path, sizeof(path)), -EINVAL);
	assert_int_equal(display_unix_line_parse("garbage", &listening, path, sizeof(path)), -EINVAL);
	assert_int_equal(display_unix_line_parse("00: 1 2", &listening, path, sizeof(path)), -EINVAL);
	assert_int_equal(display_unix_line_parse("00: 1 2 3 4 5 x /p", &listening, path, sizeof(path)), -EINVAL);
	assert_int_equal(display_unix_line_parse("00: 1 2 3 4 5 6/p", &listening, path, sizeof(path)), -EINVAL);
	/* Too long for the buffer. */
	assert_int_equal(display_unix_line_parse("00: 1 2 10000 4 5 6 /0123456789", &listening, path, 8), -ENAMETOOLONG);
}

/* ---- below a scratch root (scratch-root.h) ---- */

static void test_dir_judge(void **state)
{
	uid_t me = geteuid(), other = me == 4242 ? 4343 : 4242;
	struct stat st = {};

	(void)state;
	st.st_mode = S_IFDIR | 01777;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_OK);
	st.st_mode = S_IFDIR | 0755;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_OK);
	/* Writable by others without the sticky bit, whoever owns it. */
	st.st_mode = S_IFDIR | 0777;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_NOT_STICKY);
	st.st_mode = S_IFDIR | 0775;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_NOT_STICKY);
	st.st_uid = me;
	st.st_mode = S_IFDIR | 0777;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_NOT_STICKY);
	/* Read-only first: WSLg's 0777 mount. */
	assert_int_equal(display_dir_judge(&st, me, true), DISPLAY_DIR_READONLY);
	st.st_mode = S_IFDIR | 0700;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_OK);
	st.st_uid = other;
	assert_int_equal(display_dir_judge(&st, me, false), other == 0 ? DISPLAY_DIR_OK : DISPLAY_DIR_FOREIGN_OWNER);
	assert_int_equal(display_dir_judge(&st, me, true), other == 0 ? DISPLAY_DIR_READONLY : DISPLAY_DIR_FOREIGN_OWNER);
	st.st_uid = 0;
	st.st_mode = S_IFLNK | 0777;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_SYMLINK);
	st.st_uid = me;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_SYMLINK);
	st.st_uid = other;
	assert_int_equal(display_dir_judge(&st, me, false), other == 0 ? DISPLAY_DIR_SYMLINK : DISPLAY_DIR_FOREIGN_SYMLINK);
	st.st_uid = 0;
	st.st_mode = S_IFREG | 0644;
	assert_int_equal(display_dir_judge(&st, me, false), DISPLAY_DIR_NOT_DIR);

	/* The abstract socket only, or refused. */
	assert_true(display_dir_abstract_only(DISPLAY_DIR_SYMLINK));
	assert_true(display_dir_abstract_only(DISPLAY_DIR_READONLY));
	assert_true(display_dir_abstract_only(DISPLAY_DIR_NOT_STICKY));
	assert_false(display_dir_abstract_only(DISPLAY_DIR_OK));
	assert_false(display_dir_abstract_only(DISPLAY_DIR_FOREIGN_SYMLINK));
	assert_false(display_dir_abstract_only(DISPLAY_DIR_FOREIGN_OWNER));
	assert_false(display_dir_abstract_only(DISPLAY_DIR_NOT_DIR));
}

static void test_dir_wslg(void **state)
{
	uid_t me = geteuid(), other = me == 4242 ? 4343 : 4242;
	struct stat st = { .st_mode = S_IFDIR | 0777 };

	(void)state;
	/* A read-only 0777 mount of root's. */
	assert_true(display_dir_is_wslg(DISPLAY_DIR_READONLY, &st, me, NULL));
	st.st_mode = S_IFDIR | 01777;
	assert_false(display_dir_is_wslg(DISPLAY_DIR_READONLY, &st, me, NULL));
	st.st_mode = S_IFDIR | 0777;
	assert_false(display_dir_is_wslg(DISPLAY_DIR_NOT_STICKY, &st, me, NULL));
	/* A symbolic link of root's to /mnt/wslg/.X11-unix. */
	st.st_mode = S_IFLNK | 0777;
	assert_true(display_dir_is_wslg(DISPLAY_DIR_SYMLINK, &st, me, "/mnt/wslg/.X11-unix"));
	assert_false(display_dir_is_wslg(DISPLAY_DIR_SYMLINK, &st, me, "/mnt/wslg/.X11-unix/"));
	assert_false(display_dir_is_wslg(DISPLAY_DIR_SYMLINK, &st, me, "/tmp/elsewhere"));
	st.st_uid = other;
	assert_int_equal(display_dir_is_wslg(DISPLAY_DIR_SYMLINK, &st, me, "/mnt/wslg/.X11-unix"), other == 0);
}

/* Below a root, read-only comes from the root's /proc/mounts: the longest
 * mount point that holds the directory, octal escapes undone. */
static void test_dir_readonly_mounts(void **state)
{
	(void)state;
	write_file("/proc/mounts",
		      "/dev/sda / ext4 rw,relatime 0 0\n"
		      "none /tmp tmpfs rw,nosuid 0 0\n"
		      "none /tmp/.X11-unix tmpfs ro,relatime 0 0\n"
		      "none /tmp/.X11-unixfoo tmpfs rw 0 0\n"
		      "none /mnt/with\\040blank tmpfs ro 0 0\n"
		      "junk\n");
	assert_true(display_dir_readonly(root, false, "/tmp/.X11-unix"));
	assert_true(display_dir_readonly(root, false, "/tmp/.X11-unix/sub"));
	assert_false(display_dir_readonly(root, false, "/tmp"));
	assert_false(display_dir_readonly(root, false, "/tmp/.X11-unixfoo"));
	assert_false(display_dir_readonly(root, false, "/tmp/.X11"));
	assert_true(display_dir_readonly(root, false, "/mnt/with blank/x"));
	assert_false(display_dir_readonly(root, false, "/var"));
	{
		char path[PATH_MAX];

		snprintf(path, sizeof(path), "%s/proc/mounts", root);
		assert_int_equal(unlink(path), 0);
	}
	assert_false(display_dir_readonly(root, false, "/tmp/.X11-unix"));
}

static struct display_where below_root(const struct display_unix_table *t)
{
	return (struct display_where) {
		.root = root,
		.live = false,
		.socket_dir = "/tmp/.X11-unix",
		.lock_dir = "/tmp",
		.table = t,
	};
}

/* A socket file that nobody listens on any more. */
static void stale_socket(const char *path)
{
	close(listen_unix(path, false));
}

static void set_age(const char *rel, time_t seconds)
{
	char path[PATH_MAX];
	struct timeval tv[2];

	snprintf(path, sizeof(path), "%s%s", root, rel);
	gettimeofday(&tv[0], NULL);
	tv[0].tv_sec -= seconds;
	tv[1] = tv[0];
	assert_int_equal(utimes(path, tv), 0);
}

static void test_dir_normalize(void **state)
{
	static const struct {
		const char *in, *out;
		int r;
	} cases[] = {
		{ "/tmp/link/", "/tmp/link", 0 },
		{ "/tmp/link//", "/tmp/link", 0 },
		{ "//tmp//link/.", "/tmp/link", 0 },
		{ "/tmp/./link/./", "/tmp/link", 0 },
		{ "/", "/", 0 },
		{ "//", "/", 0 },
		{ "/.", "/", 0 },
		{ "rel/dir/", "rel/dir", 0 },
		{ "./", ".", 0 },
		{ "/tmp/.X11-unix", "/tmp/.X11-unix", 0 },
		{ "/tmp/..x/y", "/tmp/..x/y", 0 },
		{ "/tmp/real/../link", NULL, -EINVAL },
		{ "/tmp/link/..", NULL, -EINVAL },
		{ "..", NULL, -EINVAL },
		{ "", NULL, -EINVAL },
	};
	char buf[64], small[6];

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		assert_int_equal(display_dir_normalize(cases[i].in, buf, sizeof(buf)), cases[i].r);
		if (cases[i].out)
			assert_string_equal(buf, cases[i].out);
	}
	assert_int_equal(display_dir_normalize("/tmp/x", small, sizeof(small)), -ENAMETOOLONG);
	assert_int_equal(display_dir_normalize("/tmp/", small, sizeof(small)), 0);
	assert_string_equal(small, "/tmp");
}

static void test_display_states(void **state)
{
	struct display_unix_table t = {};
	struct display_where w;
	struct display_state d;
	char path[PATH_MAX], pidtext[32], sockdir[512], lockdir[512];
	bool fits;
	int fd;

	(void)state;
	make_dir("/tmp/.X11-unix", 01777);
	w = below_root(NULL);

	/* Nothing: free. */
	display_check(&w, 7, &d);
	assert_true(display_state_free(&d));

	/* A lock whose PID is in the root's /proc: live, with its name. */
	write_file("/tmp/.X7-lock", "      4242\n");
	make_dir("/proc/4242", 0755);
	write_file("/proc/4242/comm", "Xvfb\n");
	display_check(&w, 7, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_LIVE);
	assert_int_equal(d.lock.pid, 4242);
	assert_string_equal(d.lock.comm, "Xvfb");
	assert_false(display_state_free(&d));

	/* A lock whose PID is not there: stale. */
	write_file("/tmp/.X8-lock", "      4343\n");
	display_check(&w, 8, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_STALE);

	/* Junk in a lock, even a new one: below a root nobody is starting. */
	write_file("/tmp/.X9-lock", "hello\n");
	display_check(&w, 9, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_GARBLED);

	/* A symbolic link as the lock: nobody's to remove. */
	snprintf(path, sizeof(path), "%s/tmp/.X6-lock", root);
	assert_int_equal(symlink("/etc/passwd", path), 0);
	display_check(&w, 6, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_NOT_REGULAR);
	assert_false(display_state_free(&d));

	/* A regular file where the socket goes. */
	write_file("/tmp/.X11-unix/X10", "");
	display_check(&w, 10, &d);
	assert_int_equal(d.path, DISPLAY_SOCK_NOT_SOCKET);

	/* A real listening socket below the root is never connected to:
	 * without the root's /proc/net/unix nobody can tell. */
	snprintf(path, sizeof(path), "%s/tmp/.X11-unix/X11", root);
	fits = strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path);
	if (fits) {
		fd = listen_unix(path, false);
		display_check(&w, 11, &d);
		assert_int_equal(d.path, DISPLAY_SOCK_UNKNOWN);
		assert_false(display_state_free(&d));
		close(fd);
		snprintf(path, sizeof(path), "%s/tmp/.X11-unix/X16", root);
		stale_socket(path);
	}

	/* The root's /proc/net/unix says which sockets are served. */
	write_file("/proc/net/unix",
		   "Num       RefCount Protocol Flags    Type St Inode Path\n"
		   "0000000000000000: 00000002 00000000 00010000 0001 01 23456 @/tmp/.X11-unix/X12\n"
		   "0000000000000000: 00000003 00000000 00000000 0001 03 23457 @/tmp/.X11-unix/X13\n"
		   "0000000000000000: 00000002 00000000 00010000 0001 01 23458 /tmp/.X11-unix/X11\n");
	assert_int_equal(display_unix_table_read(root, &t), 0);
	w = below_root(&t);
	display_check(&w, 12, &d);
	assert_true(d.abstract);
	assert_false(display_state_free(&d));
	/* Connected, not listening: does not count. */
	display_check(&w, 13, &d);
	assert_false(d.abstract);
	assert_true(display_state_free(&d));
	if (fits) {
		display_check(&w, 11, &d);
		assert_int_equal(d.path, DISPLAY_SOCK_LIVE);
		display_check(&w, 16, &d);
		assert_int_equal(d.path, DISPLAY_SOCK_STALE);
		assert_false(display_state_free(&d));
	}
	display_unix_table_free(&t);

	/* The live system: PIDs are signalled, sockets asked. */
	snprintf(sockdir, sizeof(sockdir), "%s/tmp/.X11-unix", root);
	snprintf(lockdir, sizeof(lockdir), "%s/tmp", root);
	w = (struct display_where) { .root = "", .live = true, .socket_dir = sockdir, .lock_dir = lockdir };

	/* Our own PID is alive. */
	snprintf(pidtext, sizeof(pidtext), "%10d\n", (int)getpid());
	write_file("/tmp/.X14-lock", pidtext);
	display_check(&w, 14, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_LIVE);
	{
		/* A child that has been reaped: its PID is gone. */
		pid_t child = fork();

		assert_true(child >= 0);
		if (child == 0)
			_exit(0);
		assert_int_equal(waitpid(child, NULL, 0), child);
		snprintf(pidtext, sizeof(pidtext), "%10d\n", (int)child);
		write_file("/tmp/.X15-lock", pidtext);
		display_check(&w, 15, &d);
		assert_int_equal(d.lock.state, DISPLAY_LOCK_STALE);
	}
	/* A lock without a PID yet: a server starting, until it is old. */
	write_file("/tmp/.X17-lock", "");
	display_check(&w, 17, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_STARTING);
	set_age("/tmp/.X17-lock", 60);
	display_check(&w, 17, &d);
	assert_int_equal(d.lock.state, DISPLAY_LOCK_GARBLED);

	/* A real listening socket, asked directly; closed, it is stale. */
	snprintf(path, sizeof(path), "%s/X18", sockdir);
	if (strlen(path) < sizeof(((struct sockaddr_un *)0)->sun_path)) {
		fd = listen_unix(path, false);
		display_check(&w, 18, &d);
		assert_int_equal(d.path, DISPLAY_SOCK_LIVE);
		close(fd);
		display_check(&w, 18, &d);
		assert_int_equal(d.path, DISPLAY_SOCK_STALE);
		assert_false(display_state_free(&d));
	}
	{
		/* An abstract socket: in the real /proc/net/unix, and live. */
		char name[64];
		struct addr a;

		snprintf(name, sizeof(name), "/x410-test-display/%d", (int)getpid());
		fd = listen_unix(name, true);
		assert_int_equal(display_unix_table_read("", &t), 0);
		snprintf(path, sizeof(path), "@%s", name);
		assert_true(display_unix_table_listening(&t, path));
		display_unix_table_free(&t);
		assert_int_equal(addr_unix(path, &a), 0);
		assert_int_equal(display_unix_live(&a), 1);
		close(fd);
		assert_int_equal(display_unix_live(&a), 0);
	}
}

static void test_suggest(void **state)
{
	struct display_unix_table t = {};
	struct display_where w;
	struct display_state d;
	unsigned found[DISPLAY_SUGGEST_COUNT];

	(void)state;
	make_dir("/tmp/.X11-unix", 01777);
	make_dir("/tmp/other", 01777);
	/* :0 a stale lock, :1 a file where its socket goes, :2 an abstract
	 * socket, :3 a socket in the default directory only. */
	write_file("/tmp/.X0-lock", "      4343\n");
	write_file("/tmp/.X11-unix/X1", "");
	write_file("/tmp/other/X1", "");
	write_file("/proc/net/unix",
		   "Num       RefCount Protocol Flags    Type St Inode Path\n"
		   "0000000000000000: 00000002 00000000 00010000 0001 01 23456 @/tmp/.X11-unix/X2\n");
	write_file("/tmp/.X11-unix/X3", "");
	assert_int_equal(display_unix_table_read(root, &t), 0);
	w = below_root(&t);

	assert_int_equal(display_suggest_free(&w, 0, false, found, DISPLAY_SUGGEST_COUNT), 3);
	assert_int_equal(found[0], 4);
	assert_int_equal(found[1], 5);
	assert_int_equal(found[2], 6);
	/* The display asked for is not suggested. */
	assert_int_equal(display_suggest_free(&w, 5, true, found, DISPLAY_SUGGEST_COUNT), 3);
	assert_int_equal(found[0], 4);
	assert_int_equal(found[1], 6);
	assert_int_equal(found[2], 7);

	/* With another socket directory, the default one still counts: X
	 * clients look there. */
	w.socket_dir = "/tmp/other";
	assert_false(display_is_free(&w, 3));
	display_check(&w, 3, &d);
	assert_true(display_state_free(&d));
	assert_int_equal(display_suggest_free(&w, 0, false, found, 1), 1);
	assert_int_equal(found[0], 4);

	/* Free for suggestions is free for the check. */
	w.socket_dir = "/tmp/.X11-unix";
	for (unsigned n = 0; n < 8; n++) {
		display_check(&w, n, &d);
		assert_int_equal(display_is_free(&w, n), display_state_free(&d));
	}
	display_unix_table_free(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_lock_parse),
		cmocka_unit_test(test_lock_parse_lengths),
		cmocka_unit_test(test_unix_line),
		cmocka_unit_test(test_dir_judge),
		cmocka_unit_test(test_dir_wslg),
		cmocka_unit_test_setup_teardown(test_dir_readonly_mounts, setup_root, teardown_root),
		cmocka_unit_test(test_dir_normalize),
		cmocka_unit_test_setup_teardown(test_display_states, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_suggest, setup_root, teardown_root),
	};

	return cmocka_run_group_tests_name("display", tests, NULL, NULL);
}
