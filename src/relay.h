/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The relay: what `run` shares with its engines.
 *
 * run.c sets up everything that is not I/O mechanics -- options, the socket
 * directory, listening sockets (or systemd's), the X lock file, signals --
 * and relay.c holds the policy every engine applies the same way: who may
 * connect, how many, how the upstream socket is made, what a failure is
 * called in the log, the half-close rules and the counters.  An engine
 * (relay_uring.c, relay_epoll.c) only moves bytes and events; it never
 * decides semantics on its own.
 *
 * Semantics (DESIGN.md, the same in every engine):
 *  - bytes are never lost, reordered or duplicated;
 *  - a half-close is forwarded with shutdown(SHUT_WR) once everything read
 *    before it has been written; the other direction goes on, no timer;
 *  - a connection ends when both directions have ended, or on an error,
 *    which ends only that connection;
 *  - at most RELAY_HALF_MAX bytes are buffered per direction: a peer that
 *    does not read stops the relay reading from the other side;
 *  - a read error after data on vsock (some kernels return EIO/ENOMEM after
 *    the host's FIN) is end of stream;
 *  - an unreachable upstream closes the client at once, with one log line;
 *  - EMFILE/ENFILE on accept pauses accepting (no spinning) until a
 *    connection closes or RELAY_ACCEPT_PAUSE_MS passes;
 *  - at most cfg->max_clients clients; more are closed with a log line.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define RELAY_MAX_LISTEN 8
/* Bytes buffered per direction before the relay stops reading the source. */
#define RELAY_HALF_MAX (256u * 1024u)
/* The epoll engine's buffer per direction; the io_uring engine's largest chunk. */
#define RELAY_BUF_SIZE (64u * 1024u)
#define RELAY_ACCEPT_PAUSE_MS 100

/* ---- the vocabulary both engines speak ---- */

/* A connection's two directions.  Each has a source it reads from and a
 * sink it writes to; what a direction holds is counted in its struct half. */
enum relay_dir {
	RELAY_UP = 0,           /* client -> upstream */
	RELAY_DOWN = 1,         /* upstream -> client */
};

/* The clock of every relay deadline and rate limit: CLOCK_MONOTONIC, ms. */
uint64_t relay_now_ms(void);

/*
 * Classes of errno values, in the spirit of systemd's ERRNO_IS_TRANSIENT()
 * and ERRNO_IS_DISCONNECT() (they take e or -e):
 *  - transient: nothing happened, try again (EAGAIN, EINTR);
 *  - disconnect: the peer or the path to it is gone; the end of that one
 *    connection, not a fault of the relay, and not worth a warning.
 */
bool relay_errno_is_transient(int error);
bool relay_errno_is_disconnect(int error);

/*
 * Who logs what an engine's run() returns: the engine.  It knows what
 * failed (the ring, epoll_wait ...) and says so in one log_error line,
 * then returns that -errno; cmd_run only turns it into the exit status
 * and never logs it again.
 */

struct relay_policy {
	uid_t self_uid;
	bool any_user;
	uid_t *uids;            /* --allow-user, besides self_uid and root */
	size_t n_uids;
	gid_t *gids;            /* --allow-group */
	size_t n_gids;
};

struct relay_config {
	struct addr upstream;
	bool upstream_is_x410;  /* the default vsock:host:6000+M: say "X410" in messages */
	uint32_t x410_display;
	int listen_fds[RELAY_MAX_LISTEN];  /* non-blocking, CLOEXEC */
	size_t n_listen;
	unsigned max_clients;
	uint64_t connect_timeout_ms;
	uint32_t vsock_buffer;  /* SO_SNDBUF/SO_RCVBUF on vsock upstreams, 0 = kernel default */
	struct relay_policy policy;
};

struct relay_stats {
	uint64_t clients_now;
	uint64_t clients_total;
	uint64_t refused;       /* peer not allowed, or over the cap */
	uint64_t connect_failed;
	uint64_t errors;        /* connections ended by an I/O error */
	uint64_t bytes_up;      /* client -> upstream */
	uint64_t bytes_down;    /* upstream -> client */
};

struct signalfd_siginfo;

struct relay {
	const struct relay_config *cfg;
	struct relay_stats stats;
	int signal_fd;          /* signalfd: SIGINT, SIGTERM, SIGHUP, SIGUSR1, SIGCHLD (blocked) */
	bool stopping;
	/* run -- PROGRAM (run_program.c): sees every signal first; true
	 * when it took it (it may set stopping).  NULL: no program. */
	bool (*on_signal)(struct relay *r, const struct signalfd_siginfo *si);
	void *on_signal_data;
};

/* One direction of a connection, from a source fd to a sink fd. */
struct half {
	uint64_t pending;       /* read from the source, not yet written to the sink */
	uint64_t received;      /* read from the source, ever */
	bool eof;               /* the source has ended */
	bool shut;              /* shutdown(SHUT_WR) has been sent to the sink */
};

enum conn_state {
	CONN_FREE = 0,
	CONN_CONNECTING,        /* upstream connect in flight */
	CONN_RELAYING,
	CONN_CLOSING,           /* ended; waiting for in-flight operations */
};

/* The state both engines keep per client; an engine embeds it first in its
 * own connection structure. */
struct conn {
	enum conn_state state;
	int client_fd;
	int upstream_fd;
	struct half up;         /* client -> upstream */
	struct half down;       /* upstream -> client */
	uint64_t id;            /* for log lines: "client #id" */
};

static inline struct half *conn_half(struct conn *c, enum relay_dir d)
{
	return d == RELAY_UP ? &c->up : &c->down;
}

/* The fd a direction reads from, and the one it writes to. */
static inline int relay_dir_source(const struct conn *c, enum relay_dir d)
{
	return d == RELAY_UP ? c->client_fd : c->upstream_fd;
}

static inline int relay_dir_sink(const struct conn *c, enum relay_dir d)
{
	return d == RELAY_UP ? c->upstream_fd : c->client_fd;
}

/* The same, in log lines. */
static inline const char *relay_dir_source_name(enum relay_dir d)
{
	return d == RELAY_UP ? "client" : "upstream";
}

static inline const char *relay_dir_sink_name(enum relay_dir d)
{
	return d == RELAY_UP ? "upstream" : "client";
}

/* ---- half-close rules (pure) ---- */

/* May the engine read more from this half's source? */
static inline bool half_may_read(const struct half *h)
{
	return !h->eof && h->pending < RELAY_HALF_MAX;
}

/* Everything before the source's end has been written: forward the end. */
static inline bool half_should_shutdown(const struct half *h)
{
	return h->eof && h->pending == 0 && !h->shut;
}

/* Both directions have ended: the connection is done. */
static inline bool conn_finished(const struct conn *c)
{
	return c->up.shut && c->down.shut;
}

/* ---- policy shared by the engines (relay.c) ---- */

/* Is a peer with this uid and these groups (primary first) allowed?  Pure:
 * self_uid and root always, then any_user, uids, gids. */
bool relay_policy_allows(const struct relay_policy *p, uid_t uid, const gid_t *gids, size_t n_gids);

/* A client was accepted (fd CLOEXEC; non-blocking for the epoll engine,
 * blocking for the io_uring engine, whose io-wq workers would otherwise see
 * EAGAIN: see relay_uring_ops.c).  Checks the peer's
 * credentials and the client cap; logs and closes the fd when refused.
 * Returns 0 when the engine should serve it, -EPERM or -EUSERS when not.
 * On 0 it has counted the client (clients_now, clients_total), and the
 * engine must call relay_client_closed() exactly once for it, whatever
 * happens next (connect failure included). */
int relay_client_accepted(struct relay *r, int fd, uint64_t *ret_id);

/* A client connection has been closed by the engine (both fds closed).
 * error is 0 for a normal end or one already reported (a connect failure,
 * stopping), else the -errno that ended it: logged (rate limited, as a
 * client can cause it at will) and counted in stats.errors, except for a
 * disconnect (relay_errno_is_disconnect(): EPIPE, ECONNRESET ...), which
 * is how X clients often end and is logged at debug level.  The engine counts bytes_up/bytes_down itself
 * as it writes them. */
void relay_client_closed(struct relay *r, const struct conn *c, int error);

/* accept() failed with -error.  Logs (rate limited).  Returns true when the
 * engine must pause accepting (EMFILE, ENFILE, ENOBUFS, ENOMEM) and resume
 * after RELAY_ACCEPT_PAUSE_MS or when a connection closes; false for errors
 * that concern only the one aborted client (ECONNABORTED, EPERM, ...).
 * The epoll engine also calls it when relay_upstream_socket() fails with
 * EMFILE/ENFILE for a client already accepted (which then waits for an fd
 * until its connect deadline instead of being dropped). */
bool relay_accept_failed(struct relay *r, int error);

/* A new upstream socket from upstream_socket(): non-blocking, CLOEXEC, for
 * vsock with SO_VM_SOCKETS_CONNECT_TIMEOUT (cfg->connect_timeout_ms),
 * which is logged at debug level when the kernel refuses it.  Returns the
 * fd or -errno. */
int relay_upstream_socket(struct relay *r);

/*
 * Start the upstream connect of client #id on fd (relay_upstream_socket(),
 * still non-blocking) with connect(2): upstream_connect_start(), which for
 * vsock sets SO_SNDBUF/SO_RCVBUF (cfg->vsock_buffer) before connect() and
 * again once it has started.  At debug level, logs for vsock the sizes
 * requested and those in force after the last setsockopt() (one line per
 * connection, and the setsockopt() that failed).  Returns 0 when
 * connected, 1 when in progress (wait until fd is writable, then
 * upstream_connect_finish()), or -errno, not logged: -EAGAIN when a UNIX
 * listener's queue is full (try again later), else relay_connect_failed().
 * Both engines connect through here, never through io_uring's
 * IORING_OP_CONNECT: the sizes must be set again between connect()'s start
 * and the host's answer, which a connect inside the ring leaves no room for.
 */
int relay_upstream_connect(struct relay *r, uint64_t id, int fd);

/* The upstream connect of client #id failed with -error (or timed out:
 * -ETIMEDOUT).  Logs one line in user terms. */
void relay_connect_failed(struct relay *r, uint64_t id, int error);

/* The upstream of client #id is connected.  Logs at debug level, with the
 * effective vsock buffer sizes. */
void relay_connected(struct relay *r, uint64_t id, int upstream_fd);

/* A read from direction d's source returned -error.  Returns true when it
 * counts as the end of the stream, false for a real error: ECONNRESET (a
 * UNIX peer closed with unread data; the bytes it sent have all been read
 * before this, and those still pending must be delivered), and on vsock
 * EIO/ENOMEM after some data (some kernels' answer after the host's FIN; a
 * vsock that fails before any byte has really failed).  The caller must be
 * sure the error is the socket's: io_uring's own -ENOMEM is not.  After
 * ECONNRESET the peer is gone: the direction towards it ends too, at once
 * (relay_half_drop()), and the connection with it once the reset
 * direction's pending bytes are out. */
bool relay_read_error_is_eof(const struct relay *r, const struct conn *c, enum relay_dir d, int error);

/* A write to direction d's sink returned -error.  Returns true when the
 * sink stopped reading (EPIPE, ECONNRESET: the peer closed): that
 * direction can deliver nothing more and ends (relay_half_drop()), but the
 * other may still have the peer's last bytes to read, and the connection
 * ends when that one does.  False: a real error that ends the connection. */
bool relay_write_error_is_sink_gone(int error);

/* Direction d can deliver nothing more (its sink reset or stopped reading):
 * what it holds is dropped, it counts as ended.  The engine frees its
 * buffers for it. */
static inline void relay_half_drop(struct conn *c, enum relay_dir d)
{
	struct half *h = conn_half(c, d);

	h->pending = 0;
	h->eof = h->shut = true;
}

/* signal_fd is readable: consumes the signals.  Logs the stats line on
 * SIGUSR1; sets r->stopping on SIGINT/SIGTERM (and SIGHUP, which run.c
 * also routes there: a closed terminal stops the relay cleanly).
 * Returns r->stopping. */
bool relay_handle_signals(struct relay *r);

void relay_log_stats(const struct relay *r);

/* ---- engines ---- */

struct relay_engine {
	const char *name;       /* "uring", "epoll" */
	/* Can this engine run here?  0, or -errno with a sentence in why
	 * ("io_uring is disabled by kernel.io_uring_disabled=2").  Touches
	 * nothing of the relay's. */
	int (*probe)(char *why, size_t why_size);
	/* Serve until r->stopping; close every connection; return 0 or -errno.
	 * Never closes cfg->listen_fds or r->signal_fd (run.c owns them). */
	int (*run)(struct relay *r);
};

extern const struct relay_engine relay_engine_epoll;
#ifdef HAVE_LIBURING
extern const struct relay_engine relay_engine_uring;
#endif
