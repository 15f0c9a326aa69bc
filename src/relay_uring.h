/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Pure helpers of the io_uring engine, kept apart so that the unit tests
 * reach them: what a completion's user_data says and the order in which
 * ring setup flags are given up on older kernels.  No I/O, no liburing.
 * The engine's own structures are in relay_uring_engine.h.
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
