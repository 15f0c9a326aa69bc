/* SPDX-License-Identifier: MIT */
/*
 * `x410-vsock run`'s command line: --help, the options, the display
 * argument, and the checks of what they say together; every usage error is
 * one specific line (run.h: run_parse_args()).
 */
#include <errno.h>
#include <getopt.h>
#include <grp.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>

#include "addr.h"
#include "commands.h"
#include "display.h"
#include "options.h"
#include "run.h"
#include "run_program.h"
#include "util.h"

static void help(void)
{
	printf("Usage: x410-vsock run [OPTIONS] :N\n"
	       "       x410-vsock run [OPTIONS] [:N] -- PROGRAM [ARGS...]\n"
	       "       x410-vsock run [OPTIONS] --listen unix:PATH|unix:@NAME\n"
	       "\n"
	       "Serve the local X display :N -- the socket /tmp/.X11-unix/XN, the abstract\n"
	       "socket @/tmp/.X11-unix/XN and the lock file /tmp/.XN-lock -- and relay every\n"
	       "X client that connects to X410 over VSOCK (or to --connect ADDR).\n"
	       "\n"
	       "With -- PROGRAM, like xvfb-run: once the relay serves, PROGRAM runs with\n"
	       "DISPLAY=:N (without :N, the first free display, which the log names); SIGINT,\n"
	       "SIGTERM and SIGHUP are passed on to it; when it ends the relay stops and run\n"
	       "exits with its status (128+N when signal N ended it; 127 when it cannot be\n"
	       "found, 126 when it cannot be executed).  No shell is involved.\n"
	       "\n"
	       "Options:\n"
	       "      --x410-display M        Relay to X410 display M: VSOCK port 6000+M on the\n"
	       "                              Windows host, CID 2 (default 0)\n"
	       "      --connect ADDR          Relay to ADDR instead: vsock:CID:PORT, unix:PATH,\n"
	       "                              unix:@NAME or tcp:HOST:PORT\n"
	       "      --listen ADDR           Listen on unix:PATH or unix:@NAME instead of a display\n"
	       "      --socket-dir DIR        Directory of the display socket (default %s)\n"
	       "      --lock-dir DIR          Directory of the lock file (default %s)\n"
	       "      --no-abstract           Do not listen on the abstract socket: then any\n"
	       "                              local user may bind it and receive the clients;\n"
	       "                              only where nobody else can run programs\n"
	       "      --no-path-socket        Do not create the socket file\n"
	       "      --max-clients N         Serve at most N clients at once, 1-%u (default %u)\n"
	       "      --connect-timeout SECS  Give up an upstream connect after SECS seconds,\n"
	       "                              0.001-3600 (default 2)\n"
	       "      --vsock-buffer BYTES    SO_SNDBUF/SO_RCVBUF of each VSOCK connection, set\n"
	       "                              before connect() and again once it has started\n"
	       "                              (the kernel doubles it; hv_sock rings: 24-256 KiB,\n"
	       "                              so 128K is the largest ring); 0 sets nothing,\n"
	       "                              hv_sock's 24 KiB stay (default 256K)\n"
	       "      --allow-user USER       Also accept clients of USER (name or uid); repeatable\n"
	       "      --allow-group GROUP     Also accept clients in GROUP (name or gid); repeatable\n"
	       "      --allow-any-user        Accept clients of every user\n"
	       "      --engine ENGINE         auto (default: io_uring where it works, else epoll),\n"
	       "                              uring or epoll\n"
	       "      --detach                Once serving, leave the terminal and log to syslog\n"
	       "                              or ~/.local/state/x410-vsock/; exit 0 at once if\n"
	       "                              your relay already serves :N to the same upstream\n"
	       "  -h, --help                  Show this help and exit\n"
	       "\n"
	       "Only the user running the relay and root may connect unless --allow-* says\n"
	       "otherwise; every connection is checked with SO_PEERCRED.  A stale lock file or\n"
	       "socket is taken over; a live server on the display is never touched.  Where\n"
	       "the socket directory cannot safely hold the socket file (a symbolic link, a\n"
	       "read-only mount, writable by others without the sticky bit: WSLg) only the\n"
	       "abstract socket is served, with a warning.  Under systemd socket activation\n"
	       "(LISTEN_FDS) the passed sockets are served instead.\n"
	       "SIGINT, SIGTERM or SIGHUP stops the relay and removes its socket and lock\n"
	       "file; SIGUSR1 logs one line of statistics.\n",
	       X11_UNIX_DIR, X11_LOCK_DIR, RUN_MAX_CLIENTS_MAX, RUN_DEFAULT_MAX_CLIENTS);
}


/* ---- options ---- */

enum {
	OPT_X410_DISPLAY = 0x100,
	OPT_CONNECT,
	OPT_LISTEN,
	OPT_SOCKET_DIR,
	OPT_LOCK_DIR,
	OPT_NO_ABSTRACT,
	OPT_NO_PATH_SOCKET,
	OPT_MAX_CLIENTS,
	OPT_CONNECT_TIMEOUT,
	OPT_VSOCK_BUFFER,
	OPT_ALLOW_USER,
	OPT_ALLOW_GROUP,
	OPT_ALLOW_ANY_USER,
	OPT_ENGINE,
	OPT_DETACH,
};

static const struct option run_options[] = {
	OPTIONS_GLOBAL,
	{ "help", no_argument, NULL, 'h' },
	{ "x410-display", required_argument, NULL, OPT_X410_DISPLAY },
	{ "connect", required_argument, NULL, OPT_CONNECT },
	{ "listen", required_argument, NULL, OPT_LISTEN },
	{ "socket-dir", required_argument, NULL, OPT_SOCKET_DIR },
	{ "lock-dir", required_argument, NULL, OPT_LOCK_DIR },
	{ "no-abstract", no_argument, NULL, OPT_NO_ABSTRACT },
	{ "no-path-socket", no_argument, NULL, OPT_NO_PATH_SOCKET },
	{ "max-clients", required_argument, NULL, OPT_MAX_CLIENTS },
	{ "connect-timeout", required_argument, NULL, OPT_CONNECT_TIMEOUT },
	{ "vsock-buffer", required_argument, NULL, OPT_VSOCK_BUFFER },
	{ "allow-user", required_argument, NULL, OPT_ALLOW_USER },
	{ "allow-group", required_argument, NULL, OPT_ALLOW_GROUP },
	{ "allow-any-user", no_argument, NULL, OPT_ALLOW_ANY_USER },
	{ "engine", required_argument, NULL, OPT_ENGINE },
	{ "detach", no_argument, NULL, OPT_DETACH },
	{}
};

static bool all_digits(const char *s)
{
	if (!*s)
		return false;
	for (; *s; s++)
		if (*s < '0' || *s > '9')
			return false;
	return true;
}

/* A user (a group when group is set) by name or number: its uid (gid).
 * -ENOENT when there is no such name, -ERANGE for a number out of range. */
static int lookup_id(const char *s, bool group, uint32_t *ret)
{
	char buf[16384];
	bool found = false;
	int r;

	if (all_digits(s))
		/* (uid_t)-1 and (gid_t)-1 mean "no change" to the kernel:
		 * never an id. */
		return parse_uint32(s, false, 0, UINT32_MAX - 1, ret);
	if (group) {
		struct group gr, *res = NULL;

		r = getgrnam_r(s, &gr, buf, sizeof(buf), &res);
		if (r == 0 && res) {
			*ret = (uint32_t)gr.gr_gid;
			found = true;
		}
	} else {
		struct passwd pw, *res = NULL;

		r = getpwnam_r(s, &pw, buf, sizeof(buf), &res);
		if (r == 0 && res) {
			*ret = (uint32_t)pw.pw_uid;
			found = true;
		}
	}
	if (r != 0)
		return -r;
	return found ? 0 : -ENOENT;
}

/* Normalised (display_dir_normalize()) into buf before any check sees it:
 * "--socket-dir /tmp/link/" must be judged as the link it names. */
static int check_dir_arg(const char *opt, const char *dir, char *buf, size_t size)
{
	int r;

	if (!*dir)
		return usage_error("run", "Invalid --%s '': the directory is empty", opt);
	r = display_dir_normalize(dir, buf, size);
	if (r == -EINVAL)
		return usage_error("run", "Invalid --%s '%s': '..' is not allowed; give the directory itself", opt, dir);
	if (r < 0)
		return usage_error("run", "Invalid --%s '%s': the path is too long", opt, dir);
	return 0;
}

static bool same_unix(const struct addr *x, const struct addr *y)
{
	return x->kind == ADDR_UNIX && y->kind == ADDR_UNIX && x->abstract == y->abstract &&
	       x->sa_len == y->sa_len && memcmp(&x->sa.un, &y->sa.un, x->sa_len) == 0;
}

bool run_relays_to_itself(const struct run_args *a)
{
	char path[PATH_MAX] = "@";
	struct addr own;

	if (a->connect.kind != ADDR_UNIX)
		return false;
	if (a->have_listen)
		return same_unix(&a->connect, &a->listen);
	if (!a->have_display)
		return false;
	if (!a->no_abstract && addr_display_abstract_name(a->display, path + 1, sizeof(path) - 1) == 0 &&
	    addr_unix(path, &own) == 0 && same_unix(&a->connect, &own))
		return true;
	/* The same file under another spelling (a/../X5) is not caught
	 * here: it would be refused by the client cap, not loop forever. */
	return !a->no_path_socket && addr_display_socket_path(a->display, a->socket_dir, path, sizeof(path)) == 0 &&
	       addr_unix(path, &own) == 0 && same_unix(&a->connect, &own);
}

/* One option c of getopt_long (its argument in optarg) into a.  Returns 0,
 * 1 for --help (printed), or EXIT_USAGE after the one-line error. */
static int parse_option(int c, char *argv[], struct run_args *a)
{
	const char *error = NULL;
	uint64_t v;
	uint32_t id = 0;
	int r;

	switch (c) {
	case 'h':
		a->help = true;
		help();
		return 1;
	case OPT_X410_DISPLAY:
		if (addr_parse_x410_display(optarg, &a->x410_display, &error) < 0)
			return usage_error("run", "Invalid --x410-display '%s': %s", optarg, error);
		break;
	case OPT_CONNECT:
		if (addr_parse(optarg, &a->connect, &error) < 0)
			return usage_error("run", "Invalid --connect '%s': %s", optarg, error);
		a->have_connect = true;
		break;
	case OPT_LISTEN:
		if (addr_parse(optarg, &a->listen, &error) < 0)
			return usage_error("run", "Invalid --listen '%s': %s", optarg, error);
		if (a->listen.kind != ADDR_UNIX)
			return usage_error("run", "Invalid --listen '%s': only unix:PATH or unix:@NAME can be served (peers are checked with SO_PEERCRED)", optarg);
		a->have_listen = true;
		a->listen_str = optarg;
		break;
	case OPT_SOCKET_DIR: {
		static char socket_dir[PATH_MAX];

		if (check_dir_arg("socket-dir", optarg, socket_dir, sizeof(socket_dir)) != 0)
			return EXIT_USAGE;
		a->socket_dir = socket_dir;
		break;
	}
	case OPT_LOCK_DIR: {
		static char lock_dir[PATH_MAX];

		if (check_dir_arg("lock-dir", optarg, lock_dir, sizeof(lock_dir)) != 0)
			return EXIT_USAGE;
		a->lock_dir = lock_dir;
		break;
	}
	case OPT_NO_ABSTRACT:
		a->no_abstract = true;
		break;
	case OPT_NO_PATH_SOCKET:
		a->no_path_socket = true;
		break;
	case OPT_MAX_CLIENTS:
		if (parse_uint64(optarg, false, 1, RUN_MAX_CLIENTS_MAX, &v) < 0)
			return usage_error("run", "Invalid --max-clients '%s': expected a number from 1 to %u",
					   optarg, RUN_MAX_CLIENTS_MAX);
		a->max_clients = (unsigned)v;
		break;
	case OPT_CONNECT_TIMEOUT:
		if (parse_seconds_ms(optarg, 1, RUN_CONNECT_TIMEOUT_MAX_MS, &a->connect_timeout_ms) < 0)
			return usage_error("run", "Invalid --connect-timeout '%s': expected seconds from 0.001 to 3600, e.g. 2 or 0.5", optarg);
		break;
	case OPT_VSOCK_BUFFER:
		if (parse_size(optarg, 0, RUN_VSOCK_BUFFER_MAX, &v) < 0)
			return usage_error("run", "Invalid --vsock-buffer '%s': expected a size from 0 to 64M, e.g. 256K (0 keeps the kernel's default)", optarg);
		a->vsock_buffer = (uint32_t)v;
		break;
	case OPT_ALLOW_USER:
		if (a->n_uids >= RUN_ALLOW_MAX)
			return usage_error("run", "Too many --allow-user options (at most %u)", RUN_ALLOW_MAX);
		r = lookup_id(optarg, false, &id);
		if (r == -ENOENT)
			return usage_error("run", "Invalid --allow-user '%s': no such user", optarg);
		if (r < 0)
			return usage_error("run", "Invalid --allow-user '%s': expected a user name or a uid (%s)",
					   optarg, strerror(-r));
		a->uids[a->n_uids++] = (uid_t)id;
		break;
	case OPT_ALLOW_GROUP:
		if (a->n_gids >= RUN_ALLOW_MAX)
			return usage_error("run", "Too many --allow-group options (at most %u)", RUN_ALLOW_MAX);
		r = lookup_id(optarg, true, &id);
		if (r == -ENOENT)
			return usage_error("run", "Invalid --allow-group '%s': no such group", optarg);
		if (r < 0)
			return usage_error("run", "Invalid --allow-group '%s': expected a group name or a gid (%s)",
					   optarg, strerror(-r));
		a->gids[a->n_gids++] = (gid_t)id;
		break;
	case OPT_ALLOW_ANY_USER:
		a->any_user = true;
		break;
	case OPT_ENGINE:
		if (streq(optarg, "auto"))
			a->engine = RUN_ENGINE_AUTO;
		else if (streq(optarg, "uring") || streq(optarg, "io_uring"))
			a->engine = RUN_ENGINE_URING;
		else if (streq(optarg, "epoll"))
			a->engine = RUN_ENGINE_EPOLL;
		else
			return usage_error("run", "Invalid --engine '%s': expected auto, uring or epoll", optarg);
		break;
	case OPT_DETACH:
		a->detach = true;
		break;
	default:
		return options_error("run", run_options, c, argv);
	}
	return 0;
}

/* The display argument, and what the options say together.  Returns 0 or
 * EXIT_USAGE after the one-line error. */
static int parse_operands(int argc, char *argv[], struct run_args *a)
{
	const char *error = NULL;

	if (a->detach && a->program)
		return usage_error("run", "--detach and '-- PROGRAM' exclude each other: the relay lives as long as PROGRAM");
	if (a->detach && getenv("LISTEN_FDS"))
		return usage_error("run", "--detach does not apply under socket activation (LISTEN_FDS): systemd keeps the relay");
	if (optind < argc) {
		if (addr_parse_display(argv[optind], &a->display, &error) < 0)
			return usage_error("run", "Invalid display '%s': %s", argv[optind], error);
		a->have_display = true;
		if (optind + 1 < argc)
			return usage_error("run", "Unexpected argument '%s' (one display at a time)", argv[optind + 1]);
	}
	if (a->program && !a->program[0])
		return usage_error("run", "Missing the PROGRAM after '--'");
	if (a->program && a->have_listen)
		return usage_error("run", "-- PROGRAM needs a display (:N, or none for the first free one), not --listen");
	if (a->have_display && a->have_listen)
		return usage_error("run", "Give a display (:N) or --listen ADDR, not both");
	if (!a->have_display && !a->have_listen && !a->program)
		return usage_error("run", "Missing the display to serve, e.g. ':5' (or --listen unix:PATH)");
	if (a->have_listen && (a->no_abstract || a->no_path_socket))
		return usage_error("run", "--no-abstract and --no-path-socket apply to a display, not to --listen");
	if (a->no_abstract && a->no_path_socket)
		return usage_error("run", "--no-abstract and --no-path-socket together leave nothing to listen on");
	if (a->have_display) {
		char path[PATH_MAX];

		if (addr_display_socket_path(a->display, a->socket_dir, path, sizeof(path)) < 0)
			return usage_error("run", "Invalid --socket-dir '%s': the socket path would be longer than 107 bytes", a->socket_dir);
		if (addr_display_lock_path(a->display, a->lock_dir, path, sizeof(path)) < 0)
			return usage_error("run", "Invalid --lock-dir '%s': the path is too long", a->lock_dir);
	}
	if (a->have_connect && run_relays_to_itself(a)) {
		char shown[ADDR_FORMAT_MAX];

		if (addr_format(&a->connect, shown, sizeof(shown)) < 0)
			shown[0] = 0;
		return usage_error("run", "--connect '%s' is the relay's own socket: it would relay to itself", shown);
	}
	return 0;
}

int run_parse_args(int argc, char *argv[], struct run_args *a)
{
	int c, r;

	*a = (struct run_args) {
		.socket_dir = X11_UNIX_DIR,
		.lock_dir = X11_LOCK_DIR,
		.max_clients = RUN_DEFAULT_MAX_CLIENTS,
		.connect_timeout_ms = RUN_DEFAULT_CONNECT_TIMEOUT_MS,
		.vsock_buffer = RUN_DEFAULT_VSOCK_BUFFER,
		.engine = RUN_ENGINE_AUTO,
	};

	/* ':' first: a missing argument is reported as ':', and getopt
	 * prints nothing itself; every message is ours. */
	/* "--" ends run's arguments; PROGRAM's are its own. */
	argc = run_program_split(argc, argv, run_options, ":" OPTIONS_GLOBAL_SHORT "h", &a->program);
	optind = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" OPTIONS_GLOBAL_SHORT "h", run_options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		r = parse_option(c, argv, a);
		if (r == 1)
			return 0;
		if (r != 0)
			return r;
	}
	return parse_operands(argc, argv, a);
}
