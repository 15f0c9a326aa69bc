/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The display `run` serves, and what it holds of it: the X lock file (taken
 * with link(2), whole or not at all), the socket directory (refused by the
 * rule doctor reports too, display_dir_judge()), the listening sockets, and
 * their removal at the end -- only of what is still ours.  These functions
 * log their errors (sentences that say what to do) and return -errno.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "relay.h"
#include "run.h"

struct run_ctx {
	const struct run_args *a;
	char lock_path[PATH_MAX];
	bool lock_held;
	bool lock_was_stale;    /* we removed a lock whose process is gone */
	char sock_path[PATH_MAX];
	bool sock_created;
	dev_t sock_dev;
	ino_t sock_ino;
	char abstract_name[PATH_MAX];
	int fds[RELAY_MAX_LISTEN];
	size_t n_fds;
	bool activated;
};

/* Take the X lock file of a->display (a stale one is removed first). */
int run_lock_take(struct run_ctx *ctx);
/* The display's sockets: checks the socket directory, takes the lock, then
 * binds the abstract and the path socket (as the options say). */
int run_listen_display(struct run_ctx *ctx);
/* --listen ADDR. */
int run_listen_address(struct run_ctx *ctx);
/* systemd socket activation: how many sockets systemd passed (0: not
 * activated), or -errno. */
int run_listen_systemd(struct run_ctx *ctx);
/* Close the sockets, remove the socket file and the lock if still ours. */
void run_cleanup(struct run_ctx *ctx);
