/* SPDX-License-Identifier: MIT */
/* The relay's shared policy: who may connect, the half-close rules, which
 * errors pause accepting and which read errors end a stream. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <string.h>
#include <grp.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <unistd.h>

#include "log.h"
#include "relay.h"

static void test_policy_default(void **state)
{
	struct relay_policy p = { .self_uid = 1000 };
	gid_t g[] = { 1000, 27 };

	(void)state;
	assert_true(relay_policy_allows(&p, 1000, NULL, 0));
	assert_true(relay_policy_allows(&p, 0, NULL, 0));       /* root */
	assert_false(relay_policy_allows(&p, 1001, NULL, 0));
	assert_false(relay_policy_allows(&p, 65534, g, 2));
	assert_false(relay_policy_allows(&p, (uid_t)-1, NULL, 0));
}

static void test_policy_allow(void **state)
{
	uid_t uids[] = { 1001, 1002 };
	gid_t gids[] = { 27 };
	struct relay_policy p = { .self_uid = 1000, .uids = uids, .n_uids = 2, .gids = gids, .n_gids = 1 };
	gid_t peer_groups[] = { 100, 27 };
	gid_t other_groups[] = { 100, 28 };

	(void)state;
	assert_true(relay_policy_allows(&p, 1001, NULL, 0));
	assert_true(relay_policy_allows(&p, 1002, NULL, 0));
	assert_false(relay_policy_allows(&p, 1003, NULL, 0));
	/* A member of an allowed group, by a supplementary group. */
	assert_true(relay_policy_allows(&p, 1003, peer_groups, 2));
	assert_false(relay_policy_allows(&p, 1003, other_groups, 2));

	p.any_user = true;
	assert_true(relay_policy_allows(&p, 4242, NULL, 0));
}

static void test_half_rules(void **state)
{
	struct half h = {};
	struct conn c = {};

	(void)state;
	assert_true(half_may_read(&h));
	assert_false(half_should_shutdown(&h));
	h.pending = RELAY_HALF_MAX - 1;
	assert_true(half_may_read(&h));
	h.pending = RELAY_HALF_MAX;
	assert_false(half_may_read(&h));   /* backpressure */
	/* The end is forwarded only after everything before it. */
	h.eof = true;
	assert_false(half_may_read(&h));
	assert_false(half_should_shutdown(&h));
	h.pending = 0;
	assert_true(half_should_shutdown(&h));
	h.shut = true;
	assert_false(half_should_shutdown(&h));

	/* One direction ended: the connection goes on. */
	c.up.eof = c.up.shut = true;
	assert_false(conn_finished(&c));
	c.down.eof = c.down.shut = true;
	assert_true(conn_finished(&c));
}

static void test_accept_failed(void **state)
{
	struct relay_config cfg = {};
	struct relay r = { .cfg = &cfg };

	(void)state;
	/* Out of resources: pause; the one aborted client: go on. */
	assert_true(relay_accept_failed(&r, -EMFILE));
	assert_true(relay_accept_failed(&r, -ENFILE));
	assert_true(relay_accept_failed(&r, -ENOBUFS));
	assert_true(relay_accept_failed(&r, -ENOMEM));
	assert_false(relay_accept_failed(&r, -ECONNABORTED));
	assert_false(relay_accept_failed(&r, -EPERM));
	assert_false(relay_accept_failed(&r, -EPROTO));
}

static void test_read_error_is_eof(void **state)
{
	struct relay_config cfg = {};
	struct relay r = { .cfg = &cfg };
	struct conn c = {};

	(void)state;
	addr_vsock(2, 6000, &cfg.upstream);
	/* Before any byte, EIO/ENOMEM are real errors. */
	assert_false(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -EIO));
	assert_false(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -ENOMEM));
	c.down.received = 1;
	assert_true(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -EIO));
	assert_true(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -ENOMEM));
	assert_false(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -EPIPE));
	assert_false(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -ETIMEDOUT));
	c.up.received = 1;
	assert_false(relay_read_error_is_eof(&r, &c, RELAY_UP, -EIO));   /* the client is a unix socket */
	assert_int_equal(addr_unix("/tmp/x", &cfg.upstream), 0);
	assert_false(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -EIO));
	/* A peer that closed with unread data: after all its bytes. */
	assert_true(relay_read_error_is_eof(&r, &c, RELAY_DOWN, -ECONNRESET));
	assert_true(relay_read_error_is_eof(&r, &c, RELAY_UP, -ECONNRESET));
}

static void test_errno_classes(void **state)
{
	(void)state;
	assert_true(relay_errno_is_transient(-EAGAIN));
	assert_true(relay_errno_is_transient(EINTR));
	assert_false(relay_errno_is_transient(-EPIPE));
	assert_true(relay_errno_is_disconnect(-EPIPE));
	assert_true(relay_errno_is_disconnect(ECONNRESET));
	assert_true(relay_errno_is_disconnect(-ENOTCONN));
	assert_false(relay_errno_is_disconnect(-ENOMEM));
	assert_false(relay_errno_is_disconnect(-EAGAIN));
	assert_false(relay_errno_is_disconnect(-EIO));
}

static void test_client_accepted(void **state)
{
	struct relay_config cfg = { .max_clients = 2, .policy = { .self_uid = getuid() } };
	struct relay r = { .cfg = &cfg };
	int sv[2][2], extra[2];
	uint64_t id1 = 0, id2 = 0, id3 = 0;
	struct conn c = {};

	(void)state;
	log_set_max_level(LOG_ERR);
	/* socketpair peers carry credentials too: ours, so allowed. */
	for (int i = 0; i < 2; i++)
		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, sv[i]), 0);
	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, extra), 0);
	assert_int_equal(relay_client_accepted(&r, sv[0][0], &id1), 0);
	assert_int_equal(relay_client_accepted(&r, sv[1][0], &id2), 0);
	assert_true(id2 > id1);
	assert_int_equal(r.stats.clients_now, 2);
	/* Over the cap: refused, counted, and the fd is closed. */
	assert_int_equal(relay_client_accepted(&r, extra[0], &id3), -EUSERS);
	assert_int_equal(r.stats.refused, 1);
	assert_int_equal(fcntl(extra[0], F_GETFD), -1);
	assert_int_equal(errno, EBADF);

	c.id = id1;
	relay_client_closed(&r, &c, 0);
	relay_client_closed(&r, &c, -EPIPE);    /* a hang-up is no error */
	assert_int_equal(r.stats.clients_now, 0);
	assert_int_equal(r.stats.errors, 0);
	relay_client_closed(&r, &c, -EIO);
	assert_int_equal(r.stats.errors, 1);
	assert_int_equal(r.stats.clients_total, 2);

	/* A policy that admits nobody but a uid that is not ours: a peer with
	 * our credentials is refused.  Root is always admitted, so as root the
	 * peer is a child that drops to uid 65534 before it connects: the
	 * check runs in every environment. */
	cfg.policy.self_uid = getuid() + 1;
	if (getuid() != 0) {
		int p[2];

		assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, p), 0);
		assert_int_equal(relay_client_accepted(&r, p[0], &id3), -EPERM);
		close(p[1]);
	} else {
		struct sockaddr_un sa = { .sun_family = AF_UNIX };
		socklen_t sa_len;
		int l, fd, status;
		pid_t pid;

		/* An abstract name: nothing to clean up, nothing to chmod. */
		(void)snprintf(sa.sun_path + 1, sizeof(sa.sun_path) - 1, "x410-test-relay-%d", (int)getpid());
		sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + strlen(sa.sun_path + 1));
		l = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
		assert_true(l >= 0);
		assert_int_equal(bind(l, (struct sockaddr *)&sa, sa_len), 0);
		assert_int_equal(listen(l, 1), 0);
		pid = fork();
		assert_true(pid >= 0);
		if (pid == 0) {
			int cfd;

			if (setgroups(0, NULL) < 0 || setresgid(65534, 65534, 65534) < 0 ||
			    setresuid(65534, 65534, 65534) < 0)
				_exit(3);
			cfd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
			_exit(cfd >= 0 && connect(cfd, (struct sockaddr *)&sa, sa_len) == 0 ? 0 : 4);
		}
		assert_int_equal(waitpid(pid, &status, 0), pid);
		assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
		fd = accept4(l, NULL, NULL, SOCK_CLOEXEC);
		assert_true(fd >= 0);
		close(l);
		cfg.policy.self_uid = 0;
		assert_int_equal(relay_client_accepted(&r, fd, &id3), -EPERM);
	}
	close(sv[0][1]);
	close(sv[1][1]);
	close(sv[0][0]);
	close(sv[1][0]);
	close(extra[1]);
}

/* The one line relay_connect_failed() logs for -error. */
static const char *connect_failed_line(struct relay *r, int error)
{
	static char line[1024];
	FILE *f = tmpfile();
	int saved;

	assert_non_null(f);
	fflush(stderr);
	saved = dup(STDERR_FILENO);
	assert_true(dup2(fileno(f), STDERR_FILENO) >= 0);
	relay_connect_failed(r, 7, -error);
	fflush(stderr);
	assert_true(dup2(saved, STDERR_FILENO) >= 0);
	close(saved);
	rewind(f);
	if (!fgets(line, sizeof(line), f))
		line[0] = 0;
	/* exactly one line */
	assert_null(fgets((char[8]) {0}, 8, f));
	fclose(f);
	line[strcspn(line, "\n")] = 0;
	return line;
}

static void test_connect_failed_messages(void **state)
{
	struct relay_config cfg = { .upstream_is_x410 = true, .x410_display = 0, .connect_timeout_ms = 500 };
	struct relay r = { .cfg = &cfg };

	(void)state;
	log_set_max_level(LOG_INFO);
	/* Only the address is made: no socket, and never an AF_VSOCK one. */
	addr_vsock(2, 6000, &cfg.upstream);
	assert_string_equal(connect_failed_line(&r, ECONNREFUSED),
		"x410-vsock: ERROR: client #7: X410 is not listening on vsock port 6000 (display 0): is X410 running"
		" with /listen hyperv and the registry key 00001770-facb-11e6-bd58-64006a7986d3 present?");
	assert_string_equal(connect_failed_line(&r, ECONNRESET), connect_failed_line(&r, ECONNREFUSED));
	assert_string_equal(connect_failed_line(&r, ETIMEDOUT),
		"x410-vsock: ERROR: client #7: connect timed out after 500 ms: X410 is not listening on vsock port 6000"
		" (display 0): is X410 running with /listen hyperv and the registry key"
		" 00001770-facb-11e6-bd58-64006a7986d3 present?");
	assert_string_equal(connect_failed_line(&r, ENODEV),
		"x410-vsock: ERROR: client #7: no VSOCK transport (No such device): run 'sudo x410-vsock setup'");
	assert_string_equal(connect_failed_line(&r, EAFNOSUPPORT),
		"x410-vsock: ERROR: client #7: no VSOCK transport (Address family not supported by protocol):"
		" run 'sudo x410-vsock setup'");

	cfg.x410_display = 1;
	addr_vsock(2, 6001, &cfg.upstream);
	assert_non_null(strstr(connect_failed_line(&r, ECONNREFUSED),
			       "vsock port 6001 (display 1): is X410 running with /listen hyperv and the registry key"
			       " 00001771-facb-11e6-bd58-64006a7986d3 present?"));

	cfg.upstream_is_x410 = false;
	addr_vsock(3, 6000, &cfg.upstream);
	assert_string_equal(connect_failed_line(&r, ENETUNREACH),
		"x410-vsock: ERROR: client #7: vsock:3:6000 is unreachable (Network is unreachable): hv_sock connects only to CID 2 (the host),"
		" and some kernels' hv_sock only to ports up to 2147483647 (0x7FFFFFFF); this is CID 3 port 6000");
	assert_string_equal(connect_failed_line(&r, ECONNREFUSED),
		"x410-vsock: ERROR: client #7: nobody is listening on vsock:3:6000 (Connection refused)");

	assert_int_equal(addr_unix("/tmp/x410-none", &cfg.upstream), 0);
	assert_string_equal(connect_failed_line(&r, ENOENT),
		"x410-vsock: ERROR: client #7: nobody is listening on unix:/tmp/x410-none (No such file or directory)");
	assert_string_equal(connect_failed_line(&r, ETIMEDOUT),
		"x410-vsock: ERROR: client #7: connecting to unix:/tmp/x410-none timed out after 500 ms");
	assert_string_equal(connect_failed_line(&r, EMFILE),
		"x410-vsock: ERROR: client #7: no file descriptor for its connection to unix:/tmp/x410-none"
		" (Too many open files): raise 'ulimit -n' or lower --max-clients");
	assert_int_equal(r.stats.connect_failed, 12);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_policy_default),
		cmocka_unit_test(test_policy_allow),
		cmocka_unit_test(test_half_rules),
		cmocka_unit_test(test_accept_failed),
		cmocka_unit_test(test_read_error_is_eof),
		cmocka_unit_test(test_errno_classes),
		cmocka_unit_test(test_client_accepted),
		cmocka_unit_test(test_connect_failed_messages),
	};

	return cmocka_run_group_tests_name("relay", tests, NULL, NULL);
}
