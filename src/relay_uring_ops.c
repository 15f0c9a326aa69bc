/* SPDX-License-Identifier: MIT */
/*
 * The io_uring engine's connections: the upstream connect and the I/O.
 * Every completion of a connection's request goes through one table of
 * {op, name, on_success, on_error} (the way liburing's examples/proxy.c
 * keeps each operation's rules in one place; the loop in relay_uring.c has
 * the table of the engine's own requests), and a connection's I/O is
 * decided in one function, uring_conn_update(), run once per connection
 * after the whole batch of completions has been handled.  This file calls
 * relay_uring_setup.c, never the loop: what the loop must do for it (pause
 * accepting when descriptors run out) it asks through the engine's state.
 *
 * Each direction has at most one receive and one send in flight.  The send
 * takes everything pending (one sendmsg gathering every chunk, up to
 * IOV_MAX), so requests that arrived while the last send was in flight, or
 * in the same batch, leave together; a lone request still leaves in the
 * loop iteration it arrived in.  Bytes therefore leave in the order they
 * came.  Memory is the direction's own (relay_uring_buf.h), counted in bytes
 * against RELAY_HALF_MAX; a direction at its budget simply has no receive
 * armed until its sink has taken some.
 */
#include <errno.h>
#include <inttypes.h>
#include <limits.h>
#include <poll.h>
#include <stdlib.h>
#include <sys/socket.h>

#include "log.h"
#include "macro.h"
#include "relay_uring_engine.h"
#include "upstream.h"
#include "util.h"

#ifndef IORING_CQE_BUFFER_SHIFT
#define IORING_CQE_BUFFER_SHIFT 16
#endif

/* Consecutive -ENOMEM that io_uring itself returned for one receive (the
 * socket had data or nothing, not an error) before the connection ends. */
#define URING_RING_ENOMEM_MAX 8u

/* ---- the update list ---- */

void uring_conn_mark(struct uring_engine *e, struct uring_conn *u)
{
	uint32_t slot = uring_slot_of(e, u);

	if (u->dirty)
		return;
	u->dirty = true;
	u->next_dirty = URING_NONE;
	if (e->dirty_tail == URING_NONE)
		e->dirty_head = slot;
	else
		e->conns[e->dirty_tail].next_dirty = slot;
	e->dirty_tail = slot;
}

static void uring_conn_update(struct uring_engine *e, struct uring_conn *u);

void uring_conn_flush(struct uring_engine *e)
{
	/* The list as it is now: a connection that marks itself again
	 * (no SQE) waits for the next loop. */
	uint32_t slot = e->dirty_head;

	e->dirty_head = e->dirty_tail = URING_NONE;
	while (slot != URING_NONE) {
		struct uring_conn *u = &e->conns[slot];

		slot = u->next_dirty;
		u->dirty = false;
		uring_conn_update(e, u);
	}
}

/* ---- one direction ---- */

/* Prepare direction d's receive in sqe (got by the caller).  Returns 0, or
 * -ENOBUFS (at its budget) or -ENOMEM, with the SQE unused. */
static int uring_dir_prep_recv(struct uring_engine *e, struct uring_conn *u, enum relay_dir d,
			       struct io_uring_sqe *sqe)
{
	struct uring_dir *ud = &u->dir[d];
	void *base = NULL;
	uint32_t len = 0;
	int r;

	if (e->pb.on) {
		len = uring_buf_room(&ud->buf);   /* > 32 KiB: uring_buf_may_take() said yes */
	} else {
		r = uring_buf_take(&ud->buf, &base, &len);
		if (r < 0)
			return r;
	}
	io_uring_prep_recv(sqe, relay_dir_source(&u->c, d), base, len, 0);
	if (e->pb.on) {
		/* The kernel picks a shared buffer when bytes arrive, and
		 * fills at most len of it. */
		sqe->flags |= IOSQE_BUFFER_SELECT;
		sqe->buf_group = URING_PBUF_GROUP;
	}
	uring_sqe_data(sqe, URING_OP_RECV_UP + d, uring_slot_of(e, u), u->gen);
	ud->recv_armed = true;
	uring_op_begin(e, u);
	return 0;
}

static void uring_dir_recv(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	struct uring_dir *ud = &u->dir[d];
	struct io_uring_sqe *sqe;
	void *base;
	uint32_t len;
	int r;

	if (e->pb.on) {
		sqe = uring_sqe(e, 1);
		if (!sqe) {
			uring_conn_mark(e, u);
			return;
		}
		(void)uring_dir_prep_recv(e, u, d, sqe);
		return;
	}

	r = uring_buf_take(&ud->buf, &base, &len);
	if (r == -ENOBUFS)
		return;   /* at its budget: armed again once some is sent */
	if (r < 0) {
		uring_conn_end(e, u, r);
		return;
	}
	sqe = uring_sqe(e, 1);
	if (!sqe) {
		uring_buf_received(&ud->buf, 0);   /* give the space back */
		uring_conn_mark(e, u);
		return;
	}
	io_uring_prep_recv(sqe, relay_dir_source(&u->c, d), base, len, 0);
	uring_sqe_data(sqe, URING_OP_RECV_UP + d, uring_slot_of(e, u), u->gen);
	ud->recv_armed = true;
	uring_op_begin(e, u);
}

static void uring_dir_send(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	struct uring_dir *ud = &u->dir[d];
	struct io_uring_sqe *sqe;
	unsigned n;
	bool link;
	int flags;

	/* Room for every chunk, up to IOV_MAX; more is sent next time. */
	while (ud->iov_cap < IOV_MAX && ud->iov_cap < ud->buf.n_chunks) {
		unsigned cap = MIN(MAX(ud->iov_cap * 2, 8u), (unsigned)IOV_MAX);
		struct iovec *iov = reallocarray(ud->iov, cap, sizeof(*iov));

		if (!iov)
			break;
		ud->iov = iov;
		ud->iov_cap = cap;
	}
	if (ud->iov_cap == 0) {
		uring_conn_end(e, u, -ENOMEM);
		return;
	}
	n = uring_buf_gather(&ud->buf, ud->iov, ud->iov_cap);
	if (n == 0)
		return;

	/*
	 * A send with the direction's next receive linked behind it, when
	 * that receive is due anyway: the send asks for no completion on
	 * success (IOSQE_CQE_SKIP_SUCCESS; MSG_WAITALL makes the kernel
	 * finish a short send itself), and the receive, which starts only
	 * once the send has succeeded, says so when it completes.  A relayed
	 * message then costs one io_uring_enter(): waking up just to retire
	 * a send that completed during the submit would cost a second.  A
	 * failing send posts its error and cancels the receive.  Only for a
	 * direction holding at most URING_LINK_HELD_MAX (relay_uring_buf.h).
	 */
	link = e->send_link && ud->buf.held <= URING_LINK_HELD_MAX && !ud->recv_armed && !ud->nobufs &&
	       !conn_half(&u->c, d)->eof && !conn_half(&u->c, d)->shut && uring_buf_may_take(&ud->buf);
	sqe = uring_sqe(e, link ? 2 : 1);
	if (!sqe) {
		uring_conn_mark(e, u);
		return;
	}
	flags = MSG_NOSIGNAL | (link ? MSG_WAITALL : 0);
	if (n == 1)
		io_uring_prep_send(sqe, relay_dir_sink(&u->c, d), ud->iov[0].iov_base, ud->iov[0].iov_len, flags);
	else {
		ud->msg = (struct msghdr){ .msg_iov = ud->iov, .msg_iovlen = n };
		io_uring_prep_sendmsg(sqe, relay_dir_sink(&u->c, d), &ud->msg, (unsigned)flags);
	}
	ud->sending = true;
	if (!link) {
		uring_sqe_data(sqe, URING_OP_SEND_UP + d, uring_slot_of(e, u), u->gen);
		uring_op_begin(e, u);
		return;
	}
	/* Not counted in flight: the receive's completion always comes. */
	uring_sqe_data(sqe, URING_OP_SENDL_UP + d, uring_slot_of(e, u), u->gen);
	sqe->flags |= IOSQE_IO_LINK | IOSQE_CQE_SKIP_SUCCESS;
	ud->send_linked = true;
	ud->send_len = 0;
	for (unsigned i = 0; i < n; i++)
		ud->send_len += ud->iov[i].iov_len;
	sqe = io_uring_get_sqe(&e->ring);
	if (uring_dir_prep_recv(e, u, d, sqe) < 0) {
		/* Not reached: uring_buf_may_take() said yes.  Keep the
		 * chain whole. */
		io_uring_prep_nop(sqe);
		uring_sqe_data(sqe, URING_OP_RECV_UP + d, uring_slot_of(e, u), u->gen);
		ud->recv_armed = true;
		uring_op_begin(e, u);
	}
}

/* A dropped direction's bytes go, but not from under a send in flight:
 * the kernel may still be reading them.  Called again when it completes. */
static void uring_dir_discard(struct uring_conn *u, enum relay_dir d)
{
	struct uring_dir *ud = &u->dir[d];

	if (conn_half(&u->c, d)->shut && !ud->sending)
		uring_buf_drop(&ud->buf);
}

/* n bytes of direction d have reached its sink. */
static void uring_count_sent(struct uring_engine *e, enum relay_dir d, uint64_t n)
{
	*(d == RELAY_UP ? &e->r->stats.bytes_up : &e->r->stats.bytes_down) += n;
}

/* A linked send has succeeded (its receive completed without the send
 * failing first). */
static void uring_dir_send_done(struct uring_engine *e, struct uring_conn *u, enum relay_dir d, uint64_t n)
{
	struct uring_dir *ud = &u->dir[d];

	ud->sending = false;
	ud->send_linked = false;
	uring_buf_sent(&ud->buf, n);
	uring_dir_discard(u, d);
	uring_count_sent(e, d, n);
}

/* Direction d can deliver nothing more (its sink is gone): drop what it
 * holds, stop reading its source; the other direction goes on. */
static void uring_dir_drop(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	struct uring_dir *ud = &u->dir[d];

	relay_half_drop(&u->c, d);
	uring_dir_discard(u, d);
	if (ud->recv_armed)
		uring_cancel(e, uring_ud_pack(URING_OP_RECV_UP + d, uring_slot_of(e, u), u->gen));
	uring_splice_cancel(e, u, d);
}

/* Writing to direction d's sink failed with res (not transient), by a ring
 * send or a splice: relay_write_error_is_sink_gone() decides.  Returns false
 * when the connection has ended. */
static bool uring_dir_sink_failed(struct uring_engine *e, struct uring_conn *u, enum relay_dir d, int res)
{
	if (!relay_write_error_is_sink_gone(res)) {
		log_debug_errno(res, "client #%" PRIu64 ": send to the %s failed: %m", u->c.id,
				relay_dir_sink_name(d));
		uring_conn_end(e, u, res);
		return false;
	}
	log_debug_errno(res, "client #%" PRIu64 ": %s stopped reading: %m", u->c.id, relay_dir_sink_name(d));
	uring_dir_drop(e, u, d);
	uring_conn_mark(e, u);
	return true;
}

/* Reading direction d's source failed with res (not transient, and the
 * socket's own error), by a ring receive or a splice:
 * relay_read_error_is_eof() decides.  Returns false when the connection
 * has ended. */
static bool uring_dir_source_failed(struct uring_engine *e, struct uring_conn *u, enum relay_dir d, int res)
{
	if (!relay_read_error_is_eof(e->r, &u->c, d, res)) {
		log_debug_errno(res, "client #%" PRIu64 ": receive from the %s failed: %m", u->c.id,
				relay_dir_source_name(d));
		uring_conn_end(e, u, res);
		return false;
	}
	log_debug_errno(res, "client #%" PRIu64 ": %s read error taken as its end: %m", u->c.id,
			relay_dir_source_name(d));
	conn_half(&u->c, d)->eof = true;
	if (res == -ECONNRESET)
		/* The source is gone for good: nothing more can be delivered
		 * to it, and the connection ends as soon as what it sent is
		 * out (what is still buffered or in a pipe still goes). */
		uring_dir_drop(e, u, !d);
	uring_conn_mark(e, u);
	return true;
}

/* A splicing direction's update (relay_uring_splice.c): move, and apply
 * relay.h's rules to what happened, as for a receive and a send. */
static void uring_dir_splice(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	struct half *h = conn_half(&u->c, d);
	struct uring_splice_res res;

	uring_splice_move(e, u, d, &res);
	h->received += res.in;
	uring_count_sent(e, d, res.out);
	h->pending = u->dir[d].in_pipe;
	if (res.eof)
		h->eof = true;
	if (res.no_sqe)
		uring_conn_mark(e, u);
	if (res.sink_error < 0 && !uring_dir_sink_failed(e, u, d, res.sink_error))
		return;
	if (res.source_error < 0 && !h->shut)
		uring_dir_source_failed(e, u, d, res.source_error);
}

/* ---- a connection ---- */

/*
 * relay.h's rules, once per connection per loop: send what is pending,
 * forward a finished source's end with shutdown(SHUT_WR) once everything
 * before it is written, receive while the byte budget allows, and end the
 * connection when both directions have ended.
 */
static void uring_conn_update(struct uring_engine *e, struct uring_conn *u)
{
	if (u->c.state == CONN_CONNECTING && !u->connecting && !u->retrying && !u->held) {
		/* Its connect found no SQE: again. */
		uring_conn_connect(e, u);
		return;
	}
	if (u->c.state != CONN_RELAYING)
		return;
	for (unsigned i = 0; i < 2; i++) {
		enum relay_dir d = (enum relay_dir)i;
		struct half *h = conn_half(&u->c, d);
		struct uring_dir *ud = &u->dir[d];

		uring_dir_discard(u, d);
		if (ud->bulk && !ud->splicing && !ud->sending && ud->buf.pending == 0 && !ud->recv_armed &&
		    !h->eof && !h->shut) {
			/* Large receives: splice from now on, when it can. */
			if (uring_splice_begin(e, u, d) < 0)
				ud->no_splice = true;
			ud->bulk = ud->splicing;
		}
		if (ud->splicing && !h->shut) {
			uring_dir_splice(e, u, d);
			if (u->c.state != CONN_RELAYING)
				return;
		} else {
			h->pending = h->shut ? 0 : ud->buf.pending;
			if (h->pending > 0 && !ud->sending)
				uring_dir_send(e, u, d);
		}
		if (half_should_shutdown(h) && !ud->sending && !uring_splice_polling(ud)) {
			/* Direct, not through the ring: nothing of this
			 * direction is in flight, and the peer must see the end
			 * now.  An unconnected sink (its peer is gone) has
			 * nothing to end. */
			if (shutdown(relay_dir_sink(&u->c, d), SHUT_WR) < 0 && errno != ENOTCONN) {
				uring_conn_end(e, u, -errno);
				return;
			}
			h->shut = true;
		}
		if (!ud->recv_armed && !ud->nobufs && !ud->bulk && !ud->splicing && !h->eof && !h->shut &&
		    uring_buf_may_take(&ud->buf))
			uring_dir_recv(e, u, d);
		if (u->c.state != CONN_RELAYING)
			return;
	}
	if (conn_finished(&u->c))
		uring_conn_end(e, u, 0);
}

static void uring_conn_relay(struct uring_engine *e, struct uring_conn *u)
{
	relay_connected(e->r, u->c.id, u->c.upstream_fd);
	u->c.state = CONN_RELAYING;
	uring_conn_mark(e, u);
}

/*
 * A connect(2) in progress ends when the socket becomes writable (POLLOUT),
 * or fails (POLLERR and POLLHUP, which a poll always reports); SO_ERROR then
 * says which (uring_connect_polled()).  The poll is linked to a timeout for
 * what is left of the connect timeout: when that fires first, the poll ends
 * with -ECANCELED.
 */
static void uring_conn_poll_connect(struct uring_engine *e, struct uring_conn *u)
{
	uint64_t now = relay_now_ms();
	struct io_uring_sqe *sqe;

	if (now >= u->deadline_ms) {
		relay_connect_failed(e->r, u->c.id, -ETIMEDOUT);
		uring_conn_end(e, u, 0);
		return;
	}
	sqe = uring_sqe(e, 2);
	if (!sqe) {
		/* Nothing is in flight for it yet: try again next loop. */
		uring_conn_mark(e, u);
		return;
	}
	io_uring_prep_poll_add(sqe, u->c.upstream_fd, POLLOUT);
	sqe->flags |= IOSQE_IO_LINK;
	uring_sqe_data(sqe, URING_OP_CONNECT_POLL, uring_slot_of(e, u), u->gen);
	uring_op_begin(e, u);
	u->connecting = true;
	/* Read by the kernel when it is submitted: kept in the slot. */
	u->connect_ts = uring_ms_to_ts(u->deadline_ms - now);
	sqe = io_uring_get_sqe(&e->ring);
	io_uring_prep_link_timeout(sqe, &u->connect_ts, 0);
	uring_sqe_data(sqe, URING_OP_CONNECT_TIMEOUT, uring_slot_of(e, u), u->gen);
	uring_op_begin(e, u);
}

/*
 * The relay's sockets are blocking for io_uring's sake (clients are accepted
 * so, which relay_client_accepted() does not mind).  The ring never blocks
 * on them: it tries every request non-blocking first and waits for
 * readiness itself.  But a request that was woken and still finds nothing
 * to do may be handed to a kernel worker thread, which does a plain
 * blocking send/recv -- and on an O_NONBLOCK socket that fails with -EAGAIN
 * instead of waiting.  (Which the handlers take as "again": a connection
 * that splices makes its sockets non-blocking, relay_uring_splice.c.)
 */
static int uring_fd_set_blocking(int fd)
{
	/* A socket has no other status flag that F_SETFL could change. */
	if (fcntl(fd, F_SETFL, 0) < 0)
		return -errno;
	return 0;
}

void uring_conn_connect_failed(struct uring_engine *e, struct uring_conn *u, int error)
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
		uring_conn_connect_failed(e, u, -EAGAIN);   /* "its listen queue stayed full" */
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

/* The upstream connect has succeeded: the socket made blocking, relaying. */
static void uring_conn_connected(struct uring_engine *e, struct uring_conn *u)
{
	int r = uring_fd_set_blocking(u->c.upstream_fd);

	if (r < 0) {
		uring_conn_connect_failed(e, u, r);
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
			/* The loop pauses accepting (uring_accept_pause()). */
			e->accept_pause_due = true;
			return;
		}
		if (u->held) {
			u->held = false;
			e->n_held--;
		}
		if (ufd < 0) {
			uring_conn_connect_failed(e, u, ufd);
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
		uring_conn_connect_failed(e, u, r);
		return;
	}
	if (r == 1) {
		u->connect_started = true;
		uring_conn_poll_connect(e, u);
		return;
	}
	uring_conn_connected(e, u);
}

/* The shared ring was found empty: more buffers (uring_pbuf_grow()), and
 * once buffers have come back, the directions that waited receive again. */
void uring_pbuf_starved(struct uring_engine *e)
{
	struct uring_pbufs *pb = &e->pb;

	uring_pbuf_grow(e);
	if (pb->n_waiting == 0 || pb->given_back == pb->given_back_seen)
		return;
	pb->given_back_seen = pb->given_back;
	for (uint32_t i = 0; i < e->slots_used && pb->n_waiting > 0; i++)
		for (unsigned d = 0; d < 2; d++) {
			struct uring_conn *u = &e->conns[i];

			if (!u->dir[d].nobufs)
				continue;
			u->dir[d].nobufs = false;
			pb->n_waiting--;
			if (u->c.state != CONN_FREE)
				uring_conn_mark(e, u);
		}
}

/* ---- the handlers ---- */

/* The poll of a connect in progress: res is what it saw (POLLOUT, or
 * POLLERR/POLLHUP). */
static void uring_connect_polled(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
				 const struct io_uring_cqe *cqe)
{
	int r;

	(void)slot;
	u->connecting = false;
	if (u->c.state != CONN_CONNECTING)
		return;
	r = upstream_connect_finish(u->c.upstream_fd);
	if (r < 0) {
		relay_connect_failed(e->r, u->c.id, r);
		uring_conn_end(e, u, 0);
		return;
	}
	if (!(cqe->res & POLLOUT)) {
		/* No error and not connected yet: wait again, within the
		 * same deadline. */
		uring_conn_poll_connect(e, u);
		return;
	}
	u->connect_started = false;
	uring_conn_connected(e, u);
}

static void uring_connect_poll_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
				     const struct io_uring_cqe *cqe)
{
	(void)slot;
	u->connecting = false;
	if (u->c.state != CONN_CONNECTING)
		return;
	/* -ECANCELED: the linked timeout fired. */
	relay_connect_failed(e->r, u->c.id, cqe->res == -ECANCELED ? -ETIMEDOUT : cqe->res);
	uring_conn_end(e, u, 0);
}

static void uring_connect_retry(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
				const struct io_uring_cqe *cqe)
{
	(void)slot;
	u->retrying = false;
	if (u->c.state != CONN_CONNECTING || cqe->res == -ECANCELED)
		return;
	uring_conn_connect(e, u);
}

static void uring_recv_ok(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			  const struct io_uring_cqe *cqe)
{
	enum relay_dir d = (enum relay_dir)(uring_ud_op(cqe->user_data) - URING_OP_RECV_UP);
	struct uring_dir *ud = &u->dir[d];
	struct half *h = conn_half(&u->c, d);

	(void)slot;
	ud->recv_armed = false;
	ud->ring_enomem = 0;
	if (ud->send_linked)
		uring_dir_send_done(e, u, d, ud->send_len);
	if (!(cqe->flags & IORING_CQE_F_BUFFER))
		uring_buf_received(&ud->buf, (uint32_t)cqe->res);
	else if (u->c.state == CONN_RELAYING && !h->shut && cqe->res > 0) {
		/* Copied out; uring_dispatch() gives the buffer back. */
		uint16_t bid = (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
		int r = uring_buf_append(&ud->buf, uring_pbuf_data(e, bid), (uint32_t)cqe->res);

		if (r < 0) {
			uring_conn_end(e, u, r);
			return;
		}
	}
	if (u->c.state != CONN_RELAYING)
		return;
	if (h->shut)
		uring_dir_discard(u, d);   /* its sink is gone: nowhere to go */
	else if (cqe->res == 0)
		h->eof = true;
	else
		h->received += (uint64_t)cqe->res;
	if ((uint32_t)cqe->res < URING_BUF_MAX)
		ud->full_recvs = 0;
	else if (++ud->full_recvs >= URING_SPLICE_ENTER && !ud->no_splice && e->pipes_max > 0)
		ud->bulk = true;   /* (no receive until it splices: not when it never can) */
	h->pending = h->shut ? 0 : ud->buf.pending;
	uring_conn_mark(e, u);
}

/*
 * -ENOMEM (and -EIO) may be the socket's answer (hv_sock after the host's
 * FIN) or io_uring's own allocation failure.  A non-blocking peek asks the
 * socket: data or nothing to read means the error was the ring's.
 */
static int uring_recv_error_source(const struct uring_conn *u, enum relay_dir d, int res)
{
	char byte;
	ssize_t n;

	if (res != -ENOMEM && res != -EIO)
		return res;
	n = recv(relay_dir_source(&u->c, d), &byte, 1, MSG_PEEK | MSG_DONTWAIT);
	if (n > 0 || (n < 0 && relay_errno_is_transient(errno)))
		return -EAGAIN;     /* the socket is fine */
	if (n == 0)
		return 0;           /* its end */
	return -errno;
}

static void uring_recv_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			     const struct io_uring_cqe *cqe)
{
	enum relay_dir d = (enum relay_dir)(uring_ud_op(cqe->user_data) - URING_OP_RECV_UP);
	struct uring_dir *ud = &u->dir[d];
	struct half *h = conn_half(&u->c, d);
	int res = cqe->res;

	(void)slot;
	ud->recv_armed = false;
	/* Still linked: the send succeeded (a failed one said so first). */
	if (ud->send_linked)
		uring_dir_send_done(e, u, d, ud->send_len);
	if (!e->pb.on)
		uring_buf_received(&ud->buf, 0);
	if (res == -ENOBUFS && e->pb.on) {
		/* The shared ring was empty: more buffers, and receive again
		 * once some have come back (uring_pbuf_starved()). */
		e->pb.starved = true;
		if (!ud->nobufs) {
			ud->nobufs = true;
			e->pb.n_waiting++;
		}
		return;
	}
	if (u->c.state != CONN_RELAYING || h->shut || res == -ECANCELED) {
		uring_conn_mark(e, u);
		return;
	}
	if (res == -ENOMEM || res == -EIO) {
		bool ring = res == -ENOMEM;

		res = uring_recv_error_source(u, d, res);
		if (res == -EAGAIN && ring && ++ud->ring_enomem >= URING_RING_ENOMEM_MAX)
			res = -ENOMEM;   /* persistent: give up on this one */
	}
	if (res != 0 && !relay_errno_is_transient(res)) {
		uring_dir_source_failed(e, u, d, res);
		return;
	}
	/* 0: the end after all; transient: a worker thread's try found
	 * nothing (see uring_fd_set_blocking()), or the ring's own -ENOMEM:
	 * receive again. */
	if (res == 0)
		h->eof = true;
	uring_conn_mark(e, u);
}

static void uring_send_ok(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			  const struct io_uring_cqe *cqe)
{
	enum relay_dir d = (enum relay_dir)(uring_ud_op(cqe->user_data) - URING_OP_SEND_UP);
	struct uring_dir *ud = &u->dir[d];

	(void)slot;
	ud->sending = false;
	if (u->c.state != CONN_RELAYING)
		return;
	if (cqe->res == 0) {
		/* A stream socket never sends nothing: do not loop. */
		uring_conn_end(e, u, -EPIPE);
		return;
	}
	uring_buf_sent(&ud->buf, (uint64_t)cqe->res);
	uring_dir_discard(u, d);
	uring_count_sent(e, d, (uint64_t)cqe->res);
	uring_conn_mark(e, u);
}

static void uring_send_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			     const struct io_uring_cqe *cqe)
{
	enum relay_dir d = (enum relay_dir)(uring_ud_op(cqe->user_data) - URING_OP_SEND_UP);
	int res = cqe->res;

	(void)slot;
	u->dir[d].sending = false;
	if (u->c.state != CONN_RELAYING)
		return;
	if (relay_errno_is_transient(res)) {
		uring_conn_mark(e, u);   /* nothing was sent: again */
		return;
	}
	uring_dir_sink_failed(e, u, d, res);
}

/*
 * A linked send completes only when it failed: short (res >= 0, the bytes
 * it did write) or with an error.  Its receive is then cancelled WITHOUT a
 * completion of its own: a failing request that asked for
 * IOSQE_CQE_SKIP_SUCCESS posts its CQE and omits those of every request
 * linked behind it (io_uring_enter(2); the kernel's REQ_F_SKIP_LINK_CQES).
 * So the receive ends here, or the direction would never receive again and
 * the connection, still counting it in flight, would never be freed.
 */
static void uring_sendl_failed(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	struct uring_dir *ud = &u->dir[d];

	if (ud->recv_armed) {
		ud->recv_armed = false;
		uring_op_end(e, u);
	}
}

static void uring_sendl_short(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			      const struct io_uring_cqe *cqe)
{
	enum relay_dir d = (enum relay_dir)(uring_ud_op(cqe->user_data) - URING_OP_SENDL_UP);

	(void)slot;
	uring_sendl_failed(e, u, d);
	uring_dir_send_done(e, u, d, (uint64_t)cqe->res);
	if (u->c.state == CONN_RELAYING)
		uring_conn_mark(e, u);
}

static void uring_send_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			     const struct io_uring_cqe *cqe);

static void uring_sendl_error(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			      const struct io_uring_cqe *cqe)
{
	enum relay_dir d = (enum relay_dir)(uring_ud_op(cqe->user_data) - URING_OP_SENDL_UP);
	struct io_uring_cqe c = *cqe;

	uring_sendl_failed(e, u, d);
	u->dir[d].send_linked = false;
	/* Then as any send's error. */
	c.user_data = uring_ud_pack(URING_OP_SEND_UP + d, slot, u->gen);
	uring_send_error(e, u, slot, &c);
}

/* A splicing direction's poll: whatever it saw (or its error), the next
 * update's splice finds out. */
static void uring_spoll_done(struct uring_engine *e, struct uring_conn *u, uint32_t slot,
			     const struct io_uring_cqe *cqe)
{
	unsigned op = uring_ud_op(cqe->user_data);
	bool out = op >= URING_OP_SPOLL_OUT_UP;
	struct uring_dir *ud = &u->dir[op - (out ? URING_OP_SPOLL_OUT_UP : URING_OP_SPOLL_IN_UP)];

	(void)slot;
	*(out ? &ud->poll_out : &ud->poll_in) = false;
	ud->poll_due = true;
	if (u->c.state == CONN_RELAYING)
		uring_conn_mark(e, u);
}

/* A connection's operations; relay_uring.c has the engine's own. */
static const struct uring_handler uring_conn_handlers[URING_OP_COUNT] = {
	[URING_OP_CONNECT_POLL] = { URING_OP_CONNECT_POLL, "connect-poll", uring_connect_polled, uring_connect_poll_error },
	[URING_OP_CONNECT_TIMEOUT] = { URING_OP_CONNECT_TIMEOUT, "connect-timeout", uring_nothing, uring_nothing },
	[URING_OP_CONNECT_RETRY] = { URING_OP_CONNECT_RETRY, "connect-retry", uring_connect_retry, uring_connect_retry },
	[URING_OP_RECV_UP] = { URING_OP_RECV_UP, "recv-up", uring_recv_ok, uring_recv_error },
	[URING_OP_RECV_DOWN] = { URING_OP_RECV_DOWN, "recv-down", uring_recv_ok, uring_recv_error },
	[URING_OP_SEND_UP] = { URING_OP_SEND_UP, "send-up", uring_send_ok, uring_send_error },
	[URING_OP_SEND_DOWN] = { URING_OP_SEND_DOWN, "send-down", uring_send_ok, uring_send_error },
	[URING_OP_SENDL_UP] = { URING_OP_SENDL_UP, "send-linked-up", uring_sendl_short, uring_sendl_error },
	[URING_OP_SENDL_DOWN] = { URING_OP_SENDL_DOWN, "send-linked-down", uring_sendl_short, uring_sendl_error },
	[URING_OP_SPOLL_IN_UP] = { URING_OP_SPOLL_IN_UP, "splice-poll-in-up", uring_spoll_done, uring_spoll_done },
	[URING_OP_SPOLL_IN_DOWN] = { URING_OP_SPOLL_IN_DOWN, "splice-poll-in-down", uring_spoll_done, uring_spoll_done },
	[URING_OP_SPOLL_OUT_UP] = { URING_OP_SPOLL_OUT_UP, "splice-poll-out-up", uring_spoll_done, uring_spoll_done },
	[URING_OP_SPOLL_OUT_DOWN] = { URING_OP_SPOLL_OUT_DOWN, "splice-poll-out-down", uring_spoll_done, uring_spoll_done },
};

void uring_conn_dispatch(struct uring_engine *e, const struct io_uring_cqe *cqe)
{
	unsigned op = uring_ud_op(cqe->user_data);
	uint32_t slot = uring_ud_slot(cqe->user_data);
	const struct uring_handler *h = &uring_conn_handlers[op];
	struct uring_conn *u;

	u = uring_conn_lookup(e, slot, uring_ud_gen(cqe->user_data));
	if (!u) {
		if (cqe->flags & IORING_CQE_F_BUFFER)
			uring_pbuf_give_back(e, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
		/* Only after stopping gave up waiting for a request. */
		log_debug("io_uring: stale %s completion (slot %" PRIu32 ", res %d)", h->name, slot, cqe->res);
		return;
	}
	/* Linked sends are not counted in flight (uring_dir_send()). */
	if (uring_cqe_last(cqe) && op != URING_OP_SENDL_UP && op != URING_OP_SENDL_DOWN)
		uring_op_end(e, u);
	if (cqe->res < 0)
		h->on_error(e, u, slot, cqe);
	else
		h->on_success(e, u, slot, cqe);
	/* A shared buffer is only ever lent for the handler's copy. */
	if (cqe->flags & IORING_CQE_F_BUFFER)
		uring_pbuf_give_back(e, (uint16_t)(cqe->flags >> IORING_CQE_BUFFER_SHIFT));
	/* A closing connection is freed after its last completion. */
	if (u->c.state == CONN_CLOSING && u->inflight == 0)
		uring_conn_free(e, u);
}
