/* SPDX-License-Identifier: MIT */
/*
 * x410-vsock: relay X11 clients to the X410 X server on Windows over VSOCK.
 * main(), the global options and the command table; everything else is in
 * libx410.a so that the tests link it.
 */
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "log.h"
#include "macro.h"
#include "options.h"

struct command {
	const char *name;
	int (*fn)(int argc, char *argv[]);
	const char *help;
};

static const struct command commands[] = {
	{ "doctor", cmd_doctor, "Check every link from this machine to X410 and say what to fix" },
	{ "setup", cmd_setup, "Load hv_sock now and at every boot (needs root)" },
	{ "run", cmd_run, "Serve a local X display and relay its clients to X410" },
	{ "status", cmd_status, "List the displays served by x410-vsock relays" },
	{ "stop", cmd_stop, "Stop your relay of a display" },
	{ "regfile", cmd_regfile, "Print the Windows registry file that lets X410 listen on VSOCK" },
};

static const char *command_names(void)
{
	static char names[128];
	size_t n = 0;

	for (size_t i = 0; i < ELEMENTSOF(commands) && n < sizeof(names); i++)
		n += (size_t)snprintf(names + n, sizeof(names) - n, "%s%s", i ? ", " : "", commands[i].name);
	return names;
}

static void help(void)
{
	printf("Usage: %s [-v|-q] COMMAND [OPTIONS] [ARGS]\n"
	       "\n"
	       "Relay X11 clients in a Hyper-V or WSL2 Linux guest to the X410 X server\n"
	       "on Windows over VSOCK (hv_sock).\n"
	       "\n"
	       "Commands:\n", program_invocation_short_name);
	for (size_t i = 0; i < ELEMENTSOF(commands); i++)
		printf("  %-8s %s\n", commands[i].name, commands[i].help);
	printf("\n"
	       "Options:\n"
	       "  -v, --verbose   Log debug messages too\n"
	       "  -q, --quiet     Log only errors\n"
	       "  -h, --help      Show this help (with COMMAND: its help) and exit\n"
	       "  -V, --version   Show the version and the compiled-in features and exit\n"
	       "\n"
	       "-v, -q and -h may also follow COMMAND.  Run '%s COMMAND --help'\n"
	       "for the options of a command.\n",
	       program_invocation_short_name);
}

static void version(void)
{
	printf("%s %s\n", PACKAGE_NAME, PACKAGE_VERSION);
#ifdef HAVE_LIBURING
	printf("engines: io_uring (liburing %s), epoll\n", URING_VERSION_STRING);
#else
	printf("engines: epoll only (built without liburing)\n");
#endif
	/* Built against; dlopen'ed by doctor and setup only (dlkmod.h). */
	printf("libkmod: %s (loaded when needed)\n", KMOD_VERSION_STRING);
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		OPTIONS_GLOBAL,
		{ "help", no_argument, NULL, 'h' },
		{ "version", no_argument, NULL, 'V' },
		{}
	};
	bool want_help = false, want_version = false;
	int c;

	log_open();
	/* '+': stop at the command, whose options are its own; ':': every
	 * message is ours (options_error). */
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" OPTIONS_GLOBAL_SHORT "hV", options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		switch (c) {
		case 'h':
			want_help = true;
			break;
		case 'V':
			want_version = true;
			break;
		default:
			return options_error(NULL, options, c, argv);
		}
	}

	if (want_version) {
		if (optind < argc)
			return usage_error(NULL, "Unexpected argument '%s' after --version", argv[optind]);
		version();
		return EXIT_OK;
	}
	if (want_help && optind >= argc) {
		help();
		return EXIT_OK;
	}
	if (optind >= argc)
		return usage_error(NULL, "Missing command (one of: %s)", command_names());

	for (size_t i = 0; i < ELEMENTSOF(commands); i++) {
		if (streq(argv[optind], commands[i].name)) {
			/* x410-vsock -h COMMAND is COMMAND --help. */
			char *help_argv[] = { argv[optind], (char *)"--help", NULL };
			int first = optind;

			/* Each command runs its own getopt_long from scratch. */
			optind = 0;
			opterr = 0;
			if (want_help)
				return commands[i].fn(2, help_argv);
			return commands[i].fn(argc - first, argv + first);
		}
	}
	return usage_error(NULL, "Unknown command '%s'", argv[optind]);
}
