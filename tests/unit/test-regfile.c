/* SPDX-License-Identifier: MIT */
/* regfile: the X410 display range parser and the registry key names. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regfile.h"

struct range_case {
	const char *input;
	int expect;
	const char *displays;   /* the parsed set, comma-separated */
};

static const struct range_case range_cases[] = {
	/* valid */
	{ "0", 0, "0" },
	{ "5", 0, "5" },
	{ "0-5", 0, "0,1,2,3,4,5" },
	{ "0,2,7", 0, "0,2,7" },
	{ "7,2,0", 0, "0,2,7" },
	{ "3-3", 0, "3" },
	{ "1,1", 0, "1" },
	{ "0-3,2-5", 0, "0,1,2,3,4,5" },
	{ "9,0-2", 0, "0,1,2,9" },
	{ "007", 0, "7" },
	{ "2147477647", 0, "2147477647" },
	{ "2147477646-2147477647", 0, "2147477646,2147477647" },
	/* invalid: junk, empty items, reversed, out of range, too many */
	{ "", -EINVAL, NULL },
	{ ",", -EINVAL, NULL },
	{ "0,", -EINVAL, NULL },
	{ ",0", -EINVAL, NULL },
	{ "0,,1", -EINVAL, NULL },
	{ "-", -EINVAL, NULL },
	{ "-1", -EINVAL, NULL },
	{ "1-", -EINVAL, NULL },
	{ "1--2", -EINVAL, NULL },
	{ "1-2-3", -EINVAL, NULL },
	{ "5-0", -EINVAL, NULL },
	{ "+1", -EINVAL, NULL },
	{ " 0", -EINVAL, NULL },
	{ "0 ", -EINVAL, NULL },
	{ "0, 1", -EINVAL, NULL },
	{ ":0", -EINVAL, NULL },
	{ "0x10", -EINVAL, NULL },
	{ "a", -EINVAL, NULL },
	{ "1e3", -EINVAL, NULL },
	{ "0;1", -EINVAL, NULL },
	{ "99999999999999999999999x", -EINVAL, NULL },
	{ "4294961295", -ERANGE, NULL },
	{ "4294967295", -ERANGE, NULL },
	{ "0-4294961295", -ERANGE, NULL },
	{ "99999999999999999999999", -ERANGE, NULL },
	{ "0-63", 0, NULL },     /* 64 displays: the most */
	{ "0-64", -E2BIG, NULL },
	{ "0-2147477647", -E2BIG, NULL },
	{ "0-63,64", -E2BIG, NULL },
	{ "0-31,100-132", -E2BIG, NULL },
};

static void format_set(const struct regfile_displays *d, char *buf, size_t size)
{
	size_t n = 0;

	buf[0] = 0;
	for (size_t i = 0; i < d->n && n < size; i++)
		n += (size_t)snprintf(buf + n, size - n, "%s%u", i ? "," : "", d->display[i]);
}

static void test_range_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(range_cases) / sizeof(range_cases[0]); i++) {
		const struct range_case *c = &range_cases[i];
		struct regfile_displays d = { .n = 12345 };
		const char *why = NULL;
		char buf[1024];
		int r = regfile_parse_range(c->input, &d, &why);

		print_message("# '%s' -> %d (%s)\n", c->input, r, why ? why : "ok");
		assert_int_equal(r, c->expect);
		if (r < 0) {
			assert_non_null(why);
			assert_true(strlen(why) > 10);
			assert_int_equal(d.n, 12345);  /* untouched on error */
			continue;
		}
		assert_null(why);
		if (c->displays) {
			format_set(&d, buf, sizeof(buf));
			assert_string_equal(buf, c->displays);
		}
	}
}

static void test_range_limits(void **state)
{
	struct regfile_displays d;

	(void)state;
	assert_int_equal(regfile_parse_range("0-63", &d, NULL), 0);
	assert_int_equal(d.n, REGFILE_DISPLAYS_MAX);
	for (size_t i = 0; i < d.n; i++)
		assert_int_equal(d.display[i], i);
	/* A list that repeats itself is still one set. */
	assert_int_equal(regfile_parse_range("0-63,0-63,5", &d, NULL), 0);
	assert_int_equal(d.n, REGFILE_DISPLAYS_MAX);
	assert_int_equal(regfile_parse_range(NULL, &d, NULL), -EINVAL);
}

static void test_service_key(void **state)
{
	char key[ADDR_GUID_MAX];

	(void)state;
	regfile_service_key(0, key);
	assert_string_equal(key, "00001770-facb-11e6-bd58-64006a7986d3");
	regfile_service_key(5, key);
	assert_string_equal(key, "00001775-facb-11e6-bd58-64006a7986d3");
	regfile_service_key(10, key);
	assert_string_equal(key, "0000177a-facb-11e6-bd58-64006a7986d3");
	regfile_service_key(X410_DISPLAY_MAX, key);
	assert_string_equal(key, "fffffffe-facb-11e6-bd58-64006a7986d3");
}

/* The writers report a stream error instead of pretending. */
static void test_write_error(void **state)
{
	struct regfile_displays d;
	FILE *f = fopen("/dev/full", "we");

	(void)state;
	if (!f)
		skip();
	setvbuf(f, NULL, _IONBF, 0);
	assert_int_equal(regfile_parse_range("0-5", &d, NULL), 0);
	assert_int_equal(regfile_write_reg(f, &d), -EIO);
	clearerr(f);
	assert_int_equal(regfile_write_powershell(f, &d), -EIO);
	fclose(f);
}

/* Every line ends in CRLF and there is no bare LF or CR. */
static void test_crlf(void **state)
{
	struct regfile_displays d;
	char *buf = NULL;
	size_t size = 0;

	(void)state;
	assert_int_equal(regfile_parse_range("0,2,7", &d, NULL), 0);
	for (int ps = 0; ps <= 1; ps++) {
		FILE *f = open_memstream(&buf, &size);

		assert_non_null(f);
		assert_int_equal(ps ? regfile_write_powershell(f, &d) : regfile_write_reg(f, &d), 0);
		assert_int_equal(fclose(f), 0);
		assert_true(size > 2);
		assert_memory_equal(buf + size - 2, "\r\n", 2);
		for (size_t i = 0; i < size; i++) {
			if (buf[i] == '\n')
				assert_true(i > 0 && buf[i - 1] == '\r');
			if (buf[i] == '\r')
				assert_true(i + 1 < size && buf[i + 1] == '\n');
		}
		assert_non_null(strstr(buf, "00001777-facb-11e6-bd58-64006a7986d3"));
		assert_non_null(strstr(buf, "X410 Display 7"));
		free(buf);
		buf = NULL;
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_range_table),
		cmocka_unit_test(test_range_limits),
		cmocka_unit_test(test_service_key),
		cmocka_unit_test(test_write_error),
		cmocka_unit_test(test_crlf),
	};

	return cmocka_run_group_tests_name("regfile", tests, NULL, NULL);
}
