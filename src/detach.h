/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `run --detach`: the relay leaves the terminal once it serves.
 *
 *  - detach_served_already(): the display is served by an x410-vsock relay
 *    of this user with the same upstream: nothing to do (idempotent);
 *  - detach_begin() forks before anything is created; the child starts a
 *    new session and sets up as usual, printing its errors to the
 *    terminal; the parent waits until the child says it serves (exit 0) or
 *    ends (its exit status);
 *  - detach_finish(), once the sockets are bound and the lock file held:
 *    logging to syslog (/dev/log) or to a file, standard streams to
 *    /dev/null, and the word to the parent.
 */

#include <stdbool.h>

#include "addr.h"
#include "run.h"

/* Under $XDG_STATE_HOME (default ~/.local/state) when there is no syslog. */
#define DETACH_LOG_SUBDIR "x410-vsock"

/* Is "--" (run -- PROGRAM) among the arguments? */
bool detach_has_program(int argc, char *argv[]);

/* 1 when a->display is already served by an x410-vsock relay of this user
 * relaying to the upstream a asks for (one line logged), else 0: go on,
 * run says why the display is taken if it is. */
int detach_served_already(const struct run_args *a);

/* Forks.  In the child: *ret_parent = false, returns 0 (or -errno, logged,
 * when the fork failed).  In the parent: *ret_parent = true, returns the
 * exit status to exit with. */
int detach_begin(bool *ret_parent);

/* In the child, once serving: where the log goes is chosen and opened
 * (errors still reach the terminal, -errno, logged), the terminal is told
 * "serving SERVED -> UPSTREAM in the background (pid, log)", then the standard streams
 * go to /dev/null and the parent exits 0. */
int detach_finish(const struct run_args *a, const char *served, const char *upstream);

/* The log file detach_finish() uses when syslog is not there, for
 * messages (display N, or -1 for --listen).  0 or -errno. */
int detach_log_path(int display, char *buf, size_t size);
