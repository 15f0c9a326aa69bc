/* SPDX-License-Identifier: MIT */
/* The bounded number parsers every option goes through. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

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

static void test_escape_text(void **state)
{
	char buf[64], small[12];

	assert_string_equal(escape_text("plain text", 10, buf, sizeof(buf)), "plain text");
	assert_string_equal(escape_text("\033[31mred\a\\\xff\x7f", 12, buf, sizeof(buf)),
			    "\\x1b[31mred\\x07\\\\\\xff\\x7f");
	/* NUL bytes inside the length are escaped too. */
	assert_string_equal(escape_text("a\0b", 3, buf, sizeof(buf)), "a\\x00b");
	/* Cut with "...", never in the middle of an escape. */
	assert_string_equal(escape_text("abcdefghijklmnop", 16, small, sizeof(small)), "abcdefgh...");
	assert_string_equal(escape_text("abcdef\001\002\003", 9, small, sizeof(small)), "abcdef...");
	assert_string_equal(escape_text("abcdefghijk", 11, small, sizeof(small)), "abcdefghijk");
}

static void test_open_regular(void **state)
{
	char dir[] = "/tmp/x410-unit-util.XXXXXX", fifo[64], file[64], link[64];
	mode_t mode;
	FILE *f;
	int fd;

	assert_non_null(mkdtemp(dir));
	snprintf(fifo, sizeof(fifo), "%s/fifo", dir);
	snprintf(file, sizeof(file), "%s/file", dir);
	snprintf(link, sizeof(link), "%s/link", dir);
	assert_int_equal(mkfifo(fifo, 0600), 0);
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL, 0600);
	assert_true(fd >= 0);
	assert_int_equal(write(fd, "x\n", 2), 2);
	close(fd);
	assert_int_equal(symlink("file", link), 0);

	/* A FIFO is never opened (that would block): refused at once. */
	assert_int_equal(open_regular(fifo, 0, &mode), -EBADFD);
	assert_true(S_ISFIFO(mode));
	assert_string_equal(file_type_name(mode), "a FIFO");
	assert_int_equal(open_regular(dir, 0, &mode), -EISDIR);
	assert_int_equal(open_regular("/dev/null", 0, &mode), -EBADFD);
	assert_true(S_ISCHR(mode));
	assert_int_equal(fopen_regular(fifo, &f, NULL), -EBADFD);
	/* Links are followed, unless O_NOFOLLOW. */
	fd = open_regular(link, 0, NULL);
	assert_true(fd >= 0);
	close(fd);
	assert_int_equal(open_regular(link, O_NOFOLLOW, &mode), -ELOOP);
	assert_int_equal(open_regular(fifo + 0, 0, NULL), -EBADFD);
	assert_int_equal(fopen_regular(file, &f, NULL), 0);
	fclose(f);

	unlink(link);
	unlink(file);
	unlink(fifo);
	rmdir(dir);
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
		cmocka_unit_test(test_escape_text),
		cmocka_unit_test(test_open_regular),
	};

	return cmocka_run_group_tests_name("util", tests, NULL, NULL);
}
