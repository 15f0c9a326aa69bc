/* SPDX-License-Identifier: MIT */
/*
 * tt-probe FEATURE: does this kernel (and process) have FEATURE?  The
 * relay tests ask this program, never the relay itself, before they skip:
 * a skip must come from a detection that does not share the code under test.
 * Raw system calls only (no liburing), so it is built in every configuration.
 *
 *   uring     io_uring_setup() works, the ring polls sockets by itself
 *             (IORING_FEAT_FAST_POLL) and has the operations the relay uses
 *   bufring   uring, plus a provided-buffer ring can be registered (5.19)
 *   seccomp   a seccomp filter can be installed (here, in this process)
 *   sockbuf   not a feature: "sndbuf=N rcvbuf=N" of a new UNIX stream socket,
 *             for tests that bound what socket buffers can hold
 *
 * Exit 0 and print "FEATURE: yes", or exit 1 and print the reason.
 */
#include <errno.h>
#include <linux/filter.h>
#include <linux/io_uring.h>
#include <linux/seccomp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <unistd.h>

#ifndef IORING_FEAT_FAST_POLL
#define IORING_FEAT_FAST_POLL (1U << 5)
#endif
#ifndef __NR_io_uring_setup
#define __NR_io_uring_setup 425
#define __NR_io_uring_register 427
#endif
/* struct io_uring_buf_reg (Linux 5.19), spelled here for older headers. */
struct buf_reg {
	uint64_t ring_addr;
	uint32_t ring_entries;
	uint16_t bgid;
	uint16_t flags;
	uint64_t resv[3];
};
#define REGISTER_PROBE 8
#define REGISTER_PBUF_RING 22
#define OP_SUPPORTED (1U << 0)

__attribute__((format(printf, 1, 2)))
static int no(const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vprintf(format, ap);
	va_end(ap);
	putchar('\n');
	return 1;
}

static int ring_fd(void)
{
	struct io_uring_params p;
	int fd;

	memset(&p, 0, sizeof(p));
	fd = (int)syscall(__NR_io_uring_setup, 4, &p);
	if (fd < 0)
		return -errno;
	if (!(p.features & IORING_FEAT_FAST_POLL)) {
		close(fd);
		return -EOPNOTSUPP;
	}
	return fd;
}

static int probe_uring(bool bufring)
{
	static const struct { unsigned op; const char *name; } ops[] = {
		{ IORING_OP_ACCEPT, "ACCEPT" }, { IORING_OP_RECV, "RECV" },
		{ IORING_OP_SEND, "SEND" }, { IORING_OP_SENDMSG, "SENDMSG" }, { IORING_OP_POLL_ADD, "POLL_ADD" },
		{ IORING_OP_TIMEOUT, "TIMEOUT" }, { IORING_OP_LINK_TIMEOUT, "LINK_TIMEOUT" },
		{ IORING_OP_ASYNC_CANCEL, "ASYNC_CANCEL" },
	};
	size_t size = sizeof(struct io_uring_probe) + 256 * sizeof(struct io_uring_probe_op);
	struct io_uring_probe *probe = calloc(1, size);
	int fd = ring_fd();

	if (fd == -EOPNOTSUPP)
		return no("io_uring cannot poll sockets by itself (no IORING_FEAT_FAST_POLL, Linux < 5.7)");
	if (fd < 0)
		return no("io_uring_setup() fails here: %s", strerror(-fd));
	if (!probe || syscall(__NR_io_uring_register, fd, REGISTER_PROBE, probe, 256) < 0)
		return no("io_uring cannot list its operations (IORING_REGISTER_PROBE, Linux < 5.6)");
	for (size_t i = 0; i < sizeof(ops) / sizeof(ops[0]); i++)
		if (ops[i].op > probe->last_op || !(probe->ops[ops[i].op].flags & OP_SUPPORTED))
			return no("io_uring lacks IORING_OP_%s", ops[i].name);
	if (bufring) {
		struct buf_reg reg;
		void *ring = mmap(NULL, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (ring == MAP_FAILED)
			return no("mmap: %s", strerror(errno));
		memset(&reg, 0, sizeof(reg));
		reg.ring_addr = (unsigned long)ring;
		reg.ring_entries = 8;
		reg.bgid = 1;
		if (syscall(__NR_io_uring_register, fd, REGISTER_PBUF_RING, &reg, 1) < 0)
			return no("io_uring cannot register a provided-buffer ring (IORING_REGISTER_PBUF_RING, Linux < 5.19): %s",
				  strerror(errno));
	}
	close(fd);
	free(probe);
	printf("%s: yes\n", bufring ? "bufring" : "uring");
	return 0;
}

static int probe_seccomp(void)
{
	struct sock_filter allow[] = { BPF_STMT(BPF_RET | BPF_K, SECCOMP_RET_ALLOW) };
	struct sock_fprog prog = { .len = 1, .filter = allow };

	if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
		return no("prctl(PR_SET_NO_NEW_PRIVS): %s", strerror(errno));
	if (prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, &prog, 0, 0) < 0)
		return no("seccomp filters cannot be installed here: %s", strerror(errno));
	printf("seccomp: yes\n");
	return 0;
}

int main(int argc, char *argv[])
{
	if (argc == 2 && strcmp(argv[1], "uring") == 0)
		return probe_uring(false);
	if (argc == 2 && strcmp(argv[1], "bufring") == 0)
		return probe_uring(true);
	if (argc == 2 && strcmp(argv[1], "seccomp") == 0)
		return probe_seccomp();
	if (argc == 2 && strcmp(argv[1], "sockbuf") == 0) {
		int sv[2], snd = 0, rcv = 0;
		socklen_t len = sizeof(int);

		if (socketpair(AF_UNIX, SOCK_STREAM, 0, sv) < 0 ||
		    getsockopt(sv[0], SOL_SOCKET, SO_SNDBUF, &snd, &len) < 0 ||
		    getsockopt(sv[0], SOL_SOCKET, SO_RCVBUF, &rcv, &len) < 0)
			return no("socketpair/getsockopt: %s", strerror(errno));
		printf("sndbuf=%d rcvbuf=%d\n", snd, rcv);
		return 0;
	}
	fprintf(stderr, "Usage: tt-probe uring|bufring|seccomp|sockbuf\n");
	return 2;
}
