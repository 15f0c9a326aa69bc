/* SPDX-License-Identifier: MIT */
/*
 * The epoll engine: the plain statement of the relay's semantics (relay.h),
 * and the fallback where io_uring is missing or blocked.
 *
 * Every connection's two sockets are registered once, edge-triggered, for
 * input, output and the peer's half-close; the engine remembers per socket
 * whether it is readable and writable and pumps both directions of a
 * connection whenever one of its sockets reports anything.  A direction owns
 * a buffer (RELAY_BUF_SIZE) only while it holds bytes not yet written, so an
 * idle connection costs its structure and two fds, nothing else.  A
 * connection that still has input after its share of reads is queued and
 * served again after the others: one busy client cannot starve the rest.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"
#include "upstream.h"

/* Reads per direction before a connection yields to the others. */
#define READS_PER_PUMP 4
/* Free buffers kept for reuse; the rest go back to the kernel. */
#define POOL_MAX 8
/* How long before a unix connect refused with EAGAIN (listen queue full)
 * is tried again; nothing wakes us when the queue drains. */
#define CONNECT_RETRY_MS 10
#define EVENTS_MAX 128

enum efd_kind {
	EFD_LISTEN,
	EFD_SIGNAL,
	EFD_CLIENT,
	EFD_UPSTREAM,
};

struct econn;

/* What an epoll event points at. */
struct efd {
	enum efd_kind kind;
	int fd;
	struct econn *conn;     /* client and upstream only */
	bool readable;
	bool writable;
};

struct link {
	struct link *prev, *next;
};

struct econn {
	struct conn c;          /* first, as relay.h asks */
	struct efd client;
	struct efd upstream;
	char *buf[2];           /* per direction, only while bytes are pending */
	uint32_t off[2];        /* first byte not yet written */
	uint32_t len[2];        /* end of the bytes read */
	uint64_t deadline_ms;   /* end of the upstream connect */
	uint64_t retry_ms;      /* retry a unix connect refused with EAGAIN, 0 = no */
	struct link all;        /* every live connection */
	struct link connecting; /* in e->connecting (by deadline) or e->waiting */
	struct link ready;      /* has input left after its share */
	struct link dead;       /* closed in this loop, freed at its end */
};

#define container_of(p, type, member) ((type *)(void *)((char *)(p) - offsetof(type, member)))

static void epoll_list_init(struct link *head)
{
	head->prev = head->next = head;
}

static bool epoll_list_empty(const struct link *head)
{
	return head->next == head;
}

static bool epoll_linked(const struct link *l)
{
	return l->next != NULL;
}

static void epoll_list_add_tail(struct link *head, struct link *l)
{
	l->prev = head->prev;
	l->next = head;
	head->prev->next = l;
	head->prev = l;
}

static void epoll_list_del(struct link *l)
{
	if (!epoll_linked(l))
		return;
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = NULL;
}

struct epoll_engine {
	struct relay *r;
	int epfd;
	struct efd listeners[RELAY_MAX_LISTEN];
	size_t n_listen;
	struct efd signal;
	bool accept_paused;
	uint64_t resume_ms;
	bool fds_freed;         /* a connection closed in this loop */
	size_t n_upstreams;     /* connections holding an upstream socket */
	uint64_t wait_retry_ms; /* next try for the clients waiting for an fd */
	size_t n_retrying;
	/* waiting: accepted clients whose upstream socket() failed with
	 * EMFILE/ENFILE, in arrival order.  They have no deadline yet (as
	 * little as the clients still in the listen backlog): their connect
	 * timeout starts when they get their socket. */
	struct link all, connecting, waiting, ready, dead;
	char *pool[POOL_MAX];
	size_t n_pool;
};

/* ---- buffers ---- */

/* Buffers are mapped, not malloc'ed: a freed one really goes back to the
 * kernel, so memory follows the number of busy connections, not the peak. */
static char *epoll_buf_get(struct epoll_engine *e)
{
	void *p;

	if (e->n_pool > 0)
		return e->pool[--e->n_pool];
	p = mmap(NULL, RELAY_BUF_SIZE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	return p == MAP_FAILED ? NULL : p;
}

static void epoll_buf_put(struct epoll_engine *e, char *b)
{
	if (!b)
		return;
	if (e->n_pool < POOL_MAX)
		e->pool[e->n_pool++] = b;
	else
		(void)munmap(b, RELAY_BUF_SIZE);
}

static void epoll_half_release(struct epoll_engine *e, struct econn *ec, enum relay_dir dir)
{
	epoll_buf_put(e, ec->buf[dir]);
	ec->buf[dir] = NULL;
	ec->off[dir] = ec->len[dir] = 0;
}

/* ---- epoll registration ---- */

static int epoll_watch(struct epoll_engine *e, struct efd *f, uint32_t events)
{
	struct epoll_event ev = { .events = events, .data.ptr = f };

	return epoll_ctl(e->epfd, EPOLL_CTL_ADD, f->fd, &ev) < 0 ? -errno : 0;
}

static void epoll_accept_pause(struct epoll_engine *e, bool pause)
{
	if (e->accept_paused == pause)
		return;
	/* Level-triggered listeners with no events: the pending connections
	 * stay in the backlog and nothing wakes us for them. */
	for (size_t i = 0; i < e->n_listen; i++) {
		struct epoll_event ev = { .events = pause ? 0 : EPOLLIN, .data.ptr = &e->listeners[i] };

		(void)epoll_ctl(e->epfd, EPOLL_CTL_MOD, e->listeners[i].fd, &ev);
	}
	e->accept_paused = pause;
	if (pause)
		e->resume_ms = relay_now_ms() + RELAY_ACCEPT_PAUSE_MS;
}

/* ---- connections ---- */

static void epoll_conn_close(struct epoll_engine *e, struct econn *ec, int error)
{
	if (ec->c.state == CONN_CLOSING || ec->c.state == CONN_FREE)
		return;
	if (ec->retry_ms)
		e->n_retrying--;
	ec->retry_ms = 0;
	epoll_list_del(&ec->connecting);
	epoll_list_del(&ec->ready);
	epoll_list_del(&ec->all);
	/* close() takes the fds out of the epoll set: they are never dup'ed. */
	if (ec->c.upstream_fd >= 0)
		e->n_upstreams--;
	ec->c.client_fd = safe_close(ec->c.client_fd);
	ec->c.upstream_fd = safe_close(ec->c.upstream_fd);
	ec->client.fd = ec->upstream.fd = -1;
	epoll_half_release(e, ec, RELAY_UP);
	epoll_half_release(e, ec, RELAY_DOWN);
	ec->c.state = CONN_CLOSING;
	relay_client_closed(e->r, &ec->c, error);
	/* Events for it may still be in this loop's batch: free it later. */
	epoll_list_add_tail(&e->dead, &ec->dead);
	/* A closed connection freed two fds: for the clients waiting for
	 * one first, in order; accepting resumes when none is left. */
	e->fds_freed = true;
	if (epoll_list_empty(&e->waiting))
		epoll_accept_pause(e, false);
}

static void epoll_free_dead(struct epoll_engine *e)
{
	while (!epoll_list_empty(&e->dead)) {
		struct econn *ec = container_of(e->dead.next, struct econn, dead);

		epoll_list_del(&ec->dead);
		free(ec);
	}
}

/* Move what can be moved in one direction.  Returns 0, or -errno for an
 * error that ends the connection; sets *more when input is left over. */
static int epoll_half_pump(struct epoll_engine *e, struct econn *ec, enum relay_dir dir, bool *more)
{
	struct half *h = conn_half(&ec->c, dir);
	struct efd *src = dir == RELAY_UP ? &ec->client : &ec->upstream;
	struct efd *dst = dir == RELAY_UP ? &ec->upstream : &ec->client;
	uint64_t *counter = dir == RELAY_UP ? &e->r->stats.bytes_up : &e->r->stats.bytes_down;
	unsigned reads = 0;

	for (;;) {
		/* Write first: bytes read earlier go out before newer ones. */
		if (h->pending > 0 && dst->writable) {
			ssize_t n = send(dst->fd, ec->buf[dir] + ec->off[dir], h->pending, MSG_NOSIGNAL | MSG_DONTWAIT);

			if (n < 0) {
				if (errno == EINTR)
					continue;
				if (relay_write_error_is_sink_gone(errno)) {
					log_debug_errno(errno, "client #%" PRIu64 ": %s stopped reading: %m", ec->c.id,
							relay_dir_sink_name(dir));
					epoll_half_release(e, ec, dir);
					relay_half_drop(&ec->c, dir);
					return 0;
				}
				if (!relay_errno_is_transient(errno))
					return -errno;
				dst->writable = false;
			} else {
				ec->off[dir] += (uint32_t)n;
				h->pending -= (uint64_t)n;
				*counter += (uint64_t)n;
				if (h->pending == 0)
					epoll_half_release(e, ec, dir);
				/* A short write usually means the socket is full;
				 * the next send says so with EAGAIN. */
				continue;
			}
		}

		/* The source ended and everything before its end is written:
		 * forward the end.  The other direction is not touched. */
		if (half_should_shutdown(h)) {
			if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)
				return -errno;
			h->shut = true;
			return 0;
		}

		if (!src->readable || !half_may_read(h))
			return 0;
		if (ec->buf[dir] && ec->len[dir] == RELAY_BUF_SIZE)
			return 0;   /* full: wait for the sink */
		if (reads++ >= READS_PER_PUMP) {
			*more = true;
			return 0;
		}
		if (!ec->buf[dir]) {
			ec->buf[dir] = epoll_buf_get(e);
			if (!ec->buf[dir])
				return -ENOMEM;
		}

		ssize_t n = recv(src->fd, ec->buf[dir] + ec->len[dir], RELAY_BUF_SIZE - ec->len[dir], 0);
		if (n > 0) {
			ec->len[dir] += (uint32_t)n;
			h->pending += (uint64_t)n;
			h->received += (uint64_t)n;
			continue;
		}
		if (n == 0) {
			h->eof = true;
		} else if (errno == EINTR) {
			continue;
		} else if (errno == EAGAIN || errno == EWOULDBLOCK) {
			src->readable = false;
		} else if (relay_read_error_is_eof(e->r, &ec->c, dir, -errno)) {
			log_debug_errno(errno, "client #%" PRIu64 ": %s read error taken as its end: %m", ec->c.id,
					relay_dir_source_name(dir));
			h->eof = true;
			if (errno == ECONNRESET) {
				/* The source is gone for good: nothing more can
				 * be delivered to it. */
				epoll_half_release(e, ec, !dir);
				relay_half_drop(&ec->c, !dir);
			}
		} else
			return -errno;
		if (h->pending == 0)
			epoll_half_release(e, ec, dir);
		if (!h->eof)
			return 0;
	}
}

static void epoll_conn_pump(struct epoll_engine *e, struct econn *ec)
{
	bool more = false;
	int r;

	if (ec->c.state != CONN_RELAYING)
		return;
	r = epoll_half_pump(e, ec, RELAY_UP, &more);
	if (r == 0)
		r = epoll_half_pump(e, ec, RELAY_DOWN, &more);
	if (r < 0) {
		epoll_conn_close(e, ec, r);
		return;
	}
	if (conn_finished(&ec->c)) {
		epoll_conn_close(e, ec, 0);
		return;
	}
	if (more && !epoll_linked(&ec->ready))
		epoll_list_add_tail(&e->ready, &ec->ready);
}

static void epoll_conn_connected(struct epoll_engine *e, struct econn *ec)
{
	if (ec->retry_ms)
		e->n_retrying--;
	ec->retry_ms = 0;
	epoll_list_del(&ec->connecting);
	ec->c.state = CONN_RELAYING;
	ec->upstream.writable = true;
	relay_connected(e->r, ec->c.id, ec->c.upstream_fd);
	epoll_conn_pump(e, ec);
}

static void epoll_conn_connect_failed(struct epoll_engine *e, struct econn *ec, int error)
{
	relay_connect_failed(e->r, ec->c.id, error);
	epoll_conn_close(e, ec, 0);
}

/* connect(), or connect() again after EAGAIN (relay_upstream_connect():
 * the vsock buffer sizes are set before and again after it).  The upstream
 * socket joins the epoll set only once connect() has been called: before
 * that, a fresh socket polls as hung up. */
static void epoll_conn_try_connect(struct epoll_engine *e, struct econn *ec)
{
	int r = relay_upstream_connect(e->r, ec->c.id, ec->c.upstream_fd), w;

	if (r == -EAGAIN) {
		/* A unix listener's queue is full, and nothing wakes us when
		 * it drains: try again shortly, until the deadline. */
		if (!ec->retry_ms)
			e->n_retrying++;
		ec->retry_ms = relay_now_ms() + CONNECT_RETRY_MS;
		return;
	}
	if (r < 0) {
		epoll_conn_connect_failed(e, ec, r);
		return;
	}
	if (ec->retry_ms)
		e->n_retrying--;
	ec->retry_ms = 0;
	/* Edge-triggered, like the client; adding it reports the state it
	 * is in already, so a connect that completed meanwhile is seen. */
	w = epoll_watch(e, &ec->upstream, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	if (w < 0) {
		epoll_conn_close(e, ec, w);
		return;
	}
	if (r == 0)
		epoll_conn_connected(e, ec);
}

/* Make the upstream socket and start connecting.  Returns false when the
 * client must keep waiting for an fd. */
static bool epoll_conn_open_upstream(struct epoll_engine *e, struct econn *ec)
{
	int up = relay_upstream_socket(e->r);

	if (up == -EMFILE || up == -ENFILE) {
		/* Out of fds with the client already accepted: it waits for
		 * one rather than being dropped, and no new client is
		 * accepted (which would take the fd it waits for). */
		if (!epoll_linked(&ec->connecting))
			epoll_list_add_tail(&e->waiting, &ec->connecting);
		e->wait_retry_ms = relay_now_ms() + RELAY_ACCEPT_PAUSE_MS;
		if (relay_accept_failed(e->r, up))
			epoll_accept_pause(e, true);
		return false;
	}
	epoll_list_del(&ec->connecting);
	if (up < 0) {
		epoll_conn_connect_failed(e, ec, up);
		return true;
	}
	/* The timeout is the upstream's: it starts now.  Appending keeps
	 * the list sorted by deadline, as the timeout is the same for all. */
	ec->deadline_ms = relay_now_ms() + e->r->cfg->connect_timeout_ms;
	epoll_list_add_tail(&e->connecting, &ec->connecting);
	ec->c.upstream_fd = ec->upstream.fd = up;
	e->n_upstreams++;
	epoll_conn_try_connect(e, ec);
	return true;
}

static void epoll_conn_start(struct epoll_engine *e, int fd, uint64_t id)
{
	struct econn *ec = calloc(1, sizeof(*ec));
	int r;

	if (!ec) {
		struct conn c = { .id = id };

		(void)safe_close(fd);
		relay_client_closed(e->r, &c, -ENOMEM);
		return;
	}
	ec->c.state = CONN_CONNECTING;
	ec->c.id = id;
	ec->c.client_fd = fd;
	ec->c.upstream_fd = -1;
	ec->client = (struct efd) { .kind = EFD_CLIENT, .fd = fd, .conn = ec, .writable = true };
	ec->upstream = (struct efd) { .kind = EFD_UPSTREAM, .fd = -1, .conn = ec };
	epoll_list_add_tail(&e->all, &ec->all);

	/* Edge-triggered: the engine remembers readiness itself.  RDHUP
	 * reports a half-close as readable; the read then says 0.  What the
	 * client sends while the upstream connects waits in its socket. */
	r = epoll_watch(e, &ec->client, EPOLLIN | EPOLLOUT | EPOLLRDHUP | EPOLLET);
	if (r < 0) {
		epoll_conn_close(e, ec, r);
		return;
	}
	if (!epoll_list_empty(&e->waiting)) {
		/* Others wait for an fd already: after them. */
		epoll_list_add_tail(&e->waiting, &ec->connecting);
		return;
	}
	(void)epoll_conn_open_upstream(e, ec);
}

/* The upstream socket reported something while connecting. */
static void epoll_conn_connect_event(struct epoll_engine *e, struct econn *ec, uint32_t events)
{
	int r;

	if (!(events & (EPOLLOUT | EPOLLERR | EPOLLHUP)))
		return;
	r = upstream_connect_finish(ec->c.upstream_fd);
	if (r < 0) {
		epoll_conn_connect_failed(e, ec, r);
		return;
	}
	if (!(events & EPOLLOUT))
		return;   /* not connected yet, no error: wait */
	epoll_conn_connected(e, ec);
}

static void epoll_accept_clients(struct epoll_engine *e, struct efd *l)
{
	/* A bounded batch: the loop comes back while the listener stays
	 * readable (level-triggered), after serving everything else. */
	for (unsigned i = 0; i < 64 && !e->accept_paused; i++) {
		uint64_t id;
		int fd = accept4(l->fd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);

		if (fd < 0) {
			if (errno == EAGAIN || errno == EWOULDBLOCK)
				return;
			if (errno == EINTR)
				continue;
			if (relay_accept_failed(e->r, -errno))
				epoll_accept_pause(e, true);
			continue;
		}
		if (relay_client_accepted(e->r, fd, &id) < 0)
			continue;
		epoll_conn_start(e, fd, id);
	}
}

static void epoll_handle_event(struct epoll_engine *e, struct efd *f, uint32_t events)
{
	struct econn *ec = f->conn;

	switch (f->kind) {
	case EFD_LISTEN:
		if (!e->accept_paused)
			epoll_accept_clients(e, f);
		return;
	case EFD_SIGNAL:
		(void)relay_handle_signals(e->r);
		return;
	case EFD_CLIENT:
	case EFD_UPSTREAM:
		break;
	}
	if (ec->c.state == CONN_CLOSING)
		return;
	/* Errors and hang-ups make both calls return at once with the
	 * answer; queued bytes are still read before the end. */
	if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
		f->readable = true;
	if (events & (EPOLLOUT | EPOLLHUP | EPOLLERR))
		f->writable = true;
	if (ec->c.state == CONN_CONNECTING) {
		if (f->kind == EFD_UPSTREAM)
			epoll_conn_connect_event(e, ec, events);
		return;
	}
	epoll_conn_pump(e, ec);
}

/* Milliseconds until the next timer, or -1 for none. */
static int epoll_next_timeout(struct epoll_engine *e, uint64_t now)
{
	uint64_t next = UINT64_MAX;

	if (!epoll_list_empty(&e->ready))
		return 0;
	if (!epoll_list_empty(&e->connecting)) {
		struct econn *ec = container_of(e->connecting.next, struct econn, connecting);

		next = ec->deadline_ms;
	}
	if (e->n_retrying > 0)
		next = MIN(next, now + CONNECT_RETRY_MS);
	if (!epoll_list_empty(&e->waiting))
		next = MIN(next, e->wait_retry_ms);
	else if (e->accept_paused)
		next = MIN(next, e->resume_ms);
	if (next == UINT64_MAX)
		return -1;
	return next <= now ? 0 : (int)MIN(next - now, 60000u);
}

static void epoll_run_timers(struct epoll_engine *e)
{
	uint64_t now = relay_now_ms();
	struct link *l, *next;

	/* Clients waiting for an fd, oldest first, when one may be free. */
	if (!epoll_list_empty(&e->waiting) && (e->fds_freed || now >= e->wait_retry_ms)) {
		while (!epoll_list_empty(&e->waiting))
			if (!epoll_conn_open_upstream(e, container_of(e->waiting.next, struct econn, connecting)))
				break;
		/* Waiting clients hold every descriptor, and no connection
		 * holds one that its end would free: nothing will ever give
		 * them one.  The newest gives up, so that the others (and the
		 * clients in the backlog) can go on. */
		if (!epoll_list_empty(&e->waiting) && e->n_upstreams == 0) {
			struct econn *ec = container_of(e->waiting.prev, struct econn, connecting);

			epoll_list_del(&ec->connecting);
			epoll_conn_connect_failed(e, ec, -EMFILE);
		}
		if (epoll_list_empty(&e->waiting))
			epoll_accept_pause(e, false);
	}
	e->fds_freed = false;
	if (e->accept_paused && now >= e->resume_ms && epoll_list_empty(&e->waiting))
		epoll_accept_pause(e, false);

	/* Deadlines are in start order: the constant timeout keeps the list
	 * sorted, so only its head can have expired before the rest. */
	for (l = e->connecting.next; l != &e->connecting; l = next) {
		struct econn *ec = container_of(l, struct econn, connecting);

		next = l->next;
		if (ec->deadline_ms <= now) {
			/* Say what kept it from connecting: a full listen
			 * queue, or no answer. */
			epoll_conn_connect_failed(e, ec, ec->retry_ms ? -EAGAIN : -ETIMEDOUT);
			continue;
		}
		if (e->n_retrying == 0)
			break;
		if (ec->retry_ms && ec->retry_ms <= now)
			epoll_conn_try_connect(e, ec);
	}
}

static void epoll_serve_ready(struct epoll_engine *e)
{
	struct link batch;

	if (epoll_list_empty(&e->ready))
		return;
	/* Take the queue as it is: connections that queue themselves again
	 * wait for the next loop, after the new events. */
	batch.next = e->ready.next;
	batch.prev = e->ready.prev;
	batch.next->prev = &batch;
	batch.prev->next = &batch;
	epoll_list_init(&e->ready);
	while (!epoll_list_empty(&batch)) {
		struct econn *ec = container_of(batch.next, struct econn, ready);

		epoll_list_del(&ec->ready);
		epoll_conn_pump(e, ec);
	}
}

static int epoll_probe(char *why, size_t why_size)
{
	if (why_size > 0)
		why[0] = 0;
	return 0;
}

static int epoll_run(struct relay *r)
{
	struct epoll_engine *e;
	int ret = 0;

	e = calloc(1, sizeof(*e));
	if (!e)
		return log_error_errno(ENOMEM, "Failed to set up the epoll engine: %m");
	e->r = r;
	epoll_list_init(&e->all);
	epoll_list_init(&e->connecting);
	epoll_list_init(&e->waiting);
	epoll_list_init(&e->ready);
	epoll_list_init(&e->dead);

	e->epfd = epoll_create1(EPOLL_CLOEXEC);
	if (e->epfd < 0) {
		ret = log_error_errno(errno, "Failed to create the epoll instance: %m");
		goto out;
	}
	e->signal = (struct efd) { .kind = EFD_SIGNAL, .fd = r->signal_fd };
	ret = epoll_watch(e, &e->signal, EPOLLIN);
	if (ret < 0) {
		log_error_errno(ret, "Failed to watch the signals: %m");
		goto out;
	}
	for (size_t i = 0; i < r->cfg->n_listen && i < RELAY_MAX_LISTEN; i++) {
		e->listeners[i] = (struct efd) { .kind = EFD_LISTEN, .fd = r->cfg->listen_fds[i] };
		ret = epoll_watch(e, &e->listeners[i], EPOLLIN);
		if (ret < 0) {
			log_error_errno(ret, "Failed to watch listening socket %zu: %m", i);
			goto out;
		}
		e->n_listen++;
	}

	while (!r->stopping) {
		struct epoll_event events[EVENTS_MAX];
		int n = epoll_wait(e->epfd, events, EVENTS_MAX, epoll_next_timeout(e, relay_now_ms()));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			ret = log_error_errno(errno, "epoll_wait failed: %m");
			break;
		}
		for (int i = 0; i < n; i++)
			epoll_handle_event(e, events[i].data.ptr, events[i].events);
		epoll_serve_ready(e);
		epoll_run_timers(e);
		epoll_free_dead(e);
	}

out:
	/* Stopping: every connection ends now, its pending bytes with it. */
	while (!epoll_list_empty(&e->all))
		epoll_conn_close(e, container_of(e->all.next, struct econn, all), 0);
	epoll_free_dead(e);
	while (e->n_pool > 0)
		(void)munmap(e->pool[--e->n_pool], RELAY_BUF_SIZE);
	(void)safe_close(e->epfd);
	free(e);
	return ret;
}

const struct relay_engine relay_engine_epoll = {
	.name = "epoll",
	.probe = epoll_probe,
	.run = epoll_run,
};
