/* SPDX-License-Identifier: MIT */
/*
 * vsock-peer: the other end of the relay in the check-vm guest — a stand-in
 * for X410 listening on VSOCK, and the X clients' side on the relay's UNIX
 * socket.  Static, and it refuses to run anywhere but in that guest: on a
 * real machine AF_VSOCK reaches the hypervisor host.
 *
 *   vsock-peer listen [-n COUNT] [-t SECONDS] [-r READY-FILE] PORT MODE...
 *   vsock-peer connect [-t SECONDS] ADDRESS MODE...
 *   vsock-peer sockopt PID         the AF_VSOCK sockets of PID and their options
 *   vsock-peer connect-timeout MS PORT
 *                                  a blocking connect to CID 2 with SO_VM_SOCKETS_CONNECT_TIMEOUT
 *   vsock-peer spin SECONDS PRIO [CMD...]
 *                                  a SCHED_FIFO busy loop that starves kworkers,
 *                                  CMD running above it meanwhile
 *   vsock-peer rt PRIO CMD...      run CMD as SCHED_FIFO PRIO
 *
 * ADDRESS is vsock:CID:PORT (CID may be host or local) or unix:PATH
 * (unix:@NAME for an abstract name).  MODE is what happens on each
 * connection:
 *   echo                 send back what arrives; half-close after EOF
 *   forward UNIX-PATH    relay to a UNIX socket (Xvfb), half-closes included
 *   stream BYTES SEED    send BYTES of the pattern SEED and receive until EOF
 *                        at the same time; prints "sent N hash H" and
 *                        "recv N hash H" (the hash of the bytes themselves)
 *   cat                  stdin to the socket (half-close at stdin's EOF),
 *                        the socket to stdout until EOF; notes each EOF on stderr
 *   reply                read until EOF, then answer "got N bytes: DATA"
 *   reply-after MS       the same, MS milliseconds after the EOF
 *   speak-first          send "hello from server", half-close at once, then
 *                        read until EOF and print "got N bytes after own shutdown: DATA"
 *   hold                 keep the connection open, read and discard, until EOF
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <sys/stat.h>
#include <inttypes.h>
#include <linux/vm_sockets.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "guest-token.h"

#define BUF_SIZE (64 * 1024)
#define MIN_U64(a, b) ((uint64_t)(a) < (uint64_t)(b) ? (uint64_t)(a) : (uint64_t)(b))

static const char *prog = "vsock-peer";

static void die(const char *fmt, ...) __attribute__((__format__(printf, 1, 2), __noreturn__));
static void die(const char *fmt, ...)
{
	va_list ap;

	fprintf(stderr, "%s: ", prog);
	va_start(ap, fmt);
	vfprintf(stderr, fmt, ap);
	va_end(ap);
	fputc('\n', stderr);
	exit(1);
}

/* Never on a real machine (guest-token.h). */
static void require_guest(void)
{
	if (in_vm_guest())
		return;
	die("refusing to run: this helper only runs inside the check-vm guest (no '%s' on the kernel command line)",
	    GUEST_TOKEN);
}

static unsigned long parse_num(const char *s, unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 0);
	if (errno || *end || end == s || s[0] == '-' || v > max)
		die("bad %s '%s'", what, s);
	return v;
}

static double now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* ---------------------------------------------------------------- addresses */

struct peer_addr {
	union {
		struct sockaddr sa;
		struct sockaddr_vm vm;
		struct sockaddr_un un;
	};
	socklen_t len;
};

static void parse_addr(const char *s, struct peer_addr *a)
{
	memset(a, 0, sizeof(*a));
	if (strncmp(s, "vsock:", 6) == 0) {
		char cid[32];
		const char *colon = strchr(s + 6, ':');

		if (!colon || (size_t)(colon - (s + 6)) >= sizeof(cid))
			die("bad address '%s' (expected vsock:CID:PORT)", s);
		memcpy(cid, s + 6, (size_t)(colon - (s + 6)));
		cid[colon - (s + 6)] = 0;
		a->vm.svm_family = AF_VSOCK;
		if (strcmp(cid, "host") == 0)
			a->vm.svm_cid = VMADDR_CID_HOST;
		else if (strcmp(cid, "local") == 0)
			a->vm.svm_cid = VMADDR_CID_LOCAL;
		else
			a->vm.svm_cid = (unsigned)parse_num(cid, UINT32_MAX, "CID");
		a->vm.svm_port = (unsigned)parse_num(colon + 1, UINT32_MAX, "port");
		a->len = sizeof(a->vm);
	} else if (strncmp(s, "unix:", 5) == 0) {
		size_t n = strlen(s + 5);

		if (n == 0 || n >= sizeof(a->un.sun_path))
			die("bad address '%s'", s);
		a->un.sun_family = AF_UNIX;
		memcpy(a->un.sun_path, s + 5, n);
		if (a->un.sun_path[0] == '@')
			a->un.sun_path[0] = 0;
		a->len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + n + (s[5] == '@' ? 0 : 1));
	} else {
		die("bad address '%s' (expected vsock:CID:PORT or unix:PATH)", s);
	}
}

static int connect_addr(const struct peer_addr *a)
{
	int fd = socket(a->sa.sa_family, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return -errno;
	if (connect(fd, &a->sa, a->len) < 0) {
		int r = -errno;

		close(fd);
		return r;
	}
	return fd;
}

/* ---------------------------------------------------------------- data */

/* The test pattern: xorshift64* words, position dependent, so that a lost,
 * duplicated or reordered byte changes what arrives. */
struct pattern {
	uint64_t state;
	uint8_t word[8];
	unsigned used;
};

static void pattern_init(struct pattern *p, uint64_t seed)
{
	p->state = seed * 0x9E3779B97F4A7C15ull + 0x2545F4914F6CDD1Dull;
	if (!p->state)
		p->state = 1;
	p->used = 8;
}

static void pattern_fill(struct pattern *p, uint8_t *buf, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		if (p->used == 8) {
			uint64_t x = p->state;

			x ^= x >> 12;
			x ^= x << 25;
			x ^= x >> 27;
			p->state = x;
			x *= 0x2545F4914F6CDD1Dull;
			memcpy(p->word, &x, 8);
			p->used = 0;
		}
		buf[i] = p->word[p->used++];
	}
}

/* FNV-1a, 64 bits, over every byte in order. */
struct hash {
	uint64_t h;
	uint64_t n;
};

static void hash_init(struct hash *h)
{
	h->h = 0xcbf29ce484222325ull;
	h->n = 0;
}

static void hash_add(struct hash *h, const uint8_t *buf, size_t n)
{
	uint64_t x = h->h;

	for (size_t i = 0; i < n; i++)
		x = (x ^ buf[i]) * 0x100000001b3ull;
	h->h = x;
	h->n += n;
}

static bool is_socket(int fd)
{
	struct stat st;

	return fstat(fd, &st) == 0 && S_ISSOCK(st.st_mode);
}

/* Sockets are used with MSG_DONTWAIT so that no file status flag changes on
 * descriptors shared with the shell (stdin, stdout). */
static ssize_t io_read(int fd, bool sock, void *buf, size_t n)
{
	ssize_t r = sock ? recv(fd, buf, n, MSG_DONTWAIT) : read(fd, buf, n);

	return r < 0 ? -errno : r;
}

static ssize_t io_write(int fd, bool sock, const void *buf, size_t n)
{
	ssize_t r = sock ? send(fd, buf, n, MSG_DONTWAIT | MSG_NOSIGNAL) : write(fd, buf, n);

	return r < 0 ? -errno : r;
}

static void end_output(int fd, bool sock)
{
	if (sock)
		(void)shutdown(fd, SHUT_WR);
	else
		(void)close(fd);
}

/* ---------------------------------------------------------------- pump */

/* One direction of a byte pump: in -> buf -> out, with the half-close
 * forwarded once everything read has been written. */
struct flow {
	const char *eof_note;   /* printed to stderr at the source's EOF, if set */
	int in, out;
	bool in_sock, out_sock;
	bool eof, done;
	uint8_t buf[BUF_SIZE];
	size_t len, off;
};

static void flow_init(struct flow *f, int in, int out)
{
	memset(f, 0, sizeof(*f));
	f->in = in;
	f->out = out;
	f->in_sock = is_socket(in);
	f->out_sock = is_socket(out);
}

/* Returns -errno on an I/O error, 0 otherwise. */
static int flow_step(struct flow *f, short in_events, short out_events)
{
	if (!f->done && f->len == 0 && !f->eof && (in_events & (POLLIN | POLLHUP | POLLERR))) {
		ssize_t r = io_read(f->in, f->in_sock, f->buf, sizeof(f->buf));

		if (r == -EAGAIN || r == -EINTR)
			return 0;
		if (r < 0)
			return (int)r;
		if (r == 0) {
			f->eof = true;
			if (f->eof_note)
				fprintf(stderr, "%s\n", f->eof_note);
		}
		f->len = (size_t)r;
		f->off = 0;
	}
	if (!f->done && f->len > 0 && (out_events & (POLLOUT | POLLERR))) {
		ssize_t w = io_write(f->out, f->out_sock, f->buf + f->off, f->len);

		if (w == -EAGAIN || w == -EINTR)
			return 0;
		if (w < 0)
			return (int)w;
		f->off += (size_t)w;
		f->len -= (size_t)w;
	}
	if (!f->done && f->eof && f->len == 0) {
		end_output(f->out, f->out_sock);
		f->done = true;
	}
	return 0;
}

/* Both directions between (a_in, a_out) and (b_in, b_out) until both ended.
 * With notes, each direction's EOF is reported on stderr as it happens, so
 * that a test sees in which order the two ends closed. */
static int pump(int a_in, int a_out, int b_in, int b_out, bool notes)
{
	static struct flow ab, ba;
	struct flow *flows[2] = { &ab, &ba };

	flow_init(&ab, a_in, b_out);
	flow_init(&ba, b_in, a_out);
	if (notes) {
		ab.eof_note = "note: input ended";
		ba.eof_note = "note: peer ended its side";
	}
	while (!ab.done || !ba.done) {
		struct pollfd p[4];
		int n = 0, idx[2][2];

		for (int i = 0; i < 2; i++) {
			struct flow *f = flows[i];

			idx[i][0] = idx[i][1] = -1;
			if (f->done)
				continue;
			if (f->len == 0 && !f->eof) {
				p[n] = (struct pollfd){ .fd = f->in, .events = POLLIN };
				idx[i][0] = n++;
			} else if (f->len > 0) {
				p[n] = (struct pollfd){ .fd = f->out, .events = POLLOUT };
				idx[i][1] = n++;
			}
		}
		if (n > 0 && poll(p, (nfds_t)n, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		for (int i = 0; i < 2; i++) {
			short ie = idx[i][0] >= 0 ? p[idx[i][0]].revents : 0;
			short oe = idx[i][1] >= 0 ? p[idx[i][1]].revents : 0;
			int r;

			if (flows[i]->eof && flows[i]->len == 0)
				oe = POLLOUT;
			r = flow_step(flows[i], ie, oe);
			if (r < 0)
				return r;
		}
	}
	return 0;
}

/* ---------------------------------------------------------------- modes */

static int mode_stream(int fd, uint64_t bytes, uint64_t seed)
{
	static uint8_t out[BUF_SIZE], in[BUF_SIZE];
	struct pattern pat;
	struct hash sent, recvd;
	size_t out_len = 0, out_off = 0;
	bool sending = true, receiving = true;
	double t0 = now();

	pattern_init(&pat, seed);
	hash_init(&sent);
	hash_init(&recvd);
	if (bytes == 0) {
		(void)shutdown(fd, SHUT_WR);
		sending = false;
	}
	while (sending || receiving) {
		struct pollfd p = { .fd = fd, .events = (short)((receiving ? POLLIN : 0) | (sending ? POLLOUT : 0)) };

		if (poll(&p, 1, -1) < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (receiving && (p.revents & (POLLIN | POLLHUP | POLLERR))) {
			ssize_t r = recv(fd, in, sizeof(in), MSG_DONTWAIT);

			if (r < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "%s: receive after %" PRIu64 " bytes: %s\n", prog, recvd.n, strerror(errno));
				return -errno;
			}
			if (r == 0)
				receiving = false;
			if (r > 0)
				hash_add(&recvd, in, (size_t)r);
		}
		if (sending && (p.revents & (POLLOUT | POLLERR))) {
			ssize_t w;

			if (out_len == 0) {
				out_len = (size_t)MIN_U64(sizeof(out), bytes - sent.n);
				pattern_fill(&pat, out, out_len);
				out_off = 0;
			}
			w = send(fd, out + out_off, out_len, MSG_DONTWAIT | MSG_NOSIGNAL);
			if (w < 0 && errno != EAGAIN && errno != EINTR) {
				fprintf(stderr, "%s: send after %" PRIu64 " bytes: %s\n", prog, sent.n, strerror(errno));
				return -errno;
			}
			if (w > 0) {
				hash_add(&sent, out + out_off, (size_t)w);
				out_off += (size_t)w;
				out_len -= (size_t)w;
				if (out_len == 0 && sent.n == bytes) {
					(void)shutdown(fd, SHUT_WR);
					sending = false;
				}
			}
		}
	}
	printf("sent %" PRIu64 " hash %016" PRIx64 "\n", sent.n, sent.h);
	printf("recv %" PRIu64 " hash %016" PRIx64 "\n", recvd.n, recvd.h);
	printf("seconds %.2f\n", now() - t0);
	fflush(stdout);
	return 0;
}

static ssize_t read_to_eof(int fd, char *keep, size_t cap)
{
	static uint8_t buf[BUF_SIZE];
	size_t total = 0;

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (r == 0)
			return (ssize_t)total;
		if (keep && total < cap) {
			size_t n = cap - total < (size_t)r ? cap - total : (size_t)r;

			memcpy(keep + total, buf, n);
		}
		total += (size_t)r;
	}
}

/* One direction only, so plain blocking I/O: the peer reads meanwhile. */
static int mode_echo(int fd)
{
	static uint8_t buf[BUF_SIZE];

	for (;;) {
		ssize_t r = read(fd, buf, sizeof(buf));

		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0)
			return -errno;
		if (r == 0)
			break;
		for (ssize_t off = 0; off < r;) {
			ssize_t w = write(fd, buf + off, (size_t)(r - off));

			if (w < 0 && errno == EINTR)
				continue;
			if (w < 0)
				return -errno;
			off += w;
		}
	}
	return shutdown(fd, SHUT_WR) < 0 ? -errno : 0;
}

static int mode_reply(int fd, unsigned long delay_ms)
{
	char data[256] = "", msg[400];
	ssize_t n = read_to_eof(fd, data, sizeof(data) - 1);
	struct timespec ts = { .tv_sec = (time_t)(delay_ms / 1000), .tv_nsec = (long)(delay_ms % 1000) * 1000000 };
	int len;

	if (n < 0)
		return (int)n;
	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
	len = snprintf(msg, sizeof(msg), "got %zd bytes: %s\n", n, data);
	if (write(fd, msg, (size_t)len) != len)
		return -errno;
	return 0;
}

static int mode_speak_first(int fd)
{
	static const char hello[] = "hello from server\n";
	char data[256] = "";
	ssize_t n;

	if (write(fd, hello, sizeof(hello) - 1) != (ssize_t)sizeof(hello) - 1)
		return -errno;
	if (shutdown(fd, SHUT_WR) < 0)
		return -errno;
	n = read_to_eof(fd, data, sizeof(data) - 1);
	if (n < 0)
		return (int)n;
	printf("got %zd bytes after own shutdown: %s\n", n, data);
	fflush(stdout);
	return 0;
}

struct mode {
	const char *name;
	int nargs;
};

static const struct mode modes[] = {
	{ "echo", 0 }, { "forward", 1 }, { "stream", 2 }, { "cat", 0 },
	{ "reply", 0 }, { "reply-after", 1 }, { "speak-first", 0 }, { "hold", 0 },
};

static void check_mode(int argc, char *argv[])
{
	if (argc < 1)
		die("missing MODE");
	for (size_t i = 0; i < sizeof(modes) / sizeof(modes[0]); i++)
		if (strcmp(argv[0], modes[i].name) == 0) {
			if (argc - 1 != modes[i].nargs)
				die("mode '%s' takes %d argument(s)", argv[0], modes[i].nargs);
			return;
		}
	die("unknown mode '%s'", argv[0]);
}

static int run_mode(int fd, char *argv[])
{
	const char *m = argv[0];

	if (strcmp(m, "echo") == 0)
		return mode_echo(fd);
	if (strcmp(m, "forward") == 0) {
		struct peer_addr a;
		char buf[sizeof(a.un.sun_path) + 8];
		int up, r;

		snprintf(buf, sizeof(buf), "unix:%s", argv[1]);
		parse_addr(buf, &a);
		up = connect_addr(&a);
		if (up < 0) {
			fprintf(stderr, "%s: connect to '%s': %s\n", prog, argv[1], strerror(-up));
			return up;
		}
		r = pump(fd, fd, up, up, false);
		close(up);
		return r;
	}
	if (strcmp(m, "stream") == 0)
		return mode_stream(fd, parse_num(argv[1], UINT64_MAX, "byte count"), parse_num(argv[2], UINT64_MAX, "seed"));
	if (strcmp(m, "cat") == 0)
		return pump(STDIN_FILENO, STDOUT_FILENO, fd, fd, true);
	if (strcmp(m, "reply") == 0)
		return mode_reply(fd, 0);
	if (strcmp(m, "reply-after") == 0)
		return mode_reply(fd, parse_num(argv[1], 60000, "milliseconds"));
	if (strcmp(m, "speak-first") == 0)
		return mode_speak_first(fd);
	if (strcmp(m, "hold") == 0)
		return read_to_eof(fd, NULL, 0) < 0 ? -errno : 0;
	return -EINVAL;
}

/* A deadline on everything: a test helper never hangs. */
static void set_deadline(unsigned seconds)
{
	signal(SIGALRM, SIG_DFL);
	alarm(seconds);
}

/* ---------------------------------------------------------------- commands */

static int cmd_listen(int argc, char *argv[])
{
	unsigned long count = 1, seconds = 60, served = 0;
	const char *ready = NULL;
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_ANY };
	int c, fd, failed = 0;

	while ((c = getopt(argc, argv, "+n:t:r:")) >= 0) {
		switch (c) {
		case 'n':
			count = parse_num(optarg, 1000000, "count");
			break;
		case 't':
			seconds = parse_num(optarg, 3600, "seconds");
			break;
		case 'r':
			ready = optarg;
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 2)
		die("usage: listen [-n COUNT] [-t SECONDS] [-r READY-FILE] PORT MODE...");
	sa.svm_port = (unsigned)parse_num(argv[optind], UINT32_MAX, "port");
	check_mode(argc - optind - 1, argv + optind + 1);
	set_deadline((unsigned)seconds);

	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket(AF_VSOCK): %s", strerror(errno));
	if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) < 0)
		die("bind(vsock port %u): %s", sa.svm_port, strerror(errno));
	if (listen(fd, 64) < 0)
		die("listen: %s", strerror(errno));
	if (ready) {
		int rfd = open(ready, O_WRONLY | O_CREAT | O_CLOEXEC, 0644);

		if (rfd < 0)
			die("cannot create '%s': %s", ready, strerror(errno));
		close(rfd);
	}
	/* One child per connection, so that clients are served concurrently. */
	while (served < count) {
		int cfd = accept4(fd, NULL, NULL, SOCK_CLOEXEC);
		pid_t pid;

		if (cfd < 0) {
			if (errno == EINTR)
				continue;
			die("accept: %s", strerror(errno));
		}
		served++;
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			int r;

			close(fd);
			set_deadline((unsigned)seconds);
			r = run_mode(cfd, argv + optind + 1);
			if (r < 0)
				fprintf(stderr, "%s: %s on connection %lu: %s\n", prog, argv[optind + 1], served, strerror(-r));
			_exit(r < 0 ? 1 : 0);
		}
		close(cfd);
	}
	close(fd);
	for (;;) {
		int status;
		pid_t pid = wait(&status);

		if (pid < 0) {
			if (errno == EINTR)
				continue;
			break;
		}
		if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
			failed++;
	}
	return failed ? 1 : 0;
}

static int cmd_connect(int argc, char *argv[])
{
	unsigned long seconds = 60;
	struct peer_addr a;
	int c, fd, r;

	while ((c = getopt(argc, argv, "+t:")) >= 0) {
		switch (c) {
		case 't':
			seconds = parse_num(optarg, 3600, "seconds");
			break;
		default:
			return 2;
		}
	}
	if (argc - optind < 2)
		die("usage: connect [-t SECONDS] ADDRESS MODE...");
	parse_addr(argv[optind], &a);
	check_mode(argc - optind - 1, argv + optind + 1);
	set_deadline((unsigned)seconds);
	fd = connect_addr(&a);
	if (fd < 0)
		die("connect to '%s': %s", argv[optind], strerror(-fd));
	r = run_mode(fd, argv + optind + 1);
	if (r < 0)
		die("%s: %s", argv[optind + 1], strerror(-r));
	close(fd);
	return 0;
}

/* Print every AF_VSOCK socket of PID with the options the relay sets on it,
 * read from a duplicate of the descriptor itself (pidfd_getfd, Linux 5.6). */
static int cmd_sockopt(int argc, char *argv[])
{
	char dir[64];
	DIR *d;
	struct dirent *de;
	int pidfd, found = 0;
	pid_t pid;

	if (argc != 2)
		die("usage: sockopt PID");
	pid = (pid_t)parse_num(argv[1], INT32_MAX, "PID");
	pidfd = (int)syscall(SYS_pidfd_open, pid, 0);
	if (pidfd < 0)
		die("pidfd_open(%d): %s", (int)pid, strerror(errno));
	snprintf(dir, sizeof(dir), "/proc/%d/fd", (int)pid);
	d = opendir(dir);
	if (!d)
		die("opendir '%s': %s", dir, strerror(errno));
	while ((de = readdir(d))) {
		char link[256], path[320];
		ssize_t n;
		int num, fd, domain = 0, sndbuf = 0, rcvbuf = 0;
		unsigned long long bufsize = 0;
		struct timeval tv = { 0 };
		struct sockaddr_vm peer = { 0 };
		socklen_t len;
		bool connected;

		if (de->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		n = readlink(path, link, sizeof(link) - 1);
		if (n < 0 || strncmp(link, "socket:", 7) != 0)
			continue;
		num = atoi(de->d_name);
		fd = (int)syscall(SYS_pidfd_getfd, pidfd, num, 0);
		if (fd < 0)
			die("pidfd_getfd(%d, %d): %s", (int)pid, num, strerror(errno));
		len = sizeof(domain);
		if (getsockopt(fd, SOL_SOCKET, SO_DOMAIN, &domain, &len) < 0 || domain != AF_VSOCK) {
			close(fd);
			continue;
		}
		len = sizeof(sndbuf);
		if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &sndbuf, &len) < 0)
			die("getsockopt(SO_SNDBUF): %s", strerror(errno));
		len = sizeof(rcvbuf);
		if (getsockopt(fd, SOL_SOCKET, SO_RCVBUF, &rcvbuf, &len) < 0)
			die("getsockopt(SO_RCVBUF): %s", strerror(errno));
		len = sizeof(tv);
		if (getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, &len) < 0)
			die("getsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT): %s", strerror(errno));
		len = sizeof(bufsize);
		if (getsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_BUFFER_SIZE, &bufsize, &len) < 0)
			die("getsockopt(SO_VM_SOCKETS_BUFFER_SIZE): %s", strerror(errno));
		len = sizeof(peer);
		connected = getpeername(fd, (struct sockaddr *)&peer, &len) == 0;
		if (connected)
			printf("fd %d peer %u:%u", num, peer.svm_cid, peer.svm_port);
		else
			printf("fd %d peer -", num);
		printf(" sndbuf %d rcvbuf %d connect_timeout_ms %lld buffer_size %llu\n", sndbuf, rcvbuf,
		       (long long)tv.tv_sec * 1000 + tv.tv_usec / 1000, bufsize);
		found++;
		close(fd);
	}
	closedir(d);
	close(pidfd);
	fflush(stdout);
	return found ? 0 : 3;
}

/* A blocking connect to CID 2 with SO_VM_SOCKETS_CONNECT_TIMEOUT = MS:
 * prints how it ended and after how long. */
static int cmd_connect_timeout(int argc, char *argv[])
{
	struct sockaddr_vm sa = { .svm_family = AF_VSOCK, .svm_cid = VMADDR_CID_HOST };
	unsigned long ms;
	struct timeval tv;
	double t0;
	int fd, r;

	if (argc != 3)
		die("usage: connect-timeout MS PORT");
	ms = parse_num(argv[1], 3600000, "milliseconds");
	sa.svm_port = (unsigned)parse_num(argv[2], UINT32_MAX, "port");
	set_deadline(60);
	fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		die("socket(AF_VSOCK): %s", strerror(errno));
	tv.tv_sec = (time_t)(ms / 1000);
	tv.tv_usec = (suseconds_t)(ms % 1000) * 1000;
	if (setsockopt(fd, AF_VSOCK, SO_VM_SOCKETS_CONNECT_TIMEOUT, &tv, sizeof(tv)) < 0)
		die("setsockopt(SO_VM_SOCKETS_CONNECT_TIMEOUT): %s", strerror(errno));
	t0 = now();
	r = connect(fd, (struct sockaddr *)&sa, sizeof(sa));
	printf("connect %s after %.2f s\n", r == 0 ? "ok" : strerrorname_np(errno), now() - t0);
	fflush(stdout);
	close(fd);
	return 0;
}

static void set_fifo_of(pid_t pid, int prio)
{
	struct sched_param sp = { .sched_priority = prio };

	if (sched_setscheduler(pid, SCHED_FIFO, &sp) < 0)
		die("sched_setscheduler(SCHED_FIFO, %d): %s", prio, strerror(errno));
}

/* Finds the ksoftirqd threads: timers expire in softirq context, and once
 * softirqs have been deferred to ksoftirqd (a SCHED_OTHER thread) they wait
 * for it to run.  Returns how many were found. */
static int find_ksoftirqd(pid_t *pids, int max)
{
	DIR *d = opendir("/proc");
	struct dirent *de;
	int n = 0;

	if (!d)
		die("opendir /proc: %s", strerror(errno));
	while ((de = readdir(d)) && n < max) {
		char path[300], comm[64] = "";
		FILE *f;

		if (de->d_name[0] < '1' || de->d_name[0] > '9')
			continue;
		snprintf(path, sizeof(path), "/proc/%s/comm", de->d_name);
		f = fopen(path, "re");
		if (!f)
			continue;
		if (fgets(comm, sizeof(comm), f) && strncmp(comm, "ksoftirqd/", 10) == 0)
			pids[n++] = (pid_t)atoi(de->d_name);
		fclose(f);
	}
	closedir(d);
	return n;
}

/* Busy for SECONDS at SCHED_FIFO PRIO: on one CPU, with RT throttling off,
 * no SCHED_OTHER task runs meanwhile -- kworkers included, which deliver
 * vsock_loopback's packets.  ksoftirqd is lifted above the busy loop
 * meanwhile, so that timers still expire on time.  CMD, if given, runs at
 * PRIO + 10: whenever it blocks, the busy loop (not a kworker) gets the CPU.
 * The order matters: this process is real-time before it forks, and lifts
 * the child above itself before the child can do anything. */
static int cmd_spin(int argc, char *argv[])
{
	struct sched_param other = { .sched_priority = 0 };
	pid_t softirqd[64];
	double end;
	int prio, status = 0, n_softirqd;
	pid_t pid = 0;

	if (argc < 3)
		die("usage: spin SECONDS PRIO [CMD...]");
	end = now() + (double)parse_num(argv[1], 30, "seconds");
	prio = (int)parse_num(argv[2], 80, "priority");
	n_softirqd = find_ksoftirqd(softirqd, 64);
	if (n_softirqd == 0)
		die("no ksoftirqd thread found");
	for (int i = 0; i < n_softirqd; i++)
		set_fifo_of(softirqd[i], prio + 5);
	set_fifo_of(0, prio);
	if (argc > 3) {
		pid = fork();
		if (pid < 0)
			die("fork: %s", strerror(errno));
		if (pid == 0) {
			execvp(argv[3], argv + 3);
			fprintf(stderr, "%s: exec '%s': %s\n", prog, argv[3], strerror(errno));
			_exit(127);
		}
		set_fifo_of(pid, prio + 10);
	}
	while (now() < end)
		;
	for (int i = 0; i < n_softirqd; i++)
		(void)sched_setscheduler(softirqd[i], SCHED_OTHER, &other);
	if (pid > 0) {
		if (waitpid(pid, &status, 0) < 0)
			die("waitpid: %s", strerror(errno));
		return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
	}
	return 0;
}

static int cmd_rt(int argc, char *argv[])
{
	if (argc < 3)
		die("usage: rt PRIO CMD...");
	set_fifo_of(0, (int)parse_num(argv[1], 99, "priority"));
	execvp(argv[2], argv + 2);
	die("exec '%s': %s", argv[2], strerror(errno));
}

int main(int argc, char *argv[])
{
	static const struct {
		const char *name;
		int (*fn)(int, char *[]);
	} cmds[] = {
		{ "listen", cmd_listen },
		{ "connect", cmd_connect },
		{ "sockopt", cmd_sockopt },
		{ "connect-timeout", cmd_connect_timeout },
		{ "spin", cmd_spin },
		{ "rt", cmd_rt },
	};

	setvbuf(stdout, NULL, _IOLBF, 0);
	if (argc < 2)
		die("usage: vsock-peer listen|connect|sockopt|connect-timeout|spin|rt ...");
	require_guest();
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++)
		if (strcmp(argv[1], cmds[i].name) == 0)
			return cmds[i].fn(argc - 1, argv + 1);
	die("unknown command '%s'", argv[1]);
}
