/* SPDX-License-Identifier: MIT */
/*
 * The relay's policy, shared by every engine: who may connect, how many,
 * how the upstream socket is made, what a failure is called in the log, the
 * counters and the signals.  The engines call in here and never decide any
 * of it themselves, so that both behave the same.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "control.h"
#include "log.h"
#include "relay.h"
#include "upstream.h"
#include "util.h"

/* SO_PEERGROUPS is first asked for this many supplementary groups; a peer
 * with more gets a buffer of the size the kernel says it needs (at most
 * NGROUPS_MAX, 65536).  A client with 300 groups in the allowed one must not
 * be refused because its list is long. */
#define PEER_GROUPS_FIRST 256
#define PEER_GROUPS_MAX 65536

/* ---- the shared vocabulary ---- */

uint64_t relay_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

bool relay_errno_is_transient(int error)
{
	error = abs(error);
	return error == EAGAIN || error == EWOULDBLOCK || error == EINTR;
}

bool relay_errno_is_disconnect(int error)
{
	switch (abs(error)) {
	case ECONNABORTED:
	case ECONNREFUSED:
	case ECONNRESET:
	case EHOSTDOWN:
	case EHOSTUNREACH:
	case ENETDOWN:
	case ENETRESET:
	case ENETUNREACH:
	case ENONET:
	case ENOTCONN:
	case EPIPE:
	case EPROTO:
	case ESHUTDOWN:
		return true;
	default:
		return false;
	}
}

/* ---- rate limiting of the lines a peer can cause ---- */

/* A client that connects in a loop must not be able to fill the log: each
 * kind of per-client line is limited to a burst per interval, and the next
 * line that passes says that some were left out. */
struct ratelimit {
	uint64_t interval_ms;
	unsigned burst;
	uint64_t begin_ms;
	unsigned printed;
	uint64_t suppressed;
};

/* True when a line may be printed; *ret_suppressed is the number of lines
 * left out since the last one printed. */
static bool ratelimit_pass(struct ratelimit *rl, uint64_t *ret_suppressed)
{
	uint64_t now = relay_now_ms();

	*ret_suppressed = 0;
	if (rl->begin_ms == 0 || now - rl->begin_ms >= rl->interval_ms) {
		rl->begin_ms = now;
		rl->printed = 0;
	}
	if (rl->printed >= rl->burst) {
		rl->suppressed++;
		return false;
	}
	rl->printed++;
	*ret_suppressed = rl->suppressed;
	rl->suppressed = 0;
	return true;
}

static struct ratelimit rl_refused = { .interval_ms = 1000, .burst = 10 };
static struct ratelimit rl_cap = { .interval_ms = 1000, .burst = 10 };
/* A client can end its connection with an error at will (ENOMEM under
 * memory pressure comes per client too). */
static struct ratelimit rl_closed = { .interval_ms = 1000, .burst = 10 };
/* Running out of fds lasts: say it once in a while, not at every pause. */
static struct ratelimit rl_accept = { .interval_ms = 10000, .burst = 1 };

/* ---- peers ---- */

bool relay_policy_allows(const struct relay_policy *p, uid_t uid, const gid_t *gids, size_t n_gids)
{
	if (p->any_user || uid == 0 || uid == p->self_uid)
		return true;
	for (size_t i = 0; i < p->n_uids; i++)
		if (p->uids[i] == uid)
			return true;
	for (size_t i = 0; i < p->n_gids; i++)
		for (size_t j = 0; j < n_gids; j++)
			if (p->gids[i] == gids[j])
				return true;
	return false;
}

/* The peer's primary and supplementary groups (primary first) in *ret,
 * allocated: SO_PEERGROUPS (Linux 4.13).  ERANGE means the buffer was too
 * small, and the kernel has put the size it needs in len: grow and ask
 * again.  Returns 0, or -errno with *ret holding the primary group alone
 * (the kernel lacks SO_PEERGROUPS, or it failed): then only that one can
 * be checked. */
static int peer_groups(int fd, gid_t primary, gid_t **ret, size_t *ret_n)
{
	size_t cap = PEER_GROUPS_FIRST;
	int r = -ENOPROTOOPT;

	*ret = NULL;
	*ret_n = 0;
#ifdef SO_PEERGROUPS
	for (unsigned attempt = 0; attempt < 4; attempt++) {
		gid_t *g = malloc((cap + 1) * sizeof(gid_t));
		socklen_t len = (socklen_t)(cap * sizeof(gid_t));
		size_t need;

		if (!g)
			return -ENOMEM;
		g[0] = primary;
		if (getsockopt(fd, SOL_SOCKET, SO_PEERGROUPS, g + 1, &len) == 0) {
			*ret = g;
			*ret_n = 1 + len / sizeof(gid_t);
			return 0;
		}
		r = -errno;
		free(g);
		if (r != -ERANGE)
			break;
		/* Its groups are fixed at connect(): one retry is enough,
		 * unless the kernel answers nonsense. */
		need = len / sizeof(gid_t);
		if (need <= cap || need > PEER_GROUPS_MAX)
			break;
		cap = need;
	}
#endif
	*ret = malloc(sizeof(gid_t));
	if (!*ret)
		return -ENOMEM;
	(*ret)[0] = primary;
	*ret_n = 1;
	return r;
}

int relay_client_accepted(struct relay *r, int fd, uint64_t *ret_id)
{
	static uint64_t next_id = 1;
	const struct relay_config *cfg = r->cfg;
	struct ucred cred = {};
	socklen_t len = sizeof(cred);
	uint64_t id = next_id++, suppressed;

	/* The check that protects the abstract socket, which has no file
	 * permissions: made on every connection, whatever the socket's mode. */
	if (getsockopt(fd, SOL_SOCKET, SO_PEERCRED, &cred, &len) < 0) {
		int error = errno;

		r->stats.refused++;
		if (ratelimit_pass(&rl_refused, &suppressed))
			log_warning_errno(error, "client #%" PRIu64 " refused: cannot read its credentials (SO_PEERCRED): %m",
					  id);
		(void)safe_close(fd);
		return -EPERM;
	}
	if (!relay_policy_allows(&cfg->policy, cred.uid, NULL, 0)) {
		_cleanup_free_ gid_t *gids = NULL;
		size_t n = 0;
		int gr = 0;

		if (cfg->policy.n_gids > 0)
			gr = peer_groups(fd, cred.gid, &gids, &n);
		if (!relay_policy_allows(&cfg->policy, cred.uid, gids, n)) {
			r->stats.refused++;
			/* Either option would admit it: its uid, or its group. */
			if (ratelimit_pass(&rl_refused, &suppressed)) {
				if (gr < 0)
					log_warning_errno(gr, "client #%" PRIu64 " refused: uid %u (pid %d, group %u) is not allowed"
							  " to connect, and its supplementary groups could not be read (%m);"
							  " allow it with --allow-user %u or --allow-group %u%s",
							  id, (unsigned)cred.uid, (int)cred.pid, (unsigned)cred.gid,
							  (unsigned)cred.uid, (unsigned)cred.gid,
							  suppressed ? " (more refusals suppressed)" : "");
				else
					log_warning("client #%" PRIu64 " refused: uid %u (pid %d, group %u) is not allowed to connect;"
						    " allow it with --allow-user %u or --allow-group %u%s",
						    id, (unsigned)cred.uid, (int)cred.pid, (unsigned)cred.gid,
						    (unsigned)cred.uid, (unsigned)cred.gid,
						    suppressed ? " (more refusals suppressed)" : "");
			}
			(void)safe_close(fd);
			return -EPERM;
		}
	}
	if (r->stats.clients_now >= cfg->max_clients) {
		r->stats.refused++;
		if (ratelimit_pass(&rl_cap, &suppressed))
			log_warning("client #%" PRIu64 " refused: already serving %" PRIu64 " clients, the limit"
				    " (raise it with --max-clients)%s", id, r->stats.clients_now,
				    suppressed ? " (more refusals suppressed)" : "");
		(void)safe_close(fd);
		return -EUSERS;
	}

	r->stats.clients_now++;
	r->stats.clients_total++;
	log_debug("client #%" PRIu64 ": accepted (pid %d, uid %u)", id, (int)cred.pid, (unsigned)cred.uid);
	*ret_id = id;
	return 0;
}

void relay_client_closed(struct relay *r, const struct conn *c, int error)
{
	uint64_t suppressed;

	error = abs(error);
	if (r->stats.clients_now > 0)
		r->stats.clients_now--;
	if (error == 0)
		log_debug("client #%" PRIu64 ": closed", c->id);
	else if (relay_errno_is_disconnect(error))
		/* The peer went away: how X clients usually end. */
		log_debug_errno(error, "client #%" PRIu64 ": closed: %m", c->id);
	else {
		r->stats.errors++;
		if (ratelimit_pass(&rl_closed, &suppressed))
			log_warning_errno(error, "client #%" PRIu64 ": connection ended by an error: %m%s", c->id,
					  suppressed ? " (more such lines suppressed)" : "");
	}
}

bool relay_accept_failed(struct relay *r, int error)
{
	uint64_t suppressed;

	error = abs(error);
	switch (error) {
	case ECONNABORTED:
	case EPROTO:
	case EPERM:      /* a firewall rule or LSM refused this one connection */
	case EINTR:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENETDOWN:
	case ENONET:
	case EOPNOTSUPP:
		log_debug_errno(error, "accept failed: %m");
		return false;
	case EMFILE:
	case ENFILE:
		if (ratelimit_pass(&rl_accept, &suppressed))
			log_warning_errno(error, "out of file descriptors (%m): new clients wait;"
					  " raise 'ulimit -n' or lower --max-clients");
		return true;
	default:
		/* ENOBUFS, ENOMEM, and anything unexpected: pausing is what
		 * keeps a persistent error from turning into a busy loop. */
		if (ratelimit_pass(&rl_accept, &suppressed))
			log_warning_errno(error, "accept failed: %m; pausing new clients for %u ms",
					  RELAY_ACCEPT_PAUSE_MS);
		return true;
	}
}

/* ---- upstream ---- */

int relay_upstream_socket(struct relay *r)
{
	const struct relay_config *cfg = r->cfg;
	int fd, timeout_error;

	fd = upstream_socket(&cfg->upstream, cfg->connect_timeout_ms, &timeout_error);
	if (fd < 0)
		return fd;
	if (timeout_error < 0)
		log_debug_errno(timeout_error, "setsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT) on the vsock upstream: %m");
	return fd;
}

int relay_upstream_connect(struct relay *r, uint64_t id, int fd)
{
	const struct relay_config *cfg = r->cfg;
	bool debug = cfg->upstream.kind == ADDR_VSOCK && log_get_max_level() >= LOG_DEBUG;
	struct upstream_buffers b;
	int ret;

	/* What is in force is read only for the log line. */
	ret = upstream_connect_start(fd, &cfg->upstream, cfg->vsock_buffer, debug ? &b : NULL);
	if (!debug || ret < 0)
		return ret;
	if (b.error_before < 0)
		log_debug_errno(b.error_before, "client #%" PRIu64 ": setsockopt(SO_SNDBUF/SO_RCVBUF, %" PRIu32 ") before connect() on the vsock upstream: %m", id, b.requested);
	if (b.error_again < 0)
		log_debug_errno(b.error_again, "client #%" PRIu64 ": setsockopt(SO_SNDBUF/SO_RCVBUF, %" PRIu32 ") after connect() started on the vsock upstream: %m", id, b.requested);
	if (b.requested == 0)
		log_debug("client #%" PRIu64 ": vsock buffers: none requested (--vsock-buffer 0), in force SO_SNDBUF=%d SO_RCVBUF=%d", id, b.sndbuf, b.rcvbuf);
	else
		log_debug("client #%" PRIu64 ": vsock buffers: %" PRIu32 " requested, in force SO_SNDBUF=%d SO_RCVBUF=%d (set before connect()%s)", id, b.requested, b.sndbuf, b.rcvbuf, b.set_again ? " and again after it started" : ", which completed at once");
	return ret;
}

static void format_upstream(const struct relay_config *cfg, char *buf, size_t size)
{
	if (addr_format(&cfg->upstream, buf, size) < 0)
		(void)strcpy_bounded(buf, size, "the upstream");
}

void relay_connect_failed(struct relay *r, uint64_t id, int error)
{
	const struct relay_config *cfg = r->cfg;
	char where[ADDR_FORMAT_MAX], hint[1024];

	error = abs(error);
	r->stats.connect_failed++;
	/* Out of fds is the relay's own limit, not the upstream's fault. */
	if (error == EMFILE || error == ENFILE) {
		format_upstream(cfg, where, sizeof(where));
		log_error_errno(error, "client #%" PRIu64 ": no file descriptor for its connection to %s (%m):"
				" raise 'ulimit -n' or lower --max-clients", id, where);
		return;
	}
	upstream_error_hint(&cfg->upstream, cfg->upstream_is_x410, cfg->x410_display, cfg->connect_timeout_ms,
			    error, hint, sizeof(hint));
	log_error_errno(error, "client #%" PRIu64 ": %s", id, hint);
}

void relay_connected(struct relay *r, uint64_t id, int upstream_fd)
{
	char where[ADDR_FORMAT_MAX];

	if (log_get_max_level() < LOG_DEBUG)
		return;
	format_upstream(r->cfg, where, sizeof(where));
	if (r->cfg->upstream.kind == ADDR_VSOCK) {
		int sndbuf = -1, rcvbuf = -1;
		socklen_t len = sizeof(int);

		(void)getsockopt(upstream_fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len);
		len = sizeof(int);
		(void)getsockopt(upstream_fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len);
		log_debug("client #%" PRIu64 ": connected to %s (SO_SNDBUF=%d SO_RCVBUF=%d)", id, where, sndbuf, rcvbuf);
	} else
		log_debug("client #%" PRIu64 ": connected to %s", id, where);
}

bool relay_read_error_is_eof(const struct relay *r, const struct conn *c, enum relay_dir d, int error)
{
	const struct half *h = d == RELAY_UP ? &c->up : &c->down;

	error = abs(error);
	/* A UNIX peer that closes with unread bytes in its own queue (an X
	 * client exiting without reading its last events) makes our read
	 * return ECONNRESET -- after every byte it sent.  Those bytes may
	 * still be waiting in the relay for the other side: ending the
	 * connection here would drop them.  It is the end of that stream;
	 * the peer is gone, so the other direction ends with EPIPE. */
	if (error == ECONNRESET)
		return true;
	/* Some kernels (around 6.17) return EIO or ENOMEM from hv_sock for
	 * the read that follows the host's FIN instead of 0: also the end
	 * of that stream, not an error that would cut the other direction.
	 * Only after data: a stream that fails before its first byte has
	 * failed (a FIN with nothing before it reads as 0 on those kernels
	 * too). */
	return d == RELAY_DOWN && r->cfg->upstream.kind == ADDR_VSOCK && h->received > 0 &&
	       (error == EIO || error == ENOMEM);
}

bool relay_write_error_is_sink_gone(int error)
{
	error = abs(error);
	return error == EPIPE || error == ECONNRESET;
}

/* ---- signals and counters ---- */

bool relay_handle_signals(struct relay *r)
{
	struct signalfd_siginfo si;

	for (;;) {
		ssize_t n = read(r->signal_fd, &si, sizeof(si));

		if (n < 0) {
			if (errno == EINTR)
				continue;
			break;   /* EAGAIN: all consumed */
		}
		if ((size_t)n != sizeof(si))
			break;
		if (r->on_signal && r->on_signal(r, &si))
			continue;
		switch (si.ssi_signo) {
		case SIGUSR1:
			/* `x410-vsock status` asks with sigqueue() (control.h). */
			if (si.ssi_code == SI_QUEUE && control_answer(r, (pid_t)si.ssi_pid, si.ssi_int) == 0)
				break;
			relay_log_stats(r);
			break;
		case SIGINT:
		case SIGTERM:
		case SIGHUP:
			if (!r->stopping)
				log_info("received %s: stopping", si.ssi_signo == SIGINT ? "SIGINT" :
					 si.ssi_signo == SIGTERM ? "SIGTERM" : "SIGHUP");
			r->stopping = true;
			break;
		default:
			break;
		}
	}
	return r->stopping;
}

void relay_log_stats(const struct relay *r)
{
	const struct relay_stats *s = &r->stats;

	log_info("stats: clients %" PRIu64 " now, %" PRIu64 " total, %" PRIu64 " refused;"
		 " %" PRIu64 " upstream connects failed, %" PRIu64 " errors;"
		 " bytes %" PRIu64 " up, %" PRIu64 " down",
		 s->clients_now, s->clients_total, s->refused, s->connect_failed, s->errors,
		 s->bytes_up, s->bytes_down);
}
