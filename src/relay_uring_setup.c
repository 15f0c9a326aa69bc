/* SPDX-License-Identifier: MIT */
/*
 * The io_uring engine's ring, the bottom of its three files: setup flags
 * with their fallbacks, what the kernel offers (probes), the engine's knobs,
 * the connection slots, the shared ring of provided buffers, getting SQEs and
 * counting requests in flight, and the teardown.  It calls nothing of the other two.
 *
 * Knobs, from the environment, for diagnosis and tests (as a user could set
 * them too):
 *   X410_VSOCK_URING_BASIC=1     only what Linux 5.7 has: no setup flags,
 *                                one accept at a time, one cancel per request
 *   X410_VSOCK_URING_ENTRIES=N   the SQ's size (default 256, at least 2): a
 *                                tiny ring makes the SQ fill up under load,
 *                                which the engine must survive
 *   X410_VSOCK_URING_SPLICE=0    bulk data copied through the directions'
 *                                buffers, never spliced (uring_pipes_max())
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "relay_uring_engine.h"
#include "util.h"

#ifndef IORING_FEAT_FAST_POLL
#define IORING_FEAT_FAST_POLL (1U << 5)
#endif

/* 256 SQEs cover a batch of completions that each need a few SQEs; the CQ
 * holds the completions of every request in flight (at most a few per
 * connection: no multishot receive), and overflows safely beyond that. */
#define URING_SQ_ENTRIES 256u
#define URING_SQ_ENTRIES_MAX 4096u
#define URING_CQ_ENTRIES 4096u
/* How long stopping waits for cancelled requests before it gives up. */
#define URING_STOP_MS 2000u
/* How soon a UNIX connect refused with EAGAIN (listen queue full) is
 * tried again. */
#define URING_CONNECT_RETRY_MS 10u

struct __kernel_timespec uring_ms_to_ts(uint64_t ms)
{
	return (struct __kernel_timespec){
		.tv_sec = (long long)(ms / 1000),
		.tv_nsec = (long long)(ms % 1000) * 1000000,
	};
}

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
static int uring_setup_ring(struct uring_engine *e, bool basic)
{
	unsigned flags = basic ? 0 : URING_SETUP_WANTED;
	struct io_uring_params p;
	int r;

	for (;;) {
		p = (struct io_uring_params){
			.flags = flags | IORING_SETUP_CQSIZE | IORING_SETUP_CLAMP,
			.cq_entries = MAX(URING_CQ_ENTRIES, 2 * e->sq_entries),
		};
		r = io_uring_queue_init_params(e->sq_entries, &e->ring, &p);
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
 * Receiving (Linux 5.19 and later): a receive armed on an idle socket must
 * not pin memory, or 256 idle clients cost 256 x 2 buffers.  So a receive
 * asks the kernel to pick a buffer from a small shared ring
 * (IOSQE_BUFFER_SELECT) only when bytes arrive, and the engine copies them
 * at once into the direction's own chunks (relay_uring_buf.c) and gives the
 * buffer back in the same batch.  The shared ring is never held by a
 * connection -- a sink that does not read holds only its own bytes -- and
 * it only needs as many buffers as receives complete in one batch: it
 * starts with URING_PBUF_START in circulation and grows on -ENOBUFS up to
 * URING_PBUF_MAX.  Measured (tests/bench/relay-cost.sh and a bulk + 256-client
 * echo, VmHWM; both engines vary by several MB between runs): receives
 * into per-direction buffers sized to need, each armed receive holding its
 * own, peaked at 38-52 MB; this peaks at 3-8 MB with 8 x 64 KiB (2.4-3 MB
 * with 16 KiB buffers, but a 16 KiB receive splits X11's 16 KiB flushes
 * and PutImage data: 0.22 instead of 0.16 syscalls and 0.16 instead of
 * 0.125 sends per request of the X11-like mix), the epoll engine at 2-18 MB.
 * The copy costs less than the memory did, at the same bulk throughput.
 * Incremental buffers (IOU_PBUF_RING_INC, 6.12) would avoid the copy but
 * need liburing 2.8 (this builds with 2.2) and still hold a shared buffer
 * for as long as a stuck sink does not read.
 */
#define URING_PBUF_SIZE (64u * 1024u)
#define URING_PBUF_START 4u
#define URING_PBUF_MAX 8u

char *uring_pbuf_data(const struct uring_engine *e, uint16_t bid)
{
	return e->pb.mem + (size_t)bid * URING_PBUF_SIZE;
}

void uring_pbuf_give_back(struct uring_engine *e, uint16_t bid)
{
	io_uring_buf_ring_add(e->pb.br, uring_pbuf_data(e, bid), URING_PBUF_SIZE, bid,
			      io_uring_buf_ring_mask(URING_PBUF_MAX), 0);
	io_uring_buf_ring_advance(e->pb.br, 1);
	e->pb.given_back++;
}

/*
 * A direction whose receive found the ring empty does not retry at once:
 * with every buffer lent out that would spin.  It waits until a buffer has
 * come back (buffers are lent only for a handler's copy, so that is the
 * next batch with a receive in it); then every waiting direction tries
 * again, which is rare enough for a scan of the slots.
 */
void uring_pbuf_grow(struct uring_engine *e)
{
	struct uring_pbufs *pb = &e->pb;
	unsigned n = MIN(pb->circulating, URING_PBUF_MAX - pb->circulating);

	if (!pb->starved)
		return;
	pb->starved = false;
	for (unsigned i = 0; i < n; i++)
		uring_pbuf_give_back(e, (uint16_t)pb->circulating++);
}

static void uring_pbuf_free(struct uring_engine *e)
{
	struct uring_pbufs *pb = &e->pb;

	if (pb->br)
		(void)munmap(pb->br, pb->br_bytes);
	if (pb->mem)
		(void)munmap(pb->mem, pb->mem_bytes);
	*pb = (struct uring_pbufs){};
}

static int uring_pbuf_setup(struct uring_engine *e)
{
	struct uring_pbufs *pb = &e->pb;
	struct io_uring_buf_reg reg = { .ring_entries = URING_PBUF_MAX, .bgid = URING_PBUF_GROUP };
	void *m;
	int r;

	pb->br_bytes = URING_PBUF_MAX * sizeof(struct io_uring_buf);
	m = mmap(NULL, pb->br_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (m == MAP_FAILED)
		return -errno;
	pb->br = m;
	pb->mem_bytes = (size_t)URING_PBUF_MAX * URING_PBUF_SIZE;
	m = mmap(NULL, pb->mem_bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (m == MAP_FAILED) {
		r = -errno;
		uring_pbuf_free(e);
		return r;
	}
	pb->mem = m;
	io_uring_buf_ring_init(pb->br);
	reg.ring_addr = (uint64_t)(uintptr_t)pb->br;
	r = io_uring_register_buf_ring(&e->ring, &reg, 0);
	if (r < 0) {
		uring_pbuf_free(e);
		return r;
	}
	pb->on = true;
	for (; pb->circulating < URING_PBUF_START; pb->circulating++)
		uring_pbuf_give_back(e, (uint16_t)pb->circulating);
	return 0;
}

/* The test knob NAME (X410_VSOCK_URING_*), a number from min to max, or
 * dflt when it is unset or not such a number (with a warning). */
static unsigned uring_env_knob(const char *name, unsigned min, unsigned max, unsigned dflt)
{
	const char *env = getenv(name);
	uint32_t v;

	if (!env || !*env)
		return dflt;
	if (parse_uint32(env, false, min, max, &v) < 0) {
		log_warning("Ignoring %s='%s': expected %u to %u", name, env, min, max);
		return dflt;
	}
	return v;
}

/*
 * How many pipes splicing may hold (relay_uring_splice.c): only the
 * descriptors beyond what max_clients need (two each and some of the
 * relay's own, as run.c's warning counts them), so that a pipe never makes
 * a client wait for its upstream socket; without them bulk data is copied.
 * X410_VSOCK_URING_SPLICE=0 allows none.
 */
static uint32_t uring_pipes_max(unsigned max_clients)
{
	const char *env = getenv("X410_VSOCK_URING_SPLICE");
	rlim_t need = 2 * (rlim_t)max_clients + 32, spare;
	struct rlimit rl;

	if (env && streq(env, "0"))
		return 0;
	if (getrlimit(RLIMIT_NOFILE, &rl) < 0 || rl.rlim_cur == RLIM_INFINITY)
		spare = 4 * (rlim_t)max_clients;
	else
		spare = rl.rlim_cur > need ? (rl.rlim_cur - need) / 2 : 0;
	/* Two directions per client. */
	return (uint32_t)MIN(spare, 2 * (rlim_t)max_clients);
}

int uring_engine_init(struct uring_engine *e, struct relay *r)
{
	const struct relay_config *cfg = r->cfg;
	const char *env = getenv("X410_VSOCK_URING_BASIC");
	bool basic = env && streq(env, "1");
	struct io_uring_probe *probe;
	int ret;

	*e = (struct uring_engine){
		.r = r,
		.sq_entries = uring_env_knob("X410_VSOCK_URING_ENTRIES", 2, URING_SQ_ENTRIES_MAX, URING_SQ_ENTRIES),
		.sqe_fail_every = uring_env_knob("X410_VSOCK_URING_SQE_FAIL", 2, 1000, 0),
		.sqe_fail_state = 2463534242u,
		.free_head = URING_NONE,
		.dirty_head = URING_NONE,
		.dirty_tail = URING_NONE,
		.pause_ts = uring_ms_to_ts(RELAY_ACCEPT_PAUSE_MS),
		.stop_ts = uring_ms_to_ts(URING_STOP_MS),
		.retry_ts = uring_ms_to_ts(URING_CONNECT_RETRY_MS),
	};

	ret = uring_setup_ring(e, basic);
	if (ret < 0)
		return ret;

	/* IORING_OP_SOCKET came with multishot accept and
	 * IORING_ASYNC_CANCEL_ANY (5.19): its presence says they are worth
	 * trying; each still falls back if refused. */
	probe = io_uring_get_probe_ring(&e->ring);
	if (probe && !basic) {
		bool k519 = io_uring_opcode_supported(probe, IORING_OP_SOCKET);

		e->multishot_accept = k519;
		e->cancel_any = k519;
		/* Linked sends need IOSQE_CQE_SKIP_SUCCESS (5.17) and a send
		 * that, with MSG_WAITALL, finishes a short write itself or
		 * fails (5.18): a short send skipped as a success would lose
		 * bytes. */
		e->send_link = k519;
		if (k519) {
			ret = uring_pbuf_setup(e);
			if (ret < 0)
				log_debug_errno(ret, "io_uring: no provided-buffer ring (%m): receiving into each direction's own buffers");
		}
	}
	if (probe)
		io_uring_free_probe(probe);

	e->n_slots = MIN(MAX(cfg->max_clients, 1u), URING_SLOT_MAX);
	e->conns = calloc(e->n_slots, sizeof(struct uring_conn));
	if (!e->conns) {
		io_uring_queue_exit(&e->ring);
		uring_pbuf_free(e);
		return -ENOMEM;
	}

	e->pipes_max = uring_pipes_max(cfg->max_clients);

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
		e->listeners[i] = (struct uring_listener){ .fd = cfg->listen_fds[i], .multishot = e->multishot_accept };

	log_debug("io_uring engine (liburing %s): %u SQ entries; setup flags%s%s%s%s%s; %s accept;"
		  " %s; cancel %s",
		  URING_VERSION_STRING, e->sq_entries,
		  e->setup_flags & URING_SETUP_SUBMIT_ALL ? " SUBMIT_ALL" : "",
		  e->setup_flags & URING_SETUP_COOP_TASKRUN ? " COOP_TASKRUN" : "",
		  e->setup_flags & URING_SETUP_SINGLE_ISSUER ? " SINGLE_ISSUER" : "",
		  e->setup_flags & URING_SETUP_DEFER_TASKRUN ? " DEFER_TASKRUN" : "",
		  e->setup_flags == 0 ? " none" : "",
		  e->multishot_accept ? "multishot" : "one-shot",
		  e->pb.on ? "receives into a shared ring of provided buffers, copied out"
			   : "receives into each direction's own buffers",
		  e->cancel_any ? "all at once" : "per request");
	if (e->sqe_fail_every)
		log_debug("io_uring: about one SQE in %u is refused (X410_VSOCK_URING_SQE_FAIL), as if the queue were full",
			  e->sqe_fail_every);
	return 0;
}

void uring_ring_exit(struct uring_engine *e)
{
	io_uring_queue_exit(&e->ring);
}

void uring_engine_done(struct uring_engine *e)
{
	free(e->conns);
	e->conns = NULL;
	uring_pbuf_free(e);
}

/* ---- connection slots ---- */

struct uring_conn *uring_conn_alloc(struct uring_engine *e)
{
	struct uring_conn *u;

	if (e->free_head != URING_NONE) {
		u = &e->conns[e->free_head];
		e->free_head = u->next_free;
	} else if (e->slots_used < e->n_slots)
		u = &e->conns[e->slots_used++];
	else
		return NULL;

	/* A slot freed in this batch may still be on the update list: it
	 * stays there, linked as it is (resetting its link would cut the
	 * list, or make it a cycle when the slot was its tail). */
	*u = (struct uring_conn){
		.c = { .client_fd = -1, .upstream_fd = -1 },
		.gen = u->gen,
		.next_free = URING_NONE,
		.next_dirty = u->dirty ? u->next_dirty : URING_NONE,
		.dirty = u->dirty,
	};
	for (unsigned d = 0; d < 2; d++) {
		uring_buf_init(&u->dir[d].buf);
		u->dir[d].pipe[0] = u->dir[d].pipe[1] = -1;
	}
	return u;
}

void uring_conn_free(struct uring_engine *e, struct uring_conn *u)
{
	for (unsigned d = 0; d < 2; d++) {
		if (u->dir[d].nobufs) {
			u->dir[d].nobufs = false;
			e->pb.n_waiting--;
		}
		uring_buf_release(&u->dir[d].buf);
		free(u->dir[d].iov);
		u->dir[d].iov = NULL;
		u->dir[d].iov_cap = 0;
		if (u->dir[d].pipe[0] >= 0)
			e->n_pipes--;
		u->dir[d].pipe[0] = safe_close(u->dir[d].pipe[0]);
		u->dir[d].pipe[1] = safe_close(u->dir[d].pipe[1]);
	}
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
	e->free_head = uring_slot_of(e, u);
	/* Descriptors are free again: held clients and accepting go on. */
	e->fds_freed = true;
}

void uring_conn_free_all(struct uring_engine *e)
{
	for (uint32_t i = 0; i < e->slots_used; i++) {
		struct uring_conn *u = &e->conns[i];

		if (u->c.state != CONN_FREE) {
			u->inflight = 0;
			uring_conn_free(e, u);
		}
	}
}

void uring_splice_cancel(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	if (u->dir[d].poll_in)
		uring_cancel(e, uring_ud_pack(URING_OP_SPOLL_IN_UP + d, uring_slot_of(e, u), u->gen));
	if (u->dir[d].poll_out)
		uring_cancel(e, uring_ud_pack(URING_OP_SPOLL_OUT_UP + d, uring_slot_of(e, u), u->gen));
}

void uring_conn_cancel_all(struct uring_engine *e, struct uring_conn *u)
{
	uint32_t slot = uring_slot_of(e, u);

	if (u->cancelled)
		return;
	u->cancelled = true;
	/* Cancelling the poll ends its linked timeout too. */
	if (u->connecting)
		uring_cancel(e, uring_ud_pack(URING_OP_CONNECT_POLL, slot, u->gen));
	if (u->retrying)
		uring_cancel(e, uring_ud_pack(URING_OP_CONNECT_RETRY, slot, u->gen));
	for (unsigned d = 0; d < 2; d++) {
		/* The send first: cancelling a linked send cancels the
		 * receive behind it, which no cancel finds before it starts. */
		if (u->dir[d].sending)
			uring_cancel(e, uring_ud_pack((u->dir[d].send_linked ? URING_OP_SENDL_UP : URING_OP_SEND_UP) + d,
						      slot, u->gen));
		if (u->dir[d].recv_armed)
			uring_cancel(e, uring_ud_pack(URING_OP_RECV_UP + d, slot, u->gen));
		uring_splice_cancel(e, u, (enum relay_dir)d);
	}
}

void uring_conn_end(struct uring_engine *e, struct uring_conn *u, int error)
{
	if (u->c.state == CONN_CLOSING || u->c.state == CONN_FREE)
		return;
	u->c.state = CONN_CLOSING;
	u->error = error;
	/* A request the cancel cannot reach in time (no SQE, or a worker
	 * thread blocked in it) still ends: shutting the sockets down makes
	 * a blocked recv or send return at once.  The fds stay open until the
	 * last completion, so no request can reach a reused number. */
	if (u->inflight > 0) {
		if (u->c.client_fd >= 0)
			(void)shutdown(u->c.client_fd, SHUT_RDWR);
		if (u->c.upstream_fd >= 0 && !u->connecting)
			(void)shutdown(u->c.upstream_fd, SHUT_RDWR);
	}
	if (!e->stopping || !e->cancel_any)
		uring_conn_cancel_all(e, u);
	if (u->inflight == 0)
		uring_conn_free(e, u);
}

struct uring_conn *uring_conn_lookup(struct uring_engine *e, uint32_t slot, uint32_t gen)
{
	struct uring_conn *u;

	if (slot >= e->slots_used)
		return NULL;
	u = &e->conns[slot];
	if (u->c.state == CONN_FREE || u->gen != gen)
		return NULL;
	return u;
}

/* ---- submission, for the files above ---- */

/*
 * X410_VSOCK_URING_SQE_FAIL=N, for the tests: about one uring_sqe() in N
 * finds no SQE, as when the queue is full and cannot be submitted.  A full
 * queue is rare even in a 4-entry ring (uring_sqe() submits early), so
 * without this the paths that redo work found no SQE would go untried.  The
 * order is pseudo-random (xorshift32, fixed seed), so that no fixed period
 * can starve the same request in every loop.
 */
static bool uring_sqe_fail_now(struct uring_engine *e)
{
	uint32_t x = e->sqe_fail_state;

	x ^= x << 13;
	x ^= x >> 17;
	x ^= x << 5;
	e->sqe_fail_state = x;
	return x % e->sqe_fail_every == 0;
}

struct io_uring_sqe *uring_sqe(struct uring_engine *e, unsigned n)
{
	for (unsigned tries = 0; io_uring_sq_space_left(&e->ring) < n && tries < 4; tries++) {
		/* Full: submit what is prepared (keeping its order) and go on. */
		int r = io_uring_submit(&e->ring);

		if (r < 0 && !relay_errno_is_transient(r) && r != -EBUSY) {
			log_debug_errno(r, "io_uring: early submit failed: %m");
			break;
		}
	}
	if (io_uring_sq_space_left(&e->ring) < n ||
	    (e->sqe_fail_every && uring_sqe_fail_now(e))) {
		e->sqe_short = true;
		return NULL;
	}
	return io_uring_get_sqe(&e->ring);
}

void uring_sqe_data(struct io_uring_sqe *sqe, unsigned op, uint32_t slot, uint32_t gen)
{
	sqe->user_data = uring_ud_pack(op, slot, gen);
}

void uring_op_begin(struct uring_engine *e, struct uring_conn *u)
{
	e->inflight++;
	if (u)
		u->inflight++;
}

void uring_op_end(struct uring_engine *e, struct uring_conn *u)
{
	if (e->inflight > 0)
		e->inflight--;
	if (u && u->inflight > 0)
		u->inflight--;
}

/* Cancel one request by its user_data.  Without an SQE the cancel is lost
 * but not the request: it completes on its own (the connection's fds are
 * shut down, see uring_conn_end()). */
void uring_cancel(struct uring_engine *e, uint64_t ud)
{
	struct io_uring_sqe *sqe = uring_sqe(e, 1);

	if (!sqe)
		return;
	io_uring_prep_cancel64(sqe, ud, 0);
	uring_sqe_data(sqe, URING_OP_CANCEL, 0, 0);
}

void uring_nothing(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			  const struct io_uring_cqe *cqe)
{
	(void)e, (void)u, (void)slot, (void)cqe;
}

/* ---- can it run here? ---- */

int uring_probe(char *why, size_t why_size)
{
	static const struct {
		int op;
		const char *name;
	} needed[] = {
		{ IORING_OP_ACCEPT, "ACCEPT" },
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
