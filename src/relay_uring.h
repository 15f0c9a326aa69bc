/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure helpers of the io_uring engine (relay_uring.c), kept apart so that
 * the unit tests reach them: what a completion's user_data says, the
 * per-direction queue of received buffers, the marks at which a direction
 * stops and starts receiving again, and the order in which ring setup flags
 * are given up on older kernels.  No I/O, no liburing.
 */

#include <stdbool.h>
#include <stdint.h>

#include "relay.h"

/* ---- user_data: (op, slot, generation) ---- */

/*
 * Bits 0-7 are the operation, 8-31 the connection slot (or the listener),
 * 32-63 the slot's generation.  A slot's generation changes each time it is
 * reused, so a completion that still carries an older generation is known
 * to belong to a connection that has gone.  Op 0 is never used, and no
 * packing is all ones (liburing's reserved LIBURING_UDATA_TIMEOUT).
 */
#define URING_UD_OP_BITS 8
#define URING_UD_SLOT_BITS 24
#define URING_SLOT_MAX ((1u << URING_UD_SLOT_BITS) - 1)

static inline uint64_t uring_ud_pack(unsigned op, uint32_t slot, uint32_t gen)
{
	return (uint64_t)gen << 32 |
	       (uint64_t)(slot & URING_SLOT_MAX) << URING_UD_OP_BITS |
	       (uint64_t)(op & 0xffu);
}

static inline unsigned uring_ud_op(uint64_t ud)
{
	return (unsigned)(ud & 0xffu);
}

static inline uint32_t uring_ud_slot(uint64_t ud)
{
	return (uint32_t)(ud >> URING_UD_OP_BITS) & URING_SLOT_MAX;
}

static inline uint32_t uring_ud_gen(uint64_t ud)
{
	return (uint32_t)(ud >> 32);
}

/* ---- a direction's received buffers, in order ---- */

/*
 * Every buffer of the shared pool belongs to at most one direction at a
 * time, so one "next" array for the whole pool links each direction's
 * buffers into a FIFO without any per-connection storage.
 */
#define URING_BID_NONE 0xffffu

struct uring_bufq {
	uint16_t head;
	uint16_t tail;
	uint16_t count;
};

static inline void uring_bufq_init(struct uring_bufq *q)
{
	q->head = q->tail = URING_BID_NONE;
	q->count = 0;
}

static inline void uring_bufq_push(struct uring_bufq *q, uint16_t *next, uint16_t bid)
{
	next[bid] = URING_BID_NONE;
	if (q->tail == URING_BID_NONE)
		q->head = bid;
	else
		next[q->tail] = bid;
	q->tail = bid;
	q->count++;
}

/* Returns URING_BID_NONE when empty. */
static inline uint16_t uring_bufq_pop(struct uring_bufq *q, const uint16_t *next)
{
	uint16_t bid = q->head;

	if (bid == URING_BID_NONE)
		return bid;
	q->head = next[bid];
	if (q->head == URING_BID_NONE)
		q->tail = URING_BID_NONE;
	q->count--;
	return bid;
}

/* ---- backpressure marks for multishot receives ---- */

/*
 * A multishot receive keeps taking buffers from the shared ring as long as
 * data arrives, so a direction whose sink does not keep up is cancelled at
 * RELAY_HALF_MAX bytes or URING_HALF_BUFS buffers (small reads fill whole
 * buffers), whichever comes first, and re-armed only once it has drained to
 * half of both: one connection cannot hold more than its share of the pool,
 * and a steady stream does not cancel and re-arm on every buffer.
 */
#define URING_HALF_BUFS (RELAY_HALF_MAX / RELAY_BUF_SIZE)

static inline bool uring_half_over(uint64_t pending, unsigned nbufs)
{
	return pending >= RELAY_HALF_MAX || nbufs >= URING_HALF_BUFS;
}

static inline bool uring_half_under(uint64_t pending, unsigned nbufs)
{
	return pending <= RELAY_HALF_MAX / 2 && nbufs <= URING_HALF_BUFS / 2;
}

/* ---- ring setup flags, newest first ---- */

/*
 * The flags the engine asks for, each dropped in turn (newest kernel
 * feature first) when io_uring_setup() says -EINVAL.  Values are the
 * kernel's ABI, spelled out so that this builds with older headers.
 */
#define URING_SETUP_SUBMIT_ALL (1u << 7)        /* 5.18 */
#define URING_SETUP_COOP_TASKRUN (1u << 8)      /* 5.19 */
#define URING_SETUP_SINGLE_ISSUER (1u << 12)    /* 6.0 */
#define URING_SETUP_DEFER_TASKRUN (1u << 13)    /* 6.1, needs SINGLE_ISSUER */

#define URING_SETUP_WANTED (URING_SETUP_SUBMIT_ALL | URING_SETUP_COOP_TASKRUN | \
			    URING_SETUP_SINGLE_ISSUER | URING_SETUP_DEFER_TASKRUN)

/* The next set to try after flags failed; returns flags itself when there
 * is nothing left to drop. */
static inline unsigned uring_setup_flags_fallback(unsigned flags)
{
	static const unsigned order[] = {
		URING_SETUP_DEFER_TASKRUN,
		URING_SETUP_SINGLE_ISSUER,
		URING_SETUP_COOP_TASKRUN,
		URING_SETUP_SUBMIT_ALL,
	};

	for (unsigned i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		if (flags & order[i]) {
			flags &= ~order[i];
			/* DEFER_TASKRUN is refused without SINGLE_ISSUER. */
			if (!(flags & URING_SETUP_SINGLE_ISSUER))
				flags &= ~URING_SETUP_DEFER_TASKRUN;
			return flags;
		}
	return flags;
}
