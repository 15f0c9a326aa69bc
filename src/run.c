/* SPDX-License-Identifier: MIT */
/*
 * `x410-vsock run`: everything of the relay that is not moving bytes --
 * options, the engine choice, the socket directory, the X lock file, the
 * listening sockets (or systemd's), signals, and the clean-up at the end.
 * The policy every engine applies is in relay.c, the engines in relay_*.c.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <grp.h>
#include <inttypes.h>
#include <limits.h>
#include <pwd.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "addr.h"
#include "commands.h"
#include "control.h"
#include "detach.h"
#include "display.h"
#include "log.h"
#include "options.h"
#include "relay.h"
#include "run.h"
#include "run_program.h"
#include "util.h"

#define LOCK_LEN 11                     /* "%10d\n" */

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
	       "                              before connect; 0 keeps the kernel's (default 256K)\n"
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
	       "socket is taken over; a live server on the display is never touched.  Under\n"
	       "systemd socket activation (LISTEN_FDS) the passed sockets are served instead.\n"
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

int run_parse_args(int argc, char *argv[], struct run_args *a)
{
	const char *error = NULL;
	uint64_t v;
	uint32_t id = 0;
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
		switch (c) {
		case 'h':
			a->help = true;
			help();
			return 0;
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
				return usage_error("run", "Invalid --listen '%s': only unix:PATH or unix:@NAME can be served"
						   " (peers are checked with SO_PEERCRED)", optarg);
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
				return usage_error("run", "Invalid --connect-timeout '%s': expected seconds from 0.001 to 3600,"
						   " e.g. 2 or 0.5", optarg);
			break;
		case OPT_VSOCK_BUFFER:
			if (parse_size(optarg, 0, RUN_VSOCK_BUFFER_MAX, &v) < 0)
				return usage_error("run", "Invalid --vsock-buffer '%s': expected a size from 0 to 64M, e.g. 256K"
						   " (0 keeps the kernel's default)", optarg);
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
	}

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
			return usage_error("run", "Invalid --socket-dir '%s': the socket path would be longer than"
					   " 107 bytes", a->socket_dir);
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

/* ---- the display ---- */

/* How long a socket may go on accepting after its relay's death. */
#define RUN_DEAD_SOCKET_WAIT_MS 250

struct run_ctx {
	const struct run_args *a;
	char lock_path[PATH_MAX];
	bool lock_held;
	bool lock_was_stale;    /* we removed a lock whose process is gone */
	char sock_path[PATH_MAX];
	bool sock_created;
	dev_t sock_dev;
	ino_t sock_ino;
	char abstract_name[PATH_MAX];
	int fds[RELAY_MAX_LISTEN];
	size_t n_fds;
	bool activated;
};

static struct display_where run_where(const struct run_args *a)
{
	return (struct display_where) {
		.root = "",
		.live = true,
		.socket_dir = a->socket_dir,
		.lock_dir = a->lock_dir,
	};
}

/* ", try a free display: :6, :7 or :8" for the error that says the display
 * is in use: the numbers doctor lists too. */
static void suggest_free(const struct run_args *a, char *buf, size_t size)
{
	struct display_where w = run_where(a);
	unsigned found[DISPLAY_SUGGEST_COUNT], n;
	size_t len;

	buf[0] = 0;
	n = display_suggest_free(&w, a->display, true, found, ELEMENTSOF(found));
	if (n == 0) {
		(void)snprintf(buf, size, "; no free display found near it");
		return;
	}
	len = (size_t)snprintf(buf, size, "; free displays: :%u", found[0]);
	for (unsigned i = 1; i < n && len < size; i++)
		len += (size_t)snprintf(buf + len, size - len, "%s:%u", i + 1 == n ? " or " : ", ", found[i]);
}

static int display_in_use(struct run_ctx *ctx, const char *what_format, ...) _printf_(2, 3);
static int display_in_use(struct run_ctx *ctx, const char *what_format, ...)
{
	char what[PATH_MAX + 128], free_list[128];
	va_list ap;

	va_start(ap, what_format);
	(void)vsnprintf(what, sizeof(what), what_format, ap);
	va_end(ap);
	suggest_free(ctx->a, free_list, sizeof(free_list));
	log_error("Display :%u is in use: %s%s", ctx->a->display, what, free_list);
	return -EADDRINUSE;
}

/* Take the X lock file: write our PID to a temporary file and link(2) it
 * into place, so that the lock appears whole or not at all (as X servers
 * do), and link fails if the lock exists, whoever holds it. */
static int lock_take(struct run_ctx *ctx)
{
	const struct run_args *a = ctx->a;
	struct display_where w = run_where(a);
	char tmp[PATH_MAX], content[LOCK_LEN + 1];
	_cleanup_close_ int fd = -1;
	int r;

	r = addr_display_lock_path(a->display, a->lock_dir, ctx->lock_path, sizeof(ctx->lock_path));
	if (r < 0)
		return log_error_errno(r, "Invalid lock directory '%s': %m", a->lock_dir);
	r = snprintf_bounded(tmp, sizeof(tmp), "%s/.tX%u-lock.%d", a->lock_dir, a->display, (int)getpid());
	if (r < 0)
		return log_error_errno(r, "Invalid lock directory '%s': %m", a->lock_dir);

	for (int attempt = 0; ; attempt++) {
		fd = open(tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY, 0444);
		if (fd >= 0)
			break;
		/* Left by an earlier process with our PID. */
		if (errno != EEXIST || attempt > 0 || unlink(tmp) < 0)
			return log_error_errno(errno, "Cannot create the lock file in '%s': %m%s", a->lock_dir,
					       errno == EACCES ? " (use --lock-dir DIR)" : "");
	}
	(void)snprintf(content, sizeof(content), "%10d\n", (int)getpid());
	if (write(fd, content, LOCK_LEN) != LOCK_LEN) {
		r = errno ? -errno : -EIO;
		(void)unlink(tmp);
		return log_error_errno(r, "Cannot write the lock file '%s': %m", tmp);
	}
	if (close(TAKE_FD(fd)) < 0) {
		r = -errno;
		(void)unlink(tmp);
		return log_error_errno(r, "Cannot write the lock file '%s': %m", tmp);
	}

	r = -EEXIST;
	for (int attempt = 0; attempt < 3; attempt++) {
		struct display_lock lock;

		if (link(tmp, ctx->lock_path) == 0) {
			ctx->lock_held = true;
			r = 0;
			break;
		}
		if (errno != EEXIST) {
			r = log_error_errno(errno, "Cannot create the lock file '%s': %m", ctx->lock_path);
			break;
		}
		r = display_lock_check(&w, a->display, &lock);
		if (r < 0) {
			r = log_error_errno(r, "Cannot read the lock file '%s': %m", ctx->lock_path);
			break;
		}
		/* Our own PID: left by an earlier life of this PID (a container
		 * restarted), since we have not linked ours yet. */
		if (lock.state == DISPLAY_LOCK_LIVE && lock.pid == getpid())
			lock.state = DISPLAY_LOCK_STALE;
		r = -EEXIST;
		if (lock.state == DISPLAY_LOCK_NONE)
			continue;   /* its owner just removed it */
		if (lock.state == DISPLAY_LOCK_LIVE) {
			r = display_in_use(ctx, "the lock file '%s' belongs to the running process %d (%s)",
					   ctx->lock_path, (int)lock.pid, lock.comm[0] ? lock.comm : "unknown");
			break;
		}
		if (lock.state == DISPLAY_LOCK_STARTING) {
			r = display_in_use(ctx, "the lock file '%s' has just been created by another process"
					   " (an X server starting?)", ctx->lock_path);
			break;
		}
		if (lock.state == DISPLAY_LOCK_NOT_REGULAR) {
			/* (Not -EEXIST: that would add "keeps being recreated".) */
			r = log_error_errno(ELOOP, "The lock file '%s' is not a regular file (a symbolic link?):"
					    " refusing to touch it; remove it if it is not in use", ctx->lock_path);
			break;
		}
		if (lock.state == DISPLAY_LOCK_UNREADABLE) {
			r = log_error_errno(lock.error, "Cannot read the lock file '%s': %m", ctx->lock_path);
			break;
		}
		/* DISPLAY_LOCK_STALE, DISPLAY_LOCK_GARBLED */
		if (unlink(ctx->lock_path) < 0 && errno != ENOENT) {
			r = log_error_errno(errno, "Cannot remove the stale lock file '%s': %m", ctx->lock_path);
			break;
		}
		log_info("removed the stale lock file '%s' (its process is gone)", ctx->lock_path);
		ctx->lock_was_stale = true;
	}
	(void)unlink(tmp);
	if (r == -EEXIST)
		r = log_error_errno(EEXIST, "Cannot take the lock file '%s': it keeps being recreated", ctx->lock_path);
	return r;
}

static void lock_release(struct run_ctx *ctx)
{
	struct display_where w = run_where(ctx->a);
	struct display_lock lock;
	bool ours_or_stale;

	if (!ctx->lock_held)
		return;
	ctx->lock_held = false;
	/* Only if it is still ours (or stale): never remove a lock that
	 * another live process holds. */
	if (display_lock_check(&w, ctx->a->display, &lock) < 0)
		return;
	ours_or_stale = (lock.state == DISPLAY_LOCK_LIVE && lock.pid == getpid()) ||
			lock.state == DISPLAY_LOCK_STALE || lock.state == DISPLAY_LOCK_GARBLED;
	if (ours_or_stale && unlink(ctx->lock_path) < 0)
		log_warning_errno(errno, "Cannot remove the lock file '%s': %m", ctx->lock_path);
}

/* ---- the socket directory ---- */

static int socket_dir_check(const char *dir)
{
	struct stat st;
	uid_t uid = geteuid();

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return log_error_errno(errno, "Cannot check the socket directory '%s': %m", dir);
		if (!streq(dir, X11_UNIX_DIR))
			return log_error_errno(ENOENT, "The socket directory '%s' does not exist", dir);
		if (uid != 0)
			return log_error_errno(ENOENT, "'%s' does not exist: create it with"
					       " 'sudo install -d -m 1777 %s' (or use --socket-dir DIR or --no-path-socket)",
					       dir, dir);
		if (mkdir(dir, 01777) < 0 && errno != EEXIST)
			return log_error_errno(errno, "Cannot create '%s': %m", dir);
		/* mkdir's mode went through the umask: set it in full, on the
		 * directory itself, not on whatever the name points to now. */
		_cleanup_close_ int fd = open(dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
		if (fd < 0 || fstat(fd, &st) < 0)
			return log_error_errno(errno, "Cannot open '%s': %m", dir);
		if (st.st_uid == 0 && fchmod(fd, 01777) < 0)
			return log_error_errno(errno, "Cannot set the mode of '%s': %m", dir);
		log_info("created '%s' (mode 1777)", dir);
		if (lstat(dir, &st) < 0)
			return log_error_errno(errno, "Cannot check the socket directory '%s': %m", dir);
	}
	/* The rule doctor reports too. */
	switch (display_dir_judge(&st, uid)) {
	case DISPLAY_DIR_SYMLINK:
		return log_error_errno(ELOOP, "The socket directory '%s' is a symbolic link: refusing it"
				       " (it must be a real directory); under WSLg use --no-path-socket,"
				       " the abstract socket is enough", dir);
	case DISPLAY_DIR_NOT_DIR:
		return log_error_errno(ENOTDIR, "The socket directory '%s' is not a directory", dir);
	case DISPLAY_DIR_NOT_STICKY:
		if (st.st_uid == 0)
			return log_error_errno(EPERM, "The socket directory '%s' is writable by others but not sticky:"
					       " anyone could replace the socket; fix it with 'sudo chmod 1777 %s'",
					       dir, dir);
		return log_error_errno(EPERM, "The socket directory '%s' is writable by others but not sticky:"
				       " anyone could replace the socket; fix it with 'chmod +t %s'", dir, dir);
	case DISPLAY_DIR_FOREIGN_OWNER:
		return log_error_errno(EPERM, "The socket directory '%s' belongs to uid %u, neither root nor you:"
				       " another user controls it; refusing to serve there (remove it, or use --socket-dir DIR)",
				       dir, (unsigned)st.st_uid);
	case DISPLAY_DIR_OK:
		break;
	}
	return 0;
}

/* ---- listening sockets ---- */

static int listen_on(struct run_ctx *ctx, const struct addr *a, const char *shown)
{
	_cleanup_close_ int fd = -1;
	mode_t old_umask = 0;
	bool allow_others = ctx->a->any_user || ctx->a->n_uids > 0 || ctx->a->n_gids > 0;

	if (ctx->n_fds >= RELAY_MAX_LISTEN)
		return log_error_errno(EMFILE, "Too many listening sockets");
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return log_error_errno(errno, "Cannot create a socket: %m");
	/* The file's mode is a first fence, not the check: that is
	 * SO_PEERCRED on every connection.  It lets in whoever the policy
	 * admits, which for other users or groups means everyone. */
	if (!a->abstract)
		old_umask = umask(allow_others ? 0111 : 0177);
	if (bind(fd, &a->sa.sa, a->sa_len) < 0) {
		int r = -errno;

		if (!a->abstract)
			(void)umask(old_umask);
		if (r == -EADDRINUSE)
			return display_in_use(ctx, "'%s' is taken by another process", shown);
		if (!a->abstract && (r == -EACCES || r == -EROFS || r == -EPERM))
			return log_error_errno(r, "Cannot create the socket '%s': %m (use --socket-dir DIR, or"
					       " --no-path-socket to serve only the abstract socket)", shown);
		return log_error_errno(r, "Cannot listen on '%s': %m", shown);
	}
	if (!a->abstract) {
		struct stat st;

		(void)umask(old_umask);
		ctx->sock_created = true;
		if (strcpy_bounded(ctx->sock_path, sizeof(ctx->sock_path), a->sa.un.sun_path) < 0 ||
		    lstat(ctx->sock_path, &st) < 0)
			return log_error_errno(errno, "Cannot check the socket '%s': %m", shown);
		ctx->sock_dev = st.st_dev;
		ctx->sock_ino = st.st_ino;
	}
	if (listen(fd, SOMAXCONN) < 0)
		return log_error_errno(errno, "Cannot listen on '%s': %m", shown);
	log_debug("listening on '%s'", shown);
	ctx->fds[ctx->n_fds++] = TAKE_FD(fd);
	return 0;
}

/* A live server on the address is never touched; a stale socket file is
 * removed, so that bind() can take the name. */
static int take_over(struct run_ctx *ctx, const struct addr *a, const char *shown, bool remove_stale)
{
	struct stat st;
	int r;

	if (!a->abstract) {
		if (lstat(a->sa.un.sun_path, &st) < 0) {
			if (errno == ENOENT)
				return 0;
			return log_error_errno(errno, "Cannot check '%s': %m", shown);
		}
		if (!S_ISSOCK(st.st_mode))
			return log_error_errno(EEXIST, "'%s' exists and is not a socket: refusing to touch it", shown);
	}
	/* The lock's process is gone: what still accepts may be its socket
	 * in the kernel's teardown (io_uring), not a server. */
	r = ctx->lock_was_stale ? display_unix_live_settle(a, RUN_DEAD_SOCKET_WAIT_MS) : display_unix_live(a);
	if (r > 0)
		return display_in_use(ctx, "a server is listening on '%s'", shown);
	if (r < 0)
		return log_error_errno(r, "Cannot tell whether a server is listening on '%s' (owner uid %u): %m",
				       shown, a->abstract ? 0u : (unsigned)st.st_uid);
	if (a->abstract || !remove_stale)
		return 0;
	if (unlink(a->sa.un.sun_path) < 0 && errno != ENOENT)
		return log_error_errno(errno, "Cannot remove the stale socket '%s': %m", shown);
	log_info("removed the stale socket '%s' (nobody was listening on it)", shown);
	return 0;
}

static int listen_display(struct run_ctx *ctx)
{
	const struct run_args *a = ctx->a;
	char path[PATH_MAX], name[PATH_MAX];
	struct addr pa = {}, ab = {};
	int r;

	r = addr_display_socket_path(a->display, a->socket_dir, path, sizeof(path));
	if (r < 0)
		return log_error_errno(r, "Invalid socket directory '%s': %m", a->socket_dir);
	r = addr_unix(path, &pa);
	if (r < 0)
		return log_error_errno(r, "Invalid socket path '%s': %m", path);
	name[0] = '@';
	r = addr_display_abstract_name(a->display, name + 1, sizeof(name) - 1);
	if (r < 0 || (r = addr_unix(name, &ab)) < 0)
		return log_error_errno(r, "Invalid abstract socket name: %m");

	if (!a->no_path_socket) {
		r = socket_dir_check(a->socket_dir);
		if (r < 0)
			return r;
	}
	r = lock_take(ctx);
	if (r < 0)
		return r;

	/* Whatever we serve, a live server on either name owns the display:
	 * libxcb would reach it first.  Check both before binding either. */
	r = take_over(ctx, &ab, name, false);
	if (r < 0)
		return r;
	r = take_over(ctx, &pa, path, !a->no_path_socket);
	if (r < 0)
		return r;

	if (!a->no_abstract) {
		r = listen_on(ctx, &ab, name);
		if (r < 0)
			return r;
	}
	if (!a->no_path_socket) {
		r = listen_on(ctx, &pa, path);
		if (r < 0)
			return r;
	}
	return 0;
}

static int listen_address(struct run_ctx *ctx)
{
	const struct run_args *a = ctx->a;
	char shown[ADDR_FORMAT_MAX];
	int r;

	if (a->listen.abstract)
		(void)snprintf(shown, sizeof(shown), "@%.*s",
			       (int)(a->listen.sa_len - offsetof(struct sockaddr_un, sun_path) - 1),
			       a->listen.sa.un.sun_path + 1);
	else
		(void)strcpy_bounded(shown, sizeof(shown), a->listen.sa.un.sun_path);
	r = take_over(ctx, &a->listen, shown, true);
	if (r < 0)
		return r;
	return listen_on(ctx, &a->listen, shown);
}

/* systemd socket activation: LISTEN_PID is us, LISTEN_FDS counts the fds
 * from 3.  Returns how many were taken (0: not activated) or -errno. */
static int listen_systemd(struct run_ctx *ctx)
{
	const char *e_pid = getenv("LISTEN_PID"), *e_fds = getenv("LISTEN_FDS");
	uint32_t pid, n;

	if (!e_pid || !e_fds)
		return 0;
	if (parse_uint32(e_pid, false, 1, INT32_MAX, &pid) < 0 || (pid_t)pid != getpid()) {
		log_debug("LISTEN_PID=%s is not this process: not socket-activated", e_pid);
		return 0;
	}
	if (parse_uint32(e_fds, false, 0, RELAY_MAX_LISTEN, &n) < 0)
		return log_error_errno(EINVAL, "Invalid LISTEN_FDS='%s' from systemd: expected 1-%u sockets",
				       e_fds, RELAY_MAX_LISTEN);
	for (int fd = 3; fd < 3 + (int)n; fd++) {
		int type = 0, domain = 0, accepting = 0, flags;
		socklen_t len = sizeof(int);

		if (getsockopt(fd, SOL_SOCKET, SO_TYPE, &type, &len) < 0)
			return log_error_errno(errno, "systemd passed fd %d, which is not a socket: %m", fd);
		len = sizeof(int);
		(void)getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len);
		len = sizeof(int);
		(void)getsockopt(fd, SOL_SOCKET, SO_ACCEPTCONN, &accepting, &len);
		if (type != SOCK_STREAM || domain != AF_UNIX || !accepting)
			return log_error_errno(EINVAL, "systemd passed fd %d, which is not a listening UNIX stream socket:"
					       " use ListenStream=/path or ListenStream=@name with Accept=no", fd);
		flags = fcntl(fd, F_GETFL);
		if (flags < 0 || fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0 ||
		    fcntl(fd, F_SETFD, FD_CLOEXEC) < 0)
			return log_error_errno(errno, "Cannot set up fd %d from systemd: %m", fd);
		ctx->fds[ctx->n_fds++] = fd;
	}
	(void)unsetenv("LISTEN_PID");
	(void)unsetenv("LISTEN_FDS");
	(void)unsetenv("LISTEN_FDNAMES");
	ctx->activated = n > 0;
	if (n > 0)
		log_debug("socket-activated: serving %u socket(s) from systemd", n);
	return (int)n;
}

static void run_cleanup(struct run_ctx *ctx)
{
	for (size_t i = 0; i < ctx->n_fds; i++)
		ctx->fds[i] = safe_close(ctx->fds[i]);
	ctx->n_fds = 0;
	if (ctx->sock_created) {
		struct stat st;

		/* Only the socket we made: if it was replaced, leave it. */
		if (lstat(ctx->sock_path, &st) == 0 && S_ISSOCK(st.st_mode) &&
		    st.st_dev == ctx->sock_dev && st.st_ino == ctx->sock_ino &&
		    unlink(ctx->sock_path) < 0)
			log_warning_errno(errno, "Cannot remove the socket '%s': %m", ctx->sock_path);
		ctx->sock_created = false;
	}
	lock_release(ctx);
}

/* ---- engine ---- */

#ifdef HAVE_LIBURING
/* io_uring missing (ENOSYS), blocked by seccomp, a sysctl or an LSM
 * (EPERM, EACCES), or lacking what the engine needs (EINVAL, EOPNOTSUPP):
 * reasons to use epoll.  ENOMEM, EMFILE and the like are not: they would
 * hit the epoll engine too, and hiding them helps nobody. */
static bool probe_error_means_fallback(int r)
{
	return r == -ENOSYS || r == -EPERM || r == -EINVAL || r == -EOPNOTSUPP || r == -EACCES;
}
#endif

int run_engine_choose(enum run_engine want, struct run_engine_choice *ret)
{
	*ret = (struct run_engine_choice) {};
	if (want == RUN_ENGINE_EPOLL) {
		ret->engine = &relay_engine_epoll;
		return 0;
	}
#ifdef HAVE_LIBURING
	int r = relay_engine_uring.probe(ret->why, sizeof(ret->why));

	if (r == 0) {
		ret->engine = &relay_engine_uring;
		return 0;
	}
	ret->uring_error = r;
	if (!ret->why[0])
		(void)snprintf(ret->why, sizeof(ret->why), "io_uring does not work here (%s)", strerror(-r));
	if (want == RUN_ENGINE_URING || !probe_error_means_fallback(r))
		return r;
	ret->engine = &relay_engine_epoll;
	return 0;
#else
	ret->uring_error = -EOPNOTSUPP;
	(void)snprintf(ret->why, sizeof(ret->why), "this x410-vsock is built without liburing");
	if (want == RUN_ENGINE_URING)
		return -EOPNOTSUPP;
	ret->engine = &relay_engine_epoll;
	return 0;
#endif
}

static const struct relay_engine *engine_pick(enum run_engine want)
{
	struct run_engine_choice c;
	int r = run_engine_choose(want, &c);

	if (r < 0) {
		if (want == RUN_ENGINE_URING)
			log_error_errno(r, "Cannot use the io_uring engine: %s", c.why);
		else
			log_error_errno(r, "Cannot set up io_uring: %s", c.why);
		return NULL;
	}
	if (c.uring_error < 0)
		log_info("%s; using the epoll engine", c.why);
	else if (c.engine != &relay_engine_epoll)
		log_debug("using the io_uring engine");
	return c.engine;
}

/* ---- the command ---- */

static void check_fd_limit(unsigned max_clients)
{
	struct rlimit rl;
	/* Two fds per client, and a few of our own. */
	rlim_t need = (rlim_t)max_clients * 2 + 16;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warning("the open file limit (%ju) is below what %u clients need (%ju): beyond it new clients"
			    " wait; raise it with 'ulimit -n %ju' or lower --max-clients",
			    (uintmax_t)rl.rlim_cur, max_clients, (uintmax_t)need, (uintmax_t)need);
}

static int signals_setup(int *ret_fd)
{
	sigset_t mask;
	int fd;

	/* Blocked from the start: a SIGTERM during setup waits in the
	 * signalfd and stops the relay cleanly at its first loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);      /* run -- PROGRAM: its end stops the relay */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(errno, "Cannot block signals: %m");
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "Cannot create a signalfd: %m");
	/* A peer that goes away must cost a connection, never the relay. */
	(void)signal(SIGPIPE, SIG_IGN);
	*ret_fd = fd;
	return 0;
}

static void describe_upstream(const struct relay_config *cfg, char *buf, size_t size)
{
	if (cfg->upstream_is_x410)
		(void)snprintf(buf, size, "X410 display %u (vsock %u:%u)", cfg->x410_display,
			       cfg->upstream.sa.vm.svm_cid, cfg->upstream.sa.vm.svm_port);
	else if (addr_format(&cfg->upstream, buf, size) < 0)
		(void)strcpy_bounded(buf, size, "the upstream");
}

int cmd_run(int argc, char *argv[])
{
	struct run_args a;
	struct relay_config cfg = {};
	struct relay relay = {};
	struct run_ctx ctx = { .a = &a };
	struct run_program prog = {};
	const struct relay_engine *engine;
	_cleanup_close_ int signal_fd = -1;
	char upstream[ADDR_FORMAT_MAX + 64], served[ADDR_FORMAT_MAX], display_hint[32] = "";
	const char *why = NULL;
	char upstream_addr[ADDR_FORMAT_MAX];
	int r;

	r = run_parse_args(argc, argv, &a);
	if (r != 0 || a.help)
		return r;
	if (a.program) {
		run_program_init(&prog, a.program);
		if (!a.have_display && run_program_pick_display(&a) != 0)
			return EXIT_FAILED;
	}
	/* run --detach from a profile, again: one line, nothing to do. */
	if (a.detach && detach_served_already(&a) > 0)
		return EXIT_OK;

	if (geteuid() == 0)
		log_warning("running as root is not needed: run the relay as the user whose X programs"
			    " use it (as root, only root's programs may connect unless --allow-user says otherwise)");

	/* Chosen before anything is created: --engine uring fails with
	 * nothing to clean up. */
	engine = engine_pick(a.engine);
	if (!engine)
		return EXIT_FAILED;

	if (a.have_connect) {
		cfg.upstream = a.connect;
		if (cfg.upstream.warnings & ADDR_WARN_HVSOCK_CID)
			log_warning("hv_sock connects only to CID 2 (the host): '--connect vsock:%u:...' works only"
				    " with another VSOCK transport", cfg.upstream.sa.vm.svm_cid);
		if (cfg.upstream.warnings & ADDR_WARN_HVSOCK_PORT)
			log_warning("hv_sock ports stop at 2147483647 (0x7FFFFFFF): port %u works only with another"
				    " VSOCK transport", cfg.upstream.sa.vm.svm_port);
		r = addr_resolve_why(&cfg.upstream, &why);
		if (r < 0) {
			if (why)
				log_error("Cannot resolve the host '%s' of --connect: %s", cfg.upstream.host, why);
			else
				log_error_errno(r, "Cannot resolve the host '%s' of --connect: %m", cfg.upstream.host);
			return EXIT_FAILED;
		}
	} else {
		addr_vsock(VMADDR_CID_HOST, addr_x410_port(a.x410_display), &cfg.upstream);
		cfg.upstream_is_x410 = true;
	}
	cfg.x410_display = a.x410_display;
	cfg.max_clients = a.max_clients;
	cfg.connect_timeout_ms = a.connect_timeout_ms;
	cfg.vsock_buffer = a.vsock_buffer;
	cfg.policy = (struct relay_policy) {
		.self_uid = geteuid(),
		.any_user = a.any_user,
		.uids = a.uids,
		.n_uids = a.n_uids,
		.gids = a.gids,
		.n_gids = a.n_gids,
	};
	check_fd_limit(a.max_clients);

	if (a.detach) {
		bool parent;

		r = detach_begin(&parent);
		if (parent || r < 0)
			return parent ? r : EXIT_FAILED;
	}
	r = signals_setup(&signal_fd);
	if (r < 0)
		return EXIT_FAILED;

	r = listen_systemd(&ctx);
	if (r == 0) {
		if (a.have_display)
			r = listen_display(&ctx);
		else
			r = listen_address(&ctx);
	} else if (r > 0 && a.have_display)
		/* The .socket unit owns the sockets; the display number is
		 * still ours, and X servers look at the lock. */
		r = lock_take(&ctx);
	if (r < 0) {
		run_cleanup(&ctx);
		return EXIT_FAILED;
	}

	for (size_t i = 0; i < ctx.n_fds; i++)
		cfg.listen_fds[i] = ctx.fds[i];
	cfg.n_listen = ctx.n_fds;
	relay.cfg = &cfg;
	relay.signal_fd = signal_fd;

	describe_upstream(&cfg, upstream, sizeof(upstream));
	if (a.have_display) {
		(void)snprintf(served, sizeof(served), ":%u", a.display);
		(void)snprintf(display_hint, sizeof(display_hint), "; export DISPLAY=:%u", a.display);
	} else if (addr_format(&a.listen, served, sizeof(served)) < 0)
		(void)strcpy_bounded(served, sizeof(served), a.listen_str);
	if (a.detach && detach_finish(&a, served, upstream) < 0) {
		run_cleanup(&ctx);
		return EXIT_FAILED;
	}
	log_info("serving %s -> %s%s", served, upstream, display_hint);
	log_debug("engine %s, at most %u clients, connect timeout %" PRIu64 " ms, vsock buffer %u",
		  engine->name, cfg.max_clients, cfg.connect_timeout_ms, cfg.vsock_buffer);

	if (a.program) {
		r = run_program_start(&prog, &relay, a.display);
		if (r != 0) {
			run_cleanup(&ctx);
			return r;
		}
	}

	if (addr_format(&cfg.upstream, upstream_addr, sizeof(upstream_addr)) < 0)
		upstream_addr[0] = 0;
	control_set_identity(served, upstream_addr, engine->name);

	/* The engine has logged its failure (relay.h). */
	r = engine->run(&relay);
	if (r >= 0)
		relay_log_stats(&relay);
	run_cleanup(&ctx);
	if (a.program)
		return run_program_finish(&prog, r);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}
