/* SPDX-License-Identifier: MIT */
/*
 * copy-floor: the cheapest possible relay, to measure what two copies per
 * byte cost on this machine.  It accepts one client on a UNIX socket,
 * connects to an upstream UNIX socket and copies both ways with blocking
 * read()/write() driven by poll(), one buffer per direction, forwarding EOF
 * with shutdown(SHUT_WR).  At the end it prints its own CPU time.
 *
 *   copy-floor LISTEN-PATH UPSTREAM-PATH [BUFFER-BYTES]
 *
 * doc/PERFORMANCE.md says how it is used beside the relay.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <poll.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <unistd.h>

static int unix_socket(const char *path, int listening)
{
	struct sockaddr_un a = { .sun_family = AF_UNIX };
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0 || strlen(path) >= sizeof(a.sun_path))
		return -1;
	memcpy(a.sun_path, path, strlen(path) + 1);
	if (listening) {
		(void)unlink(path);
		if (bind(fd, (struct sockaddr *)&a, sizeof(a)) < 0 || listen(fd, 8) < 0)
			return -1;
	} else if (connect(fd, (struct sockaddr *)&a, sizeof(a)) < 0)
		return -1;
	return fd;
}

static double seconds(struct timeval tv)
{
	return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

int main(int argc, char *argv[])
{
	size_t size = argc > 3 ? strtoul(argv[3], NULL, 0) : 65536;
	int listener, src[2], dst[2];
	size_t off[2] = { 0, 0 }, len[2] = { 0, 0 };
	int eof[2] = { 0, 0 };
	char *buf[2];
	struct rusage ru;

	if (argc < 3 || size == 0) {
		fprintf(stderr, "usage: copy-floor LISTEN-PATH UPSTREAM-PATH [BUFFER-BYTES]\n");
		return 2;
	}
	listener = unix_socket(argv[1], 1);
	if (listener < 0) {
		perror("copy-floor: listen");
		return 1;
	}
	src[0] = accept4(listener, NULL, NULL, SOCK_CLOEXEC);
	src[1] = unix_socket(argv[2], 0);
	buf[0] = malloc(size);
	buf[1] = malloc(size);
	if (src[0] < 0 || src[1] < 0 || !buf[0] || !buf[1]) {
		perror("copy-floor: accept/connect");
		return 1;
	}
	dst[0] = src[1];
	dst[1] = src[0];

	for (;;) {
		struct pollfd p[2];
		int slot[2] = { -1, -1 }, n = 0;

		for (int d = 0; d < 2; d++) {
			if (off[d] < len[d])
				p[n] = (struct pollfd){ .fd = dst[d], .events = POLLOUT };
			else if (!eof[d])
				p[n] = (struct pollfd){ .fd = src[d], .events = POLLIN };
			else
				continue;
			slot[d] = n++;
		}
		if (n == 0)
			break;
		if (poll(p, (nfds_t)n, -1) < 0 && errno != EINTR)
			return 1;
		for (int d = 0; d < 2; d++) {
			ssize_t r;

			if (slot[d] < 0 || !p[slot[d]].revents)
				continue;
			if (off[d] < len[d]) {
				r = write(dst[d], buf[d] + off[d], len[d] - off[d]);
				if (r < 0)
					return 1;
				off[d] += (size_t)r;
			} else {
				r = read(src[d], buf[d], size);
				if (r < 0)
					return 1;
				if (r == 0) {
					eof[d] = 1;
					(void)shutdown(dst[d], SHUT_WR);
				}
				off[d] = 0;
				len[d] = (size_t)r;
			}
		}
	}
	(void)getrusage(RUSAGE_SELF, &ru);
	fprintf(stderr, "copy-floor: cpu %.3f s (user %.3f, sys %.3f)\n",
		seconds(ru.ru_utime) + seconds(ru.ru_stime), seconds(ru.ru_utime), seconds(ru.ru_stime));
	free(buf[0]);
	free(buf[1]);
	return 0;
}
