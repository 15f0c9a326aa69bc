/* SPDX-License-Identifier: MIT */
/* The relay's status reply (control.c) and the pure parts of run --detach
 * (detach.c).  The exchange itself is tested with real relays in
 * tests/integration/detach.sh. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "control.h"
#include "detach.h"
#include "log.h"

static const struct control_status sample = {
	.pid = 4242,
	.served = ":5",
	.upstream = "vsock:2:6000",
	.engine = "uring",
	.clients_now = 2,
	.clients_total = 17,
	.refused = 1,
	.bytes_up = 123456789012ull,
	.bytes_down = UINT64_MAX,
	.uptime_ms = 3723004,
};

static void test_round_trip(void **state)
{
	char buf[CONTROL_REPLY_MAX];
	struct control_status got;
	int n;

	(void)state;
	n = control_status_format(&sample, buf, sizeof(buf));
	assert_true(n > 0);
	assert_true(strncmp(buf, CONTROL_MAGIC "\npid 4242\nserved :5\n", strlen(CONTROL_MAGIC) + 20) == 0);
	assert_int_equal(control_status_parse(buf, (size_t)n, &got), 0);
	assert_int_equal(got.pid, 4242);
	assert_string_equal(got.served, ":5");
	assert_string_equal(got.upstream, "vsock:2:6000");
	assert_string_equal(got.engine, "uring");
	assert_true(got.clients_now == 2 && got.clients_total == 17 && got.refused == 1);
	assert_true(got.bytes_up == 123456789012ull && got.bytes_down == UINT64_MAX);
	assert_true(got.uptime_ms == 3723004);
	/* Too small a buffer is an error, never a cut reply. */
	assert_int_equal(control_status_format(&sample, buf, 40), -ENOBUFS);
}

static int parse_str(const char *s)
{
	struct control_status st;

	return control_status_parse(s, strlen(s), &st);
}

static void test_parse_rejects(void **state)
{
	(void)state;
	assert_int_equal(parse_str(""), -EINVAL);
	assert_int_equal(parse_str("hello\n"), -EINVAL);
	/* cut short: no final newline */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream unix:/x\nengine epoll\nuptime_ms 5"), -EINVAL);
	/* a required key missing */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nengine epoll\nuptime_ms 5\n"), -EINVAL);
	/* bad numbers */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 0\nserved :5\nupstream u\nengine e\nuptime_ms 5\n"), -EINVAL);
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream u\nengine e\nuptime_ms -5\n"), -EINVAL);
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream u\nengine e\nuptime_ms 5\nbytes_up x\n"), -EINVAL);
	/* a line without a value, an empty or unprintable value */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid\nserved :5\nupstream u\nengine e\nuptime_ms 5\n"), -EINVAL);
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved \nupstream u\nengine e\nuptime_ms 5\n"), -EINVAL);
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream u\x1b[2J\nengine e\nuptime_ms 5\n"), -EINVAL);
	/* an engine name longer than the field */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream u\nengine aaaaaaaaaaaaaaaaaaaa\nuptime_ms 5\n"),
			 -EINVAL);
	/* a NUL inside */
	assert_int_equal(control_status_parse(CONTROL_MAGIC "\n\0", sizeof(CONTROL_MAGIC) + 1, &(struct control_status){}),
			 -EINVAL);
	/* a key twice */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream u\nengine e\nuptime_ms 5\npid 2\n"), -EINVAL);
	/* unknown keys are a newer relay's: accepted */
	assert_int_equal(parse_str(CONTROL_MAGIC "\npid 1\nserved :5\nupstream u\nengine e\nuptime_ms 5\nfuture 7\n"), 0);
}

static void test_duration(void **state)
{
	char buf[32];

	(void)state;
	control_format_duration(0, buf, sizeof(buf));
	assert_string_equal(buf, "0s");
	control_format_duration(59999, buf, sizeof(buf));
	assert_string_equal(buf, "59s");
	control_format_duration(250000, buf, sizeof(buf));
	assert_string_equal(buf, "4m10s");
	control_format_duration(3723004, buf, sizeof(buf));
	assert_string_equal(buf, "1h02m");
	control_format_duration(4ull * 86400000u + 3600000u, buf, sizeof(buf));
	assert_string_equal(buf, "4d01h");
}

static void test_has_program(void **state)
{
	char *with[] = { (char *)"run", (char *)"--detach", (char *)":5", (char *)"--", (char *)"xterm", NULL };
	char *without[] = { (char *)"run", (char *)"--detach", (char *)":5", NULL };

	(void)state;
	assert_true(detach_has_program(5, with));
	assert_false(detach_has_program(3, without));
}

static void test_log_path(void **state)
{
	char buf[4096];

	(void)state;
	assert_int_equal(setenv("XDG_STATE_HOME", "/var/tmp/st", 1), 0);
	assert_int_equal(detach_log_path(5, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/tmp/st/x410-vsock/display-5.log");
	assert_int_equal(detach_log_path(-1, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/var/tmp/st/x410-vsock/run.log");
	/* A relative XDG_STATE_HOME is ignored, as the specification says. */
	assert_int_equal(setenv("XDG_STATE_HOME", "rel", 1), 0);
	assert_int_equal(setenv("HOME", "/home/u", 1), 0);
	assert_int_equal(detach_log_path(0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.local/state/x410-vsock/display-0.log");
	assert_int_equal(unsetenv("XDG_STATE_HOME"), 0);
	assert_int_equal(detach_log_path(7, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/home/u/.local/state/x410-vsock/display-7.log");
	assert_int_equal(detach_log_path(7, buf, 10), -ENAMETOOLONG);
}

static void test_pid_checks(void **state)
{
	(void)state;
	/* This test program is neither a relay nor ended. */
	assert_false(control_pid_is_relay(getpid()));
	assert_false(control_pid_ended(getpid()));
}

static int sunk_level;
static char sunk[256];

static void capture(int level, const char *line)
{
	sunk_level = level;
	snprintf(sunk, sizeof(sunk), "%s", line);
}

/* The hook detach_finish() sends the log through: the line without the
 * program name, %m expanded, and back to stderr with NULL. */
static void test_log_sink(void **state)
{
	(void)state;
	log_set_sink(capture);
	assert_int_equal(log_warning_errno(ENOENT, "cannot open '%s': %m", "x"), -ENOENT);
	assert_int_equal(sunk_level, LOG_WARNING);
	assert_string_equal(sunk, "WARNING: cannot open 'x': No such file or directory");
	log_info("serving :%d", 5);
	assert_int_equal(sunk_level, LOG_INFO);
	assert_string_equal(sunk, "serving :5");
	log_set_sink(NULL);
	sunk[0] = 0;
	log_debug("below the level: not sent");
	log_info("to stderr again");
	assert_string_equal(sunk, "");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_round_trip),
		cmocka_unit_test(test_parse_rejects),
		cmocka_unit_test(test_duration),
		cmocka_unit_test(test_has_program),
		cmocka_unit_test(test_log_path),
		cmocka_unit_test(test_pid_checks),
		cmocka_unit_test(test_log_sink),
	};

	return cmocka_run_group_tests_name("control", tests, NULL, NULL);
}
