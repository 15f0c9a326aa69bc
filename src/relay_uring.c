/* SPDX-License-Identifier: MIT */
/*
 * The io_uring relay engine: one thread, one ring (relay_uring_engine.h
 * describes the loop and how the engine's files divide the work).
 *
 * This file holds what is not a connection's I/O: the loop, the connection
 * slots, accepting (with its pause when descriptors run out, and the
 * clients held meanwhile), upstream connects, signals and stopping.
 *
 * Every request's user_data packs the operation, the connection slot and
 * the slot's generation (relay_uring.h), so that a completion of a slot's
 * earlier occupant is recognised and dropped.  Arming is state, not an
 * event: a listener or the signalfd that is not armed (its request ended,
 * or no SQE was free) is armed again at the top of the next loop, so no
 * arming is ever lost.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "relay_uring_engine.h"
#include "util.h"

#ifndef IORING_ACCEPT_MULTISHOT
#define IORING_ACCEPT_MULTISHOT (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ALL
#define IORING_ASYNC_CANCEL_ALL (1U << 0)
#endif
#ifndef IORING_ASYNC_CANCEL_ANY
#define IORING_ASYNC_CANCEL_ANY (1U << 2)
#endif

/* Consecutive accept errors that do not pause accepting, after which the
 * engine pauses anyway: a persistent error must not become a busy loop. */
#define URING_ACCEPT_ERRORS_MAX 16u

/* ---- connection slots ---- */

static struct uring_conn *uring_conn_alloc(struct uring_engine *e)
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
	uring_buf_init(&u->dir[RELAY_UP].buf);
	uring_buf_init(&u->dir[RELAY_DOWN].buf);
	return u;
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

/* ---- accepting ---- */

static void uring_accept_arm(struct uring_engine *e, size_t i)
{
	struct uring_listener *l = &e->listeners[i];
	struct io_uring_sqe *sqe;

	if (l->armed || e->stopping || e->accept_paused)
		return;
	sqe = uring_sqe(e, 1);
	if (!sqe)
		return;   /* armed next loop */
	if (l->multishot) {
#if HAVE_DECL_IO_URING_PREP_MULTISHOT_ACCEPT
		io_uring_prep_multishot_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
#else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
		sqe->ioprio |= IORING_ACCEPT_MULTISHOT;
#endif
	} else
		io_uring_prep_accept(sqe, l->fd, NULL, NULL, SOCK_CLOEXEC);
	uring_sqe_data(sqe, URING_OP_ACCEPT, (uint32_t)i, 0);
	l->armed = true;
	uring_op_begin(e, NULL);
}

static void uring_signal_arm(struct uring_engine *e)
{
	struct io_uring_sqe *sqe;

	if (e->signal_armed || e->stopping)
		return;
	sqe = uring_sqe(e, 1);
	if (!sqe)
		return;   /* armed next loop */
	io_uring_prep_poll_add(sqe, e->r->signal_fd, POLLIN);
	uring_sqe_data(sqe, URING_OP_SIGNAL, 0, 0);
	e->signal_armed = true;
	uring_op_begin(e, NULL);
}

/* Out of descriptors (or the like): stop accepting until a connection
 * closes or RELAY_ACCEPT_PAUSE_MS has passed, whichever comes first. */
static void uring_accept_pause(struct uring_engine *e)
{
	struct io_uring_sqe *sqe;

	e->accept_paused = true;
	for (size_t i = 0; i < e->n_listeners; i++)
		if (e->listeners[i].armed && e->listeners[i].multishot)
			uring_cancel(e, uring_ud_pack(URING_OP_ACCEPT, (uint32_t)i, 0));
	if (e->accept_timer)
		return;
	sqe = uring_sqe(e, 1);
	if (!sqe) {
		e->fds_freed = true;   /* no timer: look again next loop */
		return;
	}
	io_uring_prep_timeout(sqe, &e->pause_ts, 0, 0);
	uring_sqe_data(sqe, URING_OP_ACCEPT_TIMER, 0, 0);
	e->accept_timer = true;
	uring_op_begin(e, NULL);
}

void uring_accept_failed(struct uring_engine *e, size_t i, int res)
{
	struct uring_listener *l = &e->listeners[i];

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
		uring_accept_pause(e);
	}
}

/*
 * The relay's sockets are blocking for io_uring's sake (clients are accepted
 * so, which relay_client_accepted() does not mind).  The ring never blocks
 * on them: it tries every request non-blocking first and waits for
 * readiness itself.  But a request that was woken and still finds nothing
 * to do may be handed to a kernel worker thread, which does a plain
 * blocking send/recv -- and on an O_NONBLOCK socket that fails with -EAGAIN
 * instead of waiting.
 */
static int uring_fd_set_blocking(int fd)
{
	/* A socket has no other status flag that F_SETFL could change. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		return -errno;
	return 0;
}

void uring_client_start(struct uring_engine *e, int fd)
{
	struct uring_conn *u;
	uint64_t id;

	if (e->stopping) {
		(void)safe_close(fd);
		return;
	}
	if (relay_client_accepted(e->r, fd, &id) < 0)
		return;    /* refused: logged and closed */
	u = uring_conn_alloc(e);
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
	uring_conn_connect(e, u);
}

static void uring_connect_failed(struct uring_engine *e, struct uring_conn *u, int error)
{
	relay_connect_failed(e->r, u->c.id, error);
	uring_conn_end(e, u, 0);
}

/* A UNIX listener's queue is full, and nothing tells us when it drains:
 * connect again after a short while, until the connect timeout, as the
 * epoll engine does. */
static void uring_connect_retry_arm(struct uring_engine *e, struct uring_conn *u)
{
	struct io_uring_sqe *sqe;

	if (relay_now_ms() >= u->deadline_ms) {
		uring_connect_failed(e, u, -EAGAIN);   /* "its listen queue stayed full" */
		return;
	}
	sqe = uring_sqe(e, 1);
	if (!sqe) {
		uring_conn_mark(e, u);   /* tried again next loop */
		return;
	}
	io_uring_prep_timeout(sqe, &e->retry_ts, 0, 0);
	uring_sqe_data(sqe, URING_OP_CONNECT_RETRY, uring_slot_of(e, u), u->gen);
	u->retrying = true;
	uring_op_begin(e, u);
}

void uring_conn_connected(struct uring_engine *e, struct uring_conn *u)
{
	int r = uring_fd_set_blocking(u->c.upstream_fd);

	if (r < 0) {
		uring_connect_failed(e, u, r);
		return;
	}
	uring_conn_relay(e, u);
}

/*
 * Make the upstream socket (once) and connect it.  Out of descriptors, the
 * client is not dropped: it waits, as it would in the listen backlog (and
 * accepting is paused meanwhile), until a connection closes or the pause
 * ends.
 *
 * The connect is the connect(2) system call on the still non-blocking
 * socket (relay_upstream_connect()), not the ring's IORING_OP_CONNECT: for
 * vsock the buffer sizes must be set again right after connect() has
 * assigned the transport and before the host answers, which only a
 * connect made here leaves room for.  A UNIX connect succeeds or fails at
 * once, or says EAGAIN when the listener's queue is full, retried on a
 * timer; a vsock or TCP connect in progress is waited for by the ring
 * (uring_conn_poll_connect()).
 */
void uring_conn_connect(struct uring_engine *e, struct uring_conn *u)
{
	int ufd = u->c.upstream_fd, r;

	if (u->connect_started) {
		/* connect() is under way: only its poll is missing. */
		uring_conn_poll_connect(e, u);
		return;
	}
	if (ufd < 0) {
		ufd = relay_upstream_socket(e->r);
		if (ufd == -EMFILE || ufd == -ENFILE) {
			if (!u->held) {
				u->held = true;
				e->n_held++;
				/* The log line (rate limited) of running out of fds. */
				(void)relay_accept_failed(e->r, ufd);
			}
			uring_accept_pause(e);
			return;
		}
		if (u->held) {
			u->held = false;
			e->n_held--;
		}
		if (ufd < 0) {
			uring_connect_failed(e, u, ufd);
			return;
		}
		u->c.upstream_fd = ufd;
		e->n_upstreams++;
		/* The timeout is the upstream's: it starts now. */
		u->deadline_ms = relay_now_ms() + MAX(e->r->cfg->connect_timeout_ms, 1u);
	}

	r = relay_upstream_connect(e->r, u->c.id, ufd);
	if (r == -EAGAIN) {
		uring_connect_retry_arm(e, u);
		return;
	}
	if (r < 0) {
		uring_connect_failed(e, u, r);
		return;
	}
	if (r == 1) {
		u->connect_started = true;
		uring_conn_poll_connect(e, u);
		return;
	}
	uring_conn_connected(e, u);
}

/* After descriptors were freed (or the pause ended): connect the held
 * clients, lowest slot first, and accept again once none is left. */
static void uring_fds_freed(struct uring_engine *e)
{
	if (!e->fds_freed || e->stopping)
		return;
	e->fds_freed = false;
	for (uint32_t i = 0; i < e->slots_used && e->n_held > 0; i++) {
		struct uring_conn *u = &e->conns[i];

		if (u->c.state != CONN_CONNECTING || !u->held)
			continue;
		uring_conn_connect(e, u);
		if (u->held)
			break;     /* still none: wait for the next chance */
	}
	if (e->n_held > 0 && e->n_upstreams == 0) {
		/* Waiting clients hold every descriptor and no connection
		 * will ever free one: the newest gives up, so that the others
		 * can go on. */
		for (uint32_t i = e->slots_used; i > 0; i--) {
			struct uring_conn *u = &e->conns[i - 1];

			if (u->c.state == CONN_CONNECTING && u->held) {
				uring_connect_failed(e, u, -EMFILE);
				break;
			}
		}
	}
	if (e->n_held == 0 && e->accept_paused)
		e->accept_paused = false;
}

/* ---- stopping ---- */

void uring_cancel_each(struct uring_engine *e)
{
	for (size_t i = 0; i < e->n_listeners; i++)
		if (e->listeners[i].armed)
			uring_cancel(e, uring_ud_pack(URING_OP_ACCEPT, (uint32_t)i, 0));
	if (e->accept_timer)
		uring_cancel(e, uring_ud_pack(URING_OP_ACCEPT_TIMER, 0, 0));
	if (e->signal_armed)
		uring_cancel(e, uring_ud_pack(URING_OP_SIGNAL, 0, 0));
	for (uint32_t i = 0; i < e->slots_used; i++)
		if (e->conns[i].c.state == CONN_CLOSING)
			uring_conn_cancel_all(e, &e->conns[i]);
}

/* A deadline for stopping, should a request ignore its cancellation. */
void uring_stop_timer_arm(struct uring_engine *e)
{
	struct io_uring_sqe *sqe;

	if (e->stop_timer)
		return;
	sqe = uring_sqe(e, 1);
	if (!sqe)
		return;   /* armed next loop (uring_run) */
	io_uring_prep_timeout(sqe, &e->stop_ts, 0, 0);
	uring_sqe_data(sqe, URING_OP_STOP_TIMER, 0, 0);
	e->stop_timer = true;
	uring_op_begin(e, NULL);
}

void uring_stop(struct uring_engine *e)
{
	struct io_uring_sqe *sqe = NULL;

	if (e->stopping)
		return;
	e->stopping = true;
	for (uint32_t i = 0; i < e->slots_used; i++)
		uring_conn_end(e, &e->conns[i], 0);
	if (e->cancel_any)
		sqe = uring_sqe(e, 1);
	if (sqe) {
		io_uring_prep_cancel64(sqe, 0, IORING_ASYNC_CANCEL_ANY | IORING_ASYNC_CANCEL_ALL);
		uring_sqe_data(sqe, URING_OP_CANCEL_ALL, 0, 0);
	} else {
		e->cancel_any = false;
		uring_cancel_each(e);
	}
	/* After the cancel in the SQ, so that it is not cancelled too. */
	uring_stop_timer_arm(e);
}

/* Stopping is done when nothing but its own deadline is in flight. */
bool uring_stopped(const struct uring_engine *e)
{
	return e->stopping && (e->stop_expired || e->inflight <= (e->stop_timer ? 1u : 0u));
}

/* ---- the loop ---- */

/* What must always be armed, armed again if it ended or found no SQE. */
static void uring_arm(struct uring_engine *e)
{
	if (e->stopping) {
		if (!e->stop_timer && !e->stop_expired)
			uring_stop_timer_arm(e);
		return;
	}
	uring_signal_arm(e);
	for (size_t i = 0; i < e->n_listeners; i++)
		uring_accept_arm(e, i);
}

static int uring_run(struct relay *r)
{
	struct uring_engine e;
	int ret;

	ret = uring_engine_init(&e, r);
	if (ret == -EOPNOTSUPP)
		return log_error_errno(ret, "io_uring cannot poll sockets on this kernel (Linux 5.7 or newer is needed): use --engine epoll");
	if (ret < 0)
		return log_error_errno(ret, "Failed to set up the io_uring engine: %m");
	/*
	 * Signals that came before the ring could watch the signalfd (during
	 * setup, or between "serving" and here) are taken once now, not left
	 * to the poll armed in the first loop: a stop must never depend on
	 * that poll seeing a signal queued before it existed.  One arriving
	 * after this read is seen by the poll, which checks the signalfd's
	 * readiness when it is armed and is armed before the first wait.
	 */
	if (relay_handle_signals(r) || r->stopping)
		uring_stop(&e);

	for (ret = 0;;) {
		struct io_uring_cqe *cqe;
		unsigned head, n = 0;
		int s;

		if (uring_stopped(&e))
			break;
		uring_fds_freed(&e);
		if (e.pb.starved || e.pb.n_waiting > 0)
			uring_pbuf_starved(&e);
		uring_arm(&e);
		e.sqe_short = false;
		uring_conn_flush(&e);

		/* Work that found no SQE is redone at once, without waiting. */
		s = io_uring_submit_and_wait(&e.ring, e.sqe_short || e.dirty_head != URING_NONE ? 0 : 1);
		if (s < 0 && !relay_errno_is_transient(s) && s != -EBUSY && s != -ETIME) {
			ret = log_error_errno(s, "io_uring_enter() failed: %m");
			break;
		}
		io_uring_for_each_cqe(&e.ring, head, cqe) {
			uring_dispatch(&e, cqe);
			n++;
		}
		io_uring_cq_advance(&e.ring, n);
	}

	if (e.inflight > (e.stop_timer ? 1u : 0u))
		log_debug("io_uring: %" PRIu64 " requests did not complete after cancellation", e.inflight);
	uring_engine_done(&e);
	return ret;
}

const struct relay_engine relay_engine_uring = {
	.name = "uring",
	.probe = uring_probe,
	.run = uring_run,
};
