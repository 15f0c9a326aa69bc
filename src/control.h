/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What `status`, `stop` and `run --detach` learn about the relays on this
 * machine: which process holds a display's lock file, whether it is an
 * x410-vsock relay and whose, and -- from the relay itself -- what it
 * serves and its counters.
 *
 * The status request needs no socket in the relay's event loop:
 *  1. the asking process listens on the abstract socket
 *     @x410-vsock/status/<its pid>/<nonce> and sends the relay SIGUSR1 with
 *     sigqueue(), the nonce as the value (si_code SI_QUEUE);
 *  2. the relay, whose signalfd is already in its loop, sees SI_QUEUE,
 *     connects to that name, checks with SO_PEERCRED that the listener is
 *     the sender and runs as its own user (or root), and writes its status
 *     in a few "key value" lines;
 *  3. the asking process checks with SO_PEERCRED that the answer comes
 *     from the relay's PID.
 * Only the relay's user and root may signal it, so only they can ask.  A
 * plain SIGUSR1 (kill -USR1) still logs the statistics line.
 *
 * Parsers and formatters are pure; control_answer() never logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"
#include "display.h"

struct relay;

#define CONTROL_MAGIC "x410-vsock-status 1"
#define CONTROL_REPLY_MAX 2048
/* How long `status` waits for a relay's answer: generous, the relay may
 * be busy or the machine loaded. */
#define CONTROL_QUERY_TIMEOUT_MS 3000u

struct control_status {
	pid_t pid;
	char served[ADDR_FORMAT_MAX];   /* ":5", or the --listen address */
	char upstream[ADDR_FORMAT_MAX]; /* addr_format() of the upstream */
	char engine[16];
	uint64_t clients_now;
	uint64_t clients_total;
	uint64_t refused;
	uint64_t bytes_up;
	uint64_t bytes_down;
	uint64_t uptime_ms;
};

/* ---- the relay's side ---- */

/* What the relay says about itself; run.c calls it once serving.  The
 * uptime counts from this call. */
void control_set_identity(const char *served, const char *upstream, const char *engine);

/* A SIGUSR1 with si_code SI_QUEUE from requester with value nonce: answer
 * on @x410-vsock/status/<requester>/<nonce>.  0 when answered, -errno when
 * not (nobody listening there, a listener of another user ...). */
int control_answer(const struct relay *r, pid_t requester, int nonce);

/* ---- pure ---- */

/* The reply for s into buf ("x410-vsock-status 1\npid 123\n..."). */
int control_status_format(const struct control_status *s, char *buf, size_t size);
/* A reply into *ret; -EINVAL when it is not one. */
int control_status_parse(const char *buf, size_t len, struct control_status *ret);
/* "3d04h", "2h05m", "4m10s", "12s" */
void control_format_duration(uint64_t ms, char *buf, size_t size);

/* ---- the asking side ---- */

/* Ask the relay pid for its status, waiting at most timeout_ms.  -ESRCH
 * (gone), -EPERM (not ours to signal), -ETIMEDOUT (no answer: not an
 * x410-vsock relay of this version, or stuck), -EPROTO (a bad answer). */
int control_query(pid_t pid, uint64_t timeout_ms, struct control_status *ret);

/* ---- who holds a display ---- */

enum control_holder {
	CONTROL_FREE,           /* no lock file */
	CONTROL_RELAY,          /* a running x410-vsock */
	CONTROL_OTHER,          /* another running process (an X server) */
	CONTROL_STALE,          /* the lock's process is gone, or no PID in it */
	CONTROL_UNKNOWN,        /* the lock file cannot be read, or is not a file */
};

struct control_display {
	unsigned display;
	enum control_holder holder;
	struct display_lock lock;
	uid_t uid;              /* RELAY, OTHER: the process's owner */
	bool have_uid;
	char user[64];          /* its name, or the uid as a number */
	char comm[32];
};

/* Look at display's lock file in lock_dir and the process behind it. */
int control_lookup(const char *lock_dir, unsigned display, struct control_display *ret);

/* Is pid an x410-vsock process (its comm, executable or argv[0])? */
bool control_pid_is_relay(pid_t pid);

/* Has pid ended (gone, or a zombie nobody has reaped yet)? */
bool control_pid_ended(pid_t pid);
