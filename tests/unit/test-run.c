/* SPDX-License-Identifier: MIT */
/* `run`'s option parsing (the X lock file's content: test-display.c). */
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

#include <signal.h>
#include <sys/wait.h>

#include "commands.h"
#include "run.h"
#include "run_program.h"

#define ARGS_MAX 32

static char err_line[1024];
/* The parsed strings point into argv: keep it until the next parse. */
static char *held[ARGS_MAX + 2];

static void release_held(void)
{
	for (size_t i = 0; i < ARGS_MAX + 2; i++) {
		free(held[i]);
		held[i] = NULL;
	}
}

/* Parse "run" + the NULL-terminated arguments, keeping the first line the
 * parser wrote to stderr in err_line. */
static int parse(struct run_args *a, ...)
{
	/* Static: a.program points into it (as into main()'s argv). */
	static char *argv[ARGS_MAX + 2];
	int argc = 1, saved, r;
	FILE *f = tmpfile();
	va_list ap;

	assert_non_null(f);
	release_held();
	memset(argv, 0, sizeof(argv));
	argv[0] = (char *)"run";
	va_start(ap, a);
	for (const char *s; (s = va_arg(ap, const char *)); ) {
		assert_true(argc <= ARGS_MAX);
		held[argc] = strdup(s);
		argv[argc] = held[argc];
		argc++;
	}
	va_end(ap);

	fflush(stdout);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(saved >= 0);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	r = run_parse_args(argc, argv, a);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);

	err_line[0] = 0;
	rewind(f);
	if (!fgets(err_line, sizeof(err_line), f))
		err_line[0] = 0;
	err_line[strcspn(err_line, "\n")] = 0;
	fclose(f);
	return r;
}

/* A usage error: exit status 2 and exactly this message. */
#define assert_usage(msg, ...) do { \
		struct run_args _a; \
		assert_int_equal(parse(&_a, __VA_ARGS__, NULL), EXIT_USAGE); \
		assert_string_equal(err_line, "x410-vsock: ERROR: " msg); \
	} while (0)

static void test_defaults(void **state)
{
	struct run_args a;

	(void)state;
	assert_int_equal(parse(&a, ":5", NULL), 0);
	assert_string_equal(err_line, "");
	assert_false(a.help);
	assert_true(a.have_display);
	assert_int_equal(a.display, 5);
	assert_false(a.have_listen);
	assert_false(a.have_connect);
	assert_int_equal(a.x410_display, 0);
	assert_string_equal(a.socket_dir, "/tmp/.X11-unix");
	assert_string_equal(a.lock_dir, "/tmp");
	assert_false(a.no_abstract);
	assert_false(a.no_path_socket);
	assert_int_equal(a.max_clients, 256);
	assert_int_equal(a.connect_timeout_ms, 2000);
	assert_int_equal(a.vsock_buffer, 256 * 1024);
	assert_false(a.any_user);
	assert_int_equal(a.n_uids, 0);
	assert_int_equal(a.n_gids, 0);
	assert_int_equal(a.engine, RUN_ENGINE_AUTO);

	/* The forms addr_parse_display takes. */
	assert_int_equal(parse(&a, "7", NULL), 0);
	assert_int_equal(a.display, 7);
	assert_int_equal(parse(&a, ":12.0", NULL), 0);
	assert_int_equal(a.display, 12);
}

static void test_every_option(void **state)
{
	struct run_args a;

	(void)state;
	assert_int_equal(parse(&a, "--x410-display", "3", "--socket-dir", "/run/x", "--lock-dir", "/run/l",
			       "--no-abstract", "--max-clients", "10", "--connect-timeout", "0.25",
			       "--vsock-buffer", "64K", "--allow-user", "0", "--allow-user", "root",
			       "--allow-group", "0", "--engine", "epoll", ":9", NULL), 0);
	assert_int_equal(a.x410_display, 3);
	assert_string_equal(a.socket_dir, "/run/x");
	assert_string_equal(a.lock_dir, "/run/l");
	assert_true(a.no_abstract);
	assert_int_equal(a.max_clients, 10);
	assert_int_equal(a.connect_timeout_ms, 250);
	assert_int_equal(a.vsock_buffer, 65536);
	assert_int_equal(a.n_uids, 2);
	assert_int_equal(a.uids[0], 0);
	assert_int_equal(a.uids[1], 0);
	assert_int_equal(a.n_gids, 1);
	assert_int_equal(a.engine, RUN_ENGINE_EPOLL);
	assert_int_equal(a.display, 9);

	/* Options after the display, and the last of a repeated one wins. */
	assert_int_equal(parse(&a, ":1", "--connect", "unix:/tmp/up", "--engine", "uring", "--engine", "auto",
			       "--allow-any-user", "--no-path-socket", "--vsock-buffer", "0", NULL), 0);
	assert_true(a.have_connect);
	assert_int_equal(a.connect.kind, ADDR_UNIX);
	assert_string_equal(a.connect.sa.un.sun_path, "/tmp/up");
	assert_int_equal(a.engine, RUN_ENGINE_AUTO);
	assert_true(a.any_user);
	assert_true(a.no_path_socket);
	assert_int_equal(a.vsock_buffer, 0);

	assert_int_equal(parse(&a, "--listen", "unix:@x410-test", "--connect", "vsock:host:6001", NULL), 0);
	assert_true(a.have_listen);
	assert_false(a.have_display);
	assert_true(a.listen.abstract);
	assert_int_equal(a.connect.kind, ADDR_VSOCK);
	assert_int_equal(parse(&a, "--engine=uring", "--listen=unix:/tmp/s", NULL), 0);
	assert_int_equal(a.engine, RUN_ENGINE_URING);
	assert_false(a.listen.abstract);
}

static void test_help(void **state)
{
	struct run_args a;
	int saved = dup(STDOUT_FILENO);
	FILE *f = tmpfile();

	(void)state;
	/* --help wins over everything after it, even a bad value. */
	fflush(stdout);
	assert_true(dup2(fileno(f), STDOUT_FILENO) >= 0);
	assert_int_equal(parse(&a, "--help", "--max-clients", "0", NULL), 0);
	fflush(stdout);
	assert_true(dup2(saved, STDOUT_FILENO) >= 0);
	close(saved);
	assert_true(a.help);
	assert_string_equal(err_line, "");
	assert_true(ftell(f) > 0);
	fclose(f);
}

static void test_usage_errors(void **state)
{
	(void)state;
	assert_usage("Missing the display to serve, e.g. ':5' (or --listen unix:PATH)", "--engine", "epoll");
	assert_usage("Invalid display 'five': the display number is not a number (expected :N, e.g. :5)", "five");
	assert_usage("Invalid display ':65536': the display number is out of range (0-65535)", ":65536");
	assert_usage("Invalid display 'host:0': only local displays can be served (expected :N, e.g. :5)", "host:0");
	assert_usage("Unexpected argument ':6' (one display at a time)", ":5", ":6");
	assert_usage("Give a display (:N) or --listen ADDR, not both", ":5", "--listen", "unix:/tmp/x");
	assert_usage("Unknown option '--bogus'", "--bogus", ":5");
	assert_usage("Unknown option '-z'", "-z", ":5");
	assert_usage("Option '--connect' needs an argument", ":5", "--connect");
	assert_usage("Option '--no-abstract' takes no argument", "--no-abstract=yes", ":5");
	assert_usage("Invalid --x410-display 'x': the X410 display number is not a number", "--x410-display", "x", ":5");
	assert_usage("Invalid --x410-display '4294961295': the X410 display number is out of range (0-4294961294)",
		     "--x410-display", "4294961295", ":5");
	assert_usage("Invalid --connect 'http://x': unknown address type (expected vsock:CID:PORT, unix:PATH or tcp:HOST:PORT)",
		     "--connect", "http://x", ":5");
	assert_usage("Invalid --connect 'tcp:localhost:0': the TCP port is out of range (1-65535)",
		     "--connect", "tcp:localhost:0", ":5");
	assert_usage("Invalid --listen 'tcp:127.0.0.1:6005': only unix:PATH or unix:@NAME can be served"
		     " (peers are checked with SO_PEERCRED)", "--listen", "tcp:127.0.0.1:6005");
	assert_usage("Invalid --listen 'unix:': the socket path is empty", "--listen", "unix:");
	assert_usage("Invalid --socket-dir '': the directory is empty", "--socket-dir", "", ":5");
	assert_usage("Invalid --lock-dir '': the directory is empty", "--lock-dir", "", ":5");
	assert_usage("Invalid --socket-dir '/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa':"
		     " the socket path would be longer than 107 bytes",
		     "--socket-dir", "/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
		     ":5");
	assert_usage("Invalid --max-clients '0': expected a number from 1 to 65536", "--max-clients", "0", ":5");
	assert_usage("Invalid --max-clients '65537': expected a number from 1 to 65536", "--max-clients", "65537", ":5");
	assert_usage("Invalid --max-clients '-1': expected a number from 1 to 65536", "--max-clients", "-1", ":5");
	assert_usage("Invalid --max-clients '1e3': expected a number from 1 to 65536", "--max-clients", "1e3", ":5");
	assert_usage("Invalid --connect-timeout '0': expected seconds from 0.001 to 3600, e.g. 2 or 0.5",
		     "--connect-timeout", "0", ":5");
	assert_usage("Invalid --connect-timeout '2s': expected seconds from 0.001 to 3600, e.g. 2 or 0.5",
		     "--connect-timeout", "2s", ":5");
	assert_usage("Invalid --connect-timeout '3601': expected seconds from 0.001 to 3600, e.g. 2 or 0.5",
		     "--connect-timeout", "3601", ":5");
	assert_usage("Invalid --vsock-buffer '65M': expected a size from 0 to 64M, e.g. 256K (0 keeps the kernel's default)",
		     "--vsock-buffer", "65M", ":5");
	assert_usage("Invalid --vsock-buffer '256k': expected a size from 0 to 64M, e.g. 256K (0 keeps the kernel's default)",
		     "--vsock-buffer", "256k", ":5");
	assert_usage("Invalid --allow-user 'no-such-user-x410': no such user", "--allow-user", "no-such-user-x410", ":5");
	assert_usage("Invalid --allow-group 'no-such-group-x410': no such group", "--allow-group", "no-such-group-x410", ":5");
	assert_usage("Invalid --allow-user '4294967295': expected a user name or a uid (Numerical result out of range)",
		     "--allow-user", "4294967295", ":5");
	assert_usage("Invalid --engine 'fast': expected auto, uring or epoll", "--engine", "fast", ":5");
	assert_usage("--no-abstract and --no-path-socket together leave nothing to listen on",
		     "--no-abstract", "--no-path-socket", ":5");
	assert_usage("--no-abstract and --no-path-socket apply to a display, not to --listen",
		     "--no-abstract", "--listen", "unix:/tmp/x");
}

static void test_relay_to_itself(void **state)
{
	struct run_args a;

	(void)state;
	assert_usage("--connect 'unix:/tmp/.X11-unix/X5' is the relay's own socket: it would relay to itself",
		     "--connect", "unix:/tmp/.X11-unix/X5", ":5");
	assert_usage("--connect 'unix:@/tmp/.X11-unix/X5' is the relay's own socket: it would relay to itself",
		     "--connect", "unix:@/tmp/.X11-unix/X5", ":5");
	assert_usage("--connect 'unix:/run/x/X5' is the relay's own socket: it would relay to itself",
		     "--socket-dir", "/run/x", "--connect", "unix:/run/x/X5", ":5");
	assert_usage("--connect 'unix:@s' is the relay's own socket: it would relay to itself",
		     "--listen", "unix:@s", "--connect", "unix:@s");
	/* Another display, the socket not served, or a different name. */
	assert_int_equal(parse(&a, "--connect", "unix:/tmp/.X11-unix/X0", ":5", NULL), 0);
	assert_int_equal(parse(&a, "--no-path-socket", "--connect", "unix:/tmp/.X11-unix/X5", ":5", NULL), 0);
	assert_int_equal(parse(&a, "--no-abstract", "--connect", "unix:@/tmp/.X11-unix/X5", ":5", NULL), 0);
	assert_int_equal(parse(&a, "--listen", "unix:@s", "--connect", "unix:s", NULL), 0);
	assert_int_equal(parse(&a, "--listen", "unix:@s", "--connect", "unix:@s2", NULL), 0);
}

static void test_allow_limit(void **state)
{
	struct run_args a;
	char *argv[1 + (RUN_ALLOW_MAX + 1) * 2 + 2];
	int argc = 0;

	(void)state;
	argv[argc++] = (char *)"run";
	for (unsigned i = 0; i <= RUN_ALLOW_MAX; i++) {
		argv[argc++] = (char *)"--allow-user";
		argv[argc++] = (char *)"1000";
	}
	argv[argc++] = (char *)":5";
	argv[argc] = NULL;
	fflush(stderr);
	int saved = dup(STDERR_FILENO);
	FILE *f = tmpfile();
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	assert_int_equal(run_parse_args(argc, argv, &a), EXIT_USAGE);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	assert_non_null(fgets(err_line, sizeof(err_line), f));
	fclose(f);
	assert_string_equal(err_line, "x410-vsock: ERROR: Too many --allow-user options (at most 64)\n");
}

/* run [OPTIONS] [:N] -- PROGRAM [ARGS...]: "--" ends run's words; what
 * follows is PROGRAM's, options included. */
static void test_program(void **state)
{
	struct run_args a;

	(void)state;
	assert_int_equal(parse(&a, "-q", ":5", "--engine", "epoll", "--", "xterm", "-e", "--engine", "--", NULL), 0);
	assert_true(a.have_display);
	assert_int_equal(a.display, 5);
	assert_int_equal(a.engine, RUN_ENGINE_EPOLL);
	assert_non_null(a.program);
	assert_string_equal(a.program[0], "xterm");
	assert_string_equal(a.program[1], "-e");
	assert_string_equal(a.program[2], "--engine");
	assert_string_equal(a.program[3], "--");
	assert_null(a.program[4]);

	/* :N omitted: run picks one later. */
	assert_int_equal(parse(&a, "--", "true", NULL), 0);
	assert_false(a.have_display);
	assert_string_equal(a.program[0], "true");

	/* Without "--" there is no program. */
	assert_int_equal(parse(&a, ":5", NULL), 0);
	assert_null(a.program);

	/* "--" as an option's argument is not the end of run's words. */
	assert_usage("Invalid --x410-display '--': the X410 display number is not a number",
		     "--x410-display", "--", ":5");
	assert_usage("Missing the PROGRAM after '--'", ":5", "--");
	assert_usage("-- PROGRAM needs a display (:N, or none for the first free one), not --listen",
		     "--listen", "unix:/tmp/x", "--", "true");
	assert_usage("Unexpected argument 'xterm' (one display at a time)", ":5", "xterm");
}

static void test_program_split(void **state)
{
	static const struct option options[] = {
		{ "flag", no_argument, NULL, 'f' },
		{ "value", required_argument, NULL, 'x' },
		{ "optional", optional_argument, NULL, 'o' },
		{}
	};
	char *argv[] = { (char *)"run", (char *)"-x", (char *)"--", (char *)"--val", (char *)"--",
			 (char *)"--value=a", (char *)"-fx", (char *)"--", (char *)"--optional", (char *)"--",
			 (char *)"prog", NULL };
	char **program = NULL;

	(void)state;
	/* -x takes "--", --val (a prefix of --value) takes "--", -fx ends
	 * with x: takes "--"; --optional takes nothing from the next word. */
	assert_int_equal(run_program_split(11, argv, options, ":fx:o::", &program), 9);
	assert_ptr_equal(program, argv + 10);
	assert_int_equal(run_program_split(9, argv, options, ":fx:o::", &program), 9);
	assert_null(program);
	/* "--" right at the end: an empty program. */
	assert_int_equal(run_program_split(10, argv, options, ":fx:o::", &program), 9);
	assert_ptr_equal(program, argv + 10);
}

static void test_program_exit_status(void **state)
{
	(void)state;
	assert_int_equal(run_program_exit_status(0), 0);
	assert_int_equal(run_program_exit_status(7 << 8), 7);
	assert_int_equal(run_program_exit_status(255 << 8), 255);
	assert_int_equal(run_program_exit_status(SIGTERM), 128 + SIGTERM);
	assert_int_equal(run_program_exit_status(SIGKILL | 0x80), 128 + SIGKILL);  /* core dumped */
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_defaults),
		cmocka_unit_test(test_every_option),
		cmocka_unit_test(test_help),
		cmocka_unit_test(test_usage_errors),
		cmocka_unit_test(test_program),
		cmocka_unit_test(test_program_split),
		cmocka_unit_test(test_program_exit_status),
		cmocka_unit_test(test_relay_to_itself),
		cmocka_unit_test(test_allow_limit),
	};

	int r = cmocka_run_group_tests_name("run", tests, NULL, NULL);

	release_held();
	return r;
}
