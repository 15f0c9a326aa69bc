/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * `x410-vsock run [OPTIONS] [:N] -- PROGRAM [ARGS...]`, like xvfb-run: the
 * relay serves the display for the lifetime of one program.
 *
 * run.c sets up the relay as always, then run_program_start() starts
 * PROGRAM (posix_spawnp: the PATH search of execvp, never a shell) with
 * DISPLAY=:N and otherwise the environment, signal mask and dispositions
 * run was given.  The relay's signalfd also carries SIGCHLD:
 * run_program_on_signal(), which relay_handle_signals() asks first, passes
 * SIGINT, SIGTERM and SIGHUP on to PROGRAM instead of stopping, and stops
 * the relay (its usual stop: every client closed) once PROGRAM has ended.
 * run_program_finish() turns PROGRAM's end into run's exit status.
 */

#include <getopt.h>
#include <signal.h>
#include <stdbool.h>
#include <sys/types.h>

#include "run.h"

struct relay;
struct signalfd_siginfo;

/* Exit statuses for a PROGRAM that cannot be run, as env(1) and shells
 * use them. */
#define RUN_PROGRAM_NOT_FOUND 127
#define RUN_PROGRAM_CANNOT_EXEC 126

struct run_program {
	char **argv;            /* PROGRAM and its arguments, NULL-terminated */
	pid_t pid;              /* 0: not started */
	bool ended;             /* reaped; status is its wait status */
	int status;
	sigset_t mask;          /* the signal mask PROGRAM gets: run's own, before run blocked any */
	bool pipe_ignored;      /* SIGPIPE was ignored when run started: PROGRAM inherits that */
};

/* Where "--" ends run's own arguments: returns how many words of argv are
 * run's (the "--" and what follows are not) and sets *ret_program to the
 * word after "--" (possibly the terminating NULL), or NULL without "--".
 * Arguments of options (per options and optstring) are skipped, so that
 * "--connect --" is an option with its argument. */
int run_program_split(int argc, char *argv[], const struct option *options, const char *optstring,
		      char ***ret_program);

/* Before run blocks its signals: remember the mask and SIGPIPE's
 * disposition for PROGRAM. */
void run_program_init(struct run_program *p, char **argv);

/* With :N omitted: the first free display, as doctor suggests them (in
 * a's socket and lock directories).  Sets a->display and a->have_display
 * and says which; returns 0, or EXIT_FAILED after logging when none is
 * free. */
int run_program_pick_display(struct run_args *a);

/* The relay is serving :display (its sockets listen): start PROGRAM with
 * DISPLAY=:display and hook it into the relay's signals.  Returns 0, or
 * after logging the exit status for run: RUN_PROGRAM_NOT_FOUND,
 * RUN_PROGRAM_CANNOT_EXEC or EXIT_FAILED. */
int run_program_start(struct run_program *p, struct relay *r, unsigned display);

/* relay->on_signal: returns true when the signal was PROGRAM's business. */
bool run_program_on_signal(struct relay *r, const struct signalfd_siginfo *si);

/* The relay has stopped with engine_result (0 or -errno): PROGRAM's exit
 * status, or 128+signal when a signal ended it.  When the relay failed
 * while PROGRAM still runs, PROGRAM gets SIGTERM (it has lost its display)
 * and the result is EXIT_FAILED. */
int run_program_finish(struct run_program *p, int engine_result);

/* PROGRAM's wait status as an exit status: 0-255, or 128+signal. */
int run_program_exit_status(int wait_status);
