/* SPDX-License-Identifier: MIT */
/*
 * `x410-vsock run`: the lifecycle around the engine -- parse the options
 * (run_options.c), choose the engine, take the display and its sockets
 * (run_display.c), block the signals, run the engine, clean up.  The policy
 * every engine applies is in relay.c, the engines in relay_*.c.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/signalfd.h>
#include <unistd.h>

#include "addr.h"
#include "commands.h"
#include "control.h"
#include "detach.h"
#include "display.h"
#include "log.h"
#include "options.h"
#include "relay.h"
#include "run.h"
#include "sysfacts.h"
#include "upstream.h"
#include "run_display.h"
#include "run_program.h"
#include "util.h"

/* ---- engine ---- */

#ifdef HAVE_LIBURING
/* io_uring missing (ENOSYS), blocked by seccomp, a sysctl or an LSM
 * (EPERM, EACCES), or lacking what the engine needs (EINVAL, EOPNOTSUPP):
 * reasons to use epoll.  ENOMEM, EMFILE and the like are not: they would
 * hit the epoll engine too, and hiding them helps nobody. */
static bool probe_error_means_fallback(int r)
{
	return r == -ENOSYS || r == -EPERM || r == -EINVAL || r == -EOPNOTSUPP || r == -EACCES;
}
#endif

int run_engine_choose(enum run_engine want, struct run_engine_choice *ret)
{
	*ret = (struct run_engine_choice) {};
	if (want == RUN_ENGINE_EPOLL) {
		ret->engine = &relay_engine_epoll;
		return 0;
	}
#ifdef HAVE_LIBURING
	int r = relay_engine_uring.probe(ret->why, sizeof(ret->why));

	if (r == 0) {
		ret->engine = &relay_engine_uring;
		return 0;
	}
	ret->uring_error = r;
	if (!ret->why[0])
		(void)snprintf(ret->why, sizeof(ret->why), "io_uring does not work here (%s)", strerror(-r));
	if (want == RUN_ENGINE_URING || !probe_error_means_fallback(r))
		return r;
	ret->engine = &relay_engine_epoll;
	return 0;
#else
	ret->uring_error = -EOPNOTSUPP;
	(void)snprintf(ret->why, sizeof(ret->why), "this x410-vsock is built without liburing");
	if (want == RUN_ENGINE_URING)
		return -EOPNOTSUPP;
	ret->engine = &relay_engine_epoll;
	return 0;
#endif
}

static const struct relay_engine *engine_pick(enum run_engine want)
{
	struct run_engine_choice c;
	int r = run_engine_choose(want, &c);

	if (r < 0) {
		if (want == RUN_ENGINE_URING)
			log_error_errno(r, "Cannot use the io_uring engine: %s", c.why);
		else
			log_error_errno(r, "Cannot set up io_uring: %s", c.why);
		return NULL;
	}
	if (c.uring_error < 0)
		log_info("%s; using the epoll engine", c.why);
	else if (c.engine != &relay_engine_epoll)
		log_debug("using the io_uring engine");
	return c.engine;
}

/* ---- the command ---- */

static void check_fd_limit(unsigned max_clients)
{
	struct rlimit rl;
	/* Two fds per client, and a few of our own. */
	rlim_t need = (rlim_t)max_clients * 2 + 16;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur != RLIM_INFINITY && rl.rlim_cur < need)
		log_warning("the open file limit (%ju) is below what %u clients need (%ju): beyond it new clients wait; raise it with 'ulimit -n %ju' or lower --max-clients",
			    (uintmax_t)rl.rlim_cur, max_clients, (uintmax_t)need, (uintmax_t)need);
}

static int signals_setup(int *ret_fd)
{
	sigset_t mask;
	int fd;

	/* Blocked from the start: a SIGTERM during setup waits in the
	 * signalfd and stops the relay cleanly at its first loop. */
	sigemptyset(&mask);
	sigaddset(&mask, SIGINT);
	sigaddset(&mask, SIGTERM);
	sigaddset(&mask, SIGHUP);
	sigaddset(&mask, SIGUSR1);
	sigaddset(&mask, SIGCHLD);      /* run -- PROGRAM: its end stops the relay */
	if (sigprocmask(SIG_BLOCK, &mask, NULL) < 0)
		return log_error_errno(errno, "Cannot block signals: %m");
	fd = signalfd(-1, &mask, SFD_NONBLOCK | SFD_CLOEXEC);
	if (fd < 0)
		return log_error_errno(errno, "Cannot create a signalfd: %m");
	/* A peer that goes away must cost a connection, never the relay. */
	(void)signal(SIGPIPE, SIG_IGN);
	*ret_fd = fd;
	return 0;
}

static void describe_upstream(const struct relay_config *cfg, char *buf, size_t size)
{
	if (cfg->upstream_is_x410)
		(void)snprintf(buf, size, "X410 display %u (vsock %u:%u)", cfg->x410_display,
			       cfg->upstream.sa.vm.svm_cid, cfg->upstream.sa.vm.svm_port);
	else if (addr_format(&cfg->upstream, buf, size) < 0)
		(void)strcpy_bounded(buf, size, "the upstream");
}

int cmd_run(int argc, char *argv[])
{
	struct run_args a;
	struct relay_config cfg = {};
	struct relay relay = {};
	struct run_ctx ctx = { .a = &a };
	struct run_program prog = {};
	const struct relay_engine *engine;
	_cleanup_close_ int signal_fd = -1;
	char upstream[ADDR_FORMAT_MAX + 64], served[ADDR_FORMAT_MAX], display_hint[32] = "";
	const char *why = NULL;
	char upstream_addr[ADDR_FORMAT_MAX];
	int r;

	r = run_parse_args(argc, argv, &a);
	if (r != 0 || a.help)
		return r;
	if (a.program) {
		run_program_init(&prog, a.program);
		if (!a.have_display && run_program_pick_display(&a) != 0)
			return EXIT_FAILED;
	}
	/* run --detach from a profile, again: one line, nothing to do. */
	if (a.detach && detach_served_already(&a) > 0)
		return EXIT_OK;

	if (geteuid() == 0)
		log_warning("running as root is not needed: run the relay as the user whose X programs use it (as root, only root's programs may connect unless --allow-user says otherwise)");

	/* Chosen before anything is created: --engine uring fails with
	 * nothing to clean up. */
	engine = engine_pick(a.engine);
	if (!engine)
		return EXIT_FAILED;

	if (a.have_connect) {
		cfg.upstream = a.connect;
		if (cfg.upstream.warnings & ADDR_WARN_HVSOCK_CID)
			log_warning("hv_sock connects only to CID 2 (the host): '--connect vsock:%u:...' works only with another VSOCK transport", cfg.upstream.sa.vm.svm_cid);
		r = addr_resolve_why(&cfg.upstream, &why);
		if (r < 0) {
			if (why)
				log_error("Cannot resolve the host '%s' of --connect: %s", cfg.upstream.host, why);
			else
				log_error_errno(r, "Cannot resolve the host '%s' of --connect: %m", cfg.upstream.host);
			return EXIT_FAILED;
		}
	} else {
		struct sysfacts facts;

		addr_vsock(VMADDR_CID_HOST, addr_x410_port(a.x410_display), &cfg.upstream);
		cfg.upstream_is_x410 = true;
		/* On WSL2 X410 accepts the VM by its own option, not by a
		 * registry key: the connect-failure sentence says which. */
		if (sysfacts_read(&facts, NULL) == 0)
			upstream_hint_set_wsl2(facts.wsl == WSL_2, facts.wsl_vm_id);
	}
	cfg.x410_display = a.x410_display;
	cfg.max_clients = a.max_clients;
	cfg.connect_timeout_ms = a.connect_timeout_ms;
	cfg.vsock_buffer = a.vsock_buffer;
	cfg.policy = (struct relay_policy) {
		.self_uid = geteuid(),
		.any_user = a.any_user,
		.uids = a.uids,
		.n_uids = a.n_uids,
		.gids = a.gids,
		.n_gids = a.n_gids,
	};
	check_fd_limit(a.max_clients);

	if (a.detach) {
		bool parent;

		r = detach_begin(&parent);
		if (parent || r < 0)
			return parent ? r : EXIT_FAILED;
	}
	r = signals_setup(&signal_fd);
	if (r < 0)
		return EXIT_FAILED;

	r = run_listen_systemd(&ctx);
	if (r == 0) {
		if (a.have_display)
			r = run_listen_display(&ctx);
		else
			r = run_listen_address(&ctx);
	} else if (r > 0 && a.have_display)
		/* The .socket unit owns the sockets; the display number is
		 * still ours, and X servers look at the lock. */
		r = run_lock_take(&ctx);
	if (r < 0) {
		run_cleanup(&ctx);
		return EXIT_FAILED;
	}

	for (size_t i = 0; i < ctx.n_fds; i++)
		cfg.listen_fds[i] = ctx.fds[i];
	cfg.n_listen = ctx.n_fds;
	relay.cfg = &cfg;
	relay.signal_fd = signal_fd;

	describe_upstream(&cfg, upstream, sizeof(upstream));
	if (a.have_display) {
		(void)snprintf(served, sizeof(served), ":%u", a.display);
		(void)snprintf(display_hint, sizeof(display_hint), "; export DISPLAY=:%u", a.display);
	} else if (addr_format(&a.listen, served, sizeof(served)) < 0)
		(void)strcpy_bounded(served, sizeof(served), a.listen_str);
	if (a.detach && detach_finish(&a, served, upstream) < 0) {
		run_cleanup(&ctx);
		return EXIT_FAILED;
	}
	log_info("serving %s -> %s%s", served, upstream, display_hint);
	log_debug("engine %s, at most %u clients, connect timeout %" PRIu64 " ms, vsock buffer %u",
		  engine->name, cfg.max_clients, cfg.connect_timeout_ms, cfg.vsock_buffer);

	if (a.program) {
		r = run_program_start(&prog, &relay, a.display);
		if (r != 0) {
			run_cleanup(&ctx);
			return r;
		}
	}

	if (addr_format(&cfg.upstream, upstream_addr, sizeof(upstream_addr)) < 0)
		upstream_addr[0] = 0;
	control_set_identity(served, upstream_addr, engine->name);

	/* The engine has logged its failure (relay.h). */
	r = engine->run(&relay);
	if (r >= 0)
		relay_log_stats(&relay);
	run_cleanup(&ctx);
	if (a.program)
		return run_program_finish(&prog, r);
	return r < 0 ? EXIT_FAILED : EXIT_OK;
}

