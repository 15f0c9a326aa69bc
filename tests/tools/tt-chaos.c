/* SPDX-License-Identifier: MIT */
/*
 * tt-chaos: a seeded chaos soak for the relay (tests/integration/relay-chaos.sh).
 *
 * It forks its own upstream (a child process listening on --upstream, the
 * relay's --connect) and keeps --clients connections through the relay
 * (--connect) busy for --seconds, each doing what its plan says:
 *
 *   echo      the client sends a random amount in random write sizes and
 *             half-closes; the upstream echoes (random read sizes) and
 *             half-closes after the client's EOF
 *   down      the upstream sends a random amount and half-closes first; the
 *             client keeps sending, then half-closes
 *   reset     the client closes in the middle with unread bytes (the relay
 *             reads ECONNRESET); the upstream then stays open and silent, so
 *             only the relay's own close can end that connection
 *   abort     the client closes at a random moment, both ways busy (what its
 *             death looks like to the relay)
 *   cut       the upstream closes in the middle with unread bytes; the client
 *             must see the end (EOF or a reset), never a hang
 *
 * and at random: pauses (neither reading nor writing), read stalls of up to
 * 1.5 s on either side, and every few seconds the upstream process is
 * killed (SIGKILL) and started again.
 *
 * Every byte received on either side is checked at its offset against the
 * stream it belongs to (tt.h), whatever the plan: a cut may shorten a
 * stream, never change it.  A connection whose plan has no cut must end
 * complete -- unless the upstream was killed during its life (or was down
 * when it started): then an early end is counted, not an error.  No
 * connection may outlive its deadline.  The plans come from --seed (printed
 * first), so a failing run can be replayed with the same plans; timing is
 * the machine's.
 *
 * With --relay-pid, once every client has left (and before the upstream is
 * stopped) the relay's fd count must come back to what it was before the
 * first client within 3 s.
 *
 * Output: one line "seed=... connections=... complete=... bytes=..." etc.;
 * errors as "tt-chaos: ERROR: ..." lines; exit 1 on any error.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <dirent.h>
#include <sys/wait.h>
#include <unistd.h>

#include "tt.h"

#define MAGIC 0x43484153u   /* "CHAS" */
#define HDR_SIZE 40
#define CHUNK_MAX (64u * 1024u)
#define SERVER_BUF_MAX (256u * 1024u)
#define MAX_CONNS 1024

enum plan { PLAN_ECHO, PLAN_DOWN, PLAN_RESET, PLAN_ABORT, PLAN_CUT, PLAN_COUNT };
static const char *const plan_name[PLAN_COUNT] = { "echo", "down", "reset", "abort", "cut" };

static struct {
	const char *connect, *upstream;
	uint64_t seconds, seed, clients, kill_every_ms, conn_timeout, relay_pid;
	bool verbose;
} arg = {
	.seconds = 60,
	.clients = 32,
	.kill_every_ms = 8000,
	.conn_timeout = 30,
};

/* What the upstream child reports; shared with the parent, survives its kill. */
struct shared {
	uint64_t errors, conns, bytes_checked;
	char first_error[256];
};
static struct shared *shm;

/* xorshift64*: every random choice comes from here (or a per-connection copy). */
static uint64_t rnd(uint64_t *s)
{
	*s ^= *s >> 12;
	*s ^= *s << 25;
	*s ^= *s >> 27;
	return *s * 0x2545F4914F6CDD1Dull;
}

static uint64_t rnd_below(uint64_t *s, uint64_t n)
{
	return n ? rnd(s) % n : 0;
}

/* Sizes skewed small, as X11 traffic is: mostly requests, some images. */
static uint64_t rnd_size(uint64_t *s)
{
	uint64_t p = rnd_below(s, 100);

	if (p < 60)
		return rnd_below(s, 4096);
	if (p < 95)
		return 4096 + rnd_below(s, 256 * 1024);
	return 256 * 1024 + rnd_below(s, 4u * 1024 * 1024);
}

static uint64_t rnd_io(uint64_t *s)
{
	uint64_t p = rnd_below(s, 100);

	if (p < 40)
		return 1 + rnd_below(s, 64);
	if (p < 80)
		return 1 + rnd_below(s, 4096);
	return 1 + rnd_below(s, CHUNK_MAX);
}

static void put64(uint8_t *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (uint8_t)(v >> (8 * i));
}

static uint64_t get64(const uint8_t *p)
{
	uint64_t v = 0;

	for (int i = 0; i < 8; i++)
		v |= (uint64_t)p[i] << (8 * i);
	return v;
}

/* The header: magic, plan, seed, up (bytes the client sends after it), down
 * (bytes the upstream sends), cut (the upstream closes after receiving that
 * many, PLAN_CUT), stall_ms (the upstream's read stall, 0 = none). */
struct hdr {
	uint32_t plan;
	uint64_t seed, up, down, cut;
	uint32_t stall_ms;
};

static void hdr_encode(const struct hdr *h, uint8_t *p)
{
	put64(p, (uint64_t)MAGIC | (uint64_t)h->plan << 32);
	put64(p + 8, h->seed);
	put64(p + 16, h->up);
	put64(p + 24, h->down);
	put64(p + 32, h->cut | (uint64_t)h->stall_ms << 40);
}

static bool hdr_decode(const uint8_t *p, struct hdr *h)
{
	uint64_t w = get64(p), last = get64(p + 32);

	if ((uint32_t)w != MAGIC || (w >> 32) >= PLAN_COUNT)
		return false;
	h->plan = (uint32_t)(w >> 32);
	h->seed = get64(p + 8);
	h->up = get64(p + 16);
	h->down = get64(p + 24);
	h->cut = last & ((1ull << 40) - 1);
	h->stall_ms = (uint32_t)(last >> 40);
	return true;
}

/* ================================================================== upstream (child) */

struct sconn {
	int fd;
	uint8_t hbuf[HDR_SIZE];
	unsigned hlen;
	bool have_hdr, in_eof, out_shut;
	struct hdr h;
	struct tt_stream in, out;
	uint64_t received, down_left;
	uint8_t *buf;            /* echo bytes not yet sent back */
	size_t start, len;
	uint64_t stall_until, rng;
	bool stalled;
};

static void srv_error(const char *format, ...) _printf_(1, 2);
static void srv_error(const char *format, ...)
{
	va_list ap;

	if (shm->errors++ == 0) {
		va_start(ap, format);
		vsnprintf(shm->first_error, sizeof(shm->first_error), format, ap);
		va_end(ap);
	}
}

static void sconn_close(struct sconn **slot)
{
	struct sconn *c = *slot;

	close(c->fd);
	free(c->buf);
	free(c);
	*slot = NULL;
}

static bool srv_want_read(const struct sconn *c, uint64_t now)
{
	if (c->in_eof || now < c->stall_until)
		return false;
	if (c->have_hdr && (c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT))
		return c->len < SERVER_BUF_MAX;   /* backpressure: the echo is not read */
	return true;
}

static bool srv_has_output(const struct sconn *c)
{
	return c->len > 0 || c->down_left > 0;
}

/* Returns false when the connection is to be closed. */
static bool srv_read(struct sconn *c, uint8_t *scratch, uint64_t now)
{
	size_t room = (size_t)rnd_io(&c->rng);
	uint8_t *dst = scratch;
	ssize_t n;

	if (!c->have_hdr) {
		dst = c->hbuf + c->hlen;
		room = HDR_SIZE - c->hlen;
	} else if (c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT) {
		if (c->start + c->len + room > SERVER_BUF_MAX + CHUNK_MAX) {
			memmove(c->buf, c->buf + c->start, c->len);
			c->start = 0;
		}
		dst = c->buf + c->start + c->len;
	}
	n = recv(c->fd, dst, room, MSG_DONTWAIT);
	if (n < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (n < 0)
		return false;   /* the relay cut it: it follows a client's cut or abort */
	if (n == 0) {
		if (!c->have_hdr)
			return false;   /* the client left before saying anything */
		if (c->h.plan != PLAN_RESET && c->h.plan != PLAN_ABORT && c->h.plan != PLAN_CUT &&
		    c->received != c->h.up)
			return false;   /* cut short: the relay's business when the client was cut */
		c->in_eof = true;
		return true;
	}
	if (!c->have_hdr) {
		c->hlen += (unsigned)n;
		if (c->hlen < HDR_SIZE)
			return true;
		if (!hdr_decode(c->hbuf, &c->h)) {
			srv_error("a connection began with a bad header");
			return false;
		}
		c->have_hdr = true;
		shm->conns++;
		tt_stream_init(&c->in, c->h.seed);
		tt_stream_init(&c->out, c->h.seed + 1);
		c->rng = c->h.seed * 0x9E3779B97F4A7C15ull | 1;
		c->down_left = c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT ? 0 : c->h.down;
		c->buf = malloc(SERVER_BUF_MAX + CHUNK_MAX);
		if (!c->buf)
			tt_die("out of memory");
		return true;
	}
	uint64_t bad;
	unsigned got, want;

	if (!tt_stream_check(&c->in, dst, (size_t)n, &bad, &got, &want)) {
		srv_error("upstream: %s connection (seed %llu): byte %llu is 0x%02x, expected 0x%02x",
			  plan_name[c->h.plan], (unsigned long long)c->h.seed, (unsigned long long)bad, got, want);
		return false;
	}
	c->received += (uint64_t)n;
	shm->bytes_checked += (uint64_t)n;
	if (c->received > c->h.up) {
		srv_error("upstream: %s connection (seed %llu): %llu bytes, more than the %llu announced",
			  plan_name[c->h.plan], (unsigned long long)c->h.seed,
			  (unsigned long long)c->received, (unsigned long long)c->h.up);
		return false;
	}
	if (c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT)
		c->len += (size_t)n;
	if (c->h.plan == PLAN_CUT && c->received >= c->h.cut)
		return false;   /* the cut: close with whatever is unread */
	if (c->h.stall_ms && !c->stalled && c->received >= c->h.up / 2) {
		c->stalled = true;
		c->stall_until = now + (uint64_t)c->h.stall_ms * 1000000u;
	}
	return true;
}

static bool srv_write(struct sconn *c)
{
	ssize_t w;

	if (c->len == 0) {
		/* the next piece of the down stream, in a random size */
		uint64_t want = rnd_io(&c->rng);   /* (MIN evaluates its arguments twice) */
		size_t n = (size_t)MIN(c->down_left, want);

		tt_stream_fill(&c->out, c->buf, n);
		c->start = 0;
		c->len = n;
		c->down_left -= n;
	}
	size_t piece = (size_t)rnd_io(&c->rng);

	w = send(c->fd, c->buf + c->start, MIN(c->len, piece), MSG_DONTWAIT | MSG_NOSIGNAL);
	if (w < 0 && (errno == EAGAIN || errno == EINTR))
		return true;
	if (w < 0)
		return false;
	c->start += (size_t)w;
	c->len -= (size_t)w;
	if (c->len == 0)
		c->start = 0;
	return true;
}

_noreturn_ static void upstream_main(int lfd)
{
	static struct sconn *conns[MAX_CONNS];
	static struct pollfd pfds[MAX_CONNS + 1];
	static int idx[MAX_CONNS + 1];
	uint8_t *scratch = malloc(CHUNK_MAX);

	if (!scratch)
		tt_die("out of memory");
	tt_prog = "tt-chaos(upstream)";
	/* The client connections of the parent must not live on here. */
	for (int fd = 3; fd < 65536; fd++)
		if (fd != lfd)
			(void)close(fd);
	for (;;) {
		uint64_t now = tt_now_ns();
		int np = 0, timeout = 200;

		pfds[np] = (struct pollfd) { .fd = lfd, .events = POLLIN };
		idx[np++] = -1;
		for (int i = 0; i < MAX_CONNS; i++) {
			struct sconn *c = conns[i];
			short ev = 0;

			if (!c)
				continue;
			if (srv_want_read(c, now))
				ev |= POLLIN;
			else if (c->stall_until > now)
				timeout = MIN(timeout, (int)((c->stall_until - now) / 1000000u) + 1);
			if (srv_has_output(c))
				ev |= POLLOUT;
			/* a stalled connection is not polled: a hang-up would
			 * wake poll again and again until the stall ends */
			pfds[np] = (struct pollfd) { .fd = ev || c->in_eof ? c->fd : -1, .events = ev };
			idx[np++] = i;
		}
		if (poll(pfds, (nfds_t)np, timeout) < 0) {
			if (errno == EINTR)
				continue;
			tt_die("poll: %m");
		}
		now = tt_now_ns();
		for (int k = 0; k < np; k++) {
			struct sconn *c;
			int i = idx[k];

			if (!pfds[k].revents)
				continue;
			if (i < 0) {
				int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
				int slot;

				if (fd < 0)
					continue;
				for (slot = 0; slot < MAX_CONNS && conns[slot]; slot++)
					;
				if (slot == MAX_CONNS || !(conns[slot] = calloc(1, sizeof(**conns)))) {
					close(fd);
					continue;
				}
				conns[slot]->fd = fd;
				continue;
			}
			c = conns[i];
			if (pfds[k].revents & (POLLIN | POLLHUP | POLLERR) && srv_want_read(c, now))
				if (!srv_read(c, scratch, now)) {
					sconn_close(&conns[i]);
					continue;
				}
			if (pfds[k].revents & (POLLOUT | POLLERR) && srv_has_output(c))
				if (!srv_write(c)) {
					sconn_close(&conns[i]);
					continue;
				}
			/* gone after everything was read and written (a reset
			 * connection's reads say so themselves) */
			if (pfds[k].revents & (POLLHUP | POLLERR) && c->in_eof && !srv_has_output(c)) {
				sconn_close(&conns[i]);
				continue;
			}
			/* Half-closes: echo after the client's EOF, down and abort
			 * at once; reset never (silent until the relay closes). */
			if (c->have_hdr && !c->out_shut && !srv_has_output(c) &&
			    (c->h.plan == PLAN_ECHO ? c->in_eof : c->h.plan != PLAN_CUT && c->h.plan != PLAN_RESET)) {
				(void)shutdown(c->fd, SHUT_WR);
				c->out_shut = true;
			}
			if (c->out_shut && c->in_eof)
				sconn_close(&conns[i]);
		}
	}
}

/* ================================================================== clients (parent) */

struct cconn {
	int fd;
	unsigned id;
	struct hdr h;
	uint64_t rng;
	struct tt_stream out, in;
	uint8_t hbuf[HDR_SIZE];
	unsigned hsent;
	uint8_t *pend;              /* generated, not yet sent */
	size_t pstart, plen;
	uint64_t sent, received, expect;
	uint64_t abort_at;          /* reset/abort: close once this much has moved */
	uint64_t moved_ns;          /* when a byte last went either way */
	bool shut, eof;
	uint64_t pause_until, read_stall_until, stall_at;
	uint64_t start_ns, deadline_ns;
	uint64_t epoch;             /* upstream kills when it started */
	bool tolerant;              /* the upstream was down when it started */
};

static struct {
	uint64_t started, complete, cut_by_kill, deliberate, cut_seen, errors, bytes;
	uint64_t by_plan[PLAN_COUNT];
} st;

static uint64_t kills;
static bool upstream_down;
static pid_t upstream_pid = -1;
static int upstream_lfd = -1;
static struct addr relay_addr, up_addr;

static void c_error(struct cconn *c, const char *format, ...) _printf_(2, 3);
static void c_error(struct cconn *c, const char *format, ...)
{
	char msg[300];
	va_list ap;

	va_start(ap, format);
	vsnprintf(msg, sizeof(msg), format, ap);
	va_end(ap);
	fprintf(stderr, "tt-chaos: ERROR: connection %u (%s, seed %llu, up %llu, down %llu): %s\n", c->id,
		plan_name[c->h.plan], (unsigned long long)c->h.seed, (unsigned long long)c->h.up,
		(unsigned long long)c->h.down, msg);
	st.errors++;
}

static void start_upstream(void)
{
	pid_t pid;

	(void)unlink(up_addr.sa.un.sun_path);
	upstream_lfd = tt_listen(&up_addr, 4096, NULL);
	if (upstream_lfd < 0)
		tt_die("cannot listen on '%s': %s", arg.upstream, strerror(-upstream_lfd));
	fflush(stdout);
	fflush(stderr);
	pid = fork();
	if (pid < 0)
		tt_die("fork: %m");
	if (pid == 0)
		upstream_main(upstream_lfd);
	close(upstream_lfd);
	upstream_pid = pid;
	upstream_down = false;
}

static void kill_upstream(void)
{
	if (upstream_pid < 0)
		return;
	(void)kill(upstream_pid, SIGKILL);
	(void)waitpid(upstream_pid, NULL, 0);
	upstream_pid = -1;
	upstream_down = true;
	kills++;
}

static struct cconn *c_start(uint64_t *grng, unsigned id)
{
	struct cconn *c = calloc(1, sizeof(*c));
	uint64_t now = tt_now_ns();
	int fd;

	if (!c)
		tt_die("out of memory");
	fd = tt_connect(&relay_addr, true);
	if (fd < 0) {
		free(c);
		if (fd == -EAGAIN)
			return NULL;   /* the relay's backlog is full: later */
		if (upstream_down && (fd == -ECONNREFUSED || fd == -ENOENT) && streq(arg.connect, arg.upstream))
			return NULL;   /* no relay in between (the tools' own test) */
		tt_die("cannot connect to the relay at '%s': %s", arg.connect, strerror(-fd));
	}
	c->fd = fd;
	c->id = id;
	c->h.seed = rnd(grng) >> 24;
	c->h.plan = (uint32_t)rnd_below(grng, 100);
	c->h.plan = c->h.plan < 45 ? PLAN_ECHO : c->h.plan < 70 ? PLAN_DOWN : c->h.plan < 80 ? PLAN_RESET :
		    c->h.plan < 90 ? PLAN_ABORT : PLAN_CUT;
	c->rng = c->h.seed * 0xD1B54A32D192ED03ull | 1;
	c->h.up = rnd_size(&c->rng);
	c->h.down = c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT ? 0 : rnd_size(&c->rng);
	if (c->h.plan == PLAN_RESET) {
		/* Bytes left unread at the close: mostly few enough that all of
		 * them wait in the client's socket (the relay has nothing left to
		 * write to it when it reads the reset), else more than fit. */
		uint64_t small = 1024 + rnd_below(&c->rng, 128 * 1024);

		c->h.down = rnd_below(&c->rng, 100) < 70 ? small : MAX(c->h.down, 256u * 1024);
	}
	if (c->h.plan == PLAN_CUT) {
		c->h.up = MAX(c->h.up, 2u * CHUNK_MAX);
		c->h.cut = rnd_below(&c->rng, c->h.up / 2);
	}
	if (rnd_below(&c->rng, 100) < 15)
		c->h.stall_ms = (uint32_t)rnd_below(&c->rng, 1500);
	if (c->h.plan == PLAN_RESET)
		c->abort_at = rnd_below(&c->rng, c->h.up + c->h.down / 2 + 1);
	if (c->h.plan == PLAN_ABORT)
		c->abort_at = rnd_below(&c->rng, MAX(c->h.up, c->h.down) + 1);
	if (rnd_below(&c->rng, 100) < 15) {
		/* a client that stops reading for a while, midway */
		c->stall_at = rnd_below(&c->rng, MAX(c->h.up, c->h.down) + 1);
		c->read_stall_until = 1;   /* armed */
	}
	c->expect = c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT ? c->h.up : c->h.down;
	hdr_encode(&c->h, c->hbuf);
	tt_stream_init(&c->out, c->h.seed);
	tt_stream_init(&c->in, c->h.plan == PLAN_ECHO || c->h.plan == PLAN_CUT ? c->h.seed : c->h.seed + 1);
	c->pend = malloc(CHUNK_MAX);
	if (!c->pend)
		tt_die("out of memory");
	c->start_ns = now;
	c->deadline_ns = now + arg.conn_timeout * 1000000000u;
	c->epoch = kills;
	c->tolerant = upstream_down;
	st.started++;
	st.by_plan[c->h.plan]++;
	return c;
}

enum end { END_COMPLETE, END_DELIBERATE, END_CUT, END_ERROR };

static void c_finish(struct cconn **slot, enum end how, const char *why)
{
	struct cconn *c = *slot;
	bool tolerant = c->tolerant || kills != c->epoch;

	switch (how) {
	case END_COMPLETE:
		st.complete++;
		break;
	case END_DELIBERATE:
		st.deliberate++;
		break;
	case END_CUT:
		if (c->h.plan == PLAN_CUT)
			st.cut_seen++;
		else if (tolerant)
			st.cut_by_kill++;
		else
			c_error(c, "ended early (%s) after sending %llu and receiving %llu bytes", why,
				(unsigned long long)c->sent, (unsigned long long)c->received);
		break;
	case END_ERROR:
		break;
	}
	if (arg.verbose)
		tt_log("connection %u (%s): %s after %.3f s", c->id, plan_name[c->h.plan],
		       how == END_COMPLETE ? "complete" : why, tt_seconds_since(c->start_ns));
	close(c->fd);
	free(c->pend);
	free(c);
	*slot = NULL;
}

static bool c_reading_now(const struct cconn *c, uint64_t now)
{
	if (c->eof || now < c->pause_until)
		return false;
	if (c->h.plan == PLAN_RESET && c->received >= c->h.down / 2)
		return false;   /* the rest stays unread */
	return !(c->read_stall_until > 1 && now < c->read_stall_until);
}

static bool c_writing_now(const struct cconn *c, uint64_t now)
{
	return !c->shut && now >= c->pause_until;
}

/* One step on a connection; false when it has ended (and was finished). */
static bool c_step(struct cconn **slot, short revents, uint8_t *scratch, uint64_t now)
{
	struct cconn *c = *slot;

	if (revents & (POLLIN | POLLHUP | POLLERR) && c_reading_now(c, now)) {
		uint64_t size = rnd_io(&c->rng);
		ssize_t n;

		if (c->h.plan == PLAN_RESET)   /* read only the first half */
			size = MIN(size, c->h.down / 2 - c->received);
		n = recv(c->fd, scratch, (size_t)size, MSG_DONTWAIT);

		if (n < 0 && errno != EAGAIN && errno != EINTR) {
			c_finish(slot, END_CUT, strerror(errno));
			return false;
		}
		if (n == 0) {
			if (c->received != c->expect) {
				c_finish(slot, END_CUT, "EOF");
				return false;
			}
			c->eof = true;
		}
		if (n > 0) {
			uint64_t bad;
			unsigned got, want;

			if (c->received + (uint64_t)n > c->expect) {
				c_error(c, "received %llu bytes, more than the %llu expected",
					(unsigned long long)(c->received + (uint64_t)n), (unsigned long long)c->expect);
				c_finish(slot, END_ERROR, "error");
				return false;
			}
			if (!tt_stream_check(&c->in, scratch, (size_t)n, &bad, &got, &want)) {
				c_error(c, "received byte %llu is 0x%02x, expected 0x%02x",
					(unsigned long long)bad, got, want);
				c_finish(slot, END_ERROR, "error");
				return false;
			}
			c->received += (uint64_t)n;
			c->moved_ns = now;
			st.bytes += (uint64_t)n;
		}
	}
	if (revents & (POLLOUT | POLLERR | POLLHUP) && c_writing_now(c, now)) {
		if (c->plen == 0 && c->hsent == HDR_SIZE && c->sent < c->h.up) {
			uint64_t want = rnd_io(&c->rng);   /* (MIN evaluates its arguments twice) */
			size_t k = (size_t)MIN(c->h.up - c->sent, want);

			tt_stream_fill(&c->out, c->pend, k);
			c->pstart = 0;
			c->plen = k;
		}
		const uint8_t *src = c->hsent < HDR_SIZE ? c->hbuf + c->hsent : c->pend + c->pstart;
		size_t len = c->hsent < HDR_SIZE ? HDR_SIZE - c->hsent : c->plen;

		if (len > 0) {
			ssize_t w = send(c->fd, src, len, MSG_DONTWAIT | MSG_NOSIGNAL);

			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				c_finish(slot, END_CUT, strerror(errno));
				return false;
			}
			if (w > 0 && c->hsent < HDR_SIZE) {
				c->hsent += (unsigned)w;
			} else if (w > 0) {
				c->pstart += (size_t)w;
				c->plen -= (size_t)w;
				c->sent += (uint64_t)w;
				c->moved_ns = now;
			}
		}
		if (c->hsent == HDR_SIZE && c->sent == c->h.up && c->plen == 0 &&
		    c->h.plan != PLAN_RESET && c->h.plan != PLAN_ABORT && c->h.plan != PLAN_CUT) {
			if (shutdown(c->fd, SHUT_WR) < 0) {
				c_finish(slot, END_CUT, strerror(errno));
				return false;
			}
			c->shut = true;
		}
	}
	/* Random pauses and the one read stall. */
	if (rnd_below(&c->rng, 1000) < 3)
		c->pause_until = now + rnd_below(&c->rng, 300) * 1000000u;
	if (c->read_stall_until == 1 && c->received + c->sent >= c->stall_at)
		c->read_stall_until = now + (100 + rnd_below(&c->rng, 1400)) * 1000000u;
	/* Deliberate ends: a reset waits for bytes to leave unread (the
	 * upstream sends twice what it reads). */
	/* A reset client that has read its half and cannot send any more (the
	 * upstream stops reading while its replies wait: that is backpressure
	 * working) resets now instead of waiting for abort_at forever. */
	if (c->h.plan == PLAN_RESET && c->received >= c->h.down / 2 && c->moved_ns &&
	    now - c->moved_ns > 500 * 1000000ull)
		c->abort_at = 0;
	if ((c->h.plan == PLAN_RESET || c->h.plan == PLAN_ABORT) && c->sent + c->received >= c->abort_at) {
		int unread = 0;

		if (c->h.plan == PLAN_ABORT || (ioctl(c->fd, FIONREAD, &unread) == 0 && unread > 0)) {
			c_finish(slot, END_DELIBERATE, plan_name[c->h.plan]);
			return false;
		}
	}
	if (c->h.plan == PLAN_CUT && c->sent == c->h.up && c->plen == 0 && !c->shut) {
		/* everything sent before the upstream's cut: half-close and expect its end */
		(void)shutdown(c->fd, SHUT_WR);
		c->shut = true;
	}
	if (c->eof && c->shut) {
		if (c->h.plan == PLAN_CUT)
			c_finish(slot, END_CUT, "EOF");
		else
			c_finish(slot, END_COMPLETE, "complete");
		return false;
	}
	if (now > c->deadline_ns) {
		c_error(c, "still open after %llu s: sent %llu of %llu, received %llu of %llu%s%s",
			(unsigned long long)arg.conn_timeout, (unsigned long long)c->sent,
			(unsigned long long)c->h.up, (unsigned long long)c->received, (unsigned long long)c->expect,
			c->shut ? ", half-closed" : "", c->eof ? ", EOF seen" : "");
		c_finish(slot, END_ERROR, "hang");
		return false;
	}
	return true;
}

static long relay_fds(void)
{
	char path[64];
	struct dirent *d;
	long n = 0;
	DIR *dir;

	(void)snprintf(path, sizeof(path), "/proc/%llu/fd", (unsigned long long)arg.relay_pid);
	dir = opendir(path);
	if (!dir)
		tt_die("cannot read %s: %m", path);
	while ((d = readdir(dir)))
		n += d->d_name[0] != '.';
	closedir(dir);
	return n;
}

_noreturn_ static void usage(void)
{
	fprintf(stderr,
		"Usage: tt-chaos --connect RELAY-ADDR --upstream unix:PATH [--seconds N] [--seed N]\n"
		"       [--clients N] [--kill-every-ms MS] [--conn-timeout SECONDS] [--relay-pid PID]\n"
		"       [--verbose]\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "upstream", required_argument, NULL, 'u' },
		{ "seconds", required_argument, NULL, 's' },
		{ "seed", required_argument, NULL, 'd' },
		{ "clients", required_argument, NULL, 'n' },
		{ "kill-every-ms", required_argument, NULL, 'k' },
		{ "conn-timeout", required_argument, NULL, 't' },
		{ "relay-pid", required_argument, NULL, 'p' },
		{ "verbose", no_argument, NULL, 'v' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static struct cconn *conns[MAX_CONNS];
	static struct pollfd pfds[MAX_CONNS];
	static int idx[MAX_CONNS];
	uint64_t grng, start, end, next_kill, restart_at = 0, krng;
	unsigned next_id = 1;
	uint8_t *scratch;
	int c;

	tt_prog = "tt-chaos";
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'c': arg.connect = optarg; break;
		case 'u': arg.upstream = optarg; break;
		case 's': arg.seconds = tt_parse_uint("--seconds", optarg, 86400); break;
		case 'd': arg.seed = tt_parse_uint("--seed", optarg, UINT64_MAX); break;
		case 'n': arg.clients = tt_parse_uint("--clients", optarg, MAX_CONNS); break;
		case 'k': arg.kill_every_ms = tt_parse_uint("--kill-every-ms", optarg, 3600000); break;
		case 't': arg.conn_timeout = tt_parse_uint("--conn-timeout", optarg, 3600); break;
		case 'p': arg.relay_pid = tt_parse_uint("--relay-pid", optarg, INT32_MAX); break;
		case 'v': arg.verbose = true; break;
		default: usage();
		}
	}
	if (!arg.connect || !arg.upstream || optind != argc || arg.clients == 0)
		usage();
	tt_parse_addr(arg.connect, &relay_addr);
	tt_parse_addr(arg.upstream, &up_addr);
	if (up_addr.kind != ADDR_UNIX || up_addr.sa.un.sun_path[0] == '\0')
		tt_die("--upstream must be unix:PATH");
	(void)signal(SIGPIPE, SIG_IGN);
	printf("seed=%llu\n", (unsigned long long)arg.seed);
	fflush(stdout);
	shm = mmap(NULL, sizeof(*shm), PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	scratch = malloc(CHUNK_MAX);
	if (shm == MAP_FAILED || !scratch)
		tt_die("out of memory");
	grng = arg.seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
	krng = grng ^ 0xA0761D6478BD642Full;
	long fds_before = arg.relay_pid ? relay_fds() : 0, fds_after = 0;

	start_upstream();
	/* the whole run, the drain and the final upstream stop */
	tt_deadline((unsigned)(arg.seconds + arg.conn_timeout + 30));
	start = tt_now_ns();
	end = start + arg.seconds * 1000000000u;
	next_kill = arg.kill_every_ms ? start + (arg.kill_every_ms / 2 + rnd_below(&krng, arg.kill_every_ms)) * 1000000u
				     : UINT64_MAX;
	tt_phase("soaking");
	for (;;) {
		uint64_t now = tt_now_ns();
		size_t open = 0;
		int np = 0, timeout = 50;

		/* the upstream's death and rebirth */
		if (now >= next_kill && now < end) {
			kill_upstream();
			restart_at = now + rnd_below(&krng, 300) * 1000000u;
			next_kill = now + (arg.kill_every_ms / 2 + rnd_below(&krng, arg.kill_every_ms)) * 1000000u;
		}
		if (upstream_down && now >= restart_at)
			start_upstream();
		for (size_t i = 0; i < arg.clients; i++) {
			/* while the upstream is down, only a few clients try
			 * (the relay must close them at once, with a log line) */
			if (!conns[i] && now < end && (!upstream_down || i < 4))
				conns[i] = c_start(&grng, next_id), next_id += conns[i] != NULL;
			if (conns[i])
				open++;
		}
		if (open == 0 && now >= end)
			break;
		for (size_t i = 0; i < arg.clients; i++) {
			struct cconn *cc = conns[i];
			short ev = 0;

			if (!cc)
				continue;
			if (c_reading_now(cc, now))
				ev |= POLLIN;
			if (c_writing_now(cc, now) && (cc->hsent < HDR_SIZE || cc->plen > 0 || cc->sent < cc->h.up))
				ev |= POLLOUT;
			/* idle ones only step (deadlines, pauses), no poll: a
			 * hang-up would wake poll at once again and again */
			pfds[np] = (struct pollfd) { .fd = ev ? cc->fd : -1, .events = ev };
			idx[np++] = (int)i;
		}
		if (poll(pfds, (nfds_t)np, timeout) < 0 && errno != EINTR)
			tt_die("poll: %m");
		now = tt_now_ns();
		for (int k = 0; k < np; k++) {
			struct cconn **slot = &conns[idx[k]];

			/* every connection steps: deadlines, pauses, deliberate ends */
			(void)c_step(slot, pfds[k].revents, scratch, now);
		}
	}
	if (arg.relay_pid) {
		/* every client has left, the upstream is alive: the relay must
		 * hold nothing more than before */
		uint64_t t0 = tt_now_ns();

		tt_phase("waiting for the relay's fds to come back");
		while ((fds_after = relay_fds()) > fds_before && tt_seconds_since(t0) < 3)
			(void)usleep(20000);
		if (fds_after > fds_before) {
			fprintf(stderr, "tt-chaos: ERROR: every client has left, and the relay still has %ld fds, %ld before the first:\n",
				fds_after, fds_before);
			st.errors++;
			char cmd[96];

			(void)snprintf(cmd, sizeof(cmd), "ls -l /proc/%llu/fd >&2", (unsigned long long)arg.relay_pid);
			(void)!system(cmd);
		}
	}
	tt_phase("stopping the upstream");
	kill_upstream();
	kills--;   /* the final stop is not one of the chaos's kills */
	printf("seed=%llu seconds=%llu connections=%llu complete=%llu cut_by_upstream_kill=%llu deliberate_cuts=%llu"
	       " upstream_cuts_seen=%llu plans=echo:%llu,down:%llu,reset:%llu,abort:%llu,cut:%llu"
	       " upstream_kills=%llu bytes_checked_client=%llu bytes_checked_upstream=%llu relay_fds=%ld,%ld errors=%llu\n",
	       (unsigned long long)arg.seed, (unsigned long long)arg.seconds, (unsigned long long)st.started,
	       (unsigned long long)st.complete, (unsigned long long)st.cut_by_kill,
	       (unsigned long long)st.deliberate, (unsigned long long)st.cut_seen,
	       (unsigned long long)st.by_plan[PLAN_ECHO], (unsigned long long)st.by_plan[PLAN_DOWN],
	       (unsigned long long)st.by_plan[PLAN_RESET], (unsigned long long)st.by_plan[PLAN_ABORT],
	       (unsigned long long)st.by_plan[PLAN_CUT], (unsigned long long)kills,
	       (unsigned long long)st.bytes, (unsigned long long)shm->bytes_checked, fds_before, fds_after,
	       (unsigned long long)(st.errors + shm->errors));
	if (shm->errors)
		fprintf(stderr, "tt-chaos: ERROR: the upstream saw %llu errors; the first: %s\n",
			(unsigned long long)shm->errors, shm->first_error);
	if (st.complete == 0)
		tt_die("no connection completed");
	free(scratch);
	return st.errors || shm->errors ? EXIT_FAILURE : EXIT_SUCCESS;
}
