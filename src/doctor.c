/* SPDX-License-Identifier: MIT */
/*
 * x410-vsock doctor: check every link from this machine to X410 and say
 * exactly what to fix.  The command line, and the table of checks
 * (doctor_checks.h) run in order over the facts doctor_system.c gathered;
 * each gives one finding: OK, WARN, FAIL or SKIP, a message and the
 * commands that fix it, printed by doctor_report.c.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "commands.h"
#include "display.h"
#include "doctor_checks.h"
#include "log.h"
#include "options.h"
#include "util.h"

#define DEFAULT_TIMEOUT_MS 3000u

/* ---------------------------------------------------------------- command */

static void help(void)
{
	printf("Usage: %s doctor [OPTIONS] [:N]\n"
	       "\n"
	       "Check every link from this machine to X410 and say what to fix: the\n"
	       "environment (Hyper-V, WSL2, container), the kernel, hv_sock now and at\n"
	       "boot, AF_VSOCK and its guest-to-host transport, io_uring, the local\n"
	       "display :N, and X410 itself (probed only where hv_sock is the\n"
	       "guest-to-host transport, or with --connect).\n"
	       "\n"
	       "One line per check: [ OK ], [WARN], [FAIL] or [SKIP], then indented\n"
	       "'fix:' lines.  Exit status 0 when no check failed, 1 otherwise.\n"
	       "\n"
	       "Options:\n"
	       "      --x410-display M  X410 display to check (default 0: VSOCK port 6000+M)\n"
	       "      --connect ADDR    Probe this X server instead (vsock:CID:PORT,\n"
	       "                        unix:PATH, unix:@NAME, tcp:HOST:PORT)\n"
	       "      --timeout SECONDS Deadline of the X410 probe (default 3, 0.1-60)\n"
	       "      --socket-dir DIR  X socket directory (default %s)\n"
	       "      --lock-dir DIR    X lock file directory (default %s)\n"
	       "      --root DIR        Read /sys, /proc, /etc, /run, /dev and the display\n"
	       "                        directories below DIR instead of /; the running\n"
	       "                        kernel is not asked, X410 not probed without --connect\n"
	       "      --json            Print the findings as one JSON document\n"
	       "  -h, --help            Show this help and exit\n",
	       program_invocation_short_name, X11_UNIX_DIR, X11_LOCK_DIR);
}

enum {
	ARG_JSON = 0x100,
	ARG_X410_DISPLAY,
	ARG_CONNECT,
	ARG_TIMEOUT,
	ARG_SOCKET_DIR,
	ARG_LOCK_DIR,
	ARG_ROOT,
};

static int parse_args(struct doctor *d, const char **ret_root, int argc, char *argv[])
{
	static const struct option options[] = {
		OPTIONS_GLOBAL,
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "x410-display", required_argument, NULL, ARG_X410_DISPLAY },
		{ "connect", required_argument, NULL, ARG_CONNECT },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "socket-dir", required_argument, NULL, ARG_SOCKET_DIR },
		{ "lock-dir", required_argument, NULL, ARG_LOCK_DIR },
		{ "root", required_argument, NULL, ARG_ROOT },
		{}
	};
	const char *why;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" OPTIONS_GLOBAL_SHORT "h", options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		switch (c) {
		case 'h':
			help();
			return 1;
		case ARG_JSON:
			d->json = true;
			break;
		case ARG_X410_DISPLAY:
			if (addr_parse_x410_display(optarg, &d->x410_display, &why) < 0)
				return usage_error("doctor", "Invalid X410 display '%s': %s", optarg, why);
			break;
		case ARG_CONNECT:
			if (addr_parse(optarg, &d->upstream, &why) < 0)
				return usage_error("doctor", "Invalid address '%s': %s", optarg, why);
			d->have_connect = true;
			break;
		case ARG_TIMEOUT:
			r = parse_seconds_ms(optarg, 100, 60000, &d->timeout_ms);
			if (r < 0)
				return usage_error("doctor", "Invalid timeout '%s': expected seconds from 0.1 to 60", optarg);
			break;
		case ARG_SOCKET_DIR:
		case ARG_LOCK_DIR:
		case ARG_ROOT:
			if (optarg[0] != '/')
				return usage_error("doctor", "Option '%s' needs an absolute path, not '%s'",
						   c == ARG_SOCKET_DIR ? "--socket-dir" : c == ARG_LOCK_DIR ? "--lock-dir" : "--root",
						   optarg);
			if (strlen(optarg) >= PATH_MAX / 2)
				return usage_error("doctor", "The path '%.40s...' is too long", optarg);
			if (c == ARG_SOCKET_DIR || c == ARG_LOCK_DIR) {
				/* The spelling run checks: "/tmp/link/" is the link. */
				static char dirs[2][PATH_MAX / 2];
				char *buf = dirs[c == ARG_LOCK_DIR];

				if (display_dir_normalize(optarg, buf, sizeof(dirs[0])) < 0)
					return usage_error("doctor", "Invalid %s '%s': '..' is not allowed; give the directory itself",
							   c == ARG_SOCKET_DIR ? "--socket-dir" : "--lock-dir", optarg);
				if (c == ARG_SOCKET_DIR)
					d->socket_dir = buf;
				else
					d->lock_dir = buf;
			} else
				*ret_root = optarg;
			break;
		default:
			return options_error("doctor", options, c, argv);
		}
	}
	if (optind < argc) {
		if (addr_parse_display(argv[optind], &d->display, &why) < 0)
			return usage_error("doctor", "Invalid display '%s': %s", argv[optind], why);
		d->have_display = true;
		optind++;
	}
	if (optind < argc)
		return usage_error("doctor", "Unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_doctor(int argc, char *argv[])
{
	static void (*const checks[])(struct doctor *, struct finding *) = {
		check_environment,
		check_kernel,
		check_hv_sock,
		check_boot,
		check_vsock,
		check_io_uring,
		check_display,
		check_x410,
	};
	_cleanup_free_ struct doctor *d = NULL;
	_cleanup_free_ struct finding *findings = NULL;
	const char *root = NULL;
	int status = EXIT_OK, r;

	d = calloc(1, sizeof(*d));
	findings = calloc(ELEMENTSOF(checks), sizeof(*findings));
	if (!d || !findings)
		return log_error_errno(-ENOMEM, "Out of memory"), EXIT_FAILED;
	d->socket_dir = X11_UNIX_DIR;
	d->lock_dir = X11_LOCK_DIR;
	d->timeout_ms = DEFAULT_TIMEOUT_MS;

	r = parse_args(d, &root, argc, argv);
	if (r == 1)
		return EXIT_OK;
	if (r != 0)
		return r;
	if (!d->have_connect)
		addr_vsock(VMADDR_CID_HOST, addr_x410_port(d->x410_display), &d->upstream);
	(void)addr_format(&d->upstream, d->upstream_text, sizeof(d->upstream_text));
	d->hv_needed = d->upstream.kind == ADDR_VSOCK && d->upstream.sa.vm.svm_cid == VMADDR_CID_HOST;

	r = doctor_system_read(&d->sys, root);
	if (r < 0) {
		log_error_errno(r, "Failed to read the system below '%s': %m", root ? root : "/");
		return EXIT_FAILED;
	}
	d->hyperv = sysfacts_hyperv(&d->sys.facts);
	log_debug("root '%s', kernel '%s', transport %s, hv_sock needed: %s", root ? root : "/", d->sys.facts.release,
		  doctor_transport_name(d->sys.transport), d->hv_needed ? "yes" : "no");

	for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
		checks[i](d, &findings[i]);
		if (findings[i].status == CHECK_FAIL)
			status = EXIT_FAILED;
	}

	if (d->json)
		report_print_json(stdout, d->sys.facts.live ? "/" : d->sys.facts.root, findings, ELEMENTSOF(checks), status);
	else
		report_print_text(stdout, findings, ELEMENTSOF(checks));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error_errno(-errno, "Failed to write the report: %m");
		return EXIT_FAILED;
	}
	return status;
}
