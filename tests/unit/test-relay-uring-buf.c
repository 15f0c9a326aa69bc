/* SPDX-License-Identifier: MIT */
/* A direction's bytes in the io_uring engine (src/relay_uring_buf.c, linked
 * from libx410.a): order, the byte budget, sizing to need, and that nothing
 * is freed while the kernel may still write into it. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>
#include <cmocka.h>

#include "relay_uring_buf.h"

/* A receive of the bytes of s (as the kernel would write them). */
static void recv_str(struct uring_buf *b, const char *s)
{
	void *base;
	uint32_t len;

	assert_int_equal(uring_buf_take(b, &base, &len), 0);
	assert_true(len >= strlen(s));
	memcpy(base, s, strlen(s));
	uring_buf_received(b, (uint32_t)strlen(s));
}

/* Everything pending, as one string (gathered like a send). */
static void gathered(const struct uring_buf *b, char *out, size_t size)
{
	struct iovec iov[64];
	unsigned n = uring_buf_gather(b, iov, 64);
	size_t at = 0;

	for (unsigned i = 0; i < n; i++) {
		assert_true(at + iov[i].iov_len < size);
		memcpy(out + at, iov[i].iov_base, iov[i].iov_len);
		at += iov[i].iov_len;
	}
	out[at] = '\0';
}

static void test_order_and_partial_sends(void **state)
{
	struct uring_buf b;
	char out[256];

	(void)state;
	uring_buf_init(&b);
	assert_true(uring_buf_may_take(&b));
	recv_str(&b, "hello ");
	recv_str(&b, "world");
	assert_int_equal(b.pending, 11);
	gathered(&b, out, sizeof(out));
	assert_string_equal(out, "hello world");

	/* A short send, then the rest: nothing lost, nothing repeated. */
	uring_buf_sent(&b, 3);
	gathered(&b, out, sizeof(out));
	assert_string_equal(out, "lo world");
	recv_str(&b, "!");
	gathered(&b, out, sizeof(out));
	assert_string_equal(out, "lo world!");
	uring_buf_sent(&b, 9);
	assert_int_equal(b.pending, 0);
	/* All sent and no receive writes into it: nothing is held. */
	assert_int_equal(b.held, 0);
	assert_null(b.head);
	uring_buf_release(&b);
}

/* The kernel owns the space of an armed receive: sending everything before
 * it must not free the chunk it writes into. */
static void test_receiving_chunk_stays(void **state)
{
	struct uring_buf b;
	void *base, *base2;
	uint32_t len;

	(void)state;
	uring_buf_init(&b);
	recv_str(&b, "abc");
	assert_int_equal(uring_buf_take(&b, &base, &len), 0);
	uring_buf_sent(&b, 3);
	assert_non_null(b.tail);
	assert_true(b.receiving);
	memcpy(base, "xyz", 3);
	uring_buf_received(&b, 3);
	assert_int_equal(b.pending, 3);
	/* Taken again after all was sent: the same memory starts over. */
	uring_buf_sent(&b, 3);
	assert_int_equal(uring_buf_take(&b, &base2, &len), 0);
	uring_buf_received(&b, 0);
	uring_buf_release(&b);
	assert_int_equal(b.held, 0);
}

/* A sink that never reads: the direction stops at RELAY_HALF_MAX bytes of
 * memory, whatever the size of the receives. */
static void test_budget_in_bytes(void **state)
{
	struct uring_buf b;
	void *base;
	uint32_t len;
	unsigned takes = 0;

	(void)state;
	uring_buf_init(&b);
	while (uring_buf_may_take(&b)) {
		assert_int_equal(uring_buf_take(&b, &base, &len), 0);
		assert_true(len <= URING_BUF_MAX - b.pending);
		memset(base, 'x', len);
		uring_buf_received(&b, len);   /* every receive fills its space */
		assert_true(b.held <= RELAY_HALF_MAX);
		assert_true(++takes < 10000);
	}
	/* Stopped at the mark, counted in bytes. */
	assert_true(b.pending >= URING_BUF_MARK);
	assert_true(b.pending <= URING_BUF_MAX);
	assert_int_equal(b.pending, b.held);
	/* Filling receives grew the chunks. */
	assert_true(b.want >= URING_BUF_MAX / 2);
	/* Once the sink takes some, receiving goes on. */
	uring_buf_sent(&b, b.pending - URING_BUF_MARK / 2);
	assert_true(uring_buf_may_take(&b));
	/* Whatever is taken, the memory held stays within RELAY_HALF_MAX. */
	for (unsigned i = 0; i < 64; i++) {
		int r = uring_buf_take(&b, &base, &len);

		if (r == -ENOBUFS)
			break;
		assert_int_equal(r, 0);
		uring_buf_received(&b, len);
		assert_true(b.held <= RELAY_HALF_MAX);
	}
	assert_int_equal(uring_buf_take(&b, &base, &len), -ENOBUFS);
	assert_true(b.held <= RELAY_HALF_MAX);
	uring_buf_release(&b);
}

/* A receive never brings more than what keeps the pending bytes within
 * URING_BUF_MAX (the epoll engine's one buffer), whether the engine's own
 * chunk or a shared provided buffer (the appended bytes) takes it. */
static void test_receive_room(void **state)
{
	static char data[URING_BUF_MAX];
	struct uring_buf b;
	void *base;
	uint32_t len;

	(void)state;
	uring_buf_init(&b);
	assert_int_equal(uring_buf_room(&b), URING_BUF_MAX);
	assert_int_equal(uring_buf_append(&b, data, URING_BUF_MAX - 1000), 0);
	assert_int_equal(uring_buf_room(&b), 1000);
	assert_int_equal(uring_buf_take(&b, &base, &len), 0);
	assert_true(len <= 1000);
	memset(base, 'y', len);
	uring_buf_received(&b, len);
	assert_int_equal(uring_buf_append(&b, data, uring_buf_room(&b)), 0);
	assert_int_equal(b.pending, URING_BUF_MAX);
	assert_int_equal(uring_buf_room(&b), 0);
	assert_int_equal(uring_buf_take(&b, &base, &len), -ENOBUFS);
	uring_buf_sent(&b, 4096);
	assert_int_equal(uring_buf_room(&b), 4096);
	uring_buf_release(&b);
}

/* Small receives (X11 requests): small chunks, and many small receives
 * share one chunk. */
static void test_small_receives_share(void **state)
{
	struct uring_buf b;
	char req[32];

	(void)state;
	memset(req, 'r', sizeof(req) - 1);
	req[sizeof(req) - 1] = '\0';
	uring_buf_init(&b);
	for (unsigned i = 0; i < 40; i++)
		recv_str(&b, req);
	assert_int_equal(b.pending, 40 * 31);
	assert_true(b.held <= 4 * URING_BUF_MIN);
	assert_true(b.n_chunks <= 4);
	uring_buf_drop(&b);
	assert_int_equal(b.pending, 0);
	uring_buf_release(&b);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_order_and_partial_sends),
		cmocka_unit_test(test_receiving_chunk_stays),
		cmocka_unit_test(test_budget_in_bytes),
		cmocka_unit_test(test_receive_room),
		cmocka_unit_test(test_small_receives_share),
	};

	return cmocka_run_group_tests_name("relay-uring-buf", tests, NULL, NULL);
}
