/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The bytes one direction of an io_uring connection holds (relay_uring_buf.c).
 *
 * Each direction owns its memory: a FIFO of chunks, malloc'ed as receives
 * need them and freed as soon as their bytes are written.  Nothing is shared
 * between connections, so a direction whose sink does not read can hold at
 * most RELAY_HALF_MAX bytes of its own and never takes memory another
 * connection needs to make progress.  Memory is counted in bytes: a 32-byte
 * X11 request costs a chunk sized to what this direction has been
 * receiving, not a fixed 64 KiB.
 *
 * Ownership is in one pair: uring_buf_take() gives the space the next
 * receive writes into (the kernel owns it until that receive completes, and
 * uring_buf_received() gives it back holding n bytes); uring_buf_gather()
 * lends the pending bytes to a send, and uring_buf_sent() gives back what the
 * kernel has written.  A direction has at most one receive and one send in
 * flight, which is what makes this simple: a chunk is freed when it is all
 * sent and no receive writes into it.  No I/O here, no liburing.
 */

#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "relay.h"

/* The smallest and largest receive.  A direction starts small (X11 requests
 * and events are tens of bytes), doubles its receive size each time a
 * receive fills it, and halves it after receives that use little of it. */
#define URING_BUF_MIN 512u
#define URING_BUF_MAX RELAY_BUF_SIZE

/* A direction stops receiving while this much is pending, and a receive
 * never brings its pending bytes past URING_BUF_MAX (what the epoll
 * engine's one buffer holds): memory follows what the sinks take, not what
 * the sources offer.  RELAY_HALF_MAX bounds the memory held, partly sent
 * chunks included. */
#define URING_BUF_MARK (32u * 1024u)

/* A send is linked to its direction's next receive (relay_uring_ops.c)
 * only while the direction holds at most this much: a linked send's chunks
 * are known to be sent, and freed, only when that receive completes, which
 * for a source gone quiet is much later.  128 connections idle after a
 * 30000-byte echo each kept 3.4 MB with every send linked, 2.45 MB this
 * way (the idle relay: 2.0 MB).  X11 requests and events are small; bulk
 * data pays for its send's completion with the bytes it carries. */
#define URING_LINK_HELD_MAX (16u * 1024u)

struct uring_chunk {
	struct uring_chunk *next;
	uint32_t cap;           /* bytes of data[] */
	uint32_t off;           /* first byte not yet sent */
	uint32_t len;           /* end of the bytes received */
	char data[];
};

struct uring_buf {
	struct uring_chunk *head, *tail;
	uint64_t held;          /* bytes of chunk memory held (their cap) */
	uint64_t pending;       /* received, not yet sent */
	unsigned n_chunks;
	uint32_t want;          /* size of the next new chunk */
	uint32_t recv_len;      /* the length given to the receive in flight */
	bool receiving;         /* the kernel owns the tail's free space */
};

void uring_buf_init(struct uring_buf *b);

/* Free everything (no request may be in flight on it any more). */
void uring_buf_release(struct uring_buf *b);

/* May a receive be armed: less than URING_BUF_MARK pending, and space
 * within RELAY_HALF_MAX bytes? */
bool uring_buf_may_take(const struct uring_buf *b);

/* The most the next receive may bring: what keeps the pending bytes within
 * URING_BUF_MAX.  A receive into a shared provided buffer asks for this
 * length too. */
uint32_t uring_buf_room(const struct uring_buf *b);

/* The space the next receive writes into: the tail's free part when it is
 * worth one, else a new chunk within the byte budget, no longer than
 * uring_buf_room().  Returns 0, -ENOBUFS when the direction holds its
 * RELAY_HALF_MAX already or has URING_BUF_MAX pending, -ENOMEM. */
int uring_buf_take(struct uring_buf *b, void **ret_base, uint32_t *ret_len);

/* The receive armed by uring_buf_take() completed with n bytes (0 or
 * more; also after an error or cancellation, with 0). */
void uring_buf_received(struct uring_buf *b, uint32_t n);

/* The pending bytes, oldest first, as at most max iovecs.  Returns the
 * number used. */
unsigned uring_buf_gather(const struct uring_buf *b, struct iovec *iov, unsigned max);

/* Copy n received bytes in (from a shared provided buffer, which goes back
 * to the kernel at once): into the tail's free space, then a new chunk of
 * at least the direction's receive size.  Returns 0 or -ENOMEM. */
int uring_buf_append(struct uring_buf *b, const void *data, uint32_t n);

/* n bytes of what was gathered have been written. */
void uring_buf_sent(struct uring_buf *b, uint64_t n);

/* Drop what is pending (the sink is gone); a receive in flight keeps its
 * chunk until it completes. */
void uring_buf_drop(struct uring_buf *b);
