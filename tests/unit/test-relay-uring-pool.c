/* SPDX-License-Identifier: MIT */
/* The io_uring engine's buffer pool, white box (the engine's own source is
 * included): what the trim does to buffers the kernel has already taken
 * from the ring but whose completions the engine has not processed yet. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "../../src/relay_uring.c"

static bool on_free_stack(const struct engine *e, uint16_t bid)
{
	for (unsigned i = 0; i < e->pool.n_free; i++)
		if (e->pool.stack[i] == bid)
			return true;
	return false;
}

/*
 * The trim timer's completion comes first in a batch, a receive's after it
 * (both posted before the engine looked): the trim takes the ring back, and
 * must not count the buffer of that receive as free -- else it is given
 * back to the kernel's memory (its bytes read as zeros), handed to the ring
 * again while it holds data, and put on the free stack twice.
 */
/* A kernel without the feature is a skip, unless X410_TEST_REQUIRE (set by
 * CI where the machine has it) names the feature: then a failure. */
static bool feature_required(const char *feature)
{
	const char *req = getenv("X410_TEST_REQUIRE");
	size_t n = strlen(feature);

	for (const char *p = req; p && *p; p += strcspn(p, ","), p += *p == ',')
		if (strncmp(p, feature, n) == 0 && (p[n] == ',' || p[n] == '\0'))
			return true;
	return false;
}
#define skip_unless_required(feature, why) do { \
		if (feature_required(feature)) \
			fail_msg("X410_TEST_REQUIRE has %s, but: %s", feature, why); \
		skip(); \
	} while (0)

static void test_reclaim_keeps_taken_buffers(void **state)
{
	struct relay_config cfg = { .max_clients = 1 };
	struct relay relay = { .cfg = &cfg };
	struct __kernel_timespec ts = ms_to_ts(2000);
	struct io_uring_cqe *cqe;
	struct io_uring_sqe *sqe;
	struct io_uring_probe *probe;
	struct engine e = { .r = &relay };
	char *data;
	uint16_t bid;
	int sv[2], r;

	(void)state;
	r = engine_setup_ring(&e, false);
	if (r < 0)
		skip_unless_required("uring", "no io_uring here");
	probe = io_uring_get_probe_ring(&e.ring);
	if (!probe || !io_uring_opcode_supported(probe, IORING_OP_SOCKET) || pool_setup(&e) < 0 ||
	    !probe_multishot_recv(&e)) {
		if (probe)
			io_uring_free_probe(probe);
		pool_free(&e);
		io_uring_queue_exit(&e.ring);
		skip_unless_required("bufring", "no buffer ring or multishot receive (Linux < 6.0)");
	}
	io_uring_free_probe(probe);
	e.buf_ring = true;

	pool_refill(&e);
	assert_true(e.pool.in_ring > 0);
	for (unsigned b = 0; b < URING_NBUF; b++)
		e.pool.dirty[b] = 1;   /* used before: what the trim looks for */

	assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv), 0);
	sqe = io_uring_get_sqe(&e.ring);
	assert_non_null(sqe);
	io_uring_prep_recv(sqe, sv[0], NULL, 0, 0);
	sqe->ioprio |= IORING_RECV_MULTISHOT;
	sqe->flags |= IOSQE_BUFFER_SELECT;
	sqe->buf_group = URING_BGID;
	sqe_data(sqe, OP_RECV_UP, 0, 0);
	assert_int_equal(io_uring_submit(&e.ring), 1);
	assert_int_equal(send(sv[1], "hello", 5, MSG_NOSIGNAL), 5);
	assert_int_equal(io_uring_wait_cqe_timeout(&e.ring, &cqe, &ts), 0);
	assert_int_equal(cqe->res, 5);
	assert_true(cqe->flags & IORING_CQE_F_BUFFER);

	/* The trim, with that completion still in the CQ. */
	e.pool.lent_at_trim_arm = e.pool.lent_total;
	pool_trim(&e);

	/* Now the engine gets to the completion. */
	bid = pool_taken(&e, cqe);
	assert_false(on_free_stack(&e, bid));
	assert_int_not_equal(e.pool.where[bid], BUF_RING);
	data = pool_buf(&e, bid);
	assert_memory_equal(data, "hello", 5);
	io_uring_cqe_seen(&e.ring, cqe);

	(void)close(sv[0]);
	(void)close(sv[1]);
	pool_free(&e);
	io_uring_queue_exit(&e.ring);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_reclaim_keeps_taken_buffers),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
