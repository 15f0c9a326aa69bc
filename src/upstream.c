/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <time.h>

#include "macro.h"
#include "upstream.h"

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

static void set_vsock_timeout(int fd, uint64_t deadline_ms)
{
	uint64_t now = upstream_now_ms(), left = deadline_ms > now ? deadline_ms - now : 1;
	struct timeval tv = {
		.tv_sec = (time_t)(left / 1000u),
		.tv_usec = (suseconds_t)(left % 1000u) * 1000,
	};

	/* Best effort: without it hv_sock gives up after its default (2 s),
	 * and our own deadline still holds. */
	(void)setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv));
}

int upstream_connect(const struct addr *a, uint64_t deadline_ms)
{
	_cleanup_close_ int fd = -1;
	socklen_t len = sizeof(int);
	int family = addr_family(a), error = 0, r;

	if (family == AF_UNSPEC)
		return -EDESTADDRREQ;
	fd = socket(family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);
	if (fd < 0)
		return -errno;
	if (family == AF_VSOCK)
		set_vsock_timeout(fd, deadline_ms);

	if (connect(fd, &a->sa.sa, a->sa_len) == 0)
		return TAKE_FD(fd);
	if (errno != EINPROGRESS)
		return -errno;

	r = upstream_wait(fd, POLLOUT, deadline_ms);
	if (r < 0)
		return r;
	if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &error, &len) < 0)
		return -errno;
	if (error != 0)
		return -error;
	return TAKE_FD(fd);
}
