/* SPDX-License-Identifier: MIT */
/*
 * no-uring COMMAND [ARGS...]: run COMMAND where io_uring is blocked the way
 * Docker's and containerd's default seccomp profiles block it: io_uring_setup,
 * io_uring_enter and io_uring_register fail with EPERM.  The relay must fall
 * back to its epoll engine there (--engine auto) or say why it cannot run
 * (--engine uring).
 */
#include <errno.h>
#include <seccomp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

int main(int argc, char *argv[])
{
	static const char *const calls[] = { "io_uring_setup", "io_uring_enter", "io_uring_register" };
	scmp_filter_ctx ctx;
	int r;

	if (argc < 2) {
		fprintf(stderr, "Usage: no-uring COMMAND [ARGS...]\n");
		return 2;
	}
	ctx = seccomp_init(SCMP_ACT_ALLOW);
	if (!ctx) {
		fprintf(stderr, "no-uring: ERROR: seccomp_init failed\n");
		return 1;
	}
	for (size_t i = 0; i < sizeof(calls) / sizeof(calls[0]); i++) {
		int nr = seccomp_syscall_resolve_name(calls[i]);

		if (nr == __NR_SCMP_ERROR) {
			fprintf(stderr, "no-uring: ERROR: this libseccomp does not know '%s'\n", calls[i]);
			return 1;
		}
		r = seccomp_rule_add(ctx, SCMP_ACT_ERRNO(EPERM), nr, 0);
		if (r < 0) {
			fprintf(stderr, "no-uring: ERROR: seccomp_rule_add(%s): %s\n", calls[i], strerror(-r));
			return 1;
		}
	}
	r = seccomp_load(ctx);
	if (r < 0) {
		fprintf(stderr, "no-uring: ERROR: seccomp_load: %s\n", strerror(-r));
		return 1;
	}
	seccomp_release(ctx);
	execvp(argv[1], argv + 1);
	fprintf(stderr, "no-uring: ERROR: cannot run '%s': %s\n", argv[1], strerror(errno));
	return 127;
}
