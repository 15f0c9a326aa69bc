/* SPDX-License-Identifier: MIT */
/*
 * tt-client: the X client end of the relay tests.  One mode per run:
 *
 *   bulk      send N bytes of stream SEED and, at the same time, receive: the
 *             echo (--echo) or M bytes of stream SEED+1 (--recv); every byte
 *             is checked at its offset; --expect-cut for a peer killed midway,
 *             --min-reply-delay-ms for a reply that must come after our EOF,
 *             --until-eof for a peer's EOF that must come while we still send
 *             (we send at most N bytes, and one chunk after that EOF)
 *   pingpong  COUNT round trips of SIZE bytes: round trips/s, p50, p99
 *   mix       an X11-like pipelined mix against 'tt-server --in x11'
 *   multi     CLIENTS connections at once, each echoing BYTES, all checked
 *   churn     COUNT connect / 1-byte round trip / close cycles
 *   slow      connect, read nothing for PAUSE ms, then read and check M bytes
 *   hold      CLIENTS idle connections (after a 1-byte round trip each)
 *   idle      COUNT echo rounds of BYTES on one connection, PAUSE ms apart
 *   probe     one connection: is it served (1-byte echo) or closed?
 *   exhaust   CLIENTS connections while the relay is out of fds: how many
 *             are served in STALL ms, then release those and expect the rest
 *   stuck     CLIENTS connections that each ask 'tt-server --in x11 --flood'
 *             for an endless reply and never read (suspended X clients)
 *   request   COUNT new connections in a row, each sending one X11-like
 *             request for a 32-byte reply: how long until it is answered
 *   reset     connect, send BYTES, wait until the peer's bytes have arrived
 *             and close without reading them (the relay reads ECONNRESET)
 *
 * Results go to stdout as one line of key=value pairs; any mismatch,
 * unexpected close or timeout is one "tt-client: ERROR: ..." line, exit 1.
 */
#include <errno.h>
#include <getopt.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "tt.h"

static struct {
	const char *connect;
	const char *ready;
	uint64_t send, recv, bytes, count, clients;
	uint64_t seed;
	uint64_t chunk;
	uint64_t size;
	uint64_t pause_ms, stall_ms, hold_ms, within_ms, wait_ms, min_reply_delay_ms, max_drops;
	uint64_t requests;
	bool echo, have_recv, expect_cut, discard, fast, no_exchange, expect_close, until_eof, keep_open;
	const char *expect;
	const char *pauses;
	unsigned timeout;
} arg = {
	.seed = 1,
	.chunk = 64 * 1024,
	.size = 32,
	.count = 1000,
	.clients = 1,
	.bytes = 1024 * 1024,
	.requests = 20000,
	.timeout = 60,
};

static struct addr target;
static volatile sig_atomic_t got_term;

static void on_term(int sig)
{
	got_term = 1;
}

static double mbps(uint64_t bytes, double seconds)
{
	return seconds > 0 ? (double)bytes / seconds / 1e6 : 0;
}

static int connect_retry(bool nonblock)
{
	/* A full listen backlog answers EAGAIN to a non-blocking UNIX connect. */
	for (;;) {
		int fd = tt_connect(&target, nonblock);

		if (fd >= 0)
			return fd;
		if (fd != -EAGAIN)
			tt_die("cannot connect to '%s': %s", arg.connect, strerror(-fd));
		(void)usleep(1000);
	}
}

/* ------------------------------------------------------------------ bulk */

static int mode_bulk(void)
{
	struct tt_stream out, in;
	uint8_t *sbuf, *rbuf;
	size_t spos = 0, slen = 0;
	uint64_t sent = 0, received = 0, want;
	uint64_t start, shut_ns = 0, first_reply_ns = 0, up_done_ns = 0;
	bool shut = false, eof = false, cut = false;
	const char *cut_why = NULL;
	int fd;

	if (!arg.echo && !arg.have_recv)
		tt_die("bulk needs --echo or --recv BYTES");
	want = arg.echo ? arg.send : arg.recv;
	tt_stream_init(&out, arg.seed);
	tt_stream_init(&in, arg.echo ? arg.seed : arg.seed + 1);
	sbuf = malloc(arg.chunk);
	rbuf = malloc(arg.chunk);
	if (!sbuf || !rbuf)
		tt_die("out of memory");
	memset(sbuf, 'x', arg.chunk);

	tt_phase("connecting");
	start = tt_now_ns();
	fd = connect_retry(true);
	tt_phase("transferring");
	if (arg.send == 0) {
		if (shutdown(fd, SHUT_WR) < 0)
			tt_die("shutdown: %m");
		shut = true;
		shut_ns = up_done_ns = tt_now_ns();
	}
	while (!eof || !shut) {
		struct pollfd pfd = { .fd = fd, .events = eof ? 0 : POLLIN };

		if (!shut)
			pfd.events |= POLLOUT;
		if (poll(&pfd, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			tt_die("poll: %m");
		}
		if (!eof && pfd.revents & (POLLIN | POLLHUP | POLLERR)) {
			ssize_t n = recv(fd, rbuf, arg.chunk, MSG_DONTWAIT);

			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				/* spurious */
			} else if (n < 0 && arg.expect_cut && (errno == ECONNRESET || errno == EPIPE)) {
				cut = true;
				cut_why = errno == ECONNRESET ? "reset while reading" : "broken pipe while reading";
				break;
			} else if (n < 0) {
				tt_die("recv after %llu bytes: %m", (unsigned long long)received);
			} else if (n == 0) {
				eof = true;
				/* --until-eof: the peer's EOF must come while we are
				 * still sending; then send one more chunk and end. */
				if (arg.until_eof && !shut)
					arg.send = MIN(arg.send, sent + arg.chunk);
			} else {
				uint64_t bad;
				unsigned got, wanted;

				if (!first_reply_ns)
					first_reply_ns = tt_now_ns();
				if (received + (uint64_t)n > want)
					tt_die("received more than the %llu bytes expected (%llu)",
					       (unsigned long long)want, (unsigned long long)(received + (uint64_t)n));
				if (arg.discard)
					tt_stream_skip(&in, (size_t)n);
				else if (!tt_stream_check(&in, rbuf, (size_t)n, &bad, &got, &wanted))
					tt_die("received byte %llu is 0x%02x, expected 0x%02x (stream %llu)",
					       (unsigned long long)bad, got, wanted, (unsigned long long)in.seed);
				received += (uint64_t)n;
			}
		}
		if (!shut && pfd.revents & (POLLOUT | POLLERR | POLLHUP)) {
			ssize_t n;

			if (spos == slen) {
				slen = (size_t)MIN(arg.chunk, arg.send - sent);
				spos = 0;
				if (!arg.fast)
					tt_stream_fill(&out, sbuf, slen);
			}
			n = send(fd, sbuf + spos, slen - spos, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
				/* retry */
			} else if (n < 0 && arg.expect_cut && (errno == ECONNRESET || errno == EPIPE)) {
				cut = true;
				cut_why = errno == ECONNRESET ? "reset while writing" : "broken pipe while writing";
				break;
			} else if (n < 0) {
				tt_die("send after %llu bytes: %m", (unsigned long long)sent);
			} else {
				spos += (size_t)n;
				sent += (uint64_t)n;
				if (sent == arg.send && arg.until_eof && !eof)
					tt_die("sent all %llu bytes and the peer's EOF has not come (received %llu of %llu):"
					       " its end was not passed on while we were sending",
					       (unsigned long long)sent, (unsigned long long)received, (unsigned long long)want);
				if (sent == arg.send) {
					up_done_ns = tt_now_ns();
					if (shutdown(fd, SHUT_WR) < 0) {
						if (!arg.expect_cut)
							tt_die("shutdown: %m");
						cut = true;
						cut_why = "shutdown failed";
						break;
					}
					shut = true;
					shut_ns = tt_now_ns();
				}
			}
		}
	}
	double secs = tt_seconds_since(start);

	close(fd);
	if (arg.expect_cut) {
		if (!cut && received == want && sent == arg.send)
			tt_die("the transfer completed (%llu bytes each way): it was not cut",
			       (unsigned long long)received);
		printf("cut=1 why=%s sent=%llu received=%llu seconds=%.3f\n",
		       cut_why ? cut_why : (shut ? "EOF" : "EOF before our EOF"),
		       (unsigned long long)sent, (unsigned long long)received, secs);
		free(sbuf);
		free(rbuf);
		return 0;
	}
	if (!shut)
		tt_die("peer closed after %llu of %llu bytes sent", (unsigned long long)sent,
		       (unsigned long long)arg.send);
	if (received != want)
		tt_die("EOF after %llu bytes, expected %llu", (unsigned long long)received,
		       (unsigned long long)want);
	if (arg.min_reply_delay_ms) {
		double delay = first_reply_ns ? (double)(first_reply_ns - shut_ns) / 1e6 : 0;

		if (!first_reply_ns || first_reply_ns < shut_ns + arg.min_reply_delay_ms * 900000u)
			tt_die("the reply came %.0f ms after our EOF, expected at least %llu ms",
			       delay, (unsigned long long)arg.min_reply_delay_ms);
	}
	printf("sent=%llu received=%llu seconds=%.3f up_seconds=%.3f mbps=%.1f digest_sent=%016llx digest_received=%016llx",
	       (unsigned long long)sent, (unsigned long long)received, secs,
	       up_done_ns ? (double)(up_done_ns - start) / 1e9 : 0,
	       mbps(MAX(sent, received), secs),
	       (unsigned long long)tt_stream_digest(&out), (unsigned long long)tt_stream_digest(&in));
	if (first_reply_ns && shut_ns)
		printf(" reply_after_eof_ms=%.0f", first_reply_ns > shut_ns ? (double)(first_reply_ns - shut_ns) / 1e6 : 0.0);
	printf("\n");
	free(sbuf);
	free(rbuf);
	return 0;
}

/* ------------------------------------------------------------------ pingpong */

static int mode_pingpong(void)
{
	uint8_t *buf, *back;
	double *rtt;
	uint64_t start;
	size_t warmup = 100;
	int fd;

	if (arg.size == 0 || arg.size > 65536)
		tt_die("--size must be 1..65536");
	buf = malloc(arg.size);
	back = malloc(arg.size);
	rtt = calloc(arg.count, sizeof(*rtt));
	if (!buf || !back || !rtt)
		tt_die("out of memory");
	tt_phase("connecting");
	fd = connect_retry(false);
	tt_phase("ping-pong");
	start = 0;
	for (uint64_t i = 0; i < warmup + arg.count; i++) {
		uint64_t t0;
		size_t got = 0;

		if (i == warmup)
			start = tt_now_ns();
		for (size_t k = 0; k < arg.size; k++)
			buf[k] = (uint8_t)(i * 31 + k);
		t0 = tt_now_ns();
		tt_write_all(fd, buf, arg.size);
		while (got < arg.size) {
			ssize_t n = tt_read_some(fd, back + got, arg.size - got, (int)arg.timeout * 1000);

			if (n == 0)
				tt_die("EOF after %llu round trips", (unsigned long long)i);
			if (n < 0)
				tt_die("read after %llu round trips: %s", (unsigned long long)i, strerror((int)-n));
			got += (size_t)n;
		}
		if (memcmp(buf, back, arg.size) != 0)
			tt_die("round trip %llu came back different", (unsigned long long)i);
		if (i >= warmup)
			rtt[i - warmup] = (double)(tt_now_ns() - t0) / 1e3;
	}
	double secs = tt_seconds_since(start);

	close(fd);
	tt_sort_doubles(rtt, arg.count);
	printf("count=%llu size=%llu seconds=%.3f rtps=%.0f p50_us=%.1f p99_us=%.1f\n",
	       (unsigned long long)arg.count, (unsigned long long)arg.size, secs,
	       (double)arg.count / secs, tt_percentile(rtt, arg.count, 50), tt_percentile(rtt, arg.count, 99));
	free(buf);
	free(back);
	free(rtt);
	return 0;
}

/* ------------------------------------------------------------------ mix */

static uint64_t mix_rand_state;

static uint64_t mix_rand(void)
{
	/* xorshift64*: a reproducible workload from --seed */
	mix_rand_state ^= mix_rand_state >> 12;
	mix_rand_state ^= mix_rand_state << 25;
	mix_rand_state ^= mix_rand_state >> 27;
	return mix_rand_state * 0x2545F4914F6CDD1Dull;
}

static void put_le32(uint8_t *p, uint32_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	p[2] = (uint8_t)(v >> 16);
	p[3] = (uint8_t)(v >> 24);
}

/*
 * An X11-like session: requests are written into a 16 KiB output buffer
 * (as xcb does) that is flushed when full or before a round trip.  Of 1000
 * requests, 900 are small (8-120 bytes), 85 medium (1-4 KiB), 15 images
 * (4-256 KiB, PutImage); one in 20 needs a 32-byte reply and waits for it
 * (GetProperty, XSync), which is what makes X11 latency-bound.
 */
static int mode_mix(void)
{
	enum { OUTBUF = 16 * 1024, REPLY = 32 };
	struct tt_stream body, reply;
	uint8_t *out, rbuf[REPLY];
	size_t olen = 0;
	uint64_t bytes = 0, syncs = 0, start;
	int fd;

	mix_rand_state = arg.seed * 0x9E3779B97F4A7C15ull | 1;
	tt_stream_init(&body, arg.seed);
	tt_stream_init(&reply, arg.seed + 1);
	out = malloc(OUTBUF + 256 * 1024 + 8);
	if (!out)
		tt_die("out of memory");
	tt_phase("connecting");
	fd = connect_retry(false);
	tt_phase("mix");
	start = tt_now_ns();
	for (uint64_t i = 0; i < arg.requests; i++) {
		uint64_t r = mix_rand() % 1000;
		uint32_t len, reply_len = 0;

		if (r < 900)
			len = 8 + 4 * (uint32_t)(mix_rand() % 29);
		else if (r < 985)
			len = 1024 + 4 * (uint32_t)(mix_rand() % 769);
		else
			len = 4096 + 4 * (uint32_t)(mix_rand() % (63 * 1024 + 1));
		if (r < 900 && mix_rand() % 20 == 0)
			reply_len = REPLY;
		if (olen + len > OUTBUF && olen > 0) {
			tt_write_all(fd, out, olen);
			olen = 0;
		}
		put_le32(out + olen, len);
		put_le32(out + olen + 4, reply_len);
		tt_stream_fill(&body, out + olen + 8, len - 8);
		olen += len;
		bytes += len;
		if (reply_len) {
			size_t got = 0;
			uint64_t bad;
			unsigned g, w;

			tt_write_all(fd, out, olen);
			olen = 0;
			while (got < reply_len) {
				ssize_t n = tt_read_some(fd, rbuf + got, reply_len - got, (int)arg.timeout * 1000);

				if (n <= 0)
					tt_die("reply %llu: %s", (unsigned long long)syncs, n == 0 ? "EOF" : strerror((int)-n));
				got += (size_t)n;
			}
			if (!tt_stream_check(&reply, rbuf, reply_len, &bad, &g, &w))
				tt_die("reply byte %llu is 0x%02x, expected 0x%02x", (unsigned long long)bad, g, w);
			syncs++;
		}
	}
	if (olen)
		tt_write_all(fd, out, olen);
	/* The end: one more round trip, so that everything was processed. */
	{
		uint8_t req[8];
		size_t got = 0;
		uint64_t bad;
		unsigned g, w;

		put_le32(req, 8);
		put_le32(req + 4, REPLY);
		tt_write_all(fd, req, 8);
		while (got < REPLY) {
			ssize_t n = tt_read_some(fd, rbuf + got, REPLY - got, (int)arg.timeout * 1000);

			if (n <= 0)
				tt_die("final reply: %s", n == 0 ? "EOF" : strerror((int)-n));
			got += (size_t)n;
		}
		if (!tt_stream_check(&reply, rbuf, REPLY, &bad, &g, &w))
			tt_die("reply byte %llu is 0x%02x, expected 0x%02x", (unsigned long long)bad, g, w);
		syncs++;
		bytes += 8;
	}
	double secs = tt_seconds_since(start);

	close(fd);
	printf("requests=%llu syncs=%llu bytes=%llu seconds=%.3f rps=%.0f mbps=%.1f\n",
	       (unsigned long long)arg.requests, (unsigned long long)syncs, (unsigned long long)bytes,
	       secs, (double)arg.requests / secs, mbps(bytes, secs));
	free(out);
	return 0;
}

/* ------------------------------------------------------------------ multi */

struct mconn {
	int fd;
	struct tt_stream out, in;
	uint64_t sent, received;
	bool shut, done;
};

static int mode_multi(void)
{
	struct mconn *cs;
	struct pollfd *pfds;
	uint8_t *buf, *sbuf;
	uint64_t start, done = 0;
	size_t n = arg.clients;

	cs = calloc(n, sizeof(*cs));
	pfds = calloc(n, sizeof(*pfds));
	buf = malloc(arg.chunk);
	sbuf = malloc(arg.chunk);
	if (!cs || !pfds || !buf || !sbuf)
		tt_die("out of memory");
	memset(sbuf, 'x', arg.chunk);
	tt_phase("connecting all clients");
	start = tt_now_ns();
	for (size_t i = 0; i < n; i++) {
		cs[i].fd = connect_retry(true);
		tt_stream_init(&cs[i].out, arg.seed + 2 * i);
		tt_stream_init(&cs[i].in, arg.seed + 2 * i);
	}
	tt_phase("echoing");
	while (done < n) {
		for (size_t i = 0; i < n; i++) {
			pfds[i].fd = cs[i].done ? -1 : cs[i].fd;
			pfds[i].events = POLLIN | (cs[i].shut ? 0 : POLLOUT);
			pfds[i].revents = 0;
		}
		if (poll(pfds, n, -1) < 0) {
			if (errno == EINTR)
				continue;
			tt_die("poll: %m");
		}
		for (size_t i = 0; i < n; i++) {
			struct mconn *c = &cs[i];

			if (c->done || !pfds[i].revents)
				continue;
			if (pfds[i].revents & (POLLIN | POLLHUP | POLLERR)) {
				ssize_t k = recv(c->fd, buf, arg.chunk, MSG_DONTWAIT);
				uint64_t bad;
				unsigned g, w;

				if (k < 0 && errno != EAGAIN && errno != EINTR)
					tt_die("client %zu: recv after %llu bytes: %m", i, (unsigned long long)c->received);
				if (k == 0) {
					if (c->received != arg.bytes)
						tt_die("client %zu: EOF after %llu of %llu bytes", i,
						       (unsigned long long)c->received, (unsigned long long)arg.bytes);
					c->done = true;
					close(c->fd);
					done++;
					continue;
				}
				if (k > 0) {
					if (c->received + (uint64_t)k > arg.bytes)
						tt_die("client %zu: more bytes came back than were sent", i);
					if (arg.fast)
						tt_stream_skip(&c->in, (size_t)k);
					else if (!tt_stream_check(&c->in, buf, (size_t)k, &bad, &g, &w))
						tt_die("client %zu: byte %llu is 0x%02x, expected 0x%02x", i,
						       (unsigned long long)bad, g, w);
					c->received += (uint64_t)k;
				}
				if (arg.keep_open && c->received == arg.bytes) {
					/* Everything came back while the write side
					 * stayed open: no EOF ever moved the relay. */
					c->done = true;
					close(c->fd);
					done++;
					continue;
				}
			}
			if (!c->shut && pfds[i].revents & POLLOUT) {
				size_t len = (size_t)MIN(arg.chunk, arg.bytes - c->sent);
				struct tt_stream probe = c->out;
				ssize_t k;

				/* Generate, send what fits, and advance by that much only. */
				if (!arg.fast)
					tt_stream_fill(&probe, sbuf, len);
				k = send(c->fd, sbuf, len, MSG_DONTWAIT | MSG_NOSIGNAL);
				if (k < 0 && errno != EAGAIN && errno != EINTR)
					tt_die("client %zu: send after %llu bytes: %m", i, (unsigned long long)c->sent);
				if (k > 0) {
					if (arg.fast)
						tt_stream_skip(&c->out, (size_t)k);
					else
						tt_stream_fill(&c->out, sbuf, (size_t)k);
					c->sent += (uint64_t)k;
				}
				if (c->sent == arg.bytes) {
					/* Sent all: the write side ends, unless kept open. */
					if (!arg.keep_open && shutdown(c->fd, SHUT_WR) < 0)
						tt_die("client %zu: shutdown: %m", i);
					c->shut = true;
				}
			}
		}
	}
	double secs = tt_seconds_since(start);

	printf("clients=%llu bytes=%llu seconds=%.3f mbps=%.1f\n", (unsigned long long)n,
	       (unsigned long long)arg.bytes, secs, mbps(arg.bytes * n, secs));
	free(cs);
	free(pfds);
	free(buf);
	free(sbuf);
	return 0;
}

/* ------------------------------------------------------------------ churn */

static void one_byte_round_trip(int fd, const char *what)
{
	uint8_t b = 'p', back = 0;
	ssize_t n;

	tt_write_all(fd, &b, 1);
	n = tt_read_some(fd, &back, 1, (int)arg.timeout * 1000);
	if (n == 0)
		tt_die("%s: EOF instead of the echo", what);
	if (n < 0)
		tt_die("%s: no echo: %s", what, strerror((int)-n));
	if (back != b)
		tt_die("%s: echo 0x%02x, expected 0x%02x", what, back, b);
}

static int mode_churn(void)
{
	uint64_t start = tt_now_ns();

	tt_phase("churning");
	for (uint64_t i = 0; i < arg.count; i++) {
		int fd = connect_retry(false);

		if (!arg.no_exchange)
			one_byte_round_trip(fd, "churn");
		close(fd);
	}
	double secs = tt_seconds_since(start);

	printf("count=%llu seconds=%.3f cps=%.0f\n", (unsigned long long)arg.count, secs,
	       (double)arg.count / secs);
	return 0;
}

/* ------------------------------------------------------------------ slow */

static int mode_slow(void)
{
	struct tt_stream in;
	uint8_t *buf;
	uint64_t received = 0, start;
	int fd;

	if (!arg.have_recv)
		tt_die("slow needs --recv BYTES");
	buf = malloc(arg.chunk);
	if (!buf)
		tt_die("out of memory");
	tt_stream_init(&in, arg.seed + 1);
	tt_phase("connecting");
	fd = connect_retry(false);
	if (arg.ready)
		tt_write_ready(arg.ready, 0);
	tt_phase("pausing (not reading)");
	(void)usleep((useconds_t)arg.pause_ms * 1000);
	tt_phase("reading after the pause");
	start = tt_now_ns();
	for (;;) {
		ssize_t n = tt_read_some(fd, buf, arg.chunk, (int)arg.timeout * 1000);
		uint64_t bad;
		unsigned g, w;

		if (n < 0)
			tt_die("read after %llu bytes: %s", (unsigned long long)received, strerror((int)-n));
		if (n == 0)
			break;
		if (received + (uint64_t)n > arg.recv)
			tt_die("more than the %llu bytes expected", (unsigned long long)arg.recv);
		if (!tt_stream_check(&in, buf, (size_t)n, &bad, &g, &w))
			tt_die("byte %llu is 0x%02x, expected 0x%02x", (unsigned long long)bad, g, w);
		received += (uint64_t)n;
	}
	if (received != arg.recv)
		tt_die("EOF after %llu bytes, expected %llu", (unsigned long long)received,
		       (unsigned long long)arg.recv);
	double secs = tt_seconds_since(start);

	close(fd);
	printf("received=%llu seconds=%.3f mbps=%.1f digest=%016llx\n", (unsigned long long)received,
	       secs, mbps(received, secs), (unsigned long long)tt_stream_digest(&in));
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------ idle */

/* One echo round trip of len bytes, both streams checked at their offsets. */
static void echo_round(int fd, struct tt_stream *out, struct tt_stream *in, uint8_t *buf, size_t len)
{
	uint64_t bad;
	unsigned g, w;
	size_t got = 0;

	tt_stream_fill(out, buf, len);
	tt_write_all(fd, buf, len);
	while (got < len) {
		ssize_t n = tt_read_some(fd, buf, len - got, (int)arg.timeout * 1000);

		if (n < 0)
			tt_die("read after %zu of %zu bytes: %s", got, len, strerror((int)-n));
		if (n == 0)
			tt_die("EOF after %zu of %zu bytes of the echo", got, len);
		if (!tt_stream_check(in, buf, (size_t)n, &bad, &g, &w))
			tt_die("echoed byte %llu is 0x%02x, expected 0x%02x", (unsigned long long)bad, g, w);
		got += (size_t)n;
	}
}

/* COUNT echo rounds of BYTES on one connection, with PAUSE ms of silence
 * between rounds (or --pauses MS,MS,...; --ready FILE gets "PID ROUND"
 * before each pause): what an idle X
 * client does, for the relay's idle-time work (buffer trim). */
static int mode_idle(void)
{
	struct tt_stream out, in;
	uint8_t *buf;
	int fd;

	if (arg.bytes == 0 || arg.bytes > 128 * 1024)
		tt_die("--bytes must be 1..128K (one round must fit the socket buffers)");
	buf = malloc(arg.bytes);
	if (!buf)
		tt_die("out of memory");
	tt_stream_init(&out, arg.seed);
	tt_stream_init(&in, arg.seed);
	tt_phase("connecting");
	fd = connect_retry(false);
	const char *next = arg.pauses;

	for (uint64_t round = 0; round < arg.count; round++) {
		if (round > 0) {
			uint64_t pause = arg.pause_ms;

			/* --pauses MS,MS,...: one per pause, the last one repeated */
			if (next && *next) {
				char *end;

				errno = 0;
				pause = strtoull(next, &end, 10);
				if (errno || end == next || (*end && *end != ','))
					tt_die("--pauses: bad list '%s'", arg.pauses);
				next = *end ? end + 1 : end;
			}
			if (arg.ready)
				tt_write_ready(arg.ready, (uint16_t)round);
			tt_phase("idle");
			(void)usleep((useconds_t)pause * 1000);
		}
		tt_phase("round trip");
		echo_round(fd, &out, &in, buf, arg.bytes);
	}
	close(fd);
	printf("rounds=%llu bytes=%llu digest=%016llx\n", (unsigned long long)arg.count,
	       (unsigned long long)arg.bytes, (unsigned long long)tt_stream_digest(&in));
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------ hold */

static int mode_hold(void)
{
	struct pollfd *pfds;
	uint64_t deadline, closed = 0;
	size_t n = arg.clients;

	pfds = calloc(n, sizeof(*pfds));
	if (!pfds)
		tt_die("out of memory");
	tt_phase("connecting the held clients");
	for (size_t i = 0; i < n; i++) {
		pfds[i].fd = connect_retry(false);
		pfds[i].events = POLLIN;
		if (!arg.no_exchange)
			one_byte_round_trip(pfds[i].fd, "hold");
	}
	if (arg.ready)
		tt_write_ready(arg.ready, 0);
	tt_phase(arg.expect_close ? "waiting for the peer to close every held client" : "holding");
	deadline = arg.hold_ms ? tt_now_ns() + arg.hold_ms * 1000000u : UINT64_MAX;
	/* SIGTERM/SIGINT are blocked except inside ppoll(): one that arrives
	 * between the check of got_term and the wait is not lost. */
	sigset_t block, waitmask;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &block, &waitmask);
	while (!got_term && closed < n) {
		uint64_t now = tt_now_ns(), left;
		struct timespec ts;

		if (deadline != UINT64_MAX && now >= deadline)
			break;
		left = deadline == UINT64_MAX ? 0 : deadline - now;
		ts = (struct timespec) { .tv_sec = (time_t)(left / 1000000000u), .tv_nsec = (long)(left % 1000000000u) };
		if (ppoll(pfds, n, deadline == UINT64_MAX ? NULL : &ts, &waitmask) < 0) {
			if (errno == EINTR)
				continue;
			tt_die("poll: %m");
		}
		for (size_t i = 0; i < n; i++) {
			uint8_t b;
			ssize_t k;

			if (pfds[i].fd < 0 || !pfds[i].revents)
				continue;
			k = recv(pfds[i].fd, &b, 1, MSG_DONTWAIT);
			if (k > 0)
				tt_die("held client %zu: unexpected data", i);
			if (k < 0 && (errno == EAGAIN || errno == EINTR))
				continue;
			if (!arg.expect_close)
				tt_die("held client %zu was closed by the peer (%s)", i, k == 0 ? "EOF" : strerror(errno));
			close(pfds[i].fd);
			pfds[i].fd = -1;
			closed++;
		}
	}
	if (arg.expect_close && closed < n)
		tt_die("only %llu of %zu held clients were closed by the peer", (unsigned long long)closed, n);
	for (size_t i = 0; i < n; i++)
		if (pfds[i].fd >= 0)
			close(pfds[i].fd);
	printf("clients=%zu closed_by_peer=%llu\n", n, (unsigned long long)closed);
	free(pfds);
	return 0;
}

/* ------------------------------------------------------------------ probe */

static int mode_probe(void)
{
	const char *result, *detail = "";
	uint64_t start;
	uint8_t b = 'q', back;
	ssize_t n;
	int fd;

	int wait_ms;

	if (!arg.expect || (!streq(arg.expect, "served") && !streq(arg.expect, "closed") &&
			    !streq(arg.expect, "unserved")))
		tt_die("probe needs --expect served|closed|unserved");
	wait_ms = arg.wait_ms ? (int)arg.wait_ms : (int)MAX(500u, (arg.timeout - 1) * 1000u);
	tt_phase("probing");
	start = tt_now_ns();
	fd = tt_connect(&target, false);
	if (fd < 0) {
		result = "closed";
		detail = strerror(-fd);
	} else {
		if (send(fd, &b, 1, MSG_NOSIGNAL) < 0) {
			result = "closed";
			detail = strerror(errno);
		} else {
			n = tt_read_some(fd, &back, 1, wait_ms);
			if (n == 1 && back == b) {
				result = "served";
			} else if (n == 1) {
				result = "garbled";
			} else if (n == 0) {
				result = "closed";
				detail = "EOF";
			} else if (n == -ETIMEDOUT) {
				result = "hanging";
			} else {
				result = "closed";
				detail = strerror((int)-n);
			}
		}
		close(fd);
	}
	double ms = tt_seconds_since(start) * 1e3;

	printf("result=%s ms=%.1f%s%s\n", result, ms, *detail ? " detail=" : "", detail);
	if (streq(arg.expect, "unserved") ? streq(result, "served") || streq(result, "garbled")
					  : !streq(result, arg.expect))
		tt_die("expected the connection to be %s, it was %s%s%s", arg.expect, result,
		       *detail ? ": " : "", detail);
	if (arg.within_ms && ms > (double)arg.within_ms)
		tt_die("%s after %.1f ms, expected within %llu ms", result, ms, (unsigned long long)arg.within_ms);
	return 0;
}

/* ------------------------------------------------------------------ exhaust */

static int mode_exhaust(void)
{
	struct pollfd *pfds;
	bool *served;
	size_t n = arg.clients, nserved = 0, ndropped = 0, phase1;
	uint64_t stall_end;
	uint8_t b = 'e';

	pfds = calloc(n, sizeof(*pfds));
	served = calloc(n, sizeof(*served));
	if (!pfds || !served)
		tt_die("out of memory");
	tt_phase("connecting");
	for (size_t i = 0; i < n; i++) {
		pfds[i].fd = connect_retry(true);
		pfds[i].events = POLLIN;
		if (send(pfds[i].fd, &b, 1, MSG_NOSIGNAL) != 1)
			tt_die("client %zu: send: %m", i);
	}
	if (arg.ready)
		tt_write_ready(arg.ready, 0);
	/* Phase 1: the relay runs out of fds; whatever it serves stays open. */
	tt_phase("phase 1 (holding what is served)");
	stall_end = tt_now_ns() + arg.stall_ms * 1000000u;
	for (;;) {
		uint64_t now = tt_now_ns();

		if (now >= stall_end)
			break;
		if (poll(pfds, n, (int)((stall_end - now) / 1000000u) + 1) < 0 && errno != EINTR)
			tt_die("poll: %m");
		for (size_t i = 0; i < n; i++) {
			uint8_t back;
			ssize_t k;

			if (served[i] || !pfds[i].revents)
				continue;
			k = recv(pfds[i].fd, &back, 1, MSG_DONTWAIT);
			if (k == 1) {
				served[i] = true;
				nserved++;
				pfds[i].events = 0;
			} else if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				/* A relay may drop a client it accepted with the last
				 * free fd (no fd left for the upstream); a few such. */
				if (++ndropped > arg.max_drops)
					tt_die("client %zu was closed in phase 1 (%s): %zu dropped, at most %llu allowed; the relay must wait for free fds",
					       i, k == 0 ? "EOF" : strerror(errno), ndropped,
					       (unsigned long long)arg.max_drops);
				close(pfds[i].fd);
				pfds[i].fd = -1;
				served[i] = true;  /* out of the game */
			}
		}
	}
	phase1 = nserved;
	printf("phase1_served=%zu clients=%zu dropped=%zu\n", phase1, n, ndropped);
	fflush(stdout);
	if (phase1 == n)
		tt_die("all %zu clients were served in phase 1: the fd limit was never reached", n);
	/* Phase 2: release the served clients; the rest must be served now. */
	static char phase2[160];

	snprintf(phase2, sizeof(phase2),
		 "phase 2 (the rest must be served): %zu served in phase 1, 0 since, %zu waiting",
		 phase1, n - nserved - ndropped);
	tt_phase(phase2);
	for (size_t i = 0; i < n; i++)
		if (served[i] && pfds[i].fd >= 0) {
			close(pfds[i].fd);
			pfds[i].fd = -1;
		}
	while (nserved + ndropped < n) {
		if (poll(pfds, n, -1) < 0 && errno != EINTR)
			tt_die("poll: %m");
		for (size_t i = 0; i < n; i++) {
			uint8_t back;
			ssize_t k;

			if (pfds[i].fd < 0 || !pfds[i].revents)
				continue;
			k = recv(pfds[i].fd, &back, 1, MSG_DONTWAIT);
			if (k == 1) {
				served[i] = true;
				nserved++;
				close(pfds[i].fd);
				pfds[i].fd = -1;
				snprintf(phase2, sizeof(phase2),
					 "phase 2 (the rest must be served): %zu served in phase 1, %zu since, %zu waiting",
					 phase1, nserved - phase1, n - nserved - ndropped);
			} else if (k == 0 || (k < 0 && errno != EAGAIN && errno != EINTR)) {
				tt_die("client %zu was closed in phase 2 (%s)", i, k == 0 ? "EOF" : strerror(errno));
			}
		}
	}
	printf("phase2_served=%zu\n", n - phase1);
	free(pfds);
	free(served);
	return 0;
}

/* ------------------------------------------------------------------ stuck, request, reset */

/* The header of a 'tt-server --in x11' request without a body. */
static void x11_header(uint8_t hdr[8], uint32_t reply_len)
{
	put_le32(hdr, 8);
	put_le32(hdr + 4, reply_len);
}

static int mode_stuck(void)
{
	size_t n = arg.clients;
	int *fds = calloc(n, sizeof(*fds));
	uint8_t hdr[8];

	if (!fds)
		tt_die("out of memory");
	x11_header(hdr, UINT32_MAX);
	tt_phase("connecting the stuck clients");
	for (size_t i = 0; i < n; i++) {
		fds[i] = connect_retry(false);
		tt_write_all(fds[i], hdr, sizeof(hdr));
	}
	/* SIGTERM/SIGINT are blocked except inside sigsuspend(): one that
	 * arrives between the check of got_term and the wait is not lost. */
	sigset_t block, waitmask;

	sigemptyset(&block);
	sigaddset(&block, SIGTERM);
	sigaddset(&block, SIGINT);
	(void)sigprocmask(SIG_BLOCK, &block, &waitmask);
	if (arg.ready)
		tt_write_ready(arg.ready, 0);
	tt_phase("stuck (never reading)");
	while (!got_term)
		(void)sigsuspend(&waitmask);
	for (size_t i = 0; i < n; i++)
		close(fds[i]);
	printf("clients=%zu\n", n);
	free(fds);
	return 0;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static int mode_request(void)
{
	enum { REPLY = 32 };
	size_t n = arg.count;
	double *ms = calloc(n, sizeof(*ms));
	int wait_ms = arg.wait_ms ? (int)arg.wait_ms : (int)(arg.timeout - 1) * 1000;
	uint8_t hdr[8];

	if (!ms || n == 0)
		tt_die("request needs --count >= 1");
	x11_header(hdr, REPLY);
	tt_phase("requests");
	for (size_t i = 0; i < n; i++) {
		struct tt_stream reply;
		uint8_t rbuf[REPLY];
		size_t got = 0;
		uint64_t start = tt_now_ns();
		int fd = connect_retry(false);

		tt_stream_init(&reply, arg.seed + 1);
		tt_write_all(fd, hdr, sizeof(hdr));
		while (got < REPLY) {
			int left = wait_ms - (int)(tt_seconds_since(start) * 1e3);
			ssize_t k = tt_read_some(fd, rbuf + got, REPLY - got, left > 0 ? left : 0);
			uint64_t bad;
			unsigned g, w;

			if (k <= 0) {
				printf("answered=%zu unanswered_after_ms=%.0f\n", i, tt_seconds_since(start) * 1e3);
				fflush(stdout);
				tt_die("request %zu: %s after %.0f ms", i,
				       k == 0 ? "EOF" : k == -ETIMEDOUT ? "no reply" : strerror((int)-k),
				       tt_seconds_since(start) * 1e3);
			}
			if (!tt_stream_check(&reply, rbuf + got, (size_t)k, &bad, &g, &w))
				tt_die("request %zu: reply byte %llu is 0x%02x, expected 0x%02x", i,
				       (unsigned long long)bad, g, w);
			got += (size_t)k;
		}
		ms[i] = tt_seconds_since(start) * 1e3;
		close(fd);
	}
	printf("count=%zu ms=", n);
	for (size_t i = 0; i < n; i++)
		printf("%s%.1f", i ? "," : "", ms[i]);
	qsort(ms, n, sizeof(*ms), cmp_double);
	printf(" median_ms=%.1f max_ms=%.1f\n", n % 2 ? ms[n / 2] : (ms[n / 2 - 1] + ms[n / 2]) / 2, ms[n - 1]);
	free(ms);
	return 0;
}

static int mode_reset(void)
{
	uint8_t *buf = malloc(arg.send ? arg.send : 1);
	struct tt_stream out;
	int fd, unread = 0;
	uint64_t start;

	if (!buf)
		tt_die("out of memory");
	tt_stream_init(&out, arg.seed);
	tt_stream_fill(&out, buf, arg.send);
	fd = connect_retry(false);
	if (arg.send)
		tt_write_all(fd, buf, arg.send);
	/* Wait for the peer's bytes: closing with them unread makes the
	 * kernel report ECONNRESET to the relay's next read. */
	start = tt_now_ns();
	for (;;) {
		struct pollfd pfd = { .fd = fd, .events = POLLIN };

		if (poll(&pfd, 1, 100) < 0 && errno != EINTR)
			tt_die("poll: %m");
		if (ioctl(fd, FIONREAD, &unread) == 0 && unread > 0)
			break;
		if (pfd.revents & (POLLHUP | POLLERR))
			tt_die("the connection was closed before the peer sent anything");
		if (tt_seconds_since(start) > (double)arg.timeout - 1)
			tt_die("nothing arrived from the peer");
	}
	if (arg.pause_ms)
		(void)usleep((useconds_t)arg.pause_ms * 1000u);
	(void)ioctl(fd, FIONREAD, &unread);
	close(fd);
	printf("sent=%llu unread_at_close=%d\n", (unsigned long long)arg.send, unread);
	free(buf);
	return 0;
}

/* ------------------------------------------------------------------ main */

_noreturn_ static void usage(void)
{
	fprintf(stderr,
		"Usage: tt-client MODE --connect ADDR [OPTIONS]\n"
		"  bulk     --send BYTES (--echo | --recv BYTES) [--discard] [--fast] [--expect-cut]\n"
		"           [--min-reply-delay-ms MS] [--until-eof]\n"
		"  pingpong [--count N] [--size BYTES]\n"
		"  mix      [--requests N]\n"
		"  multi    [--clients N] [--bytes BYTES] [--fast] [--keep-open]\n"
		"  churn    [--count N] [--no-exchange]\n"
		"  slow     --recv BYTES [--pause-ms MS] [--ready FILE]\n"
		"  idle     [--count ROUNDS] [--bytes BYTES] [--pause-ms MS | --pauses MS,MS...] [--ready FILE]\n"
		"  hold     [--clients N] [--hold-ms MS] [--expect-close] [--ready FILE]\n"
		"  probe    --expect served|closed|unserved [--within-ms MS] [--wait-ms MS]\n"
		"  exhaust  [--clients N] [--stall-ms MS] [--max-drops N] [--ready FILE]\n"
		"  stuck    [--clients N] [--ready FILE]\n"
		"  request  [--count N] [--wait-ms MS]\n"
		"  reset    [--send BYTES] [--pause-ms MS]\n"
		"Common: [--seed N] [--chunk BYTES] [--timeout SECONDS]\n");
	exit(2);
}

int main(int argc, char *argv[])
{
	static const struct option options[] = {
		{ "connect", required_argument, NULL, 'c' },
		{ "ready", required_argument, NULL, 'R' },
		{ "send", required_argument, NULL, 's' },
		{ "recv", required_argument, NULL, 'r' },
		{ "echo", no_argument, NULL, 'E' },
		{ "discard", no_argument, NULL, 'D' },
		{ "fast", no_argument, NULL, 'F' },
		{ "keep-open", no_argument, NULL, 'O' },
		{ "expect-cut", no_argument, NULL, 'X' },
		{ "min-reply-delay-ms", required_argument, NULL, 'M' },
		{ "count", required_argument, NULL, 'n' },
		{ "size", required_argument, NULL, 'z' },
		{ "requests", required_argument, NULL, 'q' },
		{ "clients", required_argument, NULL, 'C' },
		{ "bytes", required_argument, NULL, 'b' },
		{ "no-exchange", no_argument, NULL, 'N' },
		{ "pause-ms", required_argument, NULL, 'p' },
		{ "hold-ms", required_argument, NULL, 'H' },
		{ "expect-close", no_argument, NULL, 'K' },
		{ "expect", required_argument, NULL, 'e' },
		{ "within-ms", required_argument, NULL, 'w' },
		{ "wait-ms", required_argument, NULL, 'W' },
		{ "max-drops", required_argument, NULL, 'P' },
		{ "stall-ms", required_argument, NULL, 'S' },
		{ "seed", required_argument, NULL, 'd' },
		{ "chunk", required_argument, NULL, 'k' },
		{ "timeout", required_argument, NULL, 't' },
		{ "until-eof", no_argument, NULL, 'U' },
		{ "pauses", required_argument, NULL, 'J' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	static const struct {
		const char *name;
		int (*fn)(void);
	} modes[] = {
		{ "bulk", mode_bulk }, { "pingpong", mode_pingpong }, { "mix", mode_mix },
		{ "multi", mode_multi }, { "churn", mode_churn }, { "slow", mode_slow },
		{ "hold", mode_hold }, { "probe", mode_probe }, { "exhaust", mode_exhaust },
		{ "idle", mode_idle },
		{ "stuck", mode_stuck }, { "request", mode_request }, { "reset", mode_reset },
	};
	struct sigaction sa = { .sa_handler = on_term };
	int (*fn)(void) = NULL;
	int c;

	tt_prog = "tt-client";
	if (argc < 2)
		usage();
	for (size_t i = 0; i < ELEMENTSOF(modes); i++)
		if (streq(argv[1], modes[i].name))
			fn = modes[i].fn;
	if (!fn)
		usage();
	argv[1] = argv[0];
	argc--;
	argv++;
	while ((c = getopt_long(argc, argv, "h", options, NULL)) >= 0) {
		switch (c) {
		case 'c': arg.connect = optarg; break;
		case 'R': arg.ready = optarg; break;
		case 's': arg.send = tt_parse_size("--send", optarg); break;
		case 'r': arg.recv = tt_parse_size("--recv", optarg); arg.have_recv = true; break;
		case 'E': arg.echo = true; break;
		case 'D': arg.discard = true; break;
		case 'F': arg.fast = true; break;
		case 'O': arg.keep_open = true; break;
		case 'X': arg.expect_cut = true; break;
		case 'M': arg.min_reply_delay_ms = tt_parse_uint("--min-reply-delay-ms", optarg, 3600000); break;
		case 'n': arg.count = tt_parse_uint("--count", optarg, 100000000); break;
		case 'z': arg.size = tt_parse_size("--size", optarg); break;
		case 'q': arg.requests = tt_parse_uint("--requests", optarg, 100000000); break;
		case 'C': arg.clients = tt_parse_uint("--clients", optarg, 100000); break;
		case 'b': arg.bytes = tt_parse_size("--bytes", optarg); break;
		case 'N': arg.no_exchange = true; break;
		case 'p': arg.pause_ms = tt_parse_uint("--pause-ms", optarg, 3600000); break;
		case 'H': arg.hold_ms = tt_parse_uint("--hold-ms", optarg, 3600000); break;
		case 'K': arg.expect_close = true; break;
		case 'U': arg.until_eof = true; break;
		case 'J': arg.pauses = optarg; break;
		case 'e': arg.expect = optarg; break;
		case 'w': arg.within_ms = tt_parse_uint("--within-ms", optarg, 3600000); break;
		case 'W': arg.wait_ms = tt_parse_uint("--wait-ms", optarg, 3600000); break;
		case 'P': arg.max_drops = tt_parse_uint("--max-drops", optarg, 100000); break;
		case 'S': arg.stall_ms = tt_parse_uint("--stall-ms", optarg, 3600000); break;
		case 'd': arg.seed = tt_parse_uint("--seed", optarg, UINT32_MAX); break;
		case 'k': arg.chunk = tt_parse_size("--chunk", optarg); break;
		case 't': arg.timeout = (unsigned)tt_parse_uint("--timeout", optarg, 86400); break;
		default: usage();
		}
	}
	if (!arg.connect || optind != argc || arg.chunk == 0 || arg.chunk > 16u * 1024 * 1024 ||
	    arg.clients == 0 || arg.timeout == 0)
		usage();
	if (arg.fast && arg.echo && !arg.discard)
		tt_die("--fast sends bytes that cannot be checked: use it with --discard");
	sigemptyset(&sa.sa_mask);
	if (fn == mode_hold || fn == mode_stuck) {
		/* hold ends cleanly on SIGTERM; every other mode just dies. */
		(void)sigaction(SIGTERM, &sa, NULL);
		(void)sigaction(SIGINT, &sa, NULL);
	}
	(void)signal(SIGPIPE, SIG_IGN);
	tt_parse_addr(arg.connect, &target);
	tt_deadline(arg.timeout);
	return fn();
}
