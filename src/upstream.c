/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <inttypes.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>
#include <linux/vm_sockets.h>

#include "macro.h"
#include "regfile.h"
#include "upstream.h"
#include "util.h"

uint64_t upstream_now_ms(void)
{
	struct timespec ts;

	(void)clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000u + (uint64_t)ts.tv_nsec / 1000000u;
}

int upstream_wait(int fd, short events, uint64_t deadline_ms)
{
	struct pollfd p = { .fd = fd, .events = events };

	for (;;) {
		uint64_t now = upstream_now_ms();
		int r;

		if (now >= deadline_ms)
			return -ETIMEDOUT;
		r = poll(&p, 1, (int)MIN(deadline_ms - now, (uint64_t)INT32_MAX));
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r > 0)
			return 0;
	}
}

static int set_int(int fd, int level, int name, int value)
{
	return setsockopt(fd, level, name, &value, sizeof(value)) < 0 ? -errno : 0;
}

static int get_int(int fd, int level, int name)
{
	socklen_t len = sizeof(int);
	int value;

	return getsockopt(fd, level, name, &value, &len) < 0 ? -1 : value;
}

int upstream_socket(const struct addr *a, uint64_t connect_timeout_ms, int *ret_timeout_error)
{
	_cleanup_close_ int fd = -1;
	int family = addr_family(a), timeout_error = 0;

	if (family == AF_UNSPEC)
		return -EDESTADDRREQ;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;

	if (family == AF_VSOCK) {
		/* The kernel's own connect timer (it also applies to
		 * non-blocking connects): without it hv_sock gives up after
		 * its default (2 s); the caller keeps its own deadline.  The
		 * transport assigned at connect() leaves it alone. */
		struct timeval tv = {
			.tv_sec = (time_t)(connect_timeout_ms / 1000u),
			.tv_usec = (suseconds_t)(connect_timeout_ms % 1000u * 1000u),
		};
		if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)) < 0)
			timeout_error = -errno;
	} else if (family == AF_INET || family == AF_INET6)
		/* X11 is request/reply: Nagle would delay every small request. */
		(void)set_int(fd, IPPROTO_TCP, TCP_NODELAY, 1);

	if (ret_timeout_error)
		*ret_timeout_error = timeout_error;
	return TAKE_FD(fd);
}

/* SO_SNDBUF and SO_RCVBUF to size: 0, or the -errno of the first that failed. */
static int set_buffers(int fd, uint32_t size)
{
	int v = (int)MIN(size, (uint32_t)INT32_MAX), r, r2;

	r = set_int(fd, SOL_SOCKET, SO_SNDBUF, v);
	r2 = set_int(fd, SOL_SOCKET, SO_RCVBUF, v);
	return r < 0 ? r : r2;
}

int upstream_connect_start(int fd, const struct addr *a, uint32_t vsock_buffer, struct upstream_buffers *ret_buffers)
{
	struct upstream_buffers b = { .sndbuf = -1, .rcvbuf = -1 };
	bool vsock = a->kind == ADDR_VSOCK, buffers = vsock && vsock_buffer > 0;
	int r;

	/* Kernels before 5.5 assign the transport at socket(): what is set
	 * now is what hv_sock sizes its rings from. */
	if (buffers) {
		b.requested = vsock_buffer;
		b.error_before = set_buffers(fd, vsock_buffer);
	}
	if (connect(fd, &a->sa.sa, a->sa_len) == 0)
		r = 0;
	else if (errno == EINPROGRESS || errno == EINTR)
		/* EINTR: the connect goes on in the background (POSIX). */
		r = 1;
	else
		return -errno;
	/* From 5.5 on, connect() has just assigned the transport, and
	 * hv_sock's init has reset both sizes to its 24 KiB: set them again
	 * before the host answers, which takes it a round trip. */
	if (buffers && r == 1) {
		b.set_again = true;
		b.error_again = set_buffers(fd, vsock_buffer);
	}
	if (ret_buffers) {
		if (vsock) {
			b.sndbuf = get_int(fd, SOL_SOCKET, SO_SNDBUF);
			b.rcvbuf = get_int(fd, SOL_SOCKET, SO_RCVBUF);
		}
		*ret_buffers = b;
	}
	return r;
}

int upstream_connect_finish(int fd)
{
	socklen_t len = sizeof(int);
	int error = 0;

	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		return -errno;
	return -error;
}

int upstream_connect(const struct addr *a, uint32_t vsock_buffer, uint64_t deadline_ms)
{
	_cleanup_close_ int fd = -1;
	uint64_t now = upstream_now_ms();
	int r;

	fd = upstream_socket(a, deadline_ms > now ? deadline_ms - now : 1, NULL);
	if (fd < 0)
		return fd;
	r = upstream_connect_start(fd, a, vsock_buffer, NULL);
	if (r < 0)
		return r;
	if (r == 1) {
		r = upstream_wait(fd, POLLOUT, deadline_ms);
		if (r < 0)
			return r;
		/* poll() also ends on an error or a hang-up: SO_ERROR says
		 * which; 0 with POLLOUT is connected. */
		r = upstream_connect_finish(fd);
		if (r < 0)
			return r;
	}
	return TAKE_FD(fd);
}

/* What upstream_hint_set_wsl2() said: the only state of this file. */
static bool hint_wsl2;
static char hint_vm_id[64];

void upstream_hint_set_wsl2(bool wsl2, const char *vm_id)
{
	hint_wsl2 = wsl2;
	(void)strcpy_bounded(hint_vm_id, sizeof(hint_vm_id), wsl2 && vm_id ? vm_id : "");
}

void upstream_error_hint(const struct addr *a, bool is_x410, uint32_t x410_display, uint64_t timeout_ms,
			 int error, char *buf, size_t size)
{
	char where[ADDR_FORMAT_MAX];
	const char *text;

	error = abs(error);
	text = strerror(error);
	if (addr_format(a, where, sizeof(where)) < 0)
		(void)strcpy_bounded(where, sizeof(where), "the upstream");

	switch (a->kind) {
	case ADDR_VSOCK:
		switch (error) {
		case ECONNRESET:
		case ECONNREFUSED:
		case ETIMEDOUT:
			if (is_x410) {
				char timed_out[64] = "", key[ADDR_GUID_MAX];

				/* A timeout is worth saying: a host that never
				 * answers is not one that refuses. */
				if (error == ETIMEDOUT)
					(void)snprintf(timed_out, sizeof(timed_out), "connect timed out after %" PRIu64 " ms: ",
						       timeout_ms);
				if (hint_wsl2) {
					/* No registry key makes X410 accept the WSL2
					 * VM, whose id changes at every start. */
					char vm[96] = "";

					if (hint_vm_id[0])
						(void)snprintf(vm, sizeof(vm), " (this WSL2 VM's id is %s)", hint_vm_id);
					(void)snprintf(buf, size, "%sX410 is not accepting VSOCK connections from WSL2 on port %u (display %u)%s: X410 must itself accept them; is X410 running with its WSL2/VSOCK option on?",
						       timed_out, a->sa.vm.svm_port, x410_display, vm);
					return;
				}
				regfile_service_key(x410_display, key);
				(void)snprintf(buf, size, "%sX410 is not listening on vsock port %u (display %u): is X410 running with /listen hyperv and the registry key %s present?",
					       timed_out, a->sa.vm.svm_port, x410_display, key);
			} else
				(void)snprintf(buf, size, "nobody is listening on %s (%s)", where, text);
			return;
		case ENODEV:
		case EAFNOSUPPORT:
		case ESOCKTNOSUPPORT:
		case EPROTONOSUPPORT:
			(void)snprintf(buf, size, "no VSOCK transport (%s): run 'sudo x410-vsock setup'", text);
			return;
		case ENETUNREACH:
			/* The kernel's answer: which ports hv_sock reaches
			 * depends on the kernel, so none is refused before. */
			(void)snprintf(buf, size, "%s is unreachable (%s): hv_sock connects only to CID 2 (the host), and some kernels' hv_sock only to ports up to 2147483647 (0x7FFFFFFF); this is CID %u port %u",
				       where, text, a->sa.vm.svm_cid, a->sa.vm.svm_port);
			return;
		case EACCES:
		case EPERM:
			(void)snprintf(buf, size, "not allowed to use AF_VSOCK (%s): a seccomp profile or security module blocks it (containers do by default)", text);
			return;
		}
		break;
	case ADDR_UNIX:
		switch (error) {
		case ENOENT:
		case ECONNREFUSED:
			(void)snprintf(buf, size, "nobody is listening on %s (%s)", where, text);
			return;
		case EACCES:
		case EPERM:
			(void)snprintf(buf, size, "no permission to connect to %s (%s)", where, text);
			return;
		case EAGAIN:
			(void)snprintf(buf, size, "%s is not accepting connections (its listen queue stayed full)", where);
			return;
		case ETIMEDOUT:
			(void)snprintf(buf, size, "connecting to %s timed out after %" PRIu64 " ms", where, timeout_ms);
			return;
		}
		break;
	case ADDR_TCP:
		switch (error) {
		case ECONNREFUSED:
			(void)snprintf(buf, size, "nobody is listening on %s (connection refused)", where);
			return;
		case ETIMEDOUT:
			(void)snprintf(buf, size, "connecting to %s timed out after %" PRIu64 " ms", where, timeout_ms);
			return;
		case EHOSTUNREACH:
		case ENETUNREACH:
			(void)snprintf(buf, size, "%s is unreachable (%s)", where, text);
			return;
		}
		break;
	default:
		break;
	}
	(void)snprintf(buf, size, "cannot connect to %s: %s", where, text);
}
