/* SPDX-License-Identifier: MIT */
/*
 * `run --detach` (detach.h): the idempotent start from a shell profile,
 * the fork that leaves the terminal only once the relay serves, and where
 * its log goes afterwards.
 */
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <pwd.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <syslog.h>
#include <time.h>
#include <unistd.h>

#include "commands.h"
#include "control.h"
#include "detach.h"
#include "log.h"
#include "util.h"

#define SYSLOG_PATH "/dev/log"
/* A log file larger than this is moved aside (".old") when a relay starts. */
#define LOG_FILE_ROTATE_SIZE (1024 * 1024)

/* The child's end of the pipe the parent waits on; -1 elsewhere. */
static int ready_fd = -1;
static int log_fd = -1;

bool detach_has_program(int argc, char *argv[])
{
	for (int i = 1; i < argc; i++)
		if (streq(argv[i], "--"))
			return true;
	return false;
}

int detach_served_already(const struct run_args *a)
{
	struct control_display d;
	struct control_status s;
	struct addr upstream;
	char want[ADDR_FORMAT_MAX];

	if (!a->have_display)
		return 0;
	/* The upstream as run will use it, and as its relay reports it. */
	if (a->have_connect) {
		upstream = a->connect;
		if (addr_resolve(&upstream) < 0)
			return 0;
	} else
		addr_vsock(VMADDR_CID_HOST, addr_x410_port(a->x410_display), &upstream);
	if (addr_format(&upstream, want, sizeof(want)) < 0)
		return 0;
	if (control_lookup(a->lock_dir, a->display, &d) < 0 || d.holder != CONTROL_RELAY ||
	    !d.have_uid || d.uid != geteuid())
		return 0;
	/* No answer: an older relay, or one that is stuck.  run then says
	 * the display is taken, and by whom. */
	if (control_query(d.lock.pid, CONTROL_QUERY_TIMEOUT_MS, &s) < 0)
		return 0;
	if (!streq(s.upstream, want)) {
		log_warning("display :%u is served by your x410-vsock relay (pid %d) to '%s', not to '%s'; 'x410-vsock stop :%u' stops it", a->display, (int)s.pid, s.upstream, want, a->display);
		return 0;
	}
	log_info("display :%u is already served by your x410-vsock relay (pid %d) -> %s; export DISPLAY=:%u",
		 a->display, (int)s.pid, s.upstream, a->display);
	return 1;
}

int detach_begin(bool *ret_parent)
{
	int pfd[2], status = 0;
	ssize_t n;
	pid_t pid;
	char c;

	*ret_parent = false;
	if (pipe2(pfd, O_CLOEXEC) < 0)
		return log_error_errno(errno, "Cannot create a pipe: %m");
	(void)fflush(stdout);
	(void)fflush(stderr);
	pid = fork();
	if (pid < 0) {
		int r = -errno;

		(void)close(pfd[0]);
		(void)close(pfd[1]);
		return log_error_errno(r, "Cannot fork: %m");
	}
	if (pid == 0) {
		(void)close(pfd[0]);
		ready_fd = pfd[1];
		/* At once: a hang-up of the terminal from now on is not ours.
		 * (Never fails: a new child leads no process group.) */
		(void)setsid();
		return 0;
	}

	*ret_parent = true;
	(void)close(pfd[1]);
	do
		n = read(pfd[0], &c, 1);
	while (n < 0 && errno == EINTR);
	(void)close(pfd[0]);
	if (n == 1)
		return EXIT_OK;
	/* The child ended before serving; it has said why on stderr. */
	while (waitpid(pid, &status, 0) < 0)
		if (errno != EINTR)
			return EXIT_FAILED;
	if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
		return WEXITSTATUS(status);
	return EXIT_FAILED;
}

/* ---- where the log goes ---- */

/* A syslog daemon (or journald) listens on /dev/log: a datagram socket,
 * rarely a stream one.  Without a listener syslog(3) would drop every
 * line. */
static bool syslog_available(void)
{
	struct sockaddr_un sa = { .sun_family = AF_UNIX, .sun_path = SYSLOG_PATH };
	static const int types[] = { SOCK_DGRAM, SOCK_STREAM };
	struct stat st;

	if (lstat(SYSLOG_PATH, &st) < 0 || !S_ISSOCK(st.st_mode))
		return false;
	for (size_t i = 0; i < ELEMENTSOF(types); i++) {
		_cleanup_close_ int fd = socket(AF_UNIX, types[i] | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

		if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0)
			return true;
		if (fd < 0 || errno != EPROTOTYPE)
			return false;
	}
	return false;
}

static int state_dir(char *buf, size_t size)
{
	const char *xdg = getenv("XDG_STATE_HOME"), *home = getenv("HOME");
	char pwbuf[4096];
	struct passwd pw, *res = NULL;

	/* The base directory specification ignores a relative path. */
	if (xdg && xdg[0] == '/')
		return strcpy_bounded(buf, size, xdg);
	if (!home || home[0] != '/') {
		if (getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) != 0 || !res || pw.pw_dir[0] != '/')
			return -ENOENT;
		home = pw.pw_dir;
	}
	return snprintf_bounded(buf, size, "%s/.local/state", home);
}

int detach_log_path(int display, char *buf, size_t size)
{
	char dir[PATH_MAX];
	int r = state_dir(dir, sizeof(dir));

	if (r < 0)
		return r;
	if (display >= 0)
		r = snprintf_bounded(buf, size, "%s/" DETACH_LOG_SUBDIR "/display-%d.log", dir, display);
	else
		r = snprintf_bounded(buf, size, "%s/" DETACH_LOG_SUBDIR "/run.log", dir);
	return r < 0 ? r : 0;
}

/* mkdir -p of path's parent directories (mode 0700 for those created). */
static int make_parents(const char *path)
{
	char p[PATH_MAX];
	int r = strcpy_bounded(p, sizeof(p), path);

	if (r < 0)
		return r;
	for (char *s = strchr(p + 1, '/'); s; s = strchr(s + 1, '/')) {
		*s = 0;
		if (mkdir(p, 0700) < 0 && errno != EEXIST)
			return -errno;
		*s = '/';
	}
	return 0;
}

static int open_log_file(const char *path)
{
	struct stat st;
	char old[PATH_MAX];
	int fd, r;

	r = make_parents(path);
	if (r < 0)
		return r;
	if (lstat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > LOG_FILE_ROTATE_SIZE &&
	    snprintf_bounded(old, sizeof(old), "%s.old", path) >= 0)
		(void)rename(path, old);
	fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	return fd;
}

static void sink_syslog(int level, const char *line)
{
	syslog(level, "%s", line);
}

static void sink_file(int level, const char *line)
{
	char buf[2200], stamp[40];
	struct timespec ts;
	struct tm tm;
	int n;

	(void)level;
	(void)clock_gettime(CLOCK_REALTIME, &ts);
	if (!localtime_r(&ts.tv_sec, &tm) || strftime(stamp, sizeof(stamp), "%Y-%m-%dT%H:%M:%S%z", &tm) == 0)
		(void)strcpy_bounded(stamp, sizeof(stamp), "-");
	n = snprintf(buf, sizeof(buf), "%s x410-vsock[%d]: %s\n", stamp, (int)getpid(), line);
	if (n < 0)
		return;
	if ((size_t)n >= sizeof(buf)) {
		n = (int)sizeof(buf) - 1;
		buf[n - 1] = '\n';
	}
	/* One write per line: O_APPEND keeps lines of relays sharing the
	 * file whole. */
	(void)!write(log_fd, buf, (size_t)n);
}

int detach_finish(const struct run_args *a, const char *served, const char *upstream)
{
	char path[PATH_MAX];
	bool use_syslog = syslog_available();
	int null_fd, r;

	if (ready_fd < 0)
		return log_error_errno(EINVAL, "Not detaching: no parent waits");
	if (!use_syslog) {
		r = detach_log_path(a->have_display ? (int)a->display : -1, path, sizeof(path));
		if (r < 0)
			return log_error_errno(r, "Cannot find a directory for the log file (set HOME or XDG_STATE_HOME): %m");
		log_fd = open_log_file(path);
		if (log_fd < 0)
			return log_error_errno(log_fd, "Cannot open the log file '%s': %m", path);
	}
	null_fd = open("/dev/null", O_RDWR | O_NOCTTY | O_CLOEXEC);
	if (null_fd < 0)
		return log_error_errno(errno, "Cannot open /dev/null: %m");

	log_info("serving %s -> %s in the background (pid %d); log: %s", served, upstream, (int)getpid(),
		 use_syslog ? "syslog" : path);
	(void)fflush(stdout);
	(void)fflush(stderr);
	/* dup2() leaves the copies without O_CLOEXEC, as standard streams
	 * should be. */
	for (int fd = 0; fd <= 2; fd++)
		(void)dup2(null_fd, fd);
	(void)close(null_fd);
	if (use_syslog) {
		openlog("x410-vsock", LOG_PID | LOG_NDELAY, LOG_USER);
		log_set_sink(sink_syslog);
	} else
		log_set_sink(sink_file);
	/* Not pinning the directory it was started in, when every path it
	 * will remove at the end is absolute. */
	if (a->socket_dir[0] == '/' && a->lock_dir[0] == '/' &&
	    (!a->have_listen || a->listen.abstract || a->listen.sa.un.sun_path[0] == '/'))
		(void)!chdir("/");

	do
		r = (int)write(ready_fd, "1", 1);
	while (r < 0 && errno == EINTR);
	ready_fd = safe_close(ready_fd);
	return 0;
}
