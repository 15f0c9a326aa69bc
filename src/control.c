/* SPDX-License-Identifier: MIT */
/*
 * The relay's status on request, and who holds a display (control.h): the
 * shared ground of `status`, `stop` and `run --detach`.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "control.h"
#include "relay.h"
#include "upstream.h"
#include "util.h"

#define RELAY_NAME "x410-vsock"

/* ---- the relay's side ---- */

static struct {
	char served[ADDR_FORMAT_MAX];
	char upstream[ADDR_FORMAT_MAX];
	char engine[16];
	uint64_t start_ms;
} identity;

static uint64_t boot_ms(void)
{
	struct timespec ts;

	/* BOOTTIME: the uptime goes on while the machine sleeps. */
	if (clock_gettime(CLOCK_BOOTTIME, &ts) < 0)
		return upstream_now_ms();
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

void control_set_identity(const char *served, const char *upstream, const char *engine)
{
	(void)strcpy_bounded(identity.served, sizeof(identity.served), served);
	(void)strcpy_bounded(identity.upstream, sizeof(identity.upstream), upstream);
	(void)strcpy_bounded(identity.engine, sizeof(identity.engine), engine);
	identity.start_ms = boot_ms();
}

/* @x410-vsock/status/<pid>/<nonce> */
static int status_name(pid_t pid, int nonce, struct sockaddr_un *sa, socklen_t *len)
{
	int n;

	memset(sa, 0, sizeof(*sa));
	sa->sun_family = AF_UNIX;
	n = snprintf(sa->sun_path + 1, sizeof(sa->sun_path) - 1, "x410-vsock/status/%d/%08x", (int)pid,
		     (unsigned)nonce);
	if (n < 0 || (size_t)n >= sizeof(sa->sun_path) - 1)
		return -ENAMETOOLONG;
	*len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + (size_t)n);
	return 0;
}

int control_answer(const struct relay *r, pid_t requester, int nonce)
{
	struct control_status s = {
		.pid = getpid(),
		.clients_now = r->stats.clients_now,
		.clients_total = r->stats.clients_total,
		.refused = r->stats.refused,
		.bytes_up = r->stats.bytes_up,
		.bytes_down = r->stats.bytes_down,
	};
	char buf[CONTROL_REPLY_MAX];
	struct sockaddr_un sa;
	struct ucred cred = {};
	socklen_t len, clen = sizeof(cred);
	_cleanup_close_ int fd = -1;
	ssize_t n;
	int size, ret;

	if (requester <= 0 || !identity.served[0])
		return -EINVAL;
	ret = status_name(requester, nonce, &sa, &len);
	if (ret < 0)
		return ret;
	(void)strcpy_bounded(s.served, sizeof(s.served), identity.served);
	(void)strcpy_bounded(s.upstream, sizeof(s.upstream), identity.upstream);
	(void)strcpy_bounded(s.engine, sizeof(s.engine), identity.engine);
	s.uptime_ms = boot_ms() - identity.start_ms;
	size = control_status_format(&s, buf, sizeof(buf));
	if (size < 0)
		return size;

	/* Non-blocking throughout: a UNIX connect either completes at once or
	 * fails (EAGAIN: a full queue), and the reply fits in the socket
	 * buffer; the relay's loop never waits here. */
	fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return -errno;
	if (connect(fd, (struct sockaddr *)&sa, len) < 0)
		return -errno;
	/* Abstract names have no permissions: the listener must be the
	 * process that signalled us, running as our user or as root. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) < 0)
		return -errno;
	if (cred.pid != requester || (cred.uid != geteuid() && cred.uid != 0))
		return -EPERM;
	n = send(fd, buf, (size_t)size, MSG_NOSIGNAL | MSG_DONTWAIT);
	if (n < 0)
		return -errno;
	return n == size ? 0 : -EAGAIN;
}

/* ---- pure ---- */

int control_status_format(const struct control_status *s, char *buf, size_t size)
{
	int n = snprintf(buf, size,
			 CONTROL_MAGIC "\n"
			 "pid %d\n"
			 "served %s\n"
			 "upstream %s\n"
			 "engine %s\n"
			 "clients_now %" PRIu64 "\n"
			 "clients_total %" PRIu64 "\n"
			 "refused %" PRIu64 "\n"
			 "bytes_up %" PRIu64 "\n"
			 "bytes_down %" PRIu64 "\n"
			 "uptime_ms %" PRIu64 "\n",
			 (int)s->pid, s->served, s->upstream, s->engine, s->clients_now, s->clients_total,
			 s->refused, s->bytes_up, s->bytes_down, s->uptime_ms);

	if (n < 0 || (size_t)n >= size)
		return -ENOBUFS;
	return n;
}

static int parse_text(const char *value, char *dst, size_t size)
{
	if (!*value)
		return -EINVAL;
	for (const char *c = value; *c; c++)
		if (!isprint((unsigned char)*c))
			return -EINVAL;
	return strcpy_bounded(dst, size, value);
}

/* The keys of a reply; the first five are required. */
static const char *const status_keys[] = {
	"pid", "served", "upstream", "engine", "uptime_ms",
	"clients_now", "clients_total", "refused", "bytes_up", "bytes_down",
};
#define STATUS_KEYS_REQUIRED 5u

static int parse_value(struct control_status *ret, size_t key, const char *value)
{
	uint64_t v = 0;
	uint32_t pid;
	int r;

	switch (key) {
	case 0:
		r = parse_uint32(value, false, 1, INT32_MAX, &pid);
		ret->pid = (pid_t)pid;
		return r;
	case 1:
		return parse_text(value, ret->served, sizeof(ret->served));
	case 2:
		return parse_text(value, ret->upstream, sizeof(ret->upstream));
	case 3:
		return parse_text(value, ret->engine, sizeof(ret->engine));
	}
	r = parse_uint64(value, false, 0, UINT64_MAX, &v);
	if (r < 0)
		return r;
	switch (key) {
	case 4: ret->uptime_ms = v; break;
	case 5: ret->clients_now = v; break;
	case 6: ret->clients_total = v; break;
	case 7: ret->refused = v; break;
	case 8: ret->bytes_up = v; break;
	case 9: ret->bytes_down = v; break;
	}
	return 0;
}

int control_status_parse(const char *buf, size_t len, struct control_status *ret)
{
	char text[CONTROL_REPLY_MAX], *line, *save = NULL;
	bool seen[ELEMENTSOF(status_keys)] = {};
	bool first = true;

	memset(ret, 0, sizeof(*ret));
	if (len == 0 || len >= sizeof(text) || memchr(buf, 0, len))
		return -EINVAL;
	memcpy(text, buf, len);
	text[len] = 0;
	if (text[len - 1] != '\n')
		return -EINVAL;  /* cut short */

	for (line = strtok_r(text, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
		char *value = strchr(line, ' ');
		size_t key;

		if (first) {
			if (!streq(line, CONTROL_MAGIC))
				return -EINVAL;
			first = false;
			continue;
		}
		if (!value)
			return -EINVAL;
		*value++ = 0;
		for (key = 0; key < ELEMENTSOF(status_keys); key++)
			if (streq(line, status_keys[key]))
				break;
		if (key == ELEMENTSOF(status_keys))
			continue;   /* a newer relay's key: ignored */
		if (seen[key] || parse_value(ret, key, value) < 0)
			return -EINVAL;
		seen[key] = true;
	}
	for (size_t i = 0; i < STATUS_KEYS_REQUIRED; i++)
		if (!seen[i])
			return -EINVAL;
	return 0;
}

void control_format_duration(uint64_t ms, char *buf, size_t size)
{
	uint64_t s = ms / 1000u;

	if (s >= 86400u)
		(void)snprintf(buf, size, "%" PRIu64 "d%02" PRIu64 "h", s / 86400u, s % 86400u / 3600u);
	else if (s >= 3600u)
		(void)snprintf(buf, size, "%" PRIu64 "h%02" PRIu64 "m", s / 3600u, s % 3600u / 60u);
	else if (s >= 60u)
		(void)snprintf(buf, size, "%" PRIu64 "m%02" PRIu64 "s", s / 60u, s % 60u);
	else
		(void)snprintf(buf, size, "%" PRIu64 "s", s);
}

/* ---- the asking side ---- */

static int wait_readable(int fd, uint64_t deadline_ms)
{
	for (;;) {
		uint64_t now = upstream_now_ms();
		struct pollfd p = { .fd = fd, .events = POLLIN };
		int n;

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		n = poll(&p, 1, (int)MIN(deadline_ms - now, (uint64_t)INT_MAX));
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return -errno;
	}
}

int control_query(pid_t pid, uint64_t timeout_ms, struct control_status *ret)
{
	uint64_t deadline = upstream_now_ms() + timeout_ms;
	_cleanup_close_ int lfd = -1, cfd = -1;
	char buf[CONTROL_REPLY_MAX];
	struct sockaddr_un sa;
	struct ucred cred = {};
	socklen_t len, clen = sizeof(cred);
	unsigned nonce = 0;
	size_t got = 0;
	int r;

	if (getrandom(&nonce, sizeof(nonce), GRND_NONBLOCK) != (ssize_t)sizeof(nonce))
		nonce = (unsigned)upstream_now_ms() ^ ((unsigned)getpid() << 16);
	r = status_name(getpid(), (int)nonce, &sa, &len);
	if (r < 0)
		return r;
	lfd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
	if (lfd < 0)
		return -errno;
	if (bind(lfd, (struct sockaddr *)&sa, len) < 0 || listen(lfd, 4) < 0)
		return -errno;
	if (sigqueue(pid, SIGUSR1, (union sigval) { .sival_int = (int)nonce }) < 0)
		return -errno;

	for (;;) {
		r = wait_readable(lfd, deadline);
		if (r < 0)
			return r;
		cfd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
		if (cfd < 0) {
			if (errno == EAGAIN || errno == EINTR || errno == ECONNABORTED)
				continue;
			return -errno;
		}
		/* Only the relay itself may answer. */
		clen = sizeof(cred);
		if (getsockopt(cfd, SOL_SOCKET, SO_PEERCRED, &cred, &clen) == 0 && cred.pid == pid)
			break;
		cfd = safe_close(cfd);
	}
	for (;;) {
		ssize_t n;

		r = wait_readable(cfd, deadline);
		if (r < 0)
			return r;
		n = read(cfd, buf + got, sizeof(buf) - got);
		if (n < 0) {
			if (errno == EAGAIN || errno == EINTR)
				continue;
			return -errno;
		}
		if (n == 0)
			break;
		got += (size_t)n;
		if (got == sizeof(buf))
			return -EPROTO;
	}
	if (control_status_parse(buf, got, ret) < 0 || ret->pid != pid)
		return -EPROTO;
	return 0;
}

/* ---- who holds a display ---- */

static bool basename_is_relay(const char *path)
{
	const char *slash = strrchr(path, '/');

	return streq(slash ? slash + 1 : path, RELAY_NAME);
}

bool control_pid_is_relay(pid_t pid)
{
	char path[64], buf[PATH_MAX];
	ssize_t n;
	int fd;

	(void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (read_one_line(path, buf, sizeof(buf)) == 0 && streq(buf, RELAY_NAME))
		return true;
	/* Started through another name (a symlink, a wrapper): the
	 * executable (readable for our own processes), then argv[0]. */
	(void)snprintf(path, sizeof(path), "/proc/%d/exe", (int)pid);
	n = readlink(path, buf, sizeof(buf) - 1);
	if (n > 0) {
		buf[n] = 0;
		if (basename_is_relay(buf))
			return true;
	}
	(void)snprintf(path, sizeof(path), "/proc/%d/cmdline", (int)pid);
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return false;
	n = read(fd, buf, sizeof(buf) - 1);
	(void)close(fd);
	if (n <= 0)
		return false;
	buf[n] = 0;  /* argv[0] ends at its NUL */
	return basename_is_relay(buf);
}

bool control_pid_ended(pid_t pid)
{
	char path[64], buf[512];
	const char *paren;
	int r;

	if (kill(pid, 0) < 0 && errno == ESRCH)
		return true;
	/* "PID (comm) S ...": the state follows the last ')'. */
	(void)snprintf(path, sizeof(path), "/proc/%d/stat", (int)pid);
	r = read_one_line(path, buf, sizeof(buf));
	if (r < 0)
		return r == -ENOENT;
	paren = strrchr(buf, ')');
	return paren && paren[1] == ' ' && (paren[2] == 'Z' || paren[2] == 'X');
}

static void user_name(uid_t uid, char *buf, size_t size)
{
	char pwbuf[4096];
	struct passwd pw, *res = NULL;

	if (getpwuid_r(uid, &pw, pwbuf, sizeof(pwbuf), &res) == 0 && res)
		(void)strcpy_bounded(buf, size, pw.pw_name);
	else
		(void)snprintf(buf, size, "%u", (unsigned)uid);
	if (!buf[0])
		(void)snprintf(buf, size, "%u", (unsigned)uid);
}

int control_lookup(const char *lock_dir, unsigned display, struct control_display *ret)
{
	struct display_where w = { .root = "", .live = true, .socket_dir = X11_UNIX_DIR, .lock_dir = lock_dir };
	char path[64];
	struct stat st;
	int r;

	memset(ret, 0, sizeof(*ret));
	ret->display = display;
	r = display_lock_check(&w, display, &ret->lock);
	if (r < 0)
		return r;
	switch (ret->lock.state) {
	case DISPLAY_LOCK_NONE:
		ret->holder = CONTROL_FREE;
		return 0;
	case DISPLAY_LOCK_STALE:
	case DISPLAY_LOCK_GARBLED:
		ret->holder = CONTROL_STALE;
		return 0;
	case DISPLAY_LOCK_LIVE:
		break;
	default:
		ret->holder = CONTROL_UNKNOWN;
		return 0;
	}
	(void)strcpy_bounded(ret->comm, sizeof(ret->comm), ret->lock.comm);
	(void)snprintf(path, sizeof(path), "/proc/%d", (int)ret->lock.pid);
	if (stat(path, &st) == 0) {
		ret->uid = st.st_uid;
		ret->have_uid = true;
		user_name(st.st_uid, ret->user, sizeof(ret->user));
	}
	ret->holder = control_pid_is_relay(ret->lock.pid) ? CONTROL_RELAY : CONTROL_OTHER;
	return 0;
}
