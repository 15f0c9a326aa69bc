/* SPDX-License-Identifier: MIT */
/* The io_uring engine's pure helpers: what a completion's user_data says
 * and the order in which ring setup flags are given up. */
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
		cmocka_unit_test(test_setup_flags_fallback),
	};

	return cmocka_run_group_tests_name("relay-uring", tests, NULL, NULL);
}
