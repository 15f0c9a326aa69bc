/* SPDX-License-Identifier: MIT */
/* The upstream connect both engines and doctor use: upstream_socket(),
 * upstream_connect_start() (connect(2), non-blocking: connected, in
 * progress, or failed at once) and upstream_connect_finish() (SO_ERROR),
 * against real UNIX and loopback TCP sockets; never AF_VSOCK, which on this
 * host would reach the real host (the guest of 'make check-vm' traces the
 * vsock order). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

#include "addr.h"
#include "upstream.h"

static char dir[] = "/tmp/x410-test-upstream.XXXXXX";

static int setup_dir(void **state)
{
	(void)state;
	return mkdtemp(dir) ? 0 : -1;
}

static int teardown_dir(void **state)
{
	(void)state;
	return rmdir(dir);
}

/* A listener on a (unix: path, or tcp:127.0.0.1:0 with a->port filled in). */
static int listen_on(struct addr *a, int backlog)
{
	socklen_t len = a->sa_len;
	int fd = socket(a->sa.sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0);

	assert_true(fd >= 0);
	assert_int_equal(bind(fd, &a->sa.sa, a->sa_len), 0);
	assert_int_equal(listen(fd, backlog), 0);
	if (a->kind == ADDR_TCP) {
		assert_int_equal(getsockname(fd, &a->sa.sa, &len), 0);
		a->port = ntohs(a->sa.in.sin_port);
	}
	return fd;
}

static void tcp_loopback(struct addr *a)
{
	assert_int_equal(addr_parse("tcp:127.0.0.1:1", a, NULL), 0);
	assert_int_equal(addr_resolve(a), 0);
	a->sa.in.sin_port = 0;
}

/* upstream_connect_start() and, when in progress, the wait and SO_ERROR. */
static int start_and_finish(int fd, const struct addr *a)
{
	struct upstream_buffers b;
	int r = upstream_connect_start(fd, a, 65536, &b);

	if (r < 0)
		return r;
	/* --vsock-buffer is for vsock only: nothing set, nothing read. */
	assert_int_equal(b.requested, 0);
	assert_false(b.set_again);
	assert_int_equal(b.sndbuf, -1);
	assert_int_equal(b.rcvbuf, -1);
	if (r == 0)
		return 0;
	assert_int_equal(r, 1);
	assert_int_equal(upstream_wait(fd, POLLOUT, upstream_now_ms() + 2000), 0);
	return upstream_connect_finish(fd);
}

static void test_socket(void **state)
{
	struct addr a;
	int fd, v = 0;
	socklen_t len = sizeof(v);

	(void)state;
	tcp_loopback(&a);
	fd = upstream_socket(&a, 1000, NULL);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	assert_int_equal(getsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &v, &len), 0);
	assert_int_not_equal(v, 0);
	close(fd);

	/* An unresolved name is refused before any socket. */
	assert_int_equal(addr_parse("tcp:localhost:6000", &a, NULL), 0);
	assert_int_equal(upstream_socket(&a, 1000, NULL), -EDESTADDRREQ);
}

/* A UNIX connect never waits: connected, refused or a full queue at once. */
static void test_start_unix(void **state)
{
	char path[PATH_MAX];
	struct addr a;
	int lfd, fd, filler[64];
	size_t n = 0;

	(void)state;
	snprintf(path, sizeof(path), "%s/s", dir);
	assert_int_equal(addr_unix(path, &a), 0);

	fd = upstream_socket(&a, 1000, NULL);
	assert_int_equal(upstream_connect_start(fd, &a, 0, NULL), -ENOENT);
	close(fd);

	lfd = listen_on(&a, 0);
	fd = upstream_socket(&a, 1000, NULL);
	assert_int_equal(start_and_finish(fd, &a), 0);
	close(fd);

	/* The queue full: -EAGAIN, and nothing has started (again later). */
	for (;;) {
		int r;

		assert_true(n < 64);
		filler[n] = upstream_socket(&a, 1000, NULL);
		r = upstream_connect_start(filler[n], &a, 0, NULL);
		if (r == -EAGAIN) {
			close(filler[n]);
			break;
		}
		assert_int_equal(r, 0);
		n++;
	}
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 100), -EAGAIN);
	while (n > 0)
		close(filler[--n]);
	close(lfd);

	/* A socket file nobody listens on. */
	fd = upstream_socket(&a, 1000, NULL);
	assert_int_equal(upstream_connect_start(fd, &a, 0, NULL), -ECONNREFUSED);
	close(fd);
	assert_int_equal(unlink(path), 0);
}

/* A TCP connect is in progress first (EINPROGRESS), even on loopback; its
 * end is SO_ERROR's. */
static void test_start_tcp(void **state)
{
	struct addr a;
	int lfd, fd;

	(void)state;
	tcp_loopback(&a);
	lfd = listen_on(&a, 16);
	fd = upstream_socket(&a, 1000, NULL);
	assert_int_equal(start_and_finish(fd, &a), 0);
	close(fd);
	close(lfd);

	/* The port is free again: refused, said by SO_ERROR. */
	fd = upstream_socket(&a, 1000, NULL);
	assert_int_equal(start_and_finish(fd, &a), -ECONNREFUSED);
	close(fd);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -ECONNREFUSED);
}

/* A TCP listener whose accept queue is full drops the SYN: the connect
 * stays in progress, and upstream_connect() gives up at its deadline. */
static void test_tcp_timeout(void **state)
{
	struct addr a;
	int lfd, fd, filler[16];
	size_t n = 0;
	uint64_t t0;

	(void)state;
	tcp_loopback(&a);
	lfd = listen_on(&a, 0);
	for (;;) {
		int r;

		assert_true(n < 16);
		filler[n] = upstream_socket(&a, 1000, NULL);
		r = upstream_connect_start(filler[n], &a, 0, NULL);
		assert_true(r >= 0);
		n++;
		if (r == 1 && upstream_wait(filler[n - 1], POLLOUT, upstream_now_ms() + 200) == -ETIMEDOUT)
			break;   /* its SYN was dropped: the queue is full */
		assert_int_equal(upstream_connect_finish(filler[n - 1]), 0);
	}
	t0 = upstream_now_ms();
	fd = upstream_connect(&a, 0, t0 + 300);
	assert_int_equal(fd, -ETIMEDOUT);
	assert_true(upstream_now_ms() - t0 >= 300);
	while (n > 0)
		close(filler[--n]);
	close(lfd);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_socket),
		cmocka_unit_test(test_start_unix),
		cmocka_unit_test(test_start_tcp),
		cmocka_unit_test(test_tcp_timeout),
	};

	return cmocka_run_group_tests_name("upstream", tests, setup_dir, teardown_dir);
}
