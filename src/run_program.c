/* SPDX-License-Identifier: MIT */
/*
 * `x410-vsock run ... -- PROGRAM [ARGS...]`: PROGRAM's side of the relay --
 * where run's arguments end, the display when none is given, starting
 * PROGRAM, passing signals on, and its end as run's exit status.
 */
#include <errno.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/signalfd.h>
#include <sys/wait.h>
#include <unistd.h>

#include "commands.h"
#include "display.h"
#include "log.h"
#include "macro.h"
#include "relay.h"
#include "run_program.h"

extern char **environ;

/* ---- arguments ---- */

/* Does the long option "--name" (without "=value") take the next word as
 * its argument?  Exact names and unique prefixes, as getopt_long. */
static bool long_takes_next(const struct option *options, const char *name)
{
	const struct option *found = NULL;
	size_t len = strlen(name);
	unsigned n = 0;

	for (const struct option *o = options; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len) {
			found = o;
			n = 1;
			break;
		}
		found = o;
		n++;
	}
	return n == 1 && found->has_arg == required_argument;
}

/* Does the cluster "-abc" end with an option that takes the next word? */
static bool short_takes_next(const char *optstring, const char *cluster)
{
	for (const char *c = cluster + 1; *c; c++) {
		const char *o = *c != ':' ? strchr(optstring, *c) : NULL;

		if (o && o[1] == ':' && o[2] != ':')
			return c[1] == 0;   /* the rest of the cluster, or the next word */
	}
	return false;
}

int run_program_split(int argc, char *argv[], const struct option *options, const char *optstring,
		      char ***ret_program)
{
	*ret_program = NULL;
	for (int i = 1; i < argc; i++) {
		const char *w = argv[i];

		if (streq(w, "--")) {
			*ret_program = argv + i + 1;
			return i;
		}
		if (w[0] != '-' || w[1] == 0)
			continue;
		if (w[1] == '-') {
			if (!strchr(w, '=') && long_takes_next(options, w + 2))
				i++;
		} else if (short_takes_next(optstring, w))
			i++;
	}
	return argc;
}

/* ---- the display ---- */

int run_program_pick_display(struct run_args *a)
{
	struct display_where w = {
		.root = "",
		.live = true,
		.socket_dir = a->socket_dir,
		.lock_dir = a->lock_dir,
	};
	unsigned found;

	/* From :0 on, leaving none out: the numbers doctor lists. */
	if (display_suggest_free(&w, 0, false, &found, 1) == 0) {
		log_error("No free display from :0 to :%u: give one, e.g. 'x410-vsock run :%u -- %s'",
			  DISPLAY_SUGGEST_SCAN, DISPLAY_SUGGEST_SCAN + 1, "PROGRAM");
		return EXIT_FAILED;
	}
	a->display = found;
	a->have_display = true;
	log_info("no display given: serving :%u, the first free one", found);
	return 0;
}

/* ---- PROGRAM ---- */

void run_program_init(struct run_program *p, char **argv)
{
	struct sigaction sa = {};

	*p = (struct run_program) { .argv = argv };
	if (sigprocmask(SIG_BLOCK, NULL, &p->mask) < 0)
		sigemptyset(&p->mask);
	p->pipe_ignored = sigaction(SIGPIPE, NULL, &sa) == 0 && sa.sa_handler == SIG_IGN;
}

int run_program_start(struct run_program *p, struct relay *r, unsigned display)
{
	posix_spawnattr_t attr;
	sigset_t defaults;
	char value[16];
	int e;

	(void)snprintf(value, sizeof(value), ":%u", display);
	if (setenv("DISPLAY", value, 1) < 0) {
		log_error_errno(errno, "Cannot set DISPLAY for '%s': %m", p->argv[0]);
		return EXIT_FAILED;
	}

	/* run blocks the signals its signalfd reads and ignores SIGPIPE:
	 * PROGRAM gets what run was given instead. */
	sigemptyset(&defaults);
	if (!p->pipe_ignored)
		sigaddset(&defaults, SIGPIPE);
	e = posix_spawnattr_init(&attr);
	if (e == 0)
		e = posix_spawnattr_setsigmask(&attr, &p->mask);
	if (e == 0)
		e = posix_spawnattr_setsigdefault(&attr, &defaults);
	if (e == 0)
		e = posix_spawnattr_setflags(&attr, POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF);
	/* posix_spawnp searches PATH as execvp does, but never falls back to
	 * a shell for a file that is not an executable (ENOEXEC). */
	if (e == 0)
		e = posix_spawnp(&p->pid, p->argv[0], NULL, &attr, p->argv, environ);
	(void)posix_spawnattr_destroy(&attr);

	if (e == ENOENT && !strchr(p->argv[0], '/')) {
		log_error("Cannot run '%s': no such program in PATH; the relay stopped", p->argv[0]);
		return RUN_PROGRAM_NOT_FOUND;
	}
	if (e == ENOENT || e == ENOTDIR) {
		log_error_errno(e, "Cannot run '%s': %m; the relay stopped", p->argv[0]);
		return RUN_PROGRAM_NOT_FOUND;
	}
	if (e != 0) {
		log_error_errno(e, "Cannot run '%s': %m; the relay stopped", p->argv[0]);
		return e == EACCES || e == ENOEXEC || e == EISDIR || e == ETXTBSY || e == EPERM ?
		       RUN_PROGRAM_CANNOT_EXEC : EXIT_FAILED;
	}
	log_info("running '%s' (pid %d) with DISPLAY=%s; the relay stops when it ends", p->argv[0],
		 (int)p->pid, value);
	r->on_signal = run_program_on_signal;
	r->on_signal_data = p;
	return 0;
}

/* "SIGTERM"; "signal 40" for the rest (sigabbrev_np needs glibc 2.32). */
static const char *signal_name(int sig)
{
	static const struct { int sig; const char *name; } names[] = {
		{ SIGHUP, "SIGHUP" }, { SIGINT, "SIGINT" }, { SIGQUIT, "SIGQUIT" }, { SIGILL, "SIGILL" },
		{ SIGABRT, "SIGABRT" }, { SIGBUS, "SIGBUS" }, { SIGFPE, "SIGFPE" }, { SIGKILL, "SIGKILL" },
		{ SIGUSR1, "SIGUSR1" }, { SIGSEGV, "SIGSEGV" }, { SIGUSR2, "SIGUSR2" }, { SIGPIPE, "SIGPIPE" },
		{ SIGALRM, "SIGALRM" }, { SIGTERM, "SIGTERM" }, { SIGXCPU, "SIGXCPU" }, { SIGXFSZ, "SIGXFSZ" },
		{ SIGSYS, "SIGSYS" },
	};
	static char buf[24];

	for (size_t i = 0; i < ELEMENTSOF(names); i++)
		if (names[i].sig == sig)
			return names[i].name;
	(void)snprintf(buf, sizeof(buf), "signal %d", sig);
	return buf;
}

int run_program_exit_status(int wait_status)
{
	if (WIFEXITED(wait_status))
		return WEXITSTATUS(wait_status);
	if (WIFSIGNALED(wait_status))
		return 128 + WTERMSIG(wait_status);
	return EXIT_FAILED;
}

/* Reap PROGRAM if it has ended; true when it has. */
static bool reap(struct run_program *p, bool block)
{
	int status;
	pid_t pid;

	if (p->ended || p->pid <= 0)
		return p->ended;
	do
		pid = waitpid(p->pid, &status, block ? 0 : WNOHANG);
	while (pid < 0 && errno == EINTR);
	if (pid != p->pid)
		return false;   /* still running (or stopped) */
	p->ended = true;
	p->status = status;
	return true;
}

bool run_program_on_signal(struct relay *r, const struct signalfd_siginfo *si)
{
	struct run_program *p = r->on_signal_data;
	int sig = (int)si->ssi_signo;

	switch (sig) {
	case SIGCHLD:
		if (!p->ended && reap(p, false)) {
			if (WIFSIGNALED(p->status))
				log_info("'%s' was killed by %s: stopping", p->argv[0], signal_name(WTERMSIG(p->status)));
			else
				log_info("'%s' exited with status %d: stopping", p->argv[0],
					 run_program_exit_status(p->status));
			r->stopping = true;
		}
		return true;
	case SIGINT:
	case SIGTERM:
	case SIGHUP:
		if (p->ended)
			return false;   /* the relay's own: stop */
		/* The terminal sends its signals (^C, a hang-up) to the whole
		 * foreground process group, PROGRAM included: passing them
		 * on would deliver them twice. */
		if (si->ssi_code == SI_KERNEL) {
			log_debug("%s from the terminal reached '%s' too", signal_name(sig), p->argv[0]);
			return true;
		}
		log_info("received %s: passing it to '%s'", signal_name(sig), p->argv[0]);
		if (kill(p->pid, sig) < 0 && errno != ESRCH)
			log_warning_errno(errno, "Cannot pass %s to '%s' (pid %d): %m", signal_name(sig), p->argv[0],
					  (int)p->pid);
		return true;
	default:
		return false;
	}
}

int run_program_finish(struct run_program *p, int engine_result)
{
	if (p->pid <= 0)
		return EXIT_FAILED;
	if (!p->ended) {
		/* The relay failed under PROGRAM: without its display it
		 * cannot go on. */
		log_error("the relay stopped before '%s' ended: sending it SIGTERM", p->argv[0]);
		(void)kill(p->pid, SIGTERM);
		(void)reap(p, true);
		return EXIT_FAILED;
	}
	if (engine_result < 0)
		return EXIT_FAILED;
	return run_program_exit_status(p->status);
}
