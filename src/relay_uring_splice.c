/* SPDX-License-Identifier: MIT */
/*
 * Bulk data without copies: a direction from a UNIX socket to a UNIX socket
 * which receives large amounts (an X11 PutImage or a GetImage reply is
 * about a megabyte) moves its bytes with splice(2) from the source into a
 * pipe of its own and from the pipe to the sink.  The kernel lends the
 * pages of the source's queue to the pipe and from there to the sink: the
 * bytes never enter the relay's memory, which is what makes
 * systemd-socket-proxyd as fast as a direct connection on X11's image
 * requests while the copying engines stay behind (doc/PERFORMANCE.md).
 *
 * Small messages keep the ring's receive and send (relay_uring_ops.c): a
 * splice costs two system calls and a poll, a relayed X11 request through
 * the ring less than one.  A direction switches to splicing after a few
 * receives in a row that each filled 64 KiB (URING_SPLICE_ENTER), once
 * everything received before has been sent, and back when it has nothing
 * left in its pipe after moving little, a few times in a row.
 *
 * The splices are done here, in the loop, non-blocking, and the ring only
 * says when to try again (a poll for POLLIN on the source while the pipe has
 * room, POLLOUT on the sink while it holds bytes), the way proxyd uses epoll.
 * Not IORING_OP_SPLICE: io_uring always hands a splice to one of its worker
 * threads (REQ_F_FORCE_ASYNC), a thread switch per step, and a splice into
 * a sink that does not read would keep a worker blocked.  Both sockets are
 * made O_NONBLOCK for it: a splice into a socket waits unless its file is
 * non-blocking (SPLICE_F_NONBLOCK is only about the pipe); the ring's own
 * requests on them do not mind (a worker thread's try that finds nothing
 * comes back as EAGAIN, which the engine takes as "again").  A splice into
 * a socket cannot ask for MSG_NOSIGNAL: run.c ignores SIGPIPE.
 *
 * A direction holds at most RELAY_HALF_MAX bytes in its pipe, as it would
 * in its chunks, and a sink that does not read stops its source being read:
 * backpressure stays per connection.  This file calls only
 * relay_uring_setup.c; what a result means for the connection (an end, a
 * reset) is decided by the caller.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "log.h"
#include "macro.h"
#include "relay_uring_engine.h"
#include "util.h"

/* Rounds of (source -> pipe, pipe -> sink) per update: a fast pair of
 * peers gets its turn again after the other connections, through the
 * ring's poll, which then completes at once. */
#define URING_SPLICE_ROUNDS 4u

static int uring_fd_set_nonblocking(int fd)
{
	int flags = fcntl(fd, F_GETFL);

	if (flags < 0)
		return -errno;
	if (!(flags & O_NONBLOCK) && fcntl(fd, F_SETFL, flags | O_NONBLOCK) < 0)
		return -errno;
	return 0;
}

static bool uring_fd_is_unix(int fd)
{
	int domain = 0;
	socklen_t len = sizeof(domain);

	return getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) == 0 && domain == AF_UNIX;
}

int uring_splice_begin(struct uring_engine *e, struct uring_conn *u, enum relay_dir d)
{
	struct uring_dir *ud = &u->dir[d];
	int r;

	/*
	 * UNIX to UNIX only.  A UNIX source lends its pages to the pipe, a
	 * UNIX sink takes them without a copy.  Another source would be
	 * copied into the pipe.  A vsock sink copies from the pipe, and
	 * before Linux 6.5 in one send per pipe buffer: in the qemu guest
	 * (6.1, `make bench-vm`) a spliced upload to AF_VSOCK went out in
	 * 11 KiB packets instead of 64 KiB ones and ran at 0.23x of direct
	 * where copying runs at 0.54x.
	 */
	if (!uring_fd_is_unix(relay_dir_source(&u->c, d)) || !uring_fd_is_unix(relay_dir_sink(&u->c, d)))
		return -EOPNOTSUPP;
	if (ud->pipe[0] < 0) {
		if (e->n_pipes >= e->pipes_max)
			return -EMFILE;
		if (pipe2(ud->pipe, O_CLOEXEC | O_NONBLOCK) < 0) {
			ud->pipe[0] = ud->pipe[1] = -1;
			return -errno;
		}
		e->n_pipes++;
		/* Room for RELAY_HALF_MAX (the default 16 slots hold about
		 * 64 KiB of a source's pages): x11perf PutImage 500x500
		 * went from 0.74-0.84x to 0.88-0.99x of direct in single
		 * runs side by side.  Refused beyond the user's pipe quota
		 * (pipe-user-pages-soft), which only leaves it smaller. */
		(void)fcntl(ud->pipe[1], F_SETPIPE_SZ, (int)RELAY_HALF_MAX);
	}
	r = uring_fd_set_nonblocking(u->c.client_fd);
	if (r == 0)
		r = uring_fd_set_nonblocking(u->c.upstream_fd);
	if (r < 0)
		return r;
	ud->splicing = true;
	log_debug("client #%" PRIu64 ": %s to %s by splice", u->c.id, relay_dir_source_name(d),
		  relay_dir_sink_name(d));
	return 0;
}

/* Arm the ring's POLLOUT on the sink (out) or POLLIN on the source, unless
 * it is in flight already. */
static void uring_splice_poll(struct uring_engine *e, struct uring_conn *u, enum relay_dir d, bool out,
			      struct uring_splice_res *res)
{
	struct uring_dir *ud = &u->dir[d];
	bool *armed = out ? &ud->poll_out : &ud->poll_in;
	struct io_uring_sqe *sqe;

	if (*armed)
		return;
	sqe = uring_sqe(e, 1);
	if (!sqe) {
		/* Again in the next update, even if the other poll is in
		 * flight: that one alone may never come. */
		ud->poll_due = true;
		res->no_sqe = true;
		return;
	}
	io_uring_prep_poll_add(sqe, out ? relay_dir_sink(&u->c, d) : relay_dir_source(&u->c, d),
			       out ? POLLOUT : POLLIN);
	uring_sqe_data(sqe, (out ? URING_OP_SPOLL_OUT_UP : URING_OP_SPOLL_IN_UP) + d, uring_slot_of(e, u), u->gen);
	*armed = true;
	uring_op_begin(e, u);
}

void uring_splice_move(struct uring_engine *e, struct uring_conn *u, enum relay_dir d,
		       struct uring_splice_res *res)
{
	struct uring_dir *ud = &u->dir[d];
	int source = relay_dir_source(&u->c, d), sink = relay_dir_sink(&u->c, d);
	bool ended = conn_half(&u->c, d)->eof, drained = false;

	*res = (struct uring_splice_res){ 0 };
	if (uring_splice_polling(ud) && !ud->poll_due)
		return;   /* its polls say when */
	ud->poll_due = false;
	for (unsigned round = 0; round < URING_SPLICE_ROUNDS; round++) {
		bool moved = false;
		ssize_t n;

		if (!ended && !res->eof && !drained && ud->in_pipe < RELAY_HALF_MAX) {
			size_t want = RELAY_HALF_MAX - ud->in_pipe;

			n = splice(source, NULL, ud->pipe[1], NULL, want, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				ud->in_pipe += (uint32_t)n;
				res->in += (uint64_t)n;
				moved = true;
				/* Less than asked: the source is most likely
				 * empty, and its poll (armed below, completing at
				 * once if not) costs no system call of its own
				 * where another splice would say EAGAIN. */
				drained = (size_t)n < want;
			} else if (n == 0)
				res->eof = true;
			else if (relay_errno_is_transient(errno))
				drained = true;   /* empty, or the pipe full */
			else {
				/* The source's error, after what it sent. */
				res->source_error = -errno;
				break;
			}
		}
		if (ud->in_pipe > 0) {
			n = splice(ud->pipe[0], NULL, sink, NULL, ud->in_pipe, SPLICE_F_MOVE | SPLICE_F_NONBLOCK);
			if (n > 0) {
				ud->in_pipe -= (uint32_t)n;
				res->out += (uint64_t)n;
				moved = true;
			} else if (n == 0 || !relay_errno_is_transient(errno)) {
				res->sink_error = n == 0 ? -EPIPE : -errno;
				return;
			}
		}
		if (!moved)
			break;
	}
	ended = ended || res->eof || res->source_error < 0;
	if (ended && ud->in_pipe == 0) {
		/* The caller forwards the end, or ends the connection; a poll
		 * still in flight would only hold that up. */
		uring_splice_cancel(e, u, d);
		return;
	}
	if (ud->in_pipe == 0 && res->in < URING_SPLICE_LEAVE) {
		/* Little came, URING_SPLICE_SMALL times in a row: back to
		 * the ring's receives. */
		if (++ud->small_moves >= URING_SPLICE_SMALL) {
			ud->small_moves = 0;
			ud->full_recvs = 0;
			ud->splicing = false;
			ud->bulk = false;
			uring_splice_cancel(e, u, d);
			return;
		}
	} else
		ud->small_moves = 0;
	/*
	 * What says when to go on: POLLOUT on the sink while the pipe holds
	 * bytes, and POLLIN on the source while the pipe has room.  Both at
	 * once, as proxyd's epoll does: while the sink is full, the source
	 * is still drained into the pipe, so its writer does not stop, and
	 * each wakeup tops the sink up again.  Waiting for POLLOUT alone left
	 * the sink to drain to a quarter of its buffer (unix_writable()) and
	 * the writer blocked meanwhile: x11perf PutImage 500x500 with the
	 * relay on x11perf's CPU ran at 2300/s, against proxyd's 3200/s.
	 */
	if (ud->in_pipe > 0)
		uring_splice_poll(e, u, d, true, res);
	if (!ended && ud->in_pipe < RELAY_HALF_MAX)
		uring_splice_poll(e, u, d, false, res);
}
