/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Shared by the relay test tools (tt-client, tt-server): a deterministic byte
 * stream that both ends can regenerate (so every received byte is checked at
 * its exact offset), a running FNV-1a digest for the logs, addresses, time,
 * and dying with one clear line.  The tools speak UNIX and loopback TCP only:
 * they refuse vsock addresses, so that no test ever opens AF_VSOCK here —
 * except inside the check-vm guest (tests/vm/guest-token.h), where
 * 'make bench-vm' runs them over vsock_loopback.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "macro.h"

extern const char *tt_prog;

_noreturn_ void tt_die(const char *format, ...) _printf_(1, 2);
void tt_log(const char *format, ...) _printf_(1, 2);
/* A global deadline: after SECONDS the tool prints what it was doing and exits 1. */
void tt_deadline(unsigned seconds);
void tt_phase(const char *what);

uint64_t tt_now_ns(void);
double tt_seconds_since(uint64_t start_ns);

uint64_t tt_parse_size(const char *opt, const char *s);
uint64_t tt_parse_uint(const char *opt, const char *s, uint64_t max);

/*
 * The stream: byte i of stream `seed` is byte (i % 8) of a 64-bit mix of
 * (seed, i / 8).  Any loss, duplication or reordering shows up at the first
 * offset where it happens.
 */
struct tt_stream {
	uint64_t seed;
	uint64_t offset;        /* bytes generated / verified so far */
	uint64_t digest;        /* FNV-1a over 64-bit words, see tt_digest_word() */
	uint64_t pending_word;  /* bytes of the word being assembled for the digest */
	unsigned pending_len;
};

void tt_stream_init(struct tt_stream *s, uint64_t seed);
/* Fill buf with the next len bytes of the stream and advance. */
void tt_stream_fill(struct tt_stream *s, void *buf, size_t len);
/* Compare buf with the next len bytes; advance and return true when equal,
 * else return false with *ret_bad set to the absolute offset of the first
 * wrong byte (and ret_got, ret_want to the bytes there). */
bool tt_stream_check(struct tt_stream *s, const void *buf, size_t len,
		     uint64_t *ret_bad, unsigned *ret_got, unsigned *ret_want);
/* Account bytes without generating them (discarding receivers). */
void tt_stream_skip(struct tt_stream *s, size_t len);
/* The digest of everything so far, including a partial last word. */
uint64_t tt_stream_digest(const struct tt_stream *s);

/* Addresses: unix:PATH, unix:@NAME, tcp:HOST:PORT; vsock:CID:PORT only in
 * the check-vm guest (a listener binds any CID), refused elsewhere. */
void tt_parse_addr(const char *s, struct addr *ret);
/* A connected (or, when nonblock, connecting) socket; -errno on failure. */
int tt_connect(const struct addr *a, bool nonblock);
/* A listening socket; for tcp port 0 the chosen port is in *ret_port. */
int tt_listen(const struct addr *a, int backlog, uint16_t *ret_port);

/* write()/read() with poll and the global deadline; die on error or EOF. */
void tt_write_all(int fd, const void *buf, size_t len);
/* Returns bytes read (0 on EOF) or -errno (ECONNRESET etc.). */
ssize_t tt_read_some(int fd, void *buf, size_t len, int timeout_ms);

int tt_set_nonblock(int fd, bool on);
/* Write "pid [port]" to path atomically (temp file + rename): tests wait for it. */
void tt_write_ready(const char *path, uint16_t port);
/* Percentile (0..100) of n sorted values. */
double tt_percentile(const double *sorted, size_t n, double pct);
void tt_sort_doubles(double *v, size_t n);
