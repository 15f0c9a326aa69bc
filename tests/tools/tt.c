/* SPDX-License-Identifier: MIT */
#include <endian.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "tt.h"
#include "util.h"
#include "../vm/guest-token.h"

const char *tt_prog = "tt";
static const char *tt_current_phase = "starting";
static unsigned tt_deadline_seconds;

void tt_die(const char *format, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ERROR: ", tt_prog);
	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
	fputc('\n', stderr);
	/* _exit: a tool that dies mid-run holds buffers; LeakSanitizer must not
	 * turn the exit status 1 that the tests expect into its own. */
	fflush(stdout);
	fflush(stderr);
	_exit(EXIT_FAILURE);
}

void tt_log(const char *format, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", tt_prog);
	va_start(ap, format);
	vfprintf(stderr, format, ap);
	va_end(ap);
	fputc('\n', stderr);
}

static void tt_on_alarm(int sig)
{
	char msg[256];
	int n;

	/* Only async-signal-safe calls here. */
	n = snprintf(msg, sizeof(msg), "%s: ERROR: timeout: still %s after %u s\n",
		     tt_prog, tt_current_phase, tt_deadline_seconds);
	if (n > 0)
		(void)!write(STDERR_FILENO, msg, (size_t)MIN(n, (int)sizeof(msg) - 1));
	_exit(EXIT_FAILURE);
}

void tt_deadline(unsigned seconds)
{
	struct sigaction sa = { .sa_handler = tt_on_alarm };

	tt_deadline_seconds = seconds;
	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGALRM, &sa, NULL);
	alarm(seconds);
}

void tt_phase(const char *what)
{
	tt_current_phase = what;
}

uint64_t tt_now_ns(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

double tt_seconds_since(uint64_t start_ns)
{
	return (double)(tt_now_ns() - start_ns) / 1e9;
}

uint64_t tt_parse_size(const char *opt, const char *s)
{
	uint64_t v;

	if (parse_size(s, 0, UINT64_MAX / 2, &v) < 0)
		tt_die("invalid size for %s: '%s'", opt, s);
	return v;
}

uint64_t tt_parse_uint(const char *opt, const char *s, uint64_t max)
{
	uint64_t v;

	if (parse_uint64(s, false, 0, max, &v) < 0)
		tt_die("invalid number for %s: '%s'", opt, s);
	return v;
}

/* ------------------------------------------------------------------ stream */

static inline uint64_t tt_word(uint64_t seed, uint64_t index)
{
	/* splitmix64 of (seed, index): cheap, and no two nearby words alike. */
	uint64_t z = index + seed * 0xD1B54A32D192ED03ull + 0x9E3779B97F4A7C15ull;

	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
	z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
	return z ^ (z >> 31);
}

#define FNV_OFFSET 0xCBF29CE484222325ull
#define FNV_PRIME 0x100000001B3ull

void tt_stream_init(struct tt_stream *s, uint64_t seed)
{
	*s = (struct tt_stream) { .seed = seed, .digest = FNV_OFFSET };
}

static inline uint64_t tt_load_le(const uint8_t *p)
{
	uint64_t w;

	memcpy(&w, p, 8);
	return le64toh(w);
}

static inline void tt_store_le(uint8_t *p, uint64_t w)
{
	w = htole64(w);
	memcpy(p, &w, 8);
}

/* FNV-1a over little-endian 64-bit words (byte-wise FNV would cost more than
 * the relay under test); bytes are collected until a word is complete. */
static void tt_digest_update(struct tt_stream *s, const uint8_t *p, size_t len)
{
	while (len > 0 && s->pending_len != 0) {
		s->pending_word |= (uint64_t)*p++ << (8 * s->pending_len);
		len--;
		if (++s->pending_len == 8) {
			s->digest = (s->digest ^ s->pending_word) * FNV_PRIME;
			s->pending_word = 0;
			s->pending_len = 0;
		}
	}
	for (; len >= 8; p += 8, len -= 8)
		s->digest = (s->digest ^ tt_load_le(p)) * FNV_PRIME;
	for (; len > 0; len--, p++)
		s->pending_word |= (uint64_t)*p << (8 * s->pending_len++);
}

uint64_t tt_stream_digest(const struct tt_stream *s)
{
	uint64_t h = s->digest;

	if (s->pending_len)
		h = (h ^ s->pending_word) * FNV_PRIME;
	return (h ^ s->offset) * FNV_PRIME;
}

static inline uint8_t tt_byte_at(uint64_t seed, uint64_t offset)
{
	return (uint8_t)(tt_word(seed, offset / 8) >> (8 * (offset % 8)));
}

void tt_stream_fill(struct tt_stream *s, void *buf, size_t len)
{
	uint8_t *p = buf;
	size_t n = len;
	uint64_t off = s->offset;

	while (n > 0 && off % 8 != 0) {
		*p++ = tt_byte_at(s->seed, off++);
		n--;
	}
	for (; n >= 8; n -= 8, p += 8, off += 8)
		tt_store_le(p, tt_word(s->seed, off / 8));
	for (; n > 0; n--)
		*p++ = tt_byte_at(s->seed, off++);
	tt_digest_update(s, buf, len);
	s->offset = off;
}

bool tt_stream_check(struct tt_stream *s, const void *buf, size_t len,
		     uint64_t *ret_bad, unsigned *ret_got, unsigned *ret_want)
{
	const uint8_t *p = buf;
	uint64_t off = s->offset;
	size_t i = 0;

	while (i < len) {
		if (off % 8 == 0 && len - i >= 8 && tt_load_le(p + i) == tt_word(s->seed, off / 8)) {
			i += 8;
			off += 8;
			continue;
		}
		if (p[i] != tt_byte_at(s->seed, off)) {
			*ret_bad = off;
			*ret_got = p[i];
			*ret_want = tt_byte_at(s->seed, off);
			return false;
		}
		i++;
		off++;
	}
	tt_digest_update(s, buf, len);
	s->offset = off;
	return true;
}

void tt_stream_skip(struct tt_stream *s, size_t len)
{
	s->offset += len;
}

/* ------------------------------------------------------------------ sockets */

void tt_parse_addr(const char *s, struct addr *ret)
{
	const char *why = NULL;
	char buf[320];
	size_t len = strlen(s);
	bool port0 = false;
	int r;

	/* tcp:HOST:0 asks for any free port (the product's parser wants 1-65535). */
	if (startswith(s, "tcp:") && len > 2 && streq(s + len - 2, ":0") && len < sizeof(buf)) {
		memcpy(buf, s, len + 1);
		buf[len - 1] = '1';
		s = buf;
		port0 = true;
	}
	r = addr_parse(s, ret, &why);
	if (r < 0)
		tt_die("invalid address '%s': %s", s, why ? why : strerror(-r));
	/* AF_VSOCK only inside the check-vm guest (make bench-vm), where
	 * vsock_loopback is the only transport: here it reaches the real host. */
	if (ret->kind == ADDR_VSOCK && !in_vm_guest())
		tt_die("refusing '%s': the test tools never use AF_VSOCK", s);
	r = addr_resolve(ret);
	if (r < 0)
		tt_die("cannot resolve '%s': %s", s, strerror(-r));
	if (port0) {
		ret->port = 0;
		if (ret->sa.sa.sa_family == AF_INET6)
			ret->sa.in6.sin6_port = 0;
		else
			ret->sa.in.sin_port = 0;
	}
}

int tt_connect(const struct addr *a, bool nonblock)
{
	int fd, one = 1;

	fd = socket(addr_family(a), SOCK_STREAM | SOCK_CLOEXEC | (nonblock ? SOCK_NONBLOCK : 0), 0);
	if (fd < 0)
		return -errno;
	if (a->kind == ADDR_TCP)
		(void)setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
	if (connect(fd, &a->sa.sa, a->sa_len) < 0 && errno != EINPROGRESS) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

int tt_listen(const struct addr *a, int backlog, uint16_t *ret_port)
{
	union sockaddr_union bind_sa = a->sa;
	int fd, one = 1;

	fd = socket(addr_family(a), SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (a->kind == ADDR_TCP)
		(void)setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	/* A vsock listener takes connections to any CID: with only the
	 * loopback transport, the CID clients dial (2) is not bindable. */
	if (a->kind == ADDR_VSOCK)
		bind_sa.vm.svm_cid = VMADDR_CID_ANY;
	if (bind(fd, &bind_sa.sa, a->sa_len) < 0 || listen(fd, backlog) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	if (ret_port) {
		union sockaddr_union sa;
		socklen_t len = sizeof(sa);

		*ret_port = 0;
		if (a->kind == ADDR_TCP && getsockname(fd, &sa.sa, &len) == 0)
			*ret_port = ntohs(sa.sa.sa_family == AF_INET6 ? sa.in6.sin6_port : sa.in.sin_port);
	}
	return fd;
}

int tt_set_nonblock(int fd, bool on)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	flags = on ? flags | O_NONBLOCK : flags & ~O_NONBLOCK;
	return fcntl(fd, F_SETFL, flags) < 0 ? -errno : 0;
}

void tt_write_all(int fd, const void *buf, size_t len)
{
	const uint8_t *p = buf;

	while (len > 0) {
		ssize_t n = send(fd, p, len, MSG_NOSIGNAL);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN) {
			struct pollfd pfd = { .fd = fd, .events = POLLOUT };

			(void)poll(&pfd, 1, -1);
			continue;
		}
		if (n < 0)
			tt_die("write failed while %s: %m", tt_current_phase);
		p += n;
		len -= (size_t)n;
	}
}

ssize_t tt_read_some(int fd, void *buf, size_t len, int timeout_ms)
{
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };
		ssize_t n;
		int r;

		r = poll(&pfd, 1, timeout_ms);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			return -ETIMEDOUT;
		n = recv(fd, buf, len, 0);
		if (n < 0 && (errno == EINTR || errno == EAGAIN))
			continue;
		return n < 0 ? -errno : n;
	}
}

void tt_write_ready(const char *path, uint16_t port)
{
	char tmp[PATH_MAX];
	FILE *f;

	if (snprintf_bounded(tmp, sizeof(tmp), "%s.tmp", path) < 0)
		tt_die("ready file name too long: '%s'", path);
	f = fopen(tmp, "we");
	if (!f)
		tt_die("cannot create '%s': %m", tmp);
	if (port)
		fprintf(f, "%d %u\n", (int)getpid(), port);
	else
		fprintf(f, "%d\n", (int)getpid());
	if (fclose(f) != 0 || rename(tmp, path) < 0)
		tt_die("cannot write '%s': %m", path);
}

static int tt_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return (x > y) - (x < y);
}

void tt_sort_doubles(double *v, size_t n)
{
	qsort(v, n, sizeof(*v), tt_cmp_double);
}

double tt_percentile(const double *sorted, size_t n, double pct)
{
	size_t i;

	if (n == 0)
		return 0;
	i = (size_t)(pct / 100.0 * (double)(n - 1) + 0.5);
	return sorted[MIN(i, n - 1)];
}
