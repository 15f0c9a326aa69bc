/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Connecting to an upstream address (vsock:, unix:, tcp:) with a deadline.
 * Used by doctor's X410 probe; written so that the relay can share it.
 * No logging: every function returns -errno.
 */

#include <stdint.h>

#include "addr.h"

/* Milliseconds on CLOCK_MONOTONIC. */
uint64_t upstream_now_ms(void);

/* Wait until fd is ready for events (POLLIN/POLLOUT) or the monotonic
 * deadline passes.  Returns 0, -ETIMEDOUT or -errno; EINTR is retried. */
int upstream_wait(int fd, short events, uint64_t deadline_ms);

/*
 * Create a SOCK_STREAM socket for a (SOCK_CLOEXEC|SOCK_NONBLOCK) and connect
 * it, waiting at most until deadline_ms (CLOCK_MONOTONIC).  A tcp: name must
 * have been resolved with addr_resolve() first (-EDESTADDRREQ otherwise).
 * For vsock the kernel's own connect timeout (SO_VM_SOCKETS_CONNECT_TIMEOUT)
 * is set to the time left, so that hv_sock gives up when we do.
 * Returns the connected fd, still nonblocking, or -errno (-ETIMEDOUT when
 * the deadline passed, -EAGAIN when a UNIX listener's backlog is full).
 */
int upstream_connect(const struct addr *a, uint64_t deadline_ms);
