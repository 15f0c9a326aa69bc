/* SPDX-License-Identifier: MIT */
/*
 * `x410-vsock stop :N`: SIGTERM to the x410-vsock relay of display :N if it
 * is the caller's, then wait (bounded) until it has ended and its lock file
 * is gone: the relay removes its socket before its lock, and both before it
 * exits.  Anything else on the display is refused with the reason.
 */
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "commands.h"
#include "control.h"
#include "log.h"
#include "options.h"
#include "upstream.h"
#include "util.h"

#define STOP_DEFAULT_TIMEOUT_MS 10000u
#define STOP_TIMEOUT_MAX_MS 3600000u
#define STOP_POLL_MS 20

static void help(void)
{
	printf("Usage: x410-vsock stop [OPTIONS] :N\n"
	       "\n"
	       "Stop the x410-vsock relay of display :N if it is yours: SIGTERM, then wait\n"
	       "until it has removed its socket and lock file and ended.  A display held by\n"
	       "another user's relay or by another X server is not touched.\n"
	       "\n"
	       "Options:\n"
	       "      --timeout SECS    Wait at most SECS seconds, 0.001-3600 (default 10)\n"
	       "      --lock-dir DIR    Directory of the lock files (default %s)\n"
	       "  -h, --help            Show this help and exit\n",
	       X11_LOCK_DIR);
}

static void sleep_ms(unsigned ms)
{
	struct timespec ts = { .tv_sec = ms / 1000u, .tv_nsec = (long)(ms % 1000u) * 1000000L };

	(void)nanosleep(&ts, NULL);
}

/* Has the relay pid ended and its lock file gone (or passed to another
 * process)? */
static bool stopped(const char *lock_dir, unsigned display, pid_t pid)
{
	struct control_display d;

	if (!control_pid_ended(pid))
		return false;
	return control_lookup(lock_dir, display, &d) == 0 &&
	       !(d.lock.pid == pid && (d.holder == CONTROL_RELAY || d.holder == CONTROL_OTHER));
}

int cmd_stop(int argc, char *argv[])
{
	enum { OPT_TIMEOUT = 0x100, OPT_LOCK_DIR };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		OPTIONS_GLOBAL,
		{ "timeout", required_argument, NULL, OPT_TIMEOUT },
		{ "lock-dir", required_argument, NULL, OPT_LOCK_DIR },
		{}
	};
	const char *lock_dir = X11_LOCK_DIR, *error = NULL;
	uint64_t timeout_ms = STOP_DEFAULT_TIMEOUT_MS, deadline;
	struct control_display d;
	unsigned display;
	pid_t pid;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" OPTIONS_GLOBAL_SHORT "h", options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		switch (c) {
		case 'h':
			help();
			return EXIT_OK;
		case OPT_TIMEOUT:
			if (parse_seconds_ms(optarg, 1, STOP_TIMEOUT_MAX_MS, &timeout_ms) < 0)
				return usage_error("stop", "Invalid --timeout '%s': expected seconds from 0.001 to 3600, e.g. 10 or 0.5", optarg);
			break;
		case OPT_LOCK_DIR:
			if (!*optarg)
				return usage_error("stop", "Invalid --lock-dir '': the directory is empty");
			lock_dir = optarg;
			break;
		default:
			return options_error("stop", options, c, argv);
		}
	}
	if (optind >= argc)
		return usage_error("stop", "Missing the display to stop, e.g. ':5'");
	if (addr_parse_display(argv[optind], &display, &error) < 0)
		return usage_error("stop", "Invalid display '%s': %s", argv[optind], error);
	if (optind + 1 < argc)
		return usage_error("stop", "Unexpected argument '%s' (one display at a time)", argv[optind + 1]);

	r = control_lookup(lock_dir, display, &d);
	if (r < 0) {
		log_error_errno(r, "Cannot look at display :%u in '%s': %m", display, lock_dir);
		return EXIT_FAILED;
	}
	pid = d.lock.pid;
	switch (d.holder) {
	case CONTROL_FREE:
		log_error("Display :%u is not served: nothing to stop (no lock file in '%s')", display, lock_dir);
		return EXIT_FAILED;
	case CONTROL_STALE:
		log_error("Display :%u is not served: its lock file is stale (process %d is gone), nothing to stop; the next 'x410-vsock run :%u' takes it over", display, (int)pid, display);
		return EXIT_FAILED;
	case CONTROL_UNKNOWN:
		log_error("Cannot tell who holds display :%u: its lock file in '%s' cannot be read or is not a file",
			  display, lock_dir);
		return EXIT_FAILED;
	case CONTROL_OTHER:
		log_error("Display :%u is held by process %d (%s) of user %s, not by an x410-vsock relay: refusing to stop it", display, (int)pid, d.comm[0] ? d.comm : "unknown",
			  d.have_uid ? d.user : "unknown");
		return EXIT_FAILED;
	case CONTROL_RELAY:
		break;
	}
	if (!d.have_uid || d.uid != geteuid()) {
		log_error("Display :%u is served by the x410-vsock relay %d of user %s, not yours: refusing to stop it",
			  display, (int)pid, d.have_uid ? d.user : "unknown");
		return EXIT_FAILED;
	}

	if (kill(pid, SIGTERM) < 0 && errno != ESRCH) {
		log_error_errno(errno, "Cannot signal the relay %d of display :%u: %m", (int)pid, display);
		return EXIT_FAILED;
	}
	deadline = upstream_now_ms() + timeout_ms;
	while (!stopped(lock_dir, display, pid)) {
		if (upstream_now_ms() >= deadline) {
			log_error("The relay %d of display :%u has not stopped within %" PRIu64 ".%03" PRIu64
				  " s after SIGTERM (try --timeout, or 'kill -KILL %d')", (int)pid, display,
				  timeout_ms / 1000u, timeout_ms % 1000u, (int)pid);
			return EXIT_FAILED;
		}
		sleep_ms(STOP_POLL_MS);
	}
	log_info("stopped the relay of display :%u (pid %d)", display, (int)pid);
	return EXIT_OK;
}
