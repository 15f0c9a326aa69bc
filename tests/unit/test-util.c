/* SPDX-License-Identifier: MIT */
/* The bounded number parsers every option goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>

#include "util.h"

static void test_parse_uint64(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_uint64("0", false, 0, 10, &v), 0);
	assert_int_equal(v, 0);
	assert_int_equal(parse_uint64("18446744073709551615", false, 0, UINT64_MAX, &v), 0);
	assert_true(v == UINT64_MAX);
	assert_int_equal(parse_uint64("18446744073709551616", false, 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_uint64("184467440737095516160x", false, 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_uint64("11", false, 0, 10, &v), -ERANGE);
	assert_int_equal(parse_uint64("1", false, 2, 10, &v), -ERANGE);
	assert_int_equal(parse_uint64("", false, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint64(NULL, false, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint64("-1", false, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint64("+1", false, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint64(" 1", false, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint64("1 ", false, 0, 10, &v), -EINVAL);
	assert_int_equal(parse_uint64("0x10", false, 0, 100, &v), -EINVAL);
	assert_int_equal(parse_uint64("0x10", true, 0, 100, &v), 0);
	assert_int_equal(v, 16);
	assert_int_equal(parse_uint64("0XfF", true, 0, 1000, &v), 0);
	assert_int_equal(v, 255);
	assert_int_equal(parse_uint64("0x", true, 0, 100, &v), -EINVAL);
	assert_int_equal(parse_uint64("ff", true, 0, 1000, &v), -EINVAL);
}

static void test_parse_size(void **state)
{
	uint64_t v;

	(void)state;
	assert_int_equal(parse_size("4096", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 4096);
	assert_int_equal(parse_size("64K", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 65536);
	assert_int_equal(parse_size("256KiB", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 262144);
	assert_int_equal(parse_size("1M", 0, UINT64_MAX, &v), 0);
	assert_int_equal(v, 1048576);
	assert_int_equal(parse_size("2G", 0, 1024, &v), -ERANGE);
	assert_int_equal(parse_size("K", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size("1k", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size("1KB", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size("-1", 0, UINT64_MAX, &v), -EINVAL);
	assert_int_equal(parse_size("99999999999999999999G", 0, UINT64_MAX, &v), -ERANGE);
	assert_int_equal(parse_size("17179869184G", 0, UINT64_MAX, &v), -ERANGE);
}

static void test_parse_seconds(void **state)
{
	uint64_t ms;

	(void)state;
	assert_int_equal(parse_seconds_ms("2", 1, 60000, &ms), 0);
	assert_int_equal(ms, 2000);
	assert_int_equal(parse_seconds_ms("0.5", 1, 60000, &ms), 0);
	assert_int_equal(ms, 500);
	assert_int_equal(parse_seconds_ms("1.25", 1, 60000, &ms), 0);
	assert_int_equal(ms, 1250);
	assert_int_equal(parse_seconds_ms("0.001", 1, 60000, &ms), 0);
	assert_int_equal(ms, 1);
	assert_int_equal(parse_seconds_ms("0", 1, 60000, &ms), -ERANGE);
	assert_int_equal(parse_seconds_ms("61", 1, 60000, &ms), -ERANGE);
	assert_int_equal(parse_seconds_ms("0.0001", 1, 60000, &ms), -EINVAL);
	assert_int_equal(parse_seconds_ms("1.", 1, 60000, &ms), -EINVAL);
	assert_int_equal(parse_seconds_ms(".5", 1, 60000, &ms), -EINVAL);
	assert_int_equal(parse_seconds_ms("1s", 1, 60000, &ms), -EINVAL);
	assert_int_equal(parse_seconds_ms("-1", 1, 60000, &ms), -EINVAL);
}

static void test_strings(void **state)
{
	char buf[4];

	(void)state;
	assert_int_equal(strcpy_bounded(buf, sizeof(buf), "abc"), 0);
	assert_string_equal(buf, "abc");
	assert_int_equal(strcpy_bounded(buf, sizeof(buf), "abcd"), -ENAMETOOLONG);
	assert_int_equal(snprintf_bounded(buf, sizeof(buf), "%d", 123), 3);
	assert_int_equal(snprintf_bounded(buf, sizeof(buf), "%d", 1234), -ENAMETOOLONG);
	assert_true(startswith("vsock:2", "vsock:"));
	assert_false(startswith("vso", "vsock:"));
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_parse_uint64),
		cmocka_unit_test(test_parse_size),
		cmocka_unit_test(test_parse_seconds),
		cmocka_unit_test(test_strings),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
