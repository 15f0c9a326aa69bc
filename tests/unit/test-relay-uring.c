/* SPDX-License-Identifier: MIT */
/* The io_uring engine's pure helpers: what a completion's user_data says,
 * the per-direction buffer FIFOs, the backpressure marks and the order in
 * which ring setup flags are given up. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "relay_uring.h"

static void test_ud_roundtrip(void **state)
{
	static const struct {
		unsigned op;
		uint32_t slot, gen;
	} cases[] = {
		{ 1, 0, 0 },
		{ 14, 255, 1 },
		{ 7, URING_SLOT_MAX, UINT32_MAX },
		{ 255, 12345, 0x80000000u },
	};

	(void)state;
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		uint64_t ud = uring_ud_pack(cases[i].op, cases[i].slot, cases[i].gen);

		assert_int_equal(uring_ud_op(ud), cases[i].op);
		assert_int_equal(uring_ud_slot(ud), cases[i].slot);
		assert_int_equal(uring_ud_gen(ud), cases[i].gen);
	}
}

static void test_ud_generation(void **state)
{
	(void)state;
	/* A reused slot's completions differ from its earlier occupant's. */
	assert_true(uring_ud_pack(10, 5, 1) != uring_ud_pack(10, 5, 2));
	/* The fields do not bleed into each other. */
	assert_true(uring_ud_pack(10, 5, 1) != uring_ud_pack(11, 5, 1));
	assert_true(uring_ud_pack(10, 5, 1) != uring_ud_pack(10, 6, 1));
	assert_int_equal(uring_ud_slot(uring_ud_pack(1, URING_SLOT_MAX + 1u, 0)), 0);
	assert_int_equal(uring_ud_gen(uring_ud_pack(1, URING_SLOT_MAX, 0)), 0);
	/* liburing reserves all ones for its own timeouts; op 255 is the
	 * only way there and none of the engine's ops is that large. */
	assert_true(uring_ud_pack(254, URING_SLOT_MAX, UINT32_MAX) != UINT64_MAX);
}

static void test_bufq_fifo(void **state)
{
	uint16_t next[8];
	struct uring_bufq a, b;

	(void)state;
	uring_bufq_init(&a);
	uring_bufq_init(&b);
	assert_int_equal(uring_bufq_pop(&a, next), URING_BID_NONE);

	/* Two directions share one next[] array, interleaved. */
	uring_bufq_push(&a, next, 3);
	uring_bufq_push(&b, next, 0);
	uring_bufq_push(&a, next, 7);
	uring_bufq_push(&b, next, 5);
	uring_bufq_push(&a, next, 1);
	assert_int_equal(a.count, 3);
	assert_int_equal(b.count, 2);

	assert_int_equal(uring_bufq_pop(&a, next), 3);
	assert_int_equal(uring_bufq_pop(&b, next), 0);
	assert_int_equal(uring_bufq_pop(&a, next), 7);
	/* A buffer popped from one queue can be pushed on another. */
	uring_bufq_push(&b, next, 3);
	assert_int_equal(uring_bufq_pop(&a, next), 1);
	assert_int_equal(uring_bufq_pop(&a, next), URING_BID_NONE);
	assert_int_equal(a.count, 0);
	assert_int_equal(a.tail, URING_BID_NONE);

	assert_int_equal(uring_bufq_pop(&b, next), 5);
	assert_int_equal(uring_bufq_pop(&b, next), 3);
	assert_int_equal(uring_bufq_pop(&b, next), URING_BID_NONE);

	/* Empty, then used again. */
	uring_bufq_push(&a, next, 2);
	assert_int_equal(a.head, 2);
	assert_int_equal(a.tail, 2);
	assert_int_equal(uring_bufq_pop(&a, next), 2);
}

static void test_backpressure_marks(void **state)
{
	(void)state;
	assert_int_equal(URING_HALF_BUFS, 4);
	assert_false(uring_half_over(0, 0));
	assert_false(uring_half_over(RELAY_HALF_MAX - 1, URING_HALF_BUFS - 1));
	assert_true(uring_half_over(RELAY_HALF_MAX, 1));
	/* Small reads fill whole buffers: the buffer count stops it too. */
	assert_true(uring_half_over(4 * 32, URING_HALF_BUFS));

	assert_true(uring_half_under(0, 0));
	assert_true(uring_half_under(RELAY_HALF_MAX / 2, URING_HALF_BUFS / 2));
	assert_false(uring_half_under(RELAY_HALF_MAX / 2 + 1, 1));
	assert_false(uring_half_under(100, URING_HALF_BUFS / 2 + 1));
	/* A gap between the marks: no cancel/re-arm on every buffer. */
	assert_false(uring_half_over(RELAY_HALF_MAX * 3 / 4, 3));
	assert_false(uring_half_under(RELAY_HALF_MAX * 3 / 4, 3));
}

static void test_setup_flags_fallback(void **state)
{
	unsigned f = URING_SETUP_WANTED;

	(void)state;
	f = uring_setup_flags_fallback(f);
	assert_int_equal(f, URING_SETUP_SUBMIT_ALL | URING_SETUP_COOP_TASKRUN | URING_SETUP_SINGLE_ISSUER);
	f = uring_setup_flags_fallback(f);
	assert_int_equal(f, URING_SETUP_SUBMIT_ALL | URING_SETUP_COOP_TASKRUN);
	f = uring_setup_flags_fallback(f);
	assert_int_equal(f, URING_SETUP_SUBMIT_ALL);
	f = uring_setup_flags_fallback(f);
	assert_int_equal(f, 0);
	assert_int_equal(uring_setup_flags_fallback(0), 0);
	/* DEFER_TASKRUN never stays without SINGLE_ISSUER. */
	assert_int_equal(uring_setup_flags_fallback(URING_SETUP_SINGLE_ISSUER | URING_SETUP_DEFER_TASKRUN |
						    URING_SETUP_SUBMIT_ALL),
			 URING_SETUP_SUBMIT_ALL | URING_SETUP_SINGLE_ISSUER);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_ud_roundtrip),
		cmocka_unit_test(test_ud_generation),
		cmocka_unit_test(test_bufq_fifo),
		cmocka_unit_test(test_backpressure_marks),
		cmocka_unit_test(test_setup_flags_fallback),
	};

	return cmocka_run_group_tests_name("relay-uring", tests, NULL, NULL);
}
