/* SPDX-License-Identifier: MIT */
/*
 * What `run` holds of the local display while it serves it: the X lock
 * file, the socket directory by the rule doctor reports too, the listening
 * sockets (the display's path and abstract names, --listen's, or systemd's),
 * and their removal at the end, each only while it is still ours.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "display.h"
#include "log.h"
#include "run_display.h"
#include "util.h"

#define LOCK_LEN 11                     /* "%10d\n" */

/* How long a socket may go on accepting after its relay's death. */
#define RUN_DEAD_SOCKET_WAIT_MS 250

/* ---- the display ---- */

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
int run_lock_take(struct run_ctx *ctx)
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
			r = display_in_use(ctx, "the lock file '%s' has just been created by another process (an X server starting?)", ctx->lock_path);
			break;
		}
		if (lock.state == DISPLAY_LOCK_NOT_REGULAR) {
			/* (Not -EEXIST: that would add "keeps being recreated".) */
			r = log_error_errno(ELOOP, "The lock file '%s' is not a regular file (a symbolic link?): refusing to touch it; remove it if it is not in use", ctx->lock_path);
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

static void run_lock_release(struct run_ctx *ctx)
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

/* The socket directory by the rule doctor reports too (display.h):
 * returns 0 when the socket file goes there, 1 when only the abstract
 * socket (name) is served, after one warning that says why, or -errno. */
static int socket_dir_check(const char *dir, bool no_abstract, const char *name)
{
	struct stat st;
	uid_t uid = geteuid();
	enum display_dir_state state;
	char target[PATH_MAX] = "";
	ssize_t n;

	if (lstat(dir, &st) < 0) {
		if (errno != ENOENT)
			return log_error_errno(errno, "Cannot check the socket directory '%s': %m", dir);
		if (!streq(dir, X11_UNIX_DIR))
			return log_error_errno(ENOENT, "The socket directory '%s' does not exist", dir);
		if (uid != 0)
			return log_error_errno(ENOENT, "'%s' does not exist: create it with 'sudo install -d -m 1777 %s' (or use --socket-dir DIR or --no-path-socket)",
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
	state = display_dir_judge(&st, uid, display_dir_readonly("", true, dir));
	switch (state) {
	case DISPLAY_DIR_FOREIGN_SYMLINK:
		return log_error_errno(ELOOP, "The socket directory '%s' is a symbolic link of uid %u, neither root nor you: another user controls where it points; refusing it (use --socket-dir DIR, or --no-path-socket to serve only the abstract socket)",
				       dir, (unsigned)st.st_uid);
	case DISPLAY_DIR_NOT_DIR:
		return log_error_errno(ENOTDIR, "The socket directory '%s' is not a directory", dir);
	case DISPLAY_DIR_FOREIGN_OWNER:
		return log_error_errno(EPERM, "The socket directory '%s' belongs to uid %u, neither root nor you: another user controls it; refusing to serve there (remove it, or use --socket-dir DIR)",
				       dir, (unsigned)st.st_uid);
	case DISPLAY_DIR_OK:
		return 0;
	case DISPLAY_DIR_SYMLINK:
	case DISPLAY_DIR_READONLY:
	case DISPLAY_DIR_NOT_STICKY:
		break;
	}
	/* It cannot safely hold our socket file: the abstract socket only,
	 * which X clients try first; the lock file still holds the number. */
	if (state == DISPLAY_DIR_SYMLINK && (n = readlink(dir, target, sizeof(target) - 1)) > 0)
		target[n] = 0;
	if (no_abstract)
		return log_error_errno(state == DISPLAY_DIR_READONLY ? EROFS : EPERM,
				       "The socket directory '%s' %s, so it cannot hold the socket file, and --no-abstract leaves nothing to serve: drop --no-abstract (X clients then use the abstract socket %s) or use --socket-dir DIR",
				       dir, display_dir_reason(state), name);
	log_warning("The socket directory '%s' %s%s%s%s: serving only the abstract socket %s, which X clients (libxcb, Xlib) try first",
		    dir, display_dir_reason(state), target[0] ? " (to " : "", target, target[0] ? ")" : "", name);
	return 1;
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
			return log_error_errno(r, "Cannot create the socket '%s': %m (use --socket-dir DIR, or --no-path-socket to serve only the abstract socket)", shown);
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

int run_listen_display(struct run_ctx *ctx)
{
	const struct run_args *a = ctx->a;
	char path[PATH_MAX], name[PATH_MAX];
	struct addr pa = {}, ab = {};
	bool serve_path = false;
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
		r = socket_dir_check(a->socket_dir, a->no_abstract, name);
		if (r < 0)
			return r;
		serve_path = r == 0;
	}
	r = run_lock_take(ctx);
	if (r < 0)
		return r;

	/* Whatever we serve, a live server on either name owns the display:
	 * libxcb would reach it first.  Check both before binding either. */
	r = take_over(ctx, &ab, name, false);
	if (r < 0)
		return r;
	r = take_over(ctx, &pa, path, serve_path);
	if (r < 0)
		return r;

	if (!a->no_abstract) {
		r = listen_on(ctx, &ab, name);
		if (r < 0)
			return r;
	}
	if (serve_path) {
		r = listen_on(ctx, &pa, path);
		if (r < 0)
			return r;
	}
	return 0;
}

int run_listen_address(struct run_ctx *ctx)
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
int run_listen_systemd(struct run_ctx *ctx)
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
			return log_error_errno(EINVAL, "systemd passed fd %d, which is not a listening UNIX stream socket: use ListenStream=/path or ListenStream=@name with Accept=no", fd);
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

void run_cleanup(struct run_ctx *ctx)
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
	run_lock_release(ctx);
}

