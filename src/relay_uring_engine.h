/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The io_uring engine's own structures, shared by its four files, each
 * calling only the ones below it (tests/integration/layering.sh checks it):
 *   relay_uring.c        the loop, accepting, signals, stopping, and the
 *                        handlers of those completions
 *   relay_uring_ops.c    a connection: its upstream connect, its I/O, and
 *                        the handlers of its completions
 *   relay_uring_splice.c a direction's bulk data, by splice(2) through a pipe
 *   relay_uring_setup.c  ring setup, feature probes, the engine's knobs, the
 *                        connection slots, the shared ring of provided buffers
 * and relay_uring_buf.c for the bytes each direction holds.
 *
 * One loop iteration: every completion of the batch is handled first (each
 * only records what happened and marks its connection for an update), then
 * each marked connection is updated once -- at most one send per direction
 * with everything pending, shutdowns, receives re-armed -- and all of it is
 * submitted with the wait for the next batch in one io_uring_enter().
 */

#include <liburing.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/uio.h>

#include "relay.h"
#include "relay_uring.h"
#include "relay_uring_buf.h"

enum uring_op {
	URING_OP_NONE = 0,      /* never used: a zero user_data is a bug */
	URING_OP_ACCEPT,        /* slot = listener index */
	URING_OP_SIGNAL,
	URING_OP_ACCEPT_TIMER,  /* the end of an accept pause */
	URING_OP_STOP_TIMER,    /* the deadline of stopping */
	URING_OP_CANCEL,        /* an ASYNC_CANCEL; the cancelled request's CQE is what counts */
	URING_OP_CANCEL_ALL,
	/* per connection, from here on */
	URING_OP_CONNECT_POLL,  /* POLLOUT on a connect(2) in progress */
	URING_OP_CONNECT_TIMEOUT, /* linked to it: the rest of the connect timeout */
	URING_OP_CONNECT_RETRY, /* a UNIX listen queue was full: connect again */
	URING_OP_RECV_UP,       /* recv from the client */
	URING_OP_RECV_DOWN,     /* recv from the upstream */
	URING_OP_SEND_UP,       /* send to the upstream */
	URING_OP_SEND_DOWN,     /* send to the client */
	URING_OP_SENDL_UP,      /* send linked to the next receive: a CQE only on failure */
	URING_OP_SENDL_DOWN,
	URING_OP_SPOLL_IN_UP,   /* a splicing direction's POLLIN on its source (relay_uring_splice.c) */
	URING_OP_SPOLL_IN_DOWN,
	URING_OP_SPOLL_OUT_UP,  /* ... and its POLLOUT on its sink */
	URING_OP_SPOLL_OUT_DOWN,
	URING_OP_COUNT,
};
#define URING_OP_FIRST_CONN URING_OP_CONNECT_POLL

#define URING_NONE UINT32_MAX

/* One direction's I/O, besides the struct half of relay.h. */
struct uring_dir {
	struct uring_buf buf;
	bool recv_armed;
	bool sending;
	bool send_linked;       /* the send in flight is linked to recv_armed's receive */
	uint64_t send_len;      /* bytes a linked send carries */
	unsigned ring_enomem;   /* consecutive -ENOMEM that were the ring's */
	bool nobufs;            /* its receive found the shared ring empty: waits for a buffer */
	struct msghdr msg;      /* the gathering send */
	struct iovec *iov;
	unsigned iov_cap;
	/* Splicing (relay_uring_splice.c). */
	unsigned full_recvs;    /* receives in a row that filled URING_BUF_MAX */
	bool bulk;              /* they make it splice, once nothing is pending */
	bool splicing;          /* the bytes go source -> pipe -> sink */
	bool no_splice;         /* splicing could not start: copy for good */
	bool poll_in;           /* the splice's POLLIN on the source is in flight */
	bool poll_out;          /* the splice's POLLOUT on the sink is in flight */
	bool poll_due;          /* one of them has completed: move again */
	uint32_t in_pipe;       /* bytes in the pipe */
	unsigned small_moves;   /* updates in a row that moved little */
	int pipe[2];            /* -1 until the direction first splices */
};

struct uring_conn {
	struct conn c;          /* first: the state shared with relay.h */
	uint32_t gen;           /* changes each time the slot is reused */
	uint32_t next_free;
	uint32_t next_dirty;
	uint32_t inflight;      /* requests whose last CQE is still due */
	bool dirty;             /* on the list of connections to update */
	bool connect_started;   /* connect(2) said EINPROGRESS: waiting for POLLOUT */
	bool connecting;        /* its poll (and the linked timeout) in flight */
	bool retrying;          /* a connect retry timer in flight */
	bool held;              /* no descriptor for its upstream yet */
	bool cancelled;         /* everything in flight was cancelled */
	int error;
	uint64_t deadline_ms;   /* the end of the upstream connect */
	struct __kernel_timespec connect_ts;   /* the poll's linked timeout: until deadline_ms */
	struct uring_dir dir[2];
};

struct uring_listener {
	int fd;
	bool armed;
	bool multishot;
	unsigned errors;        /* consecutive */
};

struct uring_engine {
	struct relay *r;
	struct io_uring ring;
	unsigned sq_entries;
	unsigned setup_flags;
	bool multishot_accept;
	bool cancel_any;
	bool stopping;
	bool stop_expired;
	uint64_t inflight;      /* every request whose last CQE is due */

	struct uring_listener listeners[RELAY_MAX_LISTEN];
	size_t n_listeners;
	bool accept_paused;
	bool accept_timer;
	bool stop_timer;
	bool signal_armed;
	bool fds_freed;         /* a connection closed: held clients may go on */
	bool accept_pause_due;  /* a connect found no descriptor: the loop pauses accepting */
	uint32_t n_held;        /* clients waiting for a descriptor */
	uint32_t n_upstreams;   /* connections holding an upstream socket */

	struct uring_conn *conns;
	uint32_t n_slots;       /* allocated */
	uint32_t slots_used;    /* high-water mark */
	uint32_t free_head;
	uint32_t dirty_head, dirty_tail;
	bool sqe_short;         /* some work found no SQE: redo it next loop, without waiting */
	unsigned sqe_fail_every; /* X410_VSOCK_URING_SQE_FAIL: about one uring_sqe() in N finds none */
	uint32_t sqe_fail_state;
	bool send_link;         /* sends linked to the next receive (5.19+, see uring_dir_send()) */
	uint32_t pipes_max;     /* splicing's pipes the descriptors allow (relay_uring_splice.c) */
	uint32_t n_pipes;

	/* Receiving into shared provided buffers (Linux 5.19), copied out at
	 * once into the direction's own chunks: see relay_uring_setup.c. */
	struct uring_pbufs {
		bool on;
		struct io_uring_buf_ring *br;
		size_t br_bytes;
		char *mem;
		size_t mem_bytes;
		unsigned circulating;   /* buffers given to the ring so far */
		bool starved;           /* a receive found the ring empty */
		uint32_t n_waiting;     /* directions with nobufs set */
		uint64_t given_back;    /* buffers given back, ever */
		uint64_t given_back_seen;
	} pb;

	struct __kernel_timespec pause_ts, stop_ts, retry_ts;
};

#define URING_PBUF_GROUP 0

#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1)
#endif

/* One operation's rules: each file that handles completions has a table. */
struct uring_handler {
	unsigned op;
	const char *name;
	/* res >= 0 */
	void (*on_success)(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			   const struct io_uring_cqe *cqe);
	/* res < 0 */
	void (*on_error)(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			 const struct io_uring_cqe *cqe);
};

/* The request's last completion (a multishot one says more will come). */
static inline bool uring_cqe_last(const struct io_uring_cqe *cqe)
{
	return !(cqe->flags & IORING_CQE_F_MORE);
}

static inline uint32_t uring_slot_of(const struct uring_engine *e, const struct uring_conn *u)
{
	return (uint32_t)(u - e->conns);
}

/* ---- relay_uring_setup.c (the bottom) ---- */

int uring_engine_init(struct uring_engine *e, struct relay *r);
/* io_uring_queue_exit(): then no request can touch the engine's memory. */
void uring_ring_exit(struct uring_engine *e);
/* Free the slots and the provided buffers (connections freed before). */
void uring_engine_done(struct uring_engine *e);
int uring_probe(char *why, size_t why_size);
struct __kernel_timespec uring_ms_to_ts(uint64_t ms);

/* A provided buffer's bytes, and giving it back to the kernel's ring. */
char *uring_pbuf_data(const struct uring_engine *e, uint16_t bid);
void uring_pbuf_give_back(struct uring_engine *e, uint16_t bid);
/* A receive found the ring empty (pb.starved): put more buffers in
 * circulation, up to URING_PBUF_MAX. */
void uring_pbuf_grow(struct uring_engine *e);

/* n adjacent SQEs (a poll and its linked timeout), flushing the SQ with
 * io_uring_submit() when it is full.  NULL only when even that fails: the
 * caller leaves its state "not armed" and e->sqe_short makes the loop come
 * back to it at once. */
struct io_uring_sqe *uring_sqe(struct uring_engine *e, unsigned n);
void uring_sqe_data(struct io_uring_sqe *sqe, unsigned op, uint32_t slot, uint32_t gen);
/* A request is in flight (u: of that connection, or NULL), and its last
 * completion came. */
void uring_op_begin(struct uring_engine *e, struct uring_conn *u);
void uring_op_end(struct uring_engine *e, struct uring_conn *u);
void uring_cancel(struct uring_engine *e, uint64_t ud);
/* A handler with nothing to do. */
void uring_nothing(struct uring_engine *e, struct uring_conn *u, uint32_t slot, const struct io_uring_cqe *cqe);

/* A free slot (NULL: none), and the connection of a completion (NULL: the
 * slot's earlier occupant's). */
struct uring_conn *uring_conn_alloc(struct uring_engine *e);
struct uring_conn *uring_conn_lookup(struct uring_engine *e, uint32_t slot, uint32_t gen);
/* Close u's descriptors, say it is closed (relay_client_closed()), and free
 * its slot: after its last completion. */
void uring_conn_free(struct uring_engine *e, struct uring_conn *u);
/* After the ring is gone: free every connection still there. */
void uring_conn_free_all(struct uring_engine *e);
/* End u (error 0: normal, or already reported); freed when its last request
 * has completed. */
void uring_conn_end(struct uring_engine *e, struct uring_conn *u, int error);
void uring_conn_cancel_all(struct uring_engine *e, struct uring_conn *u);
/* Cancel direction d's splice polls in flight (relay_uring_splice.c); also
 * part of uring_conn_cancel_all(). */
void uring_splice_cancel(struct uring_engine *e, struct uring_conn *u, enum relay_dir d);

/* ---- relay_uring_splice.c (calls setup) ---- */

/* URING_SPLICE_ENTER receives in a row that each filled URING_BUF_MAX
 * make a direction splice; URING_SPLICE_SMALL updates in a row that found
 * its pipe empty after moving less than URING_SPLICE_LEAVE make it receive
 * through the ring again.  One full receive was not enough: the X11-like
 * pipelined mix then spliced often, at 0.27 system calls per request
 * instead of 0.18 (tests/bench/relay-cost.sh), for no gain on x11perf. */
#define URING_SPLICE_ENTER 4u
#define URING_SPLICE_LEAVE (16u * 1024u)
#define URING_SPLICE_SMALL 4u

/* What uring_splice_move() did, for the caller to apply. */
struct uring_splice_res {
	uint64_t in, out;       /* bytes read from the source, written to the sink */
	bool eof;               /* the source's end (with the pipe empty, or not) */
	int source_error;       /* the splice from the source failed: -errno */
	int sink_error;         /* the splice into the sink failed: -errno */
	bool no_sqe;            /* its poll found no SQE: update it again */
};

/* Direction d (nothing pending, nothing in flight) splices from now on:
 * its pipe made, both sockets non-blocking.  -errno when it cannot: its
 * source or sink is not a UNIX socket (-EOPNOTSUPP), or the descriptors beyond what
 * the clients need are taken (-EMFILE, e->pipes_max). */
int uring_splice_begin(struct uring_engine *e, struct uring_conn *u, enum relay_dir d);
/* Move what can be moved now, then arm the polls that say when to go on
 * (none when the source has ended and the pipe is empty, or an error came).
 * Clears ud->splicing when the direction should receive through the ring
 * again.  Does nothing while its polls are in flight and none has
 * completed. */
void uring_splice_move(struct uring_engine *e, struct uring_conn *u, enum relay_dir d,
		       struct uring_splice_res *res);
/* Whether a poll of direction d's splicing is in flight. */
static inline bool uring_splice_polling(const struct uring_dir *ud)
{
	return ud->poll_in || ud->poll_out;
}

/* ---- relay_uring_ops.c (calls setup and splice) ---- */

/* Make u's upstream socket (once) and connect it.  Out of descriptors, u
 * is held and e->accept_pause_due set. */
void uring_conn_connect(struct uring_engine *e, struct uring_conn *u);
/* u's connect failed: say so (relay.h) and end it. */
void uring_conn_connect_failed(struct uring_engine *e, struct uring_conn *u, int error);
/* Something happened on u: update it after the batch. */
void uring_conn_mark(struct uring_engine *e, struct uring_conn *u);
/* Update every marked connection (once each). */
void uring_conn_flush(struct uring_engine *e);
/* Receives waiting for provided buffers: more buffers, and wake them once
 * some have come back. */
void uring_pbuf_starved(struct uring_engine *e);
/* One completion of a connection's operation (op >= URING_OP_FIRST_CONN). */
void uring_conn_dispatch(struct uring_engine *e, const struct io_uring_cqe *cqe);
