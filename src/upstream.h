/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The upstream side shared by the relay and doctor's X410 probe: the socket
 * to an upstream address (vsock:, unix:, tcp:) set up as `run` sets it up,
 * a connect with a deadline, and what a failed connect means in the user's
 * terms.  No logging: every function returns -errno (or fills a buffer).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "addr.h"

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t upstream_now_ms(void);

/* Wait until fd is ready for events (POLLIN/POLLOUT) or the monotonic
 * deadline passes.  Returns 0, -ETIMEDOUT or -errno; EINTR is retried. */
int upstream_wait(int fd, short events, uint64_t deadline_ms);

/*
 * A new SOCK_STREAM socket for a (SOCK_CLOEXEC|SOCK_NONBLOCK), set up to be
 * connected to it: for vsock SO_VM_SOCKETS_CONNECT_TIMEOUT to
 * connect_timeout_ms, for tcp TCP_NODELAY.  The options are best effort:
 * the fd is returned whatever they do, and the -errno of the connect
 * timeout the kernel refused is in *ret_timeout_error (NULL: not wanted).
 * A tcp: name must have been resolved with addr_resolve() first
 * (-EDESTADDRREQ otherwise).  Returns the fd or -errno.
 */
int upstream_socket(const struct addr *a, uint64_t connect_timeout_ms, int *ret_timeout_error);

/* What upstream_connect_start() did with a vsock upstream's buffer sizes,
 * for the caller's log. */
struct upstream_buffers {
	uint32_t requested;     /* vsock_buffer; 0: nothing set, the kernel's default */
	bool set_again;         /* set again after connect() returned EINPROGRESS */
	int error_before;       /* 0, or the -errno of a setsockopt() before connect() */
	int error_again;        /* 0, or the -errno of a setsockopt() after it */
	int sndbuf;             /* SO_SNDBUF and SO_RCVBUF in force after the last */
	int rcvbuf;             /* setsockopt() (getsockopt), -1 when unknown */
};

/*
 * Start connecting fd (from upstream_socket(), non-blocking) to a, with the
 * connect(2) system call.  For vsock with vsock_buffer > 0, SO_SNDBUF and
 * SO_RCVBUF are set to vsock_buffer before connect() (where kernels before
 * 5.5 keep them) and, when connect() returns EINPROGRESS, at once again:
 * from Linux 5.5 on, connect() assigns the transport, and hv_sock's
 * hvs_sock_init() then resets both to its 24 KiB defaults; it sizes its
 * VMBus rings from whatever they hold when the host answers, later.
 * ret_buffers (NULL: not wanted) says what was set, and, read only when it
 * is wanted, what is in force afterwards (for other families: nothing set,
 * sizes -1); it is filled only when the connect has not failed.  Returns 0
 * when fd is connected already, 1 when the connect is in progress (wait
 * for POLLOUT, then upstream_connect_finish()), or -errno: -EAGAIN when a
 * UNIX listener's queue is full (nothing has started: try again later).
 */
int upstream_connect_start(int fd, const struct addr *a, uint32_t vsock_buffer, struct upstream_buffers *ret_buffers);

/* A connect in progress has reported POLLOUT, an error or a hang-up: 0 when
 * it succeeded, else the -errno it failed with (SO_ERROR).  0 without
 * POLLOUT means it has not ended yet. */
int upstream_connect_finish(int fd);

/*
 * upstream_socket(), upstream_connect_start() and upstream_connect_finish(),
 * waiting at most until deadline_ms (CLOCK_MONOTONIC); for vsock the
 * kernel's own connect timeout is the time left, so that hv_sock gives up
 * when we do.  Returns the connected fd, still nonblocking, or -errno
 * (-ETIMEDOUT when the deadline passed, -EAGAIN when a UNIX listener's
 * backlog is full).
 */
int upstream_connect(const struct addr *a, uint32_t vsock_buffer, uint64_t deadline_ms);

/*
 * Where X410's end is, for the sentence below: a Hyper-V VM (X410 accepts
 * the VM through the GuestCommunicationServices registry key) or WSL2
 * (whose utility VM changes its id at every start: X410 must itself accept
 * VSOCK connections from WSL2, its WSL2/VSOCK option).  Set once at start
 * by whoever logs the sentence (run, doctor) from sysfacts; the default is
 * a Hyper-V VM.  vm_id: `wslinfo --vm-id`, NULL or "" when unknown.
 */
void upstream_hint_set_wsl2(bool wsl2, const char *vm_id);

/*
 * Why a connect to a failed with -error (or error), as one sentence in the
 * user's terms, the same for the relay's log line and doctor's finding:
 * "X410 is not listening on vsock port 6000 (display 0): is X410 running
 * with /listen hyperv and the registry key ... present?" (on WSL2: "... is
 * X410's WSL2/VSOCK option on?"), "no VSOCK transport (...): run 'sudo
 * x410-vsock setup'", "nobody is listening on unix:/tmp/x (No such file or
 * directory)", ...  is_x410 says that a is X410's default address
 * (vsock:2:6000+x410_display, no --connect); timeout_ms is the connect
 * timeout that a -ETIMEDOUT ran into.  No I/O, no logging; it reads only
 * what upstream_hint_set_wsl2() set.
 */
void upstream_error_hint(const struct addr *a, bool is_x410, uint32_t x410_display, uint64_t timeout_ms,
			 int error, char *buf, size_t size);
