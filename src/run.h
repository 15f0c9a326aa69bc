/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The pieces of `run` that others call: its options (run_options.c, for
 * the unit tests) and the engine choice (run.c, for doctor).  The display
 * and its sockets are run_display.h's; the rest is cmd_run().
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "addr.h"

#define RUN_DEFAULT_MAX_CLIENTS 256u
#define RUN_MAX_CLIENTS_MAX 65536u
#define RUN_DEFAULT_CONNECT_TIMEOUT_MS 2000u
#define RUN_CONNECT_TIMEOUT_MAX_MS 3600000u
#define RUN_DEFAULT_VSOCK_BUFFER (256u * 1024u)
#define RUN_VSOCK_BUFFER_MAX (64u * 1024u * 1024u)
/* Each of --allow-user and --allow-group. */
#define RUN_ALLOW_MAX 64u

enum run_engine {
	RUN_ENGINE_AUTO,
	RUN_ENGINE_URING,
	RUN_ENGINE_EPOLL,
};

struct run_args {
	bool help;
	bool have_display;
	unsigned display;
	bool have_listen;
	struct addr listen;
	const char *listen_str;
	uint32_t x410_display;
	bool have_connect;
	struct addr connect;
	const char *socket_dir;
	const char *lock_dir;
	bool no_abstract;
	bool no_path_socket;
	unsigned max_clients;
	uint64_t connect_timeout_ms;
	uint32_t vsock_buffer;
	bool any_user;
	uid_t uids[RUN_ALLOW_MAX];
	size_t n_uids;
	gid_t gids[RUN_ALLOW_MAX];
	size_t n_gids;
	enum run_engine engine;
	char **program;         /* after "--": PROGRAM [ARGS...] (run_program.h); NULL: none */
	bool detach;            /* --detach (detach.h) */
};

/* Parses `run`'s arguments (argv[0] is "run").  Returns 0 (proceed, or
 * print nothing more and exit 0 when ret->help is set) or EXIT_USAGE after
 * printing the one-line error and the Try line. */
int run_parse_args(int argc, char *argv[], struct run_args *ret);

/* Would --connect reach one of the relay's own listening sockets? */
bool run_relays_to_itself(const struct run_args *a);

/* (The lock file's content: display_lock_parse() in display.h.) */

struct relay_engine;

/* The engine `run --engine want` uses on this system, for run itself and
 * for doctor's report. */
struct run_engine_choice {
	const struct relay_engine *engine;      /* NULL: run does not start */
	int uring_error;                        /* why not io_uring: the probe's -errno, else 0 */
	char why[256];                          /* the same in words ("" when io_uring is used) */
};

/* Probes io_uring (relay_engine_uring.probe) unless want is epoll.
 * Returns 0 with ret->engine (epoll with ret->why when auto falls back), or
 * the -errno that stops run (io_uring wanted but unusable, or failing in a
 * way that would hit epoll too, such as ENOMEM) with ret->why.  Never
 * logs. */
int run_engine_choose(enum run_engine want, struct run_engine_choice *ret);
