/* SPDX-License-Identifier: MIT */
/*
 * tt-server: the upstream end of the relay tests (a stand-in for the X
 * server).  One epoll loop, any number of clients, each handled by the same
 * rules:
 *
 *   --in echo      send back everything received; after the client's EOF
 *                  (and --reply-delay-ms) flush and shut down the write side
 *   --in verify    check the bytes against stream SEED (exact offsets)
 *   --in discard   count and drop
 *   --in none      never read (a server that does not drain its socket)
 *   --in x11       requests "u32 length, u32 reply length, body": the body
 *                  is checked against stream SEED, each reply is the next
 *                  bytes of stream SEED+1
 *   --send N       also send N bytes of stream SEED+1 (at once, both ways)
 *   --stall-after  stop sending after that many bytes (and keep the
 *                  connection open): for killing a server mid-stream
 *   --close-at-once  accept and close
 *   --hold-open    after the client's EOF keep the connection open and
 *                  silent (an X server with nothing more to say): only the
 *                  client's full close ends it
 *   --flood        (x11) a request whose reply length is 0xffffffff is
 *                  answered by an endless reply: the server writes to that
 *                  connection for as long as it is writable (events to a
 *                  client that never reads them)
 *   --backlog N --no-accept [--fill-backlog]  listen(N) and never accept;
 *                  --fill-backlog queues connections of its own until the
 *                  queue is full, so that the next connect finds it full
 *                  (unix: EAGAIN at once; tcp: the SYN is dropped and the
 *                  connect stays in progress)
 *
 * It writes "PID [PORT]" to --ready FILE once it listens.  SIGTERM/SIGINT end
 * it: exit 0, or 1 when any connection saw wrong data.  SIGUSR1 prints one
 * stats line.
 */
#include <errno.h>
#include <getopt.h>
#include <netinet/in.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "tt.h"

enum in_mode { IN_ECHO, IN_VERIFY, IN_DISCARD, IN_NONE, IN_X11 };

struct conn {
	struct conn *prev, *next;
	int fd;
	unsigned id;
	uint32_t events;          /* what epoll watches now */
	struct tt_stream in;      /* what we expect to receive (verify, x11) */
	struct tt_stream out;     /* what we generate (--send, x11 replies) */
	uint8_t *buf;             /* pending output */
	size_t start, len, cap;
	uint64_t send_left;       /* of --send */
	uint64_t received, sent;
	uint64_t eof_ns;          /* when the client's EOF arrived */
	bool in_eof, out_shut;
	/* x11 request parser */
	uint8_t hdr[8];
	unsigned hdr_len;
	uint64_t body_left;
	uint32_t reply_len;
};

static struct {
	const char *listen;
	const char *ready;
	enum in_mode in;
	uint64_t send;
	uint64_t stall_after;
	uint64_t seed;
	uint64_t expect;
	bool have_expect;
	uint64_t reply_delay_ms;
	bool close_at_once;
	uint64_t chunk;
	uint64_t max_buffer;
	uint64_t count;
	uint64_t accept_batch;
	uint64_t accept_pause_ms;
	uint64_t backlog;
	bool no_accept, fill_backlog, hold_open, flood;
	bool fast;
	bool verbose;
} arg = {
	.in = IN_ECHO,
	.seed = 1,
	.chunk = 64 * 1024,
	.max_buffer = 1024 * 1024,
	.stall_after = UINT64_MAX,
	.backlog = 4096,
};

static struct {
	uint64_t total, open, finished, errors, resets;
	uint64_t bytes_in, bytes_out;
} stats;

static struct conn *conns;
static volatile sig_atomic_t got_term, got_usr1;
static int epfd = -1;
static uint8_t *scratch;
static uint8_t *fast_buf;

static void on_signal(int sig)
{
	if (sig == SIGUSR1)
		got_usr1 = 1;
	else
		got_term = 1;
}

_noreturn_ static void usage(void)
{
	fprintf(stderr,
		"Usage: tt-server --listen ADDR [--ready FILE] [--in echo|verify|discard|none|x11]\n"
		"       [--send BYTES] [--stall-after BYTES] [--seed N] [--expect BYTES]\n"
		"       [--reply-delay-ms MS] [--close-at-once] [--chunk BYTES] [--max-buffer BYTES]\n"
		"       [--count N] [--fast] [--accept-batch N --accept-pause-ms MS] [--verbose]\n"
		"       [--hold-open] [--flood] [--backlog N [--no-accept [--fill-backlog]]]\n");
	exit(2);
}

static void update_events(struct conn *c);

static void conn_close(struct conn *c, const char *why)
{
	if (arg.verbose || (why && !streq(why, "done")))
		tt_log("conn %u: closed (%s): received %llu, sent %llu", c->id, why ? why : "done",
		       (unsigned long long)c->received, (unsigned long long)c->sent);
	(void)epoll_ctl(epfd, EPOLL_CTL_DEL, c->fd, NULL);
	close(c->fd);
	if (c->prev)
		c->prev->next = c->next;
	else
		conns = c->next;
	if (c->next)
		c->next->prev = c->prev;
	free(c->buf);
	free(c);
	stats.open--;
	stats.finished++;
}

static void conn_error(struct conn *c, const char *format, ...) _printf_(2, 3);
static void conn_error(struct conn *c, const char *format, ...)
{
	char msg[256];
	va_list ap;

	va_start(ap, format);
	vsnprintf(msg, sizeof(msg), format, ap);
	va_end(ap);
	fprintf(stderr, "%s: ERROR: conn %u: %s\n", tt_prog, c->id, msg);
	stats.errors++;
}

static void buf_reserve(struct conn *c, size_t n)
{
	if (c->cap - c->start - c->len >= n)
		return;
	if (c->start > 0) {
		memmove(c->buf, c->buf + c->start, c->len);
		c->start = 0;
		if (c->cap - c->len >= n)
			return;
	}
	while (c->cap - c->len < n)
		c->cap = c->cap ? c->cap * 2 : 64 * 1024;
	c->buf = realloc(c->buf, c->cap);
	if (!c->buf)
		tt_die("out of memory");
}

static bool write_allowed(const struct conn *c)
{
	if (arg.in == IN_ECHO && arg.reply_delay_ms > 0) {
		if (!c->in_eof)
			return false;
		return tt_now_ns() >= c->eof_ns + arg.reply_delay_ms * 1000000u;
	}
	return true;
}

static bool has_output(const struct conn *c)
{
	return c->len > 0 || (c->send_left > 0 && c->sent < arg.stall_after);
}

/* Nothing more will be written: time for shutdown(SHUT_WR)? */
static bool output_finished(const struct conn *c)
{
	if (c->len > 0 || c->send_left > 0 || arg.hold_open)
		return false;
	if (arg.in == IN_ECHO || arg.in == IN_X11)
		return c->in_eof;
	return arg.send > 0 || c->in_eof;
}

static bool want_read(const struct conn *c)
{
	if (c->in_eof || arg.in == IN_NONE)
		return false;
	if (arg.in == IN_ECHO && arg.reply_delay_ms == 0 && c->len >= arg.max_buffer)
		return false;  /* backpressure: the client does not read its echo */
	if (arg.in == IN_X11 && c->len >= arg.max_buffer)
		return false;
	return true;
}

static void update_events(struct conn *c)
{
	uint32_t ev = c->in_eof ? 0 : EPOLLRDHUP;
	struct epoll_event e;

	if (want_read(c))
		ev |= EPOLLIN;
	if (has_output(c) && write_allowed(c))
		ev |= EPOLLOUT;
	if (ev == c->events)
		return;
	e = (struct epoll_event) { .events = ev, .data.ptr = c };
	if (epoll_ctl(epfd, EPOLL_CTL_MOD, c->fd, &e) < 0)
		tt_die("epoll_ctl: %m");
	c->events = ev;
}

/* Returns false when the connection was closed. */
static bool conn_progress(struct conn *c)
{
	if (!c->out_shut && output_finished(c) && write_allowed(c)) {
		if (shutdown(c->fd, SHUT_WR) < 0 && errno != ENOTCONN && errno != EPIPE) {
			conn_error(c, "shutdown: %m");
			conn_close(c, "error");
			return false;
		}
		c->out_shut = true;
	}
	if (c->out_shut && c->in_eof) {
		conn_close(c, "done");
		return false;
	}
	update_events(c);
	return true;
}

/* Returns false on a malformed request (the caller closes). */
static bool x11_consume(struct conn *c, const uint8_t *p, size_t n)
{
	while (n > 0) {
		if (c->hdr_len < 8) {
			size_t k = MIN(n, 8 - (size_t)c->hdr_len);

			memcpy(c->hdr + c->hdr_len, p, k);
			c->hdr_len += (unsigned)k;
			p += k;
			n -= k;
			if (c->hdr_len < 8)
				return true;
			uint32_t total = (uint32_t)c->hdr[0] | (uint32_t)c->hdr[1] << 8 |
					 (uint32_t)c->hdr[2] << 16 | (uint32_t)c->hdr[3] << 24;
			c->reply_len = (uint32_t)c->hdr[4] | (uint32_t)c->hdr[5] << 8 |
				       (uint32_t)c->hdr[6] << 16 | (uint32_t)c->hdr[7] << 24;
			if (arg.flood && c->reply_len == UINT32_MAX) {
				/* endless: conn_write() generates it as --send does */
				c->send_left = UINT64_MAX;
				c->reply_len = 0;
			}
			if (total < 8 || total > 16u * 1024 * 1024 || c->reply_len > 1024 * 1024) {
				conn_error(c, "bad request header (length %u, reply %u)", total, c->reply_len);
				return false;
			}
			c->body_left = total - 8;
		}
		size_t k = (size_t)MIN((uint64_t)n, c->body_left);
		uint64_t bad;
		unsigned got, want;

		if (k > 0 && !tt_stream_check(&c->in, p, k, &bad, &got, &want)) {
			conn_error(c, "request body byte %llu is 0x%02x, expected 0x%02x",
				   (unsigned long long)bad, got, want);
			tt_stream_skip(&c->in, k);
		}
		p += k;
		n -= k;
		c->body_left -= k;
		if (c->body_left == 0) {
			if (c->reply_len > 0) {
				buf_reserve(c, c->reply_len);
				tt_stream_fill(&c->out, c->buf + c->start + c->len, c->reply_len);
				c->len += c->reply_len;
			}
			c->hdr_len = 0;
		}
	}
	return true;
}

static void on_eof(struct conn *c)
{
	c->in_eof = true;
	c->eof_ns = tt_now_ns();
	if (arg.in == IN_VERIFY && arg.have_expect && c->received != arg.expect)
		conn_error(c, "EOF after %llu bytes, expected %llu",
			   (unsigned long long)c->received, (unsigned long long)arg.expect);
	if (arg.in == IN_X11 && (c->hdr_len != 0 || c->body_left != 0))
		conn_error(c, "EOF inside a request");
}

/* Returns false when the connection was closed. */
static bool conn_read(struct conn *c)
{
	for (int rounds = 0; rounds < 16 && want_read(c); rounds++) {
		uint8_t *dst = scratch;
		size_t room = arg.chunk;
		ssize_t n;

		if (arg.in == IN_ECHO) {
			buf_reserve(c, arg.chunk);
			dst = c->buf + c->start + c->len;
		}
		n = recv(c->fd, dst, room, MSG_DONTWAIT);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0 && errno == EAGAIN)
			break;
		if (n < 0 && (errno == ECONNRESET || errno == EPIPE)) {
			stats.resets++;
			conn_close(c, "reset by peer while reading");
			return false;
		}
		if (n < 0) {
			conn_error(c, "recv: %m");
			conn_close(c, "error");
			return false;
		}
		if (n == 0) {
			on_eof(c);
			break;
		}
		c->received += (size_t)n;
		stats.bytes_in += (size_t)n;
		switch (arg.in) {
		case IN_ECHO:
			c->len += (size_t)n;
			if (arg.reply_delay_ms > 0 && c->len > 256u * 1024 * 1024) {
				conn_error(c, "more than 256 MiB to hold until EOF");
				conn_close(c, "error");
				return false;
			}
			break;
		case IN_VERIFY: {
			uint64_t bad;
			unsigned got, want;

			if (!tt_stream_check(&c->in, dst, (size_t)n, &bad, &got, &want)) {
				conn_error(c, "byte %llu is 0x%02x, expected 0x%02x",
					   (unsigned long long)bad, got, want);
				conn_close(c, "error");
				return false;
			}
			break;
		}
		case IN_X11:
			if (!x11_consume(c, dst, (size_t)n)) {
				conn_close(c, "error");
				return false;
			}
			break;
		case IN_DISCARD:
		case IN_NONE:
			tt_stream_skip(&c->in, (size_t)n);
			break;
		}
	}
	return true;
}

/* Returns false when the connection was closed. */
static bool conn_write(struct conn *c)
{
	for (int rounds = 0; rounds < 16 && has_output(c) && write_allowed(c); rounds++) {
		const uint8_t *src;
		size_t n;
		ssize_t w;

		if (c->len == 0 && !arg.fast) {
			size_t k = (size_t)MIN(arg.chunk, c->send_left);

			if (arg.stall_after != UINT64_MAX)
				k = (size_t)MIN((uint64_t)k, arg.stall_after - c->sent);
			buf_reserve(c, k);
			tt_stream_fill(&c->out, c->buf + c->start, k);
			c->len = k;
			c->send_left -= k;
		}
		if (c->len > 0) {
			src = c->buf + c->start;
			n = c->len;
		} else {
			src = fast_buf;
			n = (size_t)MIN(arg.chunk, c->send_left);
			if (arg.stall_after != UINT64_MAX)
				n = (size_t)MIN((uint64_t)n, arg.stall_after - c->sent);
		}
		w = send(c->fd, src, n, MSG_DONTWAIT | MSG_NOSIGNAL);
		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0 && errno == EAGAIN)
			break;
		if (w < 0 && (errno == ECONNRESET || errno == EPIPE)) {
			stats.resets++;
			conn_close(c, "reset by peer while writing");
			return false;
		}
		if (w < 0) {
			conn_error(c, "send: %m");
			conn_close(c, "error");
			return false;
		}
		c->sent += (size_t)w;
		stats.bytes_out += (size_t)w;
		if (c->len > 0) {
			c->start += (size_t)w;
			c->len -= (size_t)w;
			if (c->len == 0)
				c->start = 0;
		} else {
			c->send_left -= (size_t)w;
		}
	}
	return true;
}

/* --accept-batch/--accept-pause-ms: a server that accepts a few clients and
 * then stops accepting for a while (as a relay out of fds does). */
static uint64_t accept_resume_ns;
static unsigned accepted_in_batch;

static void accept_pause(int lfd)
{
	struct epoll_event e = { .events = 0, .data.ptr = NULL };

	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &e);
	accept_resume_ns = tt_now_ns() + arg.accept_pause_ms * 1000000u;
}

static int accept_maybe_resume(int lfd)
{
	uint64_t now = tt_now_ns();
	struct epoll_event e = { .events = EPOLLIN, .data.ptr = NULL };

	if (!accept_resume_ns)
		return -1;
	if (now < accept_resume_ns)
		return (int)((accept_resume_ns - now) / 1000000u) + 1;
	accept_resume_ns = 0;
	accepted_in_batch = 0;
	(void)epoll_ctl(epfd, EPOLL_CTL_MOD, lfd, &e);
	return -1;
}

static void do_accept(int lfd)
{
	for (;;) {
		struct epoll_event e;
		struct conn *c;
		int fd;

		fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
		if (fd < 0 && (errno == EINTR || errno == ECONNABORTED))
			continue;
		if (fd < 0 && errno == EAGAIN)
			return;
		if (fd < 0)
			tt_die("accept: %m");
		stats.total++;
		if (arg.accept_batch && ++accepted_in_batch >= arg.accept_batch) {
			accept_pause(lfd);
			/* this one is still served below */
		}
		if (arg.close_at_once) {
			close(fd);
			stats.finished++;
			continue;
		}
		c = calloc(1, sizeof(*c));
		if (!c)
			tt_die("out of memory");
		c->fd = fd;
		c->id = (unsigned)stats.total;
		c->send_left = arg.send;
		tt_stream_init(&c->in, arg.seed);
		tt_stream_init(&c->out, arg.seed + 1);
		c->events = EPOLLRDHUP;
		e = (struct epoll_event) { .events = c->events, .data.ptr = c };
		if (epoll_ctl(epfd, EPOLL_CTL_ADD, fd, &e) < 0)
			tt_die("epoll_ctl: %m");
		c->next = conns;
		if (conns)
			conns->prev = c;
		conns = c;
		stats.open++;
		update_events(c);
		if (accept_resume_ns)
			return;
	}
}

/* --fill-backlog: connect to ourselves (never accepted) until the listen
 * queue is full: for unix: until a non-blocking connect says EAGAIN; for
 * tcp: until a connect does not complete within 200 ms (a listener whose
 * accept queue is full drops the SYN, and the connect stays in progress).
 * The sockets stay open. */
static void fill_backlog(const struct addr *a, uint16_t port)
{
	struct addr self = *a;
	unsigned n = 0;

	if (a->kind == ADDR_TCP) {
		self.port = port;
		if (self.sa.sa.sa_family == AF_INET6)
			self.sa.in6.sin6_port = htons(port);
		else
			self.sa.in.sin_port = htons(port);
	} else if (a->kind != ADDR_UNIX)
		tt_die("--fill-backlog needs a unix: or tcp: address");
	for (;;) {
		int fd = tt_connect(&self, true);

		if (fd == -EAGAIN && a->kind == ADDR_UNIX)
			break;
		if (fd < 0)
			tt_die("--fill-backlog: connect: %s", strerror(-fd));
		if (a->kind == ADDR_TCP) {
			struct pollfd p = { .fd = fd, .events = POLLOUT };

			if (poll(&p, 1, 200) == 0)
				break;   /* its SYN was dropped: the queue is full */
		}
		if (++n > 65536)
			tt_die("--fill-backlog: the queue never filled");
	}
	if (arg.verbose)
		tt_log("listen queue full after %u connections", n);
}

static void print_stats(void)
{
	tt_log("stats: connections total=%llu open=%llu finished=%llu errors=%llu resets=%llu bytes_in=%llu bytes_out=%llu",
	       (unsigned long long)stats.total, (unsigned long long)stats.open,
	       (unsigned long long)stats.finished, (unsigned long long)stats.errors,
	       (unsigned long long)stats.resets, (unsigned long long)stats.bytes_in,
	       (unsigned long long)stats.bytes_out);
}

/* Delayed replies are not waited for by epoll: walk the connections whose
 * reply time has come, and tell epoll_pwait how long to sleep. */
static int run_delayed(void)
{
	uint64_t now = tt_now_ns(), best = UINT64_MAX;
	struct conn *c, *next;

	for (c = conns; c; c = next) {
		uint64_t due;

		next = c->next;
		if (!c->in_eof || c->out_shut)
			continue;
		due = c->eof_ns + arg.reply_delay_ms * 1000000u;
		if (due > now) {
			best = MIN(best, due - now);
			continue;
		}
		if (conn_write(c))
			(void)conn_progress(c);
	}
	return best == UINT64_MAX ? -1 : (int)(best / 1000000u) + 1;
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "listen", required_argument, NULL, 'l' },
		{ "ready", required_argument, NULL, 'r' },
		{ "in", required_argument, NULL, 'i' },
		{ "send", required_argument, NULL, 's' },
		{ "stall-after", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'e' },
		{ "expect", required_argument, NULL, 'x' },
		{ "reply-delay-ms", required_argument, NULL, 'd' },
		{ "close-at-once", no_argument, NULL, 'C' },
		{ "chunk", required_argument, NULL, 'c' },
		{ "max-buffer", required_argument, NULL, 'm' },
		{ "count", required_argument, NULL, 'n' },
		{ "fast", no_argument, NULL, 'f' },
		{ "accept-batch", required_argument, NULL, 'B' },
		{ "accept-pause-ms", required_argument, NULL, 'P' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "hold-open", no_argument, NULL, 'H' },
		{ "flood", no_argument, NULL, 'F' },
		{ "backlog", required_argument, NULL, 'b' },
		{ "no-accept", no_argument, NULL, 'N' },
		{ "fill-backlog", no_argument, NULL, 'L' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct sigaction sa = { .sa_handler = on_signal };
	struct addr a;
	uint16_t port = 0;
	int lfd, c;

	tt_prog = "tt-server";
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'l': arg.listen = optarg; break;
		case 'r': arg.ready = optarg; break;
		case 'i':
			if (streq(optarg, "echo")) arg.in = IN_ECHO;
			else if (streq(optarg, "verify")) arg.in = IN_VERIFY;
			else if (streq(optarg, "discard")) arg.in = IN_DISCARD;
			else if (streq(optarg, "none")) arg.in = IN_NONE;
			else if (streq(optarg, "x11")) arg.in = IN_X11;
			else tt_die("unknown --in mode '%s'", optarg);
			break;
		case 's': arg.send = tt_parse_size("--send", optarg); break;
		case 'S': arg.stall_after = tt_parse_size("--stall-after", optarg); break;
		case 'e': arg.seed = tt_parse_uint("--seed", optarg, UINT32_MAX); break;
		case 'x': arg.expect = tt_parse_size("--expect", optarg); arg.have_expect = true; break;
		case 'd': arg.reply_delay_ms = tt_parse_uint("--reply-delay-ms", optarg, 3600000); break;
		case 'C': arg.close_at_once = true; break;
		case 'c': arg.chunk = tt_parse_size("--chunk", optarg); break;
		case 'm': arg.max_buffer = tt_parse_size("--max-buffer", optarg); break;
		case 'n': arg.count = tt_parse_uint("--count", optarg, UINT32_MAX); break;
		case 'f': arg.fast = true; break;
		case 'B': arg.accept_batch = tt_parse_uint("--accept-batch", optarg, UINT32_MAX); break;
		case 'P': arg.accept_pause_ms = tt_parse_uint("--accept-pause-ms", optarg, 3600000); break;
		case 'v': arg.verbose = true; break;
		case 'H': arg.hold_open = true; break;
		case 'F': arg.flood = true; break;
		case 'b': arg.backlog = tt_parse_uint("--backlog", optarg, 65535); break;
		case 'N': arg.no_accept = true; break;
		case 'L': arg.fill_backlog = true; break;
		default: usage();
		}
	}
	if (!arg.listen || optind != argc || arg.chunk == 0 || arg.chunk > 16u * 1024 * 1024)
		usage();
	if (arg.fast && arg.in == IN_X11)
		tt_die("--fast does not apply to --in x11");
	if (arg.flood && arg.in != IN_X11)
		tt_die("--flood needs --in x11");
	if (arg.fill_backlog && !arg.no_accept)
		tt_die("--fill-backlog needs --no-accept");

	sigemptyset(&sa.sa_mask);
	(void)sigaction(SIGTERM, &sa, NULL);
	(void)sigaction(SIGINT, &sa, NULL);
	(void)sigaction(SIGUSR1, &sa, NULL);
	/* The signals are blocked except inside epoll_pwait(), so that one that
	 * arrives between the check of the flags and the wait is not lost. */
	sigset_t block, waitmask;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	sigaddset(&block, SIGUSR1);
	(void)sigprocmask(SIG_BLOCK, &block, &waitmask);
	(void)signal(SIGPIPE, SIG_IGN);

	scratch = malloc(arg.chunk);
	fast_buf = calloc(1, arg.chunk);
	if (!scratch || !fast_buf)
		tt_die("out of memory");
	memset(fast_buf, 'x', arg.chunk);

	tt_parse_addr(arg.listen, &a);
	lfd = tt_listen(&a, (int)arg.backlog, &port);
	if (lfd < 0)
		tt_die("cannot listen on '%s': %s", arg.listen, strerror(-lfd));
	if (arg.fill_backlog)
		fill_backlog(&a, port);
	epfd = epoll_create1(EPOLL_CLOEXEC);
	if (epfd < 0)
		tt_die("epoll_create1: %m");
	{
		struct epoll_event e = { .events = arg.no_accept ? 0 : EPOLLIN, .data.ptr = NULL };

		if (epoll_ctl(epfd, EPOLL_CTL_ADD, lfd, &e) < 0)
			tt_die("epoll_ctl: %m");
	}
	if (arg.ready)
		tt_write_ready(arg.ready, port);
	if (arg.verbose)
		tt_log("listening on '%s'", arg.listen);

	while (!got_term) {
		struct epoll_event events[64];
		int n, timeout = -1;

		if (got_usr1) {
			got_usr1 = 0;
			print_stats();
		}
		if (arg.count && stats.finished >= arg.count)
			break;
		if (arg.reply_delay_ms > 0)
			timeout = run_delayed();
		if (arg.accept_batch) {
			int t = accept_maybe_resume(lfd);

			if (t >= 0 && (timeout < 0 || t < timeout))
				timeout = t;
		}
		n = epoll_pwait(epfd, events, (int)ELEMENTSOF(events), timeout, &waitmask);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			tt_die("epoll_pwait: %m");
		for (int i = 0; i < n; i++) {
			struct conn *conn = events[i].data.ptr;
			uint32_t ev = events[i].events;

			if (!conn) {
				do_accept(lfd);
				continue;
			}
			if (ev & (EPOLLIN | EPOLLHUP | EPOLLERR) && want_read(conn))
				if (!conn_read(conn))
					continue;
			if (ev & (EPOLLRDHUP | EPOLLHUP) && arg.in == IN_NONE && !conn->in_eof) {
				on_eof(conn);
				if (ev & EPOLLHUP) {
					conn_close(conn, "client hung up");
					continue;
				}
			}
			if (ev & EPOLLERR && !(ev & EPOLLIN)) {
				int err = 0;
				socklen_t len = sizeof(err);

				(void)getsockopt(conn->fd, SOL_SOCKET, SO_ERROR, &err, &len);
				stats.resets++;
				errno = err;
				conn_close(conn, "socket error");
				continue;
			}
			if (ev & EPOLLHUP && arg.hold_open) {
				conn_close(conn, "client hung up");
				continue;
			}
			if (ev & EPOLLHUP && conn->in_eof && has_output(conn) && !write_allowed(conn)) {
				conn_close(conn, "client hung up before the reply");
				continue;
			}
			if (ev & EPOLLOUT)
				if (!conn_write(conn))
					continue;
			(void)conn_progress(conn);
		}
	}
	if (arg.verbose || stats.errors)
		print_stats();
	return stats.errors ? EXIT_FAILURE : EXIT_SUCCESS;
}
