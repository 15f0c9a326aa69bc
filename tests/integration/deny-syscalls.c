/* SPDX-License-Identifier: MIT */
/*
 * deny-syscalls [--vsock ERRNO] [--io-uring ERRNO] -- COMMAND [ARGS...]
 *
 * Run COMMAND under a seccomp filter that makes socket(AF_VSOCK, ...) and/or
 * io_uring_setup() fail with ERRNO (a number), the way a container's seccomp
 * profile does.  For doctor's tests of blocked AF_VSOCK and io_uring: the
 * kernel's real answer, no fake.  A plain BPF program, no libseccomp.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>
#include <linux/audit.h>
#include <linux/filter.h>
#include <linux/seccomp.h>

#if defined(__x86_64__)
#define ARCH AUDIT_ARCH_X86_64
#elif defined(__aarch64__)
#define ARCH AUDIT_ARCH_AARCH64
#elif defined(__riscv) && __riscv_xlen == 64
#define ARCH AUDIT_ARCH_RISCV64
#endif

#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#endif

static int parse_errno(const char *s)
{
	char *end;
	long v = strtol(s, &end, 10);

	if (*s == 0 || *end != 0 || v <= 0 || v > 4095) {
		fprintf(stderr, "deny-syscalls: bad errno '%s'\n", s);
		exit(2);
	}
	return (int)v;
}

int main(int argc, char *argv[])
{
	int vsock = 0, uring = 0, i = 1;

	for (; i < argc && strcmp(argv[i], "--") != 0; i++) {
		if (strcmp(argv[i], "--vsock") == 0 && i + 1 < argc)
			vsock = parse_errno(argv[++i]);
		else if (strcmp(argv[i], "--io-uring") == 0 && i + 1 < argc)
			uring = parse_errno(argv[++i]);
		else {
			fprintf(stderr, "usage: deny-syscalls [--vsock ERRNO] [--io-uring ERRNO] -- COMMAND [ARGS...]\n");
			return 2;
		}
	}
	if (i + 1 >= argc) {
		fprintf(stderr, "deny-syscalls: no command\n");
		return 2;
	}
#ifndef ARCH
	fprintf(stderr, "deny-syscalls: unknown architecture\n");
	return 77;
#else
	{
		const unsigned uring_action = uring ? SECCOMP_RET_ERRNO | ((unsigned)uring & SECCOMP_RET_DATA) : SECCOMP_RET_ALLOW;
		const unsigned vsock_action = vsock ? SECCOMP_RET_ERRNO | ((unsigned)vsock & SECCOMP_RET_DATA) : SECCOMP_RET_ALLOW;
		struct sock_filter filter[] = {
			/* 0-2: another architecture's system call numbers mean
			 * other things: let them through. */
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, arch)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, ARCH, 1, 0),
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
			/* 3-5: io_uring_setup() */
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, nr)),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_io_uring_setup, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, uring_action),
			/* 6-9: socket(AF_VSOCK, ...); the low word of args[0]
			 * (little-endian architectures only, see ARCH). */
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, __NR_socket, 0, 3),
			BPF_STMT(BPF_LD | BPF_W | BPF_ABS, offsetof(struct seccomp_data, args[0])),
			BPF_JUMP(BPF_JMP | BPF_JEQ | BPF_K, AF_VSOCK, 0, 1),
			BPF_STMT(BPF_RET | BPF_K, vsock_action),
			/* 10 */
			BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW),
		};
		struct sock_fprog prog = { .len = sizeof(filter) / sizeof(filter[0]), .filter = filter };

		if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0 ||
		    prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog) < 0) {
			fprintf(stderr, "deny-syscalls: seccomp: %s\n", strerror(errno));
			return 77;
		}
	}
	execvp(argv[i + 1], argv + i + 1);
	fprintf(stderr, "deny-syscalls: %s: %s\n", argv[i + 1], strerror(errno));
	return 127;
#endif
}
