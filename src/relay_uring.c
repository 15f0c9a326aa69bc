/* SPDX-License-Identifier: MIT */
/*
 * The io_uring relay engine: one thread, one ring (relay_uring_engine.h
 * describes the loop and how the engine's files divide the work).
 *
 * This file is the top of the engine: the loop, accepting (with its pause
 * when descriptors run out, and the clients held meanwhile), signals,
 * stopping, and the handlers of those requests' completions.  A connection
 * is relay_uring_ops.c's, the ring relay_uring_setup.c's.
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

static void uring_accept_failed(struct uring_engine *e, size_t i, int res)
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

static void uring_client_start(struct uring_engine *e, int fd)
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
				uring_conn_connect_failed(e, u, -EMFILE);
				break;
			}
		}
	}
	if (e->n_held == 0 && e->accept_paused)
		e->accept_paused = false;
}

/* ---- stopping ---- */

static void uring_cancel_each(struct uring_engine *e)
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
static void uring_stop_timer_arm(struct uring_engine *e)
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

static void uring_stop(struct uring_engine *e)
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
static bool uring_stopped(const struct uring_engine *e)
{
	return e->stopping && (e->stop_expired || e->inflight <= (e->stop_timer ? 1u : 0u));
}

/* ---- the engine's own completions ---- */

static void uring_accept_done(struct uring_engine *e, uint32_t slot, const struct io_uring_cqe *cqe)
{
	if (uring_cqe_last(cqe))
		e->listeners[slot].armed = false;
}

static void uring_accept_ok(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			    const struct io_uring_cqe *cqe)
{
	(void)u;
	uring_accept_done(e, slot, cqe);
	e->listeners[slot].errors = 0;
	uring_client_start(e, cqe->res);
}

static void uring_accept_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			       const struct io_uring_cqe *cqe)
{
	(void)u;
	uring_accept_done(e, slot, cqe);
	uring_accept_failed(e, slot, cqe->res);
}

static void uring_signal_ok(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			    const struct io_uring_cqe *cqe)
{
	(void)u, (void)slot, (void)cqe;
	e->signal_armed = false;
	if (relay_handle_signals(e->r))
		uring_stop(e);
}

static void uring_signal_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			       const struct io_uring_cqe *cqe)
{
	(void)u, (void)slot;
	e->signal_armed = false;
	if (cqe->res != -ECANCELED && !e->stopping)
		log_debug_errno(cqe->res, "io_uring: polling the signalfd failed: %m");
}

/* A timer ends with -ETIME when it fires, -ECANCELED when cancelled. */
static void uring_accept_timer(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			       const struct io_uring_cqe *cqe)
{
	(void)u, (void)slot, (void)cqe;
	e->accept_timer = false;
	e->fds_freed = true;   /* the pause is over: try again */
}

static void uring_stop_timer(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			     const struct io_uring_cqe *cqe)
{
	(void)u, (void)slot;
	e->stop_timer = false;
	if (cqe->res == -ECANCELED) {
		/* Caught by the cancel of everything: the deadline holds. */
		if (!uring_stopped(e))
			uring_stop_timer_arm(e);
		return;
	}
	e->stop_expired = true;
}

static void uring_cancel_all_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
				   const struct io_uring_cqe *cqe)
{
	(void)u, (void)slot;
	if (cqe->res == -EINVAL) {
		/* No IORING_ASYNC_CANCEL_ANY (before 5.19). */
		e->cancel_any = false;
		uring_cancel_each(e);
	}
}

static const struct uring_handler uring_engine_handlers[URING_OP_FIRST_CONN] = {
	[URING_OP_ACCEPT] = { URING_OP_ACCEPT, "accept", uring_accept_ok, uring_accept_error },
	[URING_OP_SIGNAL] = { URING_OP_SIGNAL, "signal", uring_signal_ok, uring_signal_error },
	[URING_OP_ACCEPT_TIMER] = { URING_OP_ACCEPT_TIMER, "accept-timer", uring_accept_timer, uring_accept_timer },
	[URING_OP_STOP_TIMER] = { URING_OP_STOP_TIMER, "stop-timer", uring_stop_timer, uring_stop_timer },
	[URING_OP_CANCEL] = { URING_OP_CANCEL, "cancel", uring_nothing, uring_nothing },
	[URING_OP_CANCEL_ALL] = { URING_OP_CANCEL_ALL, "cancel-all", uring_nothing, uring_cancel_all_error },
};

/* One completion: the engine's own here, a connection's in relay_uring_ops.c. */
static void uring_dispatch(struct uring_engine *e, const struct io_uring_cqe *cqe)
{
	unsigned op = uring_ud_op(cqe->user_data);
	uint32_t slot = uring_ud_slot(cqe->user_data);
	const struct uring_handler *h;

	if (op == URING_OP_NONE || op >= URING_OP_COUNT) {
		log_debug("io_uring: completion of unknown request %#" PRIx64 " (res %d)", (uint64_t)cqe->user_data,
			  cqe->res);
		return;
	}
	if (op >= URING_OP_FIRST_CONN) {
		uring_conn_dispatch(e, cqe);
		return;
	}
	if (op == URING_OP_CANCEL)
		return;   /* never counted as in flight */
	h = &uring_engine_handlers[op];
	if (uring_cqe_last(cqe))
		uring_op_end(e, NULL);
	if (cqe->res < 0)
		h->on_error(e, NULL, slot, cqe);
	else
		h->on_success(e, NULL, slot, cqe);
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
		/* Set again by any work below that finds no SQE, from here on:
		 * an accept, a timer or a signal poll too, not only a send. */
		e.sqe_short = false;
		uring_fds_freed(&e);
		if (e.accept_pause_due) {
			/* A connect found no descriptor for its upstream. */
			e.accept_pause_due = false;
			uring_accept_pause(&e);
		}
		if (e.pb.starved || e.pb.n_waiting > 0)
			uring_pbuf_starved(&e);
		uring_arm(&e);
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
	/* The ring first: once it is gone, no request the stop deadline left
	 * behind can still write into a connection's buffers. */
	uring_ring_exit(&e);
	uring_conn_free_all(&e);
	uring_engine_done(&e);
	return ret;
}

const struct relay_engine relay_engine_uring = {
	.name = "uring",
	.probe = uring_probe,
	.run = uring_run,
};
