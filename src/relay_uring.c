/* SPDX-License-Identifier: MIT */
/*
 * The io_uring relay engine: one thread, one ring.
 *
 * A loop iteration handles a batch of completions, preparing the SQEs they
 * call for as it goes; it then submits all of them and waits for the next
 * batch with one io_uring_submit_and_wait(), and retires the whole batch
 * with one io_uring_cq_advance().  Every request's user_data packs the
 * operation, the connection slot and the slot's generation
 * (relay_uring.h), so that a completion of a slot's earlier occupant is
 * recognised and dropped.
 *
 * Receiving, best first, chosen at run time:
 *  - multishot recv into a provided-buffer ring shared by all connections
 *    (Linux 6.0): an idle connection holds no buffer at all;
 *  - one plain recv at a time into a buffer of the direction's own (5.7+).
 * Each direction keeps what it has received in order and has at most one
 * send in flight, so bytes leave in the order they came; a short send is
 * resubmitted from where it stopped.  The half-close, backpressure and
 * end-of-connection rules are relay.h's, applied in conn_update().
 *
 * The pool's buffers go back to the kernel's ring most recently used first
 * (a user-space stack feeds a ring kept only as full as the traffic needs),
 * so a busy relay cycles through a few cache-warm buffers instead of
 * touching the whole pool, and buffers idle for a while are given back to
 * the kernel (MADV_DONTNEED): an idle relay stays small.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <liburing.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "relay.h"
#include "relay_uring.h"
#include "util.h"

/* Kernel ABI values missing from older liburing headers. */
#ifndef IORING_CQE_F_MORE
#define IORING_CQE_F_MORE (1U << 1)
#endif
#ifndef IORING_CQE_BUFFER_SHIFT
#define IORING_CQE_BUFFER_SHIFT 16
#endif
#ifndef IORING_RECV_MULTISHOT
#define IORING_RECV_MULTISHOT (1U << 1)
#endif
#ifndef IORING_ACCEPT_MULTISHOT
#define IORING_ACCEPT_MULTISHOT (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ALL
#define IORING_ASYNC_CANCEL_ALL (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ANY
#define IORING_ASYNC_CANCEL_ANY (1U << 2)
#endif
#ifndef IORING_SQ_CQ_OVERFLOW
#define IORING_SQ_CQ_OVERFLOW (1U << 1)
#endif
#ifndef IORING_FEAT_FAST_POLL
#define IORING_FEAT_FAST_POLL (1U << 5)
#endif

/* 256 SQEs cover a batch of completions that each need a few SQEs; the CQ
 * is larger because multishot requests post many CQEs per SQE. */
#define URING_SQ_ENTRIES 256u
#define URING_CQ_ENTRIES 1024u
/* The pool: at most 256 buffers of RELAY_BUF_SIZE (16 MiB of address
 * space, touched only as traffic needs it).  The kernel's ring starts with
 * URING_RING_BASE of them and grows when a direction starves for one. */
#define URING_NBUF 256u
#define URING_RING_BASE 4u
#define URING_BGID 0
/* Buffers unused for this long are given back to the kernel. */
#define URING_TRIM_MS 2000u
/* How long stopping waits for cancelled requests before it gives up. */
#define URING_STOP_MS 2000u
/* Consecutive accept errors that do not pause accepting, after which the
 * engine pauses anyway: a persistent error must not become a busy loop. */
#define URING_ACCEPT_ERRORS_MAX 16u

enum {
	OP_ACCEPT = 1,          /* slot = listener index */
	OP_SIGNAL,
	OP_ACCEPT_TIMER,
	OP_TRIM_TIMER,
	OP_STOP_TIMER,
	OP_CANCEL,              /* an ASYNC_CANCEL; its completion is ignored */
	OP_CANCEL_ALL,
	OP_PROBE_RECV,          /* the multishot receive test at start */
	/* per connection, from here on */
	OP_CONNECT,
	OP_CONNECT_TIMEOUT,
	OP_RECV_UP,             /* recv from the client */
	OP_RECV_DOWN,           /* recv from the upstream */
	OP_SEND_UP,             /* send to the upstream */
	OP_SEND_DOWN,           /* send to the client */
};

enum {
	DIR_UP = 0,             /* client -> upstream */
	DIR_DOWN = 1,           /* upstream -> client */
};

enum {
	RECV_IDLE,
	RECV_ARMED,
	RECV_CANCELLING,        /* cancelled for backpressure; its last CQE is due */
};

#define WAIT_NONE UINT32_MAX

/* One direction's I/O state, besides struct half (pending, eof, shut). */
struct uhalf {
	struct uring_bufq q;    /* buffer ring: received buffers, oldest first */
	uint32_t off;           /* bytes of the first buffer already sent */
	uint8_t recv;           /* RECV_* */
	bool sending;
	bool nobufs;            /* a receive found the buffer ring empty */
	/* The ENOBUFS wait list belongs to the slot, not to the connection:
	 * an entry may outlive its connection and is checked when popped. */
	bool in_wait;
	uint32_t wait_next;
	char *buf;              /* plain receive: this direction's own buffer */
	uint32_t len;           /* plain receive: bytes in buf */
	struct msghdr msg;      /* a sendmsg of several buffers */
	struct iovec iov[URING_HALF_BUFS];
};

struct uconn {
	struct conn c;          /* first: the state shared with relay.h */
	uint32_t gen;
	uint32_t next_free;
	uint32_t inflight;      /* requests whose last CQE is still due */
	bool connecting;        /* connect (and its linked timeout) in flight */
	bool held;              /* no descriptor for its upstream yet */
	bool cancelled;         /* everything in flight was cancelled at once */
	int error;
	struct uhalf half[2];
};

struct listener {
	int fd;
	bool armed;
	bool multishot;
	unsigned errors;        /* consecutive errors */
};

enum {
	BUF_STACK,              /* held by the engine, unused */
	BUF_RING,               /* in the kernel's ring */
	BUF_LENT,               /* holds received bytes */
};

/* The provided buffers (multishot receive only). */
struct pool {
	struct io_uring_buf_ring *br;
	size_t br_bytes;
	char *mem;
	size_t mem_bytes;
	uint16_t next[URING_NBUF];      /* the directions' FIFOs */
	uint32_t len[URING_NBUF];       /* bytes received into each */
	uint16_t stack[URING_NBUF];     /* held here, most recently used on top */
	uint8_t dirty[URING_NBUF];      /* touched since the last trim */
	uint8_t where[URING_NBUF];      /* BUF_* */
	unsigned n_free;
	unsigned in_ring;               /* given to the kernel, not yet used */
	unsigned target;                /* how many in_ring should be */
	bool unregistered;              /* the ring could not be registered again */
	uint64_t lent_total;            /* buffers received into, ever */
	uint64_t lent_at_trim_arm;
};

struct engine {
	struct relay *r;
	struct io_uring ring;
	unsigned setup_flags;
	bool multishot_accept;
	bool buf_ring;
	bool cancel_any;
	bool stopping;
	uint64_t inflight;      /* every request whose last CQE is due */

	struct listener listeners[RELAY_MAX_LISTEN];
	size_t n_listeners;
	bool accept_paused;
	bool fds_freed;         /* a connection closed in this batch */
	uint32_t n_held;        /* clients waiting for a descriptor */
	uint32_t n_upstreams;   /* connections holding an upstream socket */
	bool accept_timer;
	bool trim_timer;
	bool stop_timer;
	bool stop_expired;
	bool signal_armed;

	struct uconn *conns;
	uint32_t n_slots;       /* allocated */
	uint32_t slots_used;    /* high-water mark: slots below it were used */
	uint32_t free_head;     /* freed slots, linked through next_free */

	uint32_t wait_head;     /* directions waiting for buffers, (slot << 1 | dir) */
	uint32_t wait_tail;

	struct pool pool;

	struct __kernel_timespec connect_ts, pause_ts, trim_ts, stop_ts;
};

static void conn_update(struct engine *e, struct uconn *u);
static void conn_end(struct engine *e, struct uconn *u, int error);

static struct __kernel_timespec ms_to_ts(uint64_t ms)
{
	return (struct __kernel_timespec){
		.tv_sec = (long long)(ms / 1000),
		.tv_nsec = (long long)(ms % 1000) * 1000000,
	};
}

/* ---- submission ---- */

/*
 * n SQEs in a row (a connect and its linked timeout must be adjacent).  The
 * SQ is sized for a batch; only when a burst of completions fills it is it
 * submitted early, which keeps the order of everything prepared so far.
 */
static struct io_uring_sqe *engine_sqe(struct engine *e, unsigned n)
{
	for (unsigned tries = 0; io_uring_sq_space_left(&e->ring) < n && tries < 8; tries++) {
		int r = io_uring_submit(&e->ring);

		if (r < 0 && r != -EINTR && r != -EAGAIN && r != -EBUSY) {
			log_debug_errno(r, "io_uring: early submit failed: %m");
			break;
		}
	}
	if (io_uring_sq_space_left(&e->ring) < n)
		return NULL;
	return io_uring_get_sqe(&e->ring);
}

static void sqe_data(struct io_uring_sqe *sqe, unsigned op, uint32_t slot, uint32_t gen)
{
	sqe->user_data = uring_ud_pack(op, slot, gen);
}

static void op_begin(struct engine *e, struct uconn *u)
{
	e->inflight++;
	if (u)
		u->inflight++;
}

static void op_end(struct engine *e, struct uconn *u)
{
	if (e->inflight > 0)
		e->inflight--;
	if (u && u->inflight > 0)
		u->inflight--;
}

static void prep_cancel_ud(struct io_uring_sqe *sqe, uint64_t ud, unsigned flags)
{
	io_uring_prep_rw(IORING_OP_ASYNC_CANCEL, sqe, -1, NULL, 0, 0);
	sqe->addr = ud;
	sqe->cancel_flags = flags;
}

/* Cancel one request by its user_data.  The cancel's own completion is
 * ignored: the cancelled request's last CQE is what is waited for. */
static void cancel_request(struct engine *e, uint64_t ud)
{
	struct io_uring_sqe *sqe = engine_sqe(e, 1);

	if (!sqe)
		return;
	prep_cancel_ud(sqe, ud, 0);
	sqe_data(sqe, OP_CANCEL, 0, 0);
}

/* ---- connection slots ---- */

static uint32_t slot_of(const struct engine *e, const struct uconn *u)
{
	return (uint32_t)(u - e->conns);
}

static struct half *half_of(struct uconn *u, unsigned d)
{
	return d == DIR_UP ? &u->c.up : &u->c.down;
}

static int half_source(const struct uconn *u, unsigned d)
{
	return d == DIR_UP ? u->c.client_fd : u->c.upstream_fd;
}

static int half_sink(const struct uconn *u, unsigned d)
{
	return d == DIR_UP ? u->c.upstream_fd : u->c.client_fd;
}

static void uhalf_reset(struct uhalf *uh)
{
	/* in_wait and wait_next stay: they are the slot's. */
	uring_bufq_init(&uh->q);
	uh->off = 0;
	uh->recv = RECV_IDLE;
	uh->sending = false;
	uh->nobufs = false;
	uh->buf = NULL;
	uh->len = 0;
}

static struct uconn *conn_alloc(struct engine *e)
{
	struct uconn *u;

	if (e->free_head != WAIT_NONE) {
		u = &e->conns[e->free_head];
		e->free_head = u->next_free;
	} else if (e->slots_used < e->n_slots) {
		u = &e->conns[e->slots_used++];
		u->half[0].wait_next = u->half[1].wait_next = WAIT_NONE;
	} else
		return NULL;

	u->c = (struct conn){ .client_fd = -1, .upstream_fd = -1 };
	u->inflight = 0;
	u->connecting = false;
	u->held = false;
	u->cancelled = false;
	u->error = 0;
	uhalf_reset(&u->half[0]);
	uhalf_reset(&u->half[1]);
	return u;
}

/* The live connection a completion is for, or NULL for a stale one. */
static struct uconn *conn_lookup(struct engine *e, uint32_t slot, uint32_t gen)
{
	struct uconn *u;

	if (slot >= e->slots_used)
		return NULL;
	u = &e->conns[slot];
	if (u->c.state == CONN_FREE || u->gen != gen)
		return NULL;
	return u;
}

/* ---- the buffer pool ---- */

static char *pool_buf(const struct engine *e, uint16_t bid)
{
	return e->pool.mem + (size_t)bid * RELAY_BUF_SIZE;
}

static void pool_put(struct engine *e, uint16_t bid)
{
	e->pool.where[bid] = BUF_STACK;
	e->pool.stack[e->pool.n_free++] = bid;
}

/* A CQE carried a buffer: the kernel took it from the ring. */
static uint16_t pool_taken(struct engine *e, const struct io_uring_cqe *cqe)
{
	uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

	if (e->pool.in_ring > 0)
		e->pool.in_ring--;
	e->pool.where[bid] = BUF_LENT;
	e->pool.dirty[bid] = 1;
	e->pool.lent_total++;
	return bid;
}

static int pool_register(struct engine *e)
{
	struct io_uring_buf_reg reg = {
		.ring_addr = (uint64_t)(uintptr_t)e->pool.br,
		.ring_entries = URING_NBUF,
		.bgid = URING_BGID,
	};

#if HAVE_DECL_IO_URING_BUF_RING_INIT
	io_uring_buf_ring_init(e->pool.br);
#else
	e->pool.br->tail = 0;
#endif
	return io_uring_register_buf_ring(&e->ring, &reg, 0);
}

/* Keep the kernel's ring as full as the target, from the top of the stack
 * (the most recently used, cache-warm buffers).  One release store per
 * batch publishes them. */
static void pool_refill(struct engine *e)
{
	struct pool *p = &e->pool;
	unsigned added = 0;

	if (!p->br)
		return;
	if (p->unregistered) {
		if (pool_register(e) < 0)
			return;
		p->unregistered = false;
	}
	while (p->in_ring < p->target && p->n_free > 0) {
		uint16_t bid = p->stack[--p->n_free];

		io_uring_buf_ring_add(p->br, pool_buf(e, bid), RELAY_BUF_SIZE, bid,
				      (int)(URING_NBUF - 1), (int)added++);
		p->where[bid] = BUF_RING;
		p->in_ring++;
	}
	if (added > 0)
		io_uring_buf_ring_advance(p->br, (int)added);
}

/* The ring ran dry: let it hold more. */
static void pool_grow(struct engine *e)
{
	e->pool.target = MIN(URING_NBUF, e->pool.target * 2);
}


/*
 * Take back the buffers the kernel's ring holds: the kernel may write into
 * those at any time, so they can be given back to the kernel's memory only
 * once the ring is unregistered.  It is registered again at once, empty;
 * a receive that looks for a buffer meanwhile fails with ENOBUFS and is
 * re-armed like any other.
 */
static int pool_reclaim_ring(struct engine *e)
{
	struct pool *p = &e->pool;
	int r;

	struct io_uring_cqe *cqe;
	unsigned head;

	r = io_uring_unregister_buf_ring(&e->ring, URING_BGID);
	if (r < 0)
		return r;
	/* The kernel may have taken buffers from the ring for completions
	 * still in the CQ (later in this batch): those hold data, not free
	 * ones.  Their completions were posted before the unregister, and
	 * nothing takes from the ring after it. */
	io_uring_for_each_cqe(&e->ring, head, cqe) {
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);

		if ((cqe->flags & IORING_CQE_F_BUFFER) && bid < URING_NBUF && p->where[bid] == BUF_RING)
			p->where[bid] = BUF_LENT;
	}
	for (unsigned bid = URING_NBUF; bid > 0; bid--)
		if (p->where[bid - 1] == BUF_RING)
			pool_put(e, (uint16_t)(bid - 1));
	p->in_ring = 0;
	r = pool_register(e);
	if (r < 0) {
		/* Retried by pool_refill(); receives wait meanwhile. */
		p->unregistered = true;
		return r;
	}
	return 0;
}

/* Any buffer the engine does not hold data in that was written to? */
static bool pool_dirty_idle(const struct engine *e)
{
	for (unsigned bid = 0; bid < URING_NBUF; bid++)
		if (e->pool.dirty[bid] && e->pool.where[bid] != BUF_LENT)
			return true;
	return false;
}

/* Give back the memory of buffers that sat unused since the trim timer
 * was armed, and shrink the ring to its base size. */
static void pool_trim(struct engine *e)
{
	struct pool *p = &e->pool;
	unsigned trimmed = 0;
	int r;

	if (p->lent_total != p->lent_at_trim_arm)
		return;          /* busy: try again later */
	/* Completions the CQ had no room for are not visible to
	 * pool_reclaim_ring(): some may hold buffers.  Later. */
	if (__atomic_load_n(e->ring.sq.kflags, __ATOMIC_ACQUIRE) & IORING_SQ_CQ_OVERFLOW)
		return;
	for (unsigned bid = 0; bid < URING_NBUF; bid++)
		if (p->dirty[bid] && p->where[bid] == BUF_RING) {
			r = pool_reclaim_ring(e);
			if (r < 0)
				log_debug_errno(r, "io_uring: cannot take back the buffer ring: %m");
			break;
		}
	for (unsigned i = 0; i < p->n_free; i++) {
		uint16_t bid = p->stack[i];

		if (!p->dirty[bid])
			continue;
		if (madvise(pool_buf(e, bid), RELAY_BUF_SIZE, MADV_DONTNEED) == 0) {
			p->dirty[bid] = 0;
			trimmed++;
		}
	}
	p->target = URING_RING_BASE;
	if (trimmed > 0)
		log_debug("io_uring: gave back %u idle buffers", trimmed);
}

static void pool_free(struct engine *e)
{
	struct pool *p = &e->pool;

	if (p->br) {
		(void)io_uring_unregister_buf_ring(&e->ring, URING_BGID);
		(void)munmap(p->br, p->br_bytes);
		p->br = NULL;
	}
	if (p->mem) {
		(void)munmap(p->mem, p->mem_bytes);
		p->mem = NULL;
	}
}

static int pool_setup(struct engine *e)
{
	struct pool *p = &e->pool;
	void *m;
	int r;

	p->br_bytes = URING_NBUF * sizeof(struct io_uring_buf);
	m = mmap(NULL, p->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	p->br = m;
	r = pool_register(e);
	if (r < 0) {
		(void)munmap(p->br, p->br_bytes);
		p->br = NULL;
		return r;
	}

	p->mem_bytes = (size_t)URING_NBUF * RELAY_BUF_SIZE;
	m = mmap(NULL, p->mem_bytes, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		r = -errno;
		pool_free(e);
		return r;
	}
	p->mem = m;

	/* Buffer 0 on top. */
	p->n_free = 0;
	for (unsigned i = URING_NBUF; i > 0; i--)
		p->stack[p->n_free++] = (uint16_t)(i - 1);
	p->in_ring = 0;
	p->target = URING_RING_BASE;
	return 0;
}

/* ---- directions waiting for buffers ---- */

static void wait_push(struct engine *e, struct uconn *u, unsigned d)
{
	struct uhalf *uh = &u->half[d];
	uint32_t key = slot_of(e, u) << 1 | d;

	if (uh->in_wait)
		return;
	uh->in_wait = true;
	uh->wait_next = WAIT_NONE;
	if (e->wait_tail == WAIT_NONE)
		e->wait_head = key;
	else
		e->conns[e->wait_tail >> 1].half[e->wait_tail & 1].wait_next = key;
	e->wait_tail = key;
}

/* Buffers are back: re-arm, oldest first, as many waiting directions as
 * the ring can now serve. */
static void wait_rearm(struct engine *e)
{
	unsigned budget = e->pool.in_ring;

	while (e->wait_head != WAIT_NONE && budget > 0) {
		uint32_t key = e->wait_head;
		struct uconn *u = &e->conns[key >> 1];
		struct uhalf *uh = &u->half[key & 1];

		e->wait_head = uh->wait_next;
		if (e->wait_head == WAIT_NONE)
			e->wait_tail = WAIT_NONE;
		uh->in_wait = false;
		uh->wait_next = WAIT_NONE;
		if (u->c.state != CONN_RELAYING || !uh->nobufs)
			continue;
		uh->nobufs = false;
		budget--;
		conn_update(e, u);
	}
}

/* ---- one direction ---- */

static void half_arm_recv(struct engine *e, struct uconn *u, unsigned d)
{
	struct uhalf *uh = &u->half[d];
	struct io_uring_sqe *sqe;

	if (!e->buf_ring && !uh->buf) {
		uh->buf = malloc(RELAY_BUF_SIZE);
		if (!uh->buf) {
			conn_end(e, u, -ENOMEM);
			return;
		}
	}
	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	if (e->buf_ring) {
#if HAVE_DECL_IO_URING_PREP_RECV_MULTISHOT
		io_uring_prep_recv_multishot(sqe, half_source(u, d), NULL, 0, 0);
#else
		io_uring_prep_recv(sqe, half_source(u, d), NULL, 0, 0);
		sqe->ioprio |= IORING_RECV_MULTISHOT;
#endif
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = URING_BGID;
	} else
		io_uring_prep_recv(sqe, half_source(u, d), uh->buf, RELAY_BUF_SIZE, 0);
	sqe_data(sqe, OP_RECV_UP + d, slot_of(e, u), u->gen);
	uh->recv = RECV_ARMED;
	op_begin(e, u);
}

static void half_send(struct engine *e, struct uconn *u, unsigned d)
{
	struct uhalf *uh = &u->half[d];
	struct io_uring_sqe *sqe;
	unsigned n = 0;

	if (e->buf_ring) {
		uint32_t off = uh->off;

		for (uint16_t bid = uh->q.head; bid != URING_BID_NONE && n < URING_HALF_BUFS;
		     bid = e->pool.next[bid]) {
			uh->iov[n].iov_base = pool_buf(e, bid) + off;
			uh->iov[n].iov_len = e->pool.len[bid] - off;
			n++;
			off = 0;
		}
	} else {
		uh->iov[0].iov_base = uh->buf + uh->off;
		uh->iov[0].iov_len = uh->len - uh->off;
		n = 1;
	}
	if (n == 0)
		return;

	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	if (n == 1)
		io_uring_prep_send(sqe, half_sink(u, d), uh->iov[0].iov_base, uh->iov[0].iov_len, MSG_NOSIGNAL);
	else {
		uh->msg = (struct msghdr){ .msg_iov = uh->iov, .msg_iovlen = n };
		io_uring_prep_sendmsg(sqe, half_sink(u, d), &uh->msg, MSG_NOSIGNAL);
	}
	sqe_data(sqe, OP_SEND_UP + d, slot_of(e, u), u->gen);
	uh->sending = true;
	op_begin(e, u);
}

/* n bytes of this direction have been written to its sink. */
static void half_sent(struct engine *e, struct uconn *u, unsigned d, uint32_t n)
{
	struct half *h = half_of(u, d);
	struct uhalf *uh = &u->half[d];

	h->pending -= MIN((uint64_t)n, h->pending);
	if (d == DIR_UP)
		e->r->stats.bytes_up += n;
	else
		e->r->stats.bytes_down += n;

	if (!e->buf_ring) {
		uh->off += n;
		if (uh->off >= uh->len)
			uh->off = uh->len = 0;
		return;
	}
	while (n > 0 && uh->q.head != URING_BID_NONE) {
		uint16_t bid = uh->q.head;
		uint32_t left = e->pool.len[bid] - uh->off;

		if (n < left) {
			uh->off += n;
			break;
		}
		n -= left;
		uh->off = 0;
		pool_put(e, uring_bufq_pop(&uh->q, e->pool.next));
	}
}

static void half_received(struct engine *e, struct uconn *u, unsigned d, const struct io_uring_cqe *cqe)
{
	struct half *h = half_of(u, d);
	struct uhalf *uh = &u->half[d];
	uint32_t n = (uint32_t)cqe->res;

	if (e->buf_ring) {
		uint16_t bid = pool_taken(e, cqe);

		e->pool.len[bid] = n;
		uring_bufq_push(&uh->q, e->pool.next, bid);
	} else {
		uh->off = 0;
		uh->len = n;
	}
	h->pending += n;
	h->received += n;
}

/* Give back whatever a direction still holds (the connection has ended). */
static void half_release(struct engine *e, struct uhalf *uh)
{
	uint16_t bid;

	while ((bid = uring_bufq_pop(&uh->q, e->pool.next)) != URING_BID_NONE)
		pool_put(e, bid);
	free(uh->buf);
	uh->buf = NULL;
	uh->len = uh->off = 0;
}

/* ---- a connection ---- */

/*
 * Apply relay.h's rules to both directions after anything happened on the
 * connection: send what is pending, forward a finished source's end with
 * shutdown(SHUT_WR) once everything before it is written, stop or restart
 * receiving at the backpressure marks, and end the connection when both
 * directions have ended.
 */
static void conn_update(struct engine *e, struct uconn *u)
{
	if (u->c.state != CONN_RELAYING)
		return;

	for (unsigned d = 0; d < 2; d++) {
		struct half *h = half_of(u, d);
		struct uhalf *uh = &u->half[d];

		if (h->pending > 0 && !uh->sending)
			half_send(e, u, d);

		if (half_should_shutdown(h)) {
			/* Direct, not through the ring: nothing of this direction
			 * is in flight, and the peer must see the end now.  An
			 * unconnected sink (its peer is gone) has nothing to end. */
			if (shutdown(half_sink(u, d), SHUT_WR) < 0 && errno != ENOTCONN) {
				conn_end(e, u, -errno);
				return;
			}
			h->shut = true;
		}

		if (uh->recv == RECV_ARMED && e->buf_ring && uring_half_over(h->pending, uh->q.count)) {
			cancel_request(e, uring_ud_pack(OP_RECV_UP + d, slot_of(e, u), u->gen));
			uh->recv = RECV_CANCELLING;
		} else if (uh->recv == RECV_IDLE && !uh->nobufs && half_may_read(h) &&
			   (e->buf_ring ? uring_half_under(h->pending, uh->q.count) : uh->len == 0))
			half_arm_recv(e, u, d);
		if (u->c.state != CONN_RELAYING)
			return;    /* half_arm_recv() ended it */
	}

	if (conn_finished(&u->c))
		conn_end(e, u, 0);
}


/* Everything of the connection has completed: close it and free the slot. */
static void conn_free(struct engine *e, struct uconn *u)
{
	half_release(e, &u->half[0]);
	half_release(e, &u->half[1]);
	if (u->c.upstream_fd >= 0)
		e->n_upstreams--;
	u->c.client_fd = safe_close(u->c.client_fd);
	u->c.upstream_fd = safe_close(u->c.upstream_fd);
	relay_client_closed(e->r, &u->c, u->error);

	if (u->held) {
		u->held = false;
		e->n_held--;
	}
	u->c.state = CONN_FREE;
	u->gen++;
	u->next_free = e->free_head;
	e->free_head = slot_of(e, u);

	/* Descriptors are free again: held clients and accepting may go on
	 * (at the end of the batch). */
	e->fds_freed = true;
}

static void conn_cancel_all(struct engine *e, struct uconn *u)
{
	uint32_t slot = slot_of(e, u);

	if (u->cancelled)
		return;
	u->cancelled = true;
	/* Cancelling the connect also ends its linked timeout. */
	if (u->connecting)
		cancel_request(e, uring_ud_pack(OP_CONNECT, slot, u->gen));
	for (unsigned d = 0; d < 2; d++) {
		if (u->half[d].recv != RECV_IDLE)
			cancel_request(e, uring_ud_pack(OP_RECV_UP + d, slot, u->gen));
		if (u->half[d].sending)
			cancel_request(e, uring_ud_pack(OP_SEND_UP + d, slot, u->gen));
	}
}

/* End the connection (error 0: a normal end, or one already reported). Its
 * requests are cancelled; it is freed when the last of them has completed,
 * so that no request can reach a reused descriptor number. */
static void conn_end(struct engine *e, struct uconn *u, int error)
{
	if (u->c.state == CONN_CLOSING || u->c.state == CONN_FREE)
		return;
	u->c.state = CONN_CLOSING;
	u->error = error;
	if (!e->stopping || !e->cancel_any)
		conn_cancel_all(e, u);
	if (u->inflight == 0)
		conn_free(e, u);
}

/* A completion of a closing connection: free it after its last one. */
static void conn_reap(struct engine *e, struct uconn *u)
{
	if (u->c.state == CONN_CLOSING && u->inflight == 0)
		conn_free(e, u);
}

/* ---- accepting ---- */

static void accept_arm(struct engine *e, size_t i)
{
	struct listener *l = &e->listeners[i];
	struct io_uring_sqe *sqe;

	if (l->armed || e->stopping || e->accept_paused)
		return;
	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	if (l->multishot) {
#if HAVE_DECL_IO_URING_PREP_MULTISHOT_ACCEPT
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
#else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
		sqe->ioprio |= IORING_ACCEPT_MULTISHOT;
#endif
	} else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	sqe_data(sqe, OP_ACCEPT, (uint32_t)i, 0);
	l->armed = true;
	op_begin(e, NULL);
}

static void accept_resume(struct engine *e)
{
	e->accept_paused = false;
	for (size_t i = 0; i < e->n_listeners; i++)
		accept_arm(e, i);
}

/* Out of descriptors (or the like): stop accepting until a connection
 * closes or RELAY_ACCEPT_PAUSE_MS has passed, whichever comes first. */
static void accept_pause(struct engine *e)
{
	struct io_uring_sqe *sqe;

	e->accept_paused = true;
	for (size_t i = 0; i < e->n_listeners; i++)
		if (e->listeners[i].armed && e->listeners[i].multishot)
			cancel_request(e, uring_ud_pack(OP_ACCEPT, (uint32_t)i, 0));
	if (e->accept_timer)
		return;
	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &e->pause_ts, 0, 0);
	sqe_data(sqe, OP_ACCEPT_TIMER, 0, 0);
	e->accept_timer = true;
	op_begin(e, NULL);
}

/*
 * The relay's sockets are blocking for io_uring's sake (clients are accepted
 * so, which relay_client_accepted() does not mind).  The ring never
 * blocks on them: it tries every request non-blocking first and waits for
 * readiness itself.  But a request that was woken and still finds nothing
 * to do is handed to a kernel worker thread, which does a plain blocking
 * send/recv -- and on an O_NONBLOCK socket that fails with -EAGAIN instead
 * of waiting (seen here with sendmsg under load).
 */
static int fd_set_blocking(int fd)
{
	/* A socket has no other status flag that F_SETFL could change. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		return -errno;
	return 0;
}

static void conn_connect(struct engine *e, struct uconn *u);

static void client_start(struct engine *e, int fd)
{
	struct uconn *u;
	uint64_t id;
	int r;

	if (e->stopping) {
		(void)safe_close(fd);
		return;
	}
	r = relay_client_accepted(e->r, fd, &id);
	if (r < 0)
		return;    /* refused: logged and closed */

	u = conn_alloc(e);
	if (!u) {
		/* Not reached while relay.c enforces max_clients. */
		struct conn c = { .client_fd = -1, .upstream_fd = -1, .id = id };

		(void)safe_close(fd);
		relay_client_closed(e->r, &c, -EUSERS);
		return;
	}
	u->c.state = CONN_CONNECTING;
	u->c.client_fd = fd;
	u->c.id = id;
	conn_connect(e, u);
}

/*
 * Make the upstream socket and submit its connect.  Out of descriptors,
 * the client is not dropped: it waits, as it would in the listen backlog
 * (and accepting is paused meanwhile), until a connection closes or the
 * pause ends.  A multishot accept can take many clients from the backlog
 * before the first upstream socket fails, so there may be many such.
 */
static void conn_connect(struct engine *e, struct uconn *u)
{
	struct io_uring_sqe *sqe;
	int ufd, r;

	ufd = relay_upstream_socket(e->r);
	if (ufd == -EMFILE || ufd == -ENFILE) {
		if (!u->held) {
			u->held = true;
			e->n_held++;
			/* The log line (rate limited) of running out of fds. */
			(void)relay_accept_failed(e->r, ufd);
		}
		accept_pause(e);
		return;
	}
	if (u->held) {
		u->held = false;
		e->n_held--;
	}
	if (ufd < 0) {
		relay_connect_failed(e->r, u->c.id, ufd);
		conn_end(e, u, 0);
		return;
	}
	u->c.upstream_fd = ufd;
	e->n_upstreams++;

	/*
	 * A UNIX connect never waits for the peer: it succeeds or fails at
	 * once, or says EAGAIN when the listener's queue is full.  Doing it
	 * here, on the still non-blocking socket, saves the ring's connect,
	 * its linked timeout (an hrtimer armed and cancelled) and one trip
	 * through the loop per client; only a full queue goes to the ring,
	 * whose timeout then bounds the wait.
	 */
	if (e->r->cfg->upstream.sa.sa.sa_family == AF_UNIX) {
		if (connect(ufd, &e->r->cfg->upstream.sa.sa, e->r->cfg->upstream.sa_len) == 0) {
			r = fd_set_blocking(ufd);
			if (r < 0) {
				relay_connect_failed(e->r, u->c.id, r);
				conn_end(e, u, 0);
				return;
			}
			relay_connected(e->r, u->c.id, ufd);
			u->c.state = CONN_RELAYING;
			conn_update(e, u);
			return;
		}
		if (errno != EAGAIN && errno != EINTR) {
			relay_connect_failed(e->r, u->c.id, -errno);
			conn_end(e, u, 0);
			return;
		}
	}

	r = fd_set_blocking(ufd);
	if (r < 0) {
		relay_connect_failed(e->r, u->c.id, r);
		conn_end(e, u, 0);
		return;
	}

	sqe = engine_sqe(e, e->connect_ts.tv_sec || e->connect_ts.tv_nsec ? 2 : 1);
	if (!sqe) {
		conn_end(e, u, -EBUSY);
		return;
	}
	io_uring_prep_connect(sqe, ufd, &e->r->cfg->upstream.sa.sa, e->r->cfg->upstream.sa_len);
	sqe_data(sqe, OP_CONNECT, slot_of(e, u), u->gen);
	op_begin(e, u);
	u->connecting = true;
	if (e->connect_ts.tv_sec || e->connect_ts.tv_nsec) {
		/* The connect fails with -ECANCELED when the timeout fires
		 * first. */
		sqe->flags |= IOSQE_IO_LINK;
		sqe = io_uring_get_sqe(&e->ring);
		io_uring_prep_link_timeout(sqe, &e->connect_ts, 0);
		sqe_data(sqe, OP_CONNECT_TIMEOUT, slot_of(e, u), u->gen);
		op_begin(e, u);
	}
}

/* After a batch in which descriptors were freed (or the pause ended):
 * connect the held clients, lowest slot first, and accept again once none
 * is left waiting. */
static void fds_freed(struct engine *e)
{
	if (!e->fds_freed || e->stopping)
		return;
	e->fds_freed = false;
	for (uint32_t i = 0; i < e->slots_used && e->n_held > 0; i++) {
		struct uconn *u = &e->conns[i];

		if (u->c.state != CONN_CONNECTING || !u->held)
			continue;
		conn_connect(e, u);
		if (u->held)
			break;     /* still none: wait for the next chance */
	}
	if (e->n_held > 0 && e->n_upstreams == 0) {
		/* Waiting clients hold every descriptor and no connection
		 * will ever free one: give up on one, so that the others can
		 * go on. */
		for (uint32_t i = e->slots_used; i > 0; i--) {
			struct uconn *u = &e->conns[i - 1];

			if (u->c.state == CONN_CONNECTING && u->held) {
				relay_connect_failed(e->r, u->c.id, -EMFILE);
				conn_end(e, u, 0);
				break;
			}
		}
	}
	if (e->n_held == 0 && e->accept_paused)
		accept_resume(e);
}

/* ---- signals, timers, stopping ---- */

static void signal_arm(struct engine *e)
{
	struct io_uring_sqe *sqe;

	if (e->signal_armed || e->stopping)
		return;
	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	io_uring_prep_poll_add(sqe, e->r->signal_fd, POLLIN);
	sqe_data(sqe, OP_SIGNAL, 0, 0);
	e->signal_armed = true;
	op_begin(e, NULL);
}

static void trim_arm(struct engine *e)
{
	struct io_uring_sqe *sqe;

	if (!e->buf_ring || e->trim_timer || e->stopping || !pool_dirty_idle(e))
		return;
	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &e->trim_ts, 0, 0);
	sqe_data(sqe, OP_TRIM_TIMER, 0, 0);
	e->trim_timer = true;
	e->pool.lent_at_trim_arm = e->pool.lent_total;
	op_begin(e, NULL);
}

/* Cancel every request one by one (kernels before 5.19, or the cancel of
 * everything at once failed). */
static void cancel_each(struct engine *e)
{
	for (size_t i = 0; i < e->n_listeners; i++)
		if (e->listeners[i].armed)
			cancel_request(e, uring_ud_pack(OP_ACCEPT, (uint32_t)i, 0));
	if (e->accept_timer)
		cancel_request(e, uring_ud_pack(OP_ACCEPT_TIMER, 0, 0));
	if (e->trim_timer)
		cancel_request(e, uring_ud_pack(OP_TRIM_TIMER, 0, 0));
	if (e->signal_armed)
		cancel_request(e, uring_ud_pack(OP_SIGNAL, 0, 0));
	for (uint32_t i = 0; i < e->slots_used; i++)
		if (e->conns[i].c.state == CONN_CLOSING)
			conn_cancel_all(e, &e->conns[i]);
}

/* A deadline for stopping, should a request ignore its cancellation. */
static void stop_timer_arm(struct engine *e)
{
	struct io_uring_sqe *sqe;

	if (e->stop_timer)
		return;
	sqe = engine_sqe(e, 1);
	if (!sqe)
		return;
	io_uring_prep_timeout(sqe, &e->stop_ts, 0, 0);
	sqe_data(sqe, OP_STOP_TIMER, 0, 0);
	e->stop_timer = true;
	op_begin(e, NULL);
}

static void engine_stop(struct engine *e)
{
	struct io_uring_sqe *sqe;

	if (e->stopping)
		return;
	e->stopping = true;

	for (uint32_t i = 0; i < e->slots_used; i++)
		conn_end(e, &e->conns[i], 0);

	if (e->cancel_any) {
		sqe = engine_sqe(e, 1);
		if (sqe) {
			prep_cancel_ud(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
			sqe_data(sqe, OP_CANCEL_ALL, 0, 0);
		}
	} else
		cancel_each(e);
	/* After the cancel in the SQ, so that it is not cancelled too. */
	stop_timer_arm(e);
}

/* Stopping is done when nothing but its own deadline is in flight. */
static bool engine_stopped(const struct engine *e)
{
	return e->stopping && (e->stop_expired || e->inflight <= (e->stop_timer ? 1u : 0u));
}

/* ---- completions ---- */

static void on_accept_error(struct engine *e, size_t i, int res)
{
	struct listener *l = &e->listeners[i];

	if (res == -ECANCELED || e->stopping)
		return;
	if (res == -EINVAL && l->multishot) {
		/* A kernel without multishot accept (before 5.19). */
		log_debug("io_uring: multishot accept refused, accepting one at a time");
		l->multishot = false;
		e->multishot_accept = false;
		return;
	}
	l->errors++;
	if (relay_accept_failed(e->r, res) || l->errors >= URING_ACCEPT_ERRORS_MAX) {
		l->errors = 0;
		accept_pause(e);
	}
}

static void on_recv_error(struct engine *e, struct uconn *u, unsigned d, int res)
{
	struct uhalf *uh = &u->half[d];

	if (u->c.state != CONN_RELAYING)
		return;
	switch (res) {
	case -ENOBUFS:
		/* The shared ring is empty: wait for buffers to come back. */
		uh->nobufs = true;
		wait_push(e, u, d);
		/* Grow the ring for a direction that starves, not for one
		 * that has taken its share already (a bulk stream): fewer
		 * buffers in the cycle stay warm in the cache. */
		if (uh->q.count < URING_HALF_BUFS / 2)
			pool_grow(e);
		break;
	case -ECANCELED:
		/* Ours (backpressure); conn_update() re-arms when due. */
	case -EAGAIN:
	case -EINTR:
		/* Not an end: a worker thread's try found nothing (see
		 * fd_set_blocking()); receive again. */
		break;
	default:
		if (relay_read_error_is_eof(e->r, &u->c, (enum relay_dir)d, res)) {
			half_of(u, d)->eof = true;
			break;
		}
		log_debug_errno(res, "client #%" PRIu64 ": receive from the %s failed: %m",
				u->c.id, d == DIR_UP ? "client" : "upstream");
		conn_end(e, u, res);
		return;
	}
	conn_update(e, u);
}

/*
 * A direction's sink stopped reading (EPIPE, ECONNRESET): this direction can
 * deliver nothing more, so what it holds is dropped and it counts as ended;
 * but the other direction may still have its last bytes to read from that
 * same peer, and the connection ends when that one does (as in the epoll
 * engine).
 */
static void half_sink_gone(struct engine *e, struct uconn *u, unsigned d, int res)
{
	struct half *h = half_of(u, d);
	struct uhalf *uh = &u->half[d];

	uint16_t bid;

	log_debug_errno(res, "client #%" PRIu64 ": %s stopped reading: %m", u->c.id,
			d == DIR_UP ? "upstream" : "client");
	while ((bid = uring_bufq_pop(&uh->q, e->pool.next)) != URING_BID_NONE)
		pool_put(e, bid);
	/* The plain path's own buffer stays until the connection ends. */
	uh->len = uh->off = 0;
	h->pending = 0;
	h->eof = h->shut = true;
	if (uh->recv == RECV_ARMED) {
		cancel_request(e, uring_ud_pack(OP_RECV_UP + d, slot_of(e, u), u->gen));
		uh->recv = RECV_CANCELLING;
	}
	conn_update(e, u);
}

/* Completions with res < 0. */
static void engine_error(struct engine *e, unsigned op, uint32_t slot, struct uconn *u,
			 const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	switch (op) {
	case OP_ACCEPT:
		on_accept_error(e, slot, res);
		break;
	case OP_SIGNAL:
		if (res != -ECANCELED && !e->stopping)
			log_debug_errno(res, "io_uring: polling the signalfd failed: %m");
		break;
	case OP_STOP_TIMER:
		/* Caught by a cancel of everything: the deadline still holds. */
		if (res == -ECANCELED && !engine_stopped(e))
			stop_timer_arm(e);
		break;
	case OP_CANCEL_ALL:
		if (res == -EINVAL) {
			/* No IORING_ASYNC_CANCEL_ANY (before 5.19). */
			e->cancel_any = false;
			cancel_each(e);
		}
		break;
	case OP_CONNECT:
		u->connecting = false;
		if (u->c.state != CONN_CONNECTING)
			break;
		/* -ECANCELED: the linked timeout fired. */
		relay_connect_failed(e->r, u->c.id, res == -ECANCELED ? -ETIMEDOUT : res);
		conn_end(e, u, 0);
		break;
	case OP_RECV_UP:
	case OP_RECV_DOWN:
		on_recv_error(e, u, op - OP_RECV_UP, res);
		break;
	case OP_SEND_UP:
	case OP_SEND_DOWN:
		if (u->c.state != CONN_RELAYING)
			break;
		if (res == -EAGAIN || res == -EINTR) {
			/* Nothing was sent: send again. */
			conn_update(e, u);
			break;
		}
		if (res == -EPIPE || res == -ECONNRESET) {
			half_sink_gone(e, u, op - OP_SEND_UP, res);
			break;
		}
		log_debug_errno(res, "client #%" PRIu64 ": send to the %s failed: %m",
				u->c.id, op == OP_SEND_UP ? "upstream" : "client");
		conn_end(e, u, res);
		break;
	default:
		/* timers (-ETIME is handled as success), cancels, link timeouts */
		break;
	}
}

/* Completions with res >= 0. */
static void engine_success(struct engine *e, unsigned op, uint32_t slot, struct uconn *u,
			   const struct io_uring_cqe *cqe)
{
	int res = cqe->res;

	switch (op) {
	case OP_ACCEPT:
		e->listeners[slot].errors = 0;
		client_start(e, res);
		break;
	case OP_SIGNAL:
		if (relay_handle_signals(e->r))
			engine_stop(e);
		break;
	case OP_ACCEPT_TIMER:
		e->fds_freed = true;
		break;
	case OP_TRIM_TIMER:
		if (!e->stopping)
			pool_trim(e);
		break;
	case OP_STOP_TIMER:
		e->stop_expired = true;
		break;
	case OP_CONNECT:
		u->connecting = false;
		if (u->c.state != CONN_CONNECTING)
			break;
		relay_connected(e->r, u->c.id, u->c.upstream_fd);
		u->c.state = CONN_RELAYING;
		conn_update(e, u);
		break;
	case OP_RECV_UP:
	case OP_RECV_DOWN: {
		unsigned d = op - OP_RECV_UP;

		if (u->c.state != CONN_RELAYING)
			break;
		if (half_of(u, d)->shut) {
			/* Its sink is gone (half_sink_gone()): nowhere to go. */
			if (res > 0 && e->buf_ring)
				pool_put(e, pool_taken(e, cqe));
		} else if (res == 0)
			half_of(u, d)->eof = true;
		else
			half_received(e, u, d, cqe);
		conn_update(e, u);
		break;
	}
	case OP_SEND_UP:
	case OP_SEND_DOWN:
		if (u->c.state != CONN_RELAYING)
			break;
		if (res == 0) {
			/* A stream socket never sends nothing: do not loop. */
			conn_end(e, u, -EPIPE);
			break;
		}
		half_sent(e, u, op - OP_SEND_UP, (uint32_t)res);
		conn_update(e, u);
		break;
	default:
		break;
	}
}

static bool op_is_conn(unsigned op)
{
	return op >= OP_CONNECT;
}

static void engine_cqe(struct engine *e, const struct io_uring_cqe *cqe)
{
	unsigned op = uring_ud_op(cqe->user_data);
	uint32_t slot = uring_ud_slot(cqe->user_data);
	bool last = !(cqe->flags & IORING_CQE_F_MORE);
	bool has_buf = cqe->flags & IORING_CQE_F_BUFFER;
	struct uconn *u = NULL;
	struct io_uring_cqe c = *cqe;

	if (op == OP_CANCEL)
		return;
	if (op == OP_CANCEL_ALL) {
		if (c.res < 0)
			engine_error(e, op, slot, NULL, &c);
		return;
	}

	if (op_is_conn(op)) {
		u = conn_lookup(e, slot, uring_ud_gen(cqe->user_data));
		if (!u) {
			/* A request of a connection that has gone (only after
			 * stopping gave up waiting): keep its buffer. */
			if (has_buf && e->buf_ring)
				pool_put(e, pool_taken(e, cqe));
			log_debug("io_uring: stale completion (op %u, slot %" PRIu32 ", res %d)", op, slot, cqe->res);
			return;
		}
	}

	if (last) {
		op_end(e, u);
		switch (op) {
		case OP_ACCEPT:
			e->listeners[slot].armed = false;
			break;
		case OP_SIGNAL:
			e->signal_armed = false;
			break;
		case OP_ACCEPT_TIMER:
			e->accept_timer = false;
			break;
		case OP_TRIM_TIMER:
			e->trim_timer = false;
			break;
		case OP_STOP_TIMER:
			e->stop_timer = false;
			break;
		case OP_RECV_UP:
		case OP_RECV_DOWN:
			u->half[op - OP_RECV_UP].recv = RECV_IDLE;
			break;
		case OP_SEND_UP:
		case OP_SEND_DOWN:
			u->half[op - OP_SEND_UP].sending = false;
			break;
		default:
			break;
		}
	}

	/* A buffer that carries no data for a live direction goes back. */
	if (has_buf && e->buf_ring && (c.res <= 0 || !u || u->c.state != CONN_RELAYING)) {
		pool_put(e, pool_taken(e, cqe));
		c.flags &= ~IORING_CQE_F_BUFFER;
	}

	/* A timer that fired has done what it was for. */
	if (c.res == -ETIME && (op == OP_ACCEPT_TIMER || op == OP_TRIM_TIMER || op == OP_STOP_TIMER))
		c.res = 0;

	if (c.res < 0)
		engine_error(e, op, slot, u, &c);
	else
		engine_success(e, op, slot, u, &c);

	if (u)
		conn_reap(e, u);

	/* Re-arm what ended on its own, unless paused or stopping. */
	if (last && op == OP_ACCEPT)
		accept_arm(e, slot);
	if (last && op == OP_SIGNAL && !e->stopping)
		signal_arm(e);
}

/* ---- setup ---- */

/*
 * The ring's setup flags, each asked for and given up when the kernel
 * refuses it (-EINVAL), newest first (uring_setup_flags_fallback()):
 *
 * IORING_SETUP_SUBMIT_ALL (5.18): without it the kernel stops submitting a
 * batch at the first SQE that fails to prepare and leaves the rest in the
 * SQ; with it every SQE is submitted and a bad one only posts its error
 * CQE, so one connection's bad request cannot hold up the others'.
 *
 * IORING_SETUP_COOP_TASKRUN (5.19): completions that need work in this
 * task's context (most socket ones) are normally signalled to it with an
 * inter-processor interrupt, to run them at once.  This thread enters the
 * kernel on every loop anyway, so the kernel may just queue the work for
 * the next transition: fewer interrupts and context switches.
 *
 * IORING_SETUP_SINGLE_ISSUER (6.0): a promise that only one task submits
 * to the ring, which lets the kernel skip the locking that concurrent
 * submitters would need.  The relay has one thread.
 *
 * IORING_SETUP_DEFER_TASKRUN (6.1, needs SINGLE_ISSUER): completion work is
 * not run whenever the task happens to enter the kernel, but only when it
 * waits for completions in io_uring_enter(): the work of a whole batch runs
 * together at the moment the relay asks for it, and never interrupts it.
 *
 * IORING_SETUP_CQSIZE + CLAMP (5.5/5.6): a CQ larger than the SQ, since
 * multishot requests post many completions per submission; clamped to
 * what the kernel allows.
 */
static int engine_setup_ring(struct engine *e, bool basic)
{
	unsigned flags = basic ? 0 : URING_SETUP_WANTED;
	struct io_uring_params p;
	int r;

	for (;;) {
		p = (struct io_uring_params){
			.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
			.cq_entries = URING_CQ_ENTRIES,
		};
		r = io_uring_queue_init_params(URING_SQ_ENTRIES, &e->ring, &p);
		if (r != -EINVAL || flags == 0)
			break;
		flags = uring_setup_flags_fallback(flags);
	}
	if (r < 0)
		return r;
	e->setup_flags = flags;
	if (!(p.features & IORING_FEAT_FAST_POLL)) {
		io_uring_queue_exit(&e->ring);
		return -EOPNOTSUPP;
	}
#if HAVE_DECL_IO_URING_REGISTER_RING_FD
	/* Saves an fd lookup on every io_uring_enter() (5.18); optional. */
	(void)io_uring_register_ring_fd(&e->ring);
#endif
	return 0;
}

/*
 * Does this kernel have multishot recv (6.0)?  The request carries a flag
 * that 5.19 refuses with -EINVAL, but only once it is submitted: try it on
 * a socket pair with one byte, and expect the byte with IORING_CQE_F_MORE.
 */
static bool probe_multishot_recv(struct engine *e)
{
	struct __kernel_timespec ts = ms_to_ts(1000);
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	bool ok = false, done = false;
	int sv[2];

	if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
		return false;
	pool_refill(e);
	if (send(sv[1], "x", 1, MSG_NOSIGNAL) != 1)
		goto out;
	sqe = io_uring_get_sqe(&e->ring);
	if (!sqe)
		goto out;
#if HAVE_DECL_IO_URING_PREP_RECV_MULTISHOT
	io_uring_prep_recv_multishot(sqe, sv[0], NULL, 0, 0);
#else
	io_uring_prep_recv(sqe, sv[0], NULL, 0, 0);
	sqe->ioprio |= IORING_RECV_MULTISHOT;
#endif
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_BGID;
	sqe_data(sqe, OP_PROBE_RECV, 0, 0);
	if (io_uring_submit(&e->ring) != 1)
		goto out;

	/* Up to two completions: the byte, then the end after shutdown. */
	for (unsigned i = 0; i < 2 && !done; i++) {
		if (io_uring_wait_cqe_timeout(&e->ring, &cqe, &ts) < 0)
			break;
		if (cqe->flags & IORING_CQE_F_BUFFER)
			pool_put(e, pool_taken(e, cqe));
		if (i == 0 && cqe->res == 1 && (cqe->flags & IORING_CQE_F_MORE)) {
			ok = true;
			(void)shutdown(sv[1], SHUT_WR);
		}
		done = !(cqe->flags & IORING_CQE_F_MORE);
		io_uring_cqe_seen(&e->ring, cqe);
	}
	if (!done)
		ok = false;   /* still armed: not something to keep */
out:
	(void)safe_close(sv[0]);
	(void)safe_close(sv[1]);
	return ok;
}

static int engine_init(struct engine *e, struct relay *r)
{
	const struct relay_config *cfg = r->cfg;
	/* For diagnosis and the tests of older kernels' paths: use only what
	 * Linux 5.7 has (plain accept and recv, no setup flags). */
	const char *env = getenv("X410_VSOCK_URING_BASIC");
	bool basic = env && streq(env, "1");
	struct io_uring_probe *probe;
	int ret;

	*e = (struct engine){
		.r = r,
		.free_head = WAIT_NONE,
		.wait_head = WAIT_NONE,
		.wait_tail = WAIT_NONE,
		.connect_ts = ms_to_ts(cfg->connect_timeout_ms),
		.pause_ts = ms_to_ts(RELAY_ACCEPT_PAUSE_MS),
		.trim_ts = ms_to_ts(URING_TRIM_MS),
		.stop_ts = ms_to_ts(URING_STOP_MS),
	};

	ret = engine_setup_ring(e, basic);
	if (ret < 0)
		return ret;

	/* IORING_OP_SOCKET came with multishot accept, buffer rings and
	 * IORING_ASYNC_CANCEL_ANY (5.19): its presence says they are worth
	 * trying; each still falls back if refused. */
	probe = io_uring_get_probe_ring(&e->ring);
	if (probe && !basic) {
		bool k519 = io_uring_opcode_supported(probe, IORING_OP_SOCKET);

		e->multishot_accept = k519;
		e->cancel_any = k519;
		if (k519 && pool_setup(e) == 0) {
			e->buf_ring = probe_multishot_recv(e);
			if (!e->buf_ring)
				pool_free(e);
		}
	}
	if (probe)
		io_uring_free_probe(probe);

	e->n_slots = MIN(MAX(cfg->max_clients, 1u), URING_SLOT_MAX);
	e->conns = calloc(e->n_slots, sizeof(struct uconn));
	if (!e->conns) {
		pool_free(e);
		io_uring_queue_exit(&e->ring);
		return -ENOMEM;
	}

	/* A multishot accept takes every client waiting in the backlog at
	 * once, each with a descriptor, before the first upstream socket is
	 * made: with fewer descriptors than max_clients needs, accepting one
	 * at a time lets each client get its upstream before the next one is
	 * taken. */
	if (e->multishot_accept) {
		struct rlimit rl;

		if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY &&
		    rl.rlim_cur < 2 * (rlim_t)cfg->max_clients + 32) {
			e->multishot_accept = false;
			log_debug("io_uring: the open file limit (%llu) is below what %u clients need: accepting one at a time",
				  (unsigned long long)rl.rlim_cur, cfg->max_clients);
		}
	}

	e->n_listeners = MIN(cfg->n_listen, (size_t)RELAY_MAX_LISTEN);
	for (size_t i = 0; i < e->n_listeners; i++)
		e->listeners[i] = (struct listener){ .fd = cfg->listen_fds[i], .multishot = e->multishot_accept };

	log_debug("io_uring engine (liburing %s): setup flags%s%s%s%s%s; %s accept; %s; cancel %s",
		  URING_VERSION_STRING,
		  e->setup_flags & URING_SETUP_SUBMIT_ALL ? " SUBMIT_ALL" : "",
		  e->setup_flags & URING_SETUP_COOP_TASKRUN ? " COOP_TASKRUN" : "",
		  e->setup_flags & URING_SETUP_SINGLE_ISSUER ? " SINGLE_ISSUER" : "",
		  e->setup_flags & URING_SETUP_DEFER_TASKRUN ? " DEFER_TASKRUN" : "",
		  e->setup_flags == 0 ? " none" : "",
		  e->multishot_accept ? "multishot" : "one-shot",
		  e->buf_ring ? "multishot receive into a shared buffer ring (up to 256 x 64 KiB)"
			      : "one receive at a time into each direction's own 64 KiB buffer",
		  e->cancel_any ? "all at once" : "per request");
	return 0;
}

static void engine_done(struct engine *e)
{
	/* Only what stopping's deadline left behind. */
	for (uint32_t i = 0; i < e->slots_used; i++) {
		struct uconn *u = &e->conns[i];

		if (u->c.state != CONN_FREE) {
			u->inflight = 0;
			conn_free(e, u);
		}
	}
	io_uring_queue_exit(&e->ring);
	/* After the ring: the kernel no longer writes into the buffers. */
	if (e->pool.br) {
		(void)munmap(e->pool.br, e->pool.br_bytes);
		e->pool.br = NULL;
	}
	if (e->pool.mem) {
		(void)munmap(e->pool.mem, e->pool.mem_bytes);
		e->pool.mem = NULL;
	}
	free(e->conns);
	e->conns = NULL;
}

/* ---- the loop ---- */

static int uring_run(struct relay *r)
{
	struct engine e;
	int ret, fatal = 0;

	ret = engine_init(&e, r);
	if (ret == -EOPNOTSUPP)
		return log_error_errno(ret, "io_uring cannot poll sockets on this kernel (Linux 5.7 or newer is needed): use --engine epoll");
	if (ret < 0)
		return log_error_errno(ret, "Failed to set up the io_uring engine: %m");

	signal_arm(&e);
	for (size_t i = 0; i < e.n_listeners; i++)
		accept_arm(&e, i);
	if (r->stopping)
		engine_stop(&e);

	for (;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;

		if (engine_stopped(&e))
			break;

		fds_freed(&e);
		pool_refill(&e);
		wait_rearm(&e);
		trim_arm(&e);

		ret = io_uring_submit_and_wait(&e.ring, 1);
		if (ret < 0 && ret != -EINTR && ret != -EAGAIN && ret != -EBUSY && ret != -ETIME) {
			fatal = log_error_errno(ret, "io_uring_enter() failed: %m");
			break;
		}

		io_uring_for_each_cqe(&e.ring, head, cqe) {
			engine_cqe(&e, cqe);
			n++;
		}
		io_uring_cq_advance(&e.ring, n);
	}

	if (e.inflight > (e.stop_timer ? 1u : 0u))
		log_debug("io_uring: %" PRIu64 " requests did not complete after cancellation", e.inflight);
	engine_done(&e);
	return fatal;
}

/* ---- can it run here? ---- */

static int uring_probe(char *why, size_t why_size)
{
	static const struct {
		int op;
		const char *name;
	} needed[] = {
		{ IORING_OP_ACCEPT, "ACCEPT" },
		{ IORING_OP_CONNECT, "CONNECT" },
		{ IORING_OP_RECV, "RECV" },
		{ IORING_OP_SEND, "SEND" },
		{ IORING_OP_SENDMSG, "SENDMSG" },
		{ IORING_OP_POLL_ADD, "POLL_ADD" },
		{ IORING_OP_TIMEOUT, "TIMEOUT" },
		{ IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT" },
		{ IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
	};
	struct io_uring_params p = {};
	struct io_uring_probe *probe;
	struct io_uring ring;
	char disabled[16] = "";
	int r;

	if (why_size > 0)
		why[0] = '\0';
	(void)read_one_line("/proc/sys/kernel/io_uring_disabled", disabled, sizeof(disabled));
	if (streq(disabled, "2")) {
		(void)snprintf(why, why_size, "io_uring is disabled by kernel.io_uring_disabled=2");
		return -EPERM;
	}

	r = io_uring_queue_init_params(2, &ring, &p);
	if (r < 0) {
		switch (r) {
		case -ENOSYS:
			(void)snprintf(why, why_size, "the kernel has no io_uring (Linux 5.7 or newer with CONFIG_IO_URING is needed)");
			break;
		case -EPERM:
		case -EACCES:
			if (streq(disabled, "1"))
				(void)snprintf(why, why_size, "io_uring is restricted to the group kernel.io_uring_group by kernel.io_uring_disabled=1");
			else
				(void)snprintf(why, why_size, "io_uring is blocked by a seccomp filter or security policy");
			break;
		case -ENOMEM:
			(void)snprintf(why, why_size, "io_uring cannot allocate its rings (locked memory limit, 'ulimit -l')");
			break;
		default:
			(void)snprintf(why, why_size, "io_uring setup failed: %s", strerror(-r));
			break;
		}
		return r;
	}

	r = 0;
	if (!(p.features & IORING_FEAT_FAST_POLL)) {
		(void)snprintf(why, why_size, "the kernel's io_uring cannot poll sockets by itself (Linux 5.7 or newer is needed)");
		r = -EOPNOTSUPP;
	}
	probe = r == 0 ? io_uring_get_probe_ring(&ring) : NULL;
	if (r == 0 && !probe) {
		(void)snprintf(why, why_size, "the kernel's io_uring is too old to list its operations (Linux 5.7 or newer is needed)");
		r = -EOPNOTSUPP;
	}
	for (size_t i = 0; probe && i < ELEMENTSOF(needed); i++)
		if (!io_uring_opcode_supported(probe, needed[i].op)) {
			(void)snprintf(why, why_size, "the kernel's io_uring lacks IORING_OP_%s (Linux 5.7 or newer is needed)",
				       needed[i].name);
			r = -EOPNOTSUPP;
			break;
		}
	if (probe)
		io_uring_free_probe(probe);
	io_uring_queue_exit(&ring);
	return r;
}

const struct relay_engine relay_engine_uring = {
	.name = "uring",
	.probe = uring_probe,
	.run = uring_run,
};
