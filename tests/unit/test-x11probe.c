/* SPDX-License-Identifier: MIT */
/* The X11 connection setup probe: the request's bytes, replies built by hand
 * (Success with vendor, formats and screens; Failed; Authenticate; malformed
 * ones), and the handshake over a real socketpair with a deadline. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "upstream.h"
#include "x11probe.h"

static size_t put16(uint8_t *p, uint16_t v)
{
	p[0] = (uint8_t)v;
	p[1] = (uint8_t)(v >> 8);
	return 2;
}

static size_t put32(uint8_t *p, uint32_t v)
{
	put16(p, (uint16_t)v);
	put16(p + 2, (uint16_t)(v >> 16));
	return 4;
}

/* A Success reply as Xvfb would send it: vendor, formats, screens. */
static size_t build_success(uint8_t *buf, const char *vendor, unsigned formats, unsigned screens,
			    uint16_t width, uint16_t height)
{
	size_t v = strlen(vendor), n;

	memset(buf, 0, 4096);
	buf[0] = 1;
	put16(buf + 2, 11);
	put16(buf + 4, 0);
	put32(buf + 8, 12101007);
	put32(buf + 12, 0x00200000);
	put32(buf + 16, 0x001fffff);
	put16(buf + 24, (uint16_t)v);
	put16(buf + 26, 0xffff);
	buf[28] = (uint8_t)screens;
	buf[29] = (uint8_t)formats;
	memcpy(buf + 40, vendor, v);
	n = 40 + ((v + 3) & ~(size_t)3) + 8 * formats;
	for (unsigned s = 0; s < screens; s++) {
		put16(buf + n + 20, width);
		put16(buf + n + 22, height);
		buf[n + 39] = 0;        /* no depths */
		n += 40;
	}
	put16(buf + 6, (uint16_t)((n - 8) / 4));
	return n;
}

static void test_request(void **state)
{
	uint8_t req[X11PROBE_REQUEST_SIZE];
	const uint8_t expect[X11PROBE_REQUEST_SIZE] = { 'l', 0, 11, 0, 0, 0, 0, 0, 0, 0, 0, 0 };

	x11probe_request(req);
	assert_memory_equal(req, expect, sizeof(expect));
}

static void test_success(void **state)
{
	uint8_t buf[4096];
	struct x11probe_reply r;
	size_t n = build_success(buf, "The X.Org Foundation", 7, 1, 1280, 1024);

	assert_int_equal(x11probe_reply_size(buf, 7), -EAGAIN);
	assert_int_equal(x11probe_reply_size(buf, n), (ssize_t)n);
	assert_int_equal(x11probe_parse_reply(buf, n, &r), 0);
	assert_int_equal(r.status, X11PROBE_SUCCESS);
	assert_int_equal(r.major, 11);
	assert_int_equal(r.minor, 0);
	assert_int_equal(r.release, 12101007);
	assert_string_equal(r.vendor, "The X.Org Foundation");
	assert_int_equal(r.screens, 1);
	assert_int_equal(r.width, 1280);
	assert_int_equal(r.height, 1024);

	/* Every shorter buffer is refused, never read past. */
	for (size_t k = 0; k < n; k++)
		assert_int_equal(x11probe_parse_reply(buf, k, &r), -EBADMSG);

	/* No screens: nothing to read after the formats. */
	n = build_success(buf, "X410", 0, 0, 0, 0);
	assert_int_equal(x11probe_parse_reply(buf, n, &r), 0);
	assert_string_equal(r.vendor, "X410");
	assert_int_equal(r.screens, 0);
}

static void test_success_lies(void **state)
{
	uint8_t buf[4096];
	struct x11probe_reply r;
	size_t n = build_success(buf, "vendor", 2, 1, 640, 480);

	/* A vendor length beyond the reply. */
	put16(buf + 24, 2000);
	assert_int_equal(x11probe_parse_reply(buf, n, &r), -EBADMSG);
	/* Formats beyond the reply. */
	n = build_success(buf, "vendor", 2, 1, 640, 480);
	buf[29] = 255;
	assert_int_equal(x11probe_parse_reply(buf, n, &r), -EBADMSG);
	/* A screen count with no room for the screen. */
	n = build_success(buf, "vendor", 2, 0, 0, 0);
	buf[28] = 1;
	assert_int_equal(x11probe_parse_reply(buf, n, &r), -EBADMSG);
	/* Shorter than the fixed part. */
	memset(buf, 0, 16);
	buf[0] = 1;
	put16(buf + 6, 2);
	assert_int_equal(x11probe_parse_reply(buf, 16, &r), -EBADMSG);
	/* Unknown status. */
	buf[0] = 3;
	assert_int_equal(x11probe_reply_size(buf, 16), -EBADMSG);
	assert_int_equal(x11probe_parse_reply(buf, 16, &r), -EBADMSG);
}

static void test_failed(void **state)
{
	static const char reason[] = "Authorization required, but no authorization protocol specified\n";
	uint8_t buf[256] = {};
	struct x11probe_reply r;
	size_t n = strlen(reason), total = 8 + ((n + 3) & ~(size_t)3);

	buf[0] = 0;
	buf[1] = (uint8_t)n;
	put16(buf + 2, 11);
	put16(buf + 4, 0);
	put16(buf + 6, (uint16_t)((total - 8) / 4));
	memcpy(buf + 8, reason, n);
	assert_int_equal(x11probe_parse_reply(buf, total, &r), 0);
	assert_int_equal(r.status, X11PROBE_FAILED);
	assert_int_equal(r.major, 11);
	/* The line end goes; a control character inside would be '?'. */
	assert_string_equal(r.reason, "Authorization required, but no authorization protocol specified");

	/* A reason longer than the reply says. */
	buf[1] = 200;
	assert_int_equal(x11probe_parse_reply(buf, total, &r), -EBADMSG);
}

static void test_authenticate(void **state)
{
	uint8_t buf[32] = { 2 };
	struct x11probe_reply r;

	put16(buf + 6, 4);
	memcpy(buf + 8, "need a cookie", 13);        /* NUL padded to 16 */
	assert_int_equal(x11probe_parse_reply(buf, 24, &r), 0);
	assert_int_equal(r.status, X11PROBE_AUTHENTICATE);
	assert_string_equal(r.reason, "need a cookie");
}

static void test_long_vendor_truncated(void **state)
{
	uint8_t buf[4096];
	char vendor[1001];
	struct x11probe_reply r;
	size_t n;

	memset(vendor, 'v', 1000);
	vendor[1000] = 0;
	vendor[3] = '\x01';
	n = build_success(buf, vendor, 0, 0, 0, 0);
	assert_int_equal(x11probe_parse_reply(buf, n, &r), 0);
	assert_int_equal(strlen(r.vendor), X11PROBE_TEXT_MAX - 1);
	assert_int_equal(r.vendor[3], '?');
}

/* ---- the handshake over a socketpair ---- */

static int pair[2];

static int setup_pair(void **state)
{
	return socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, pair);
}

static int teardown_pair(void **state)
{
	close(pair[0]);
	if (pair[1] >= 0)
		close(pair[1]);
	return 0;
}

static void test_handshake_success(void **state)
{
	uint8_t buf[4096], req[X11PROBE_REQUEST_SIZE];
	struct x11probe_reply r;
	size_t n = build_success(buf, "Xvfb-like", 3, 1, 800, 600);

	/* The answer is waiting before the request is even sent. */
	assert_int_equal(write(pair[1], buf, n), (ssize_t)n);
	assert_int_equal(x11probe_handshake(pair[0], upstream_now_ms() + 1000, &r), 0);
	assert_string_equal(r.vendor, "Xvfb-like");
	assert_int_equal(r.width, 800);
	/* And the request arrived whole. */
	assert_int_equal(read(pair[1], req, sizeof(req)), X11PROBE_REQUEST_SIZE);
	assert_int_equal(req[0], 'l');
}

static void test_handshake_timeout(void **state)
{
	struct x11probe_reply r;
	uint64_t start = upstream_now_ms();

	assert_int_equal(x11probe_handshake(pair[0], start + 200, &r), -ETIMEDOUT);
	assert_true(upstream_now_ms() - start >= 200);
	assert_true(upstream_now_ms() - start < 2000);
}

static void test_handshake_eof(void **state)
{
	struct x11probe_reply r;

	close(pair[1]);
	pair[1] = -1;
	assert_int_equal(x11probe_handshake(pair[0], upstream_now_ms() + 1000, &r), -EPIPE);
}

static void test_handshake_partial_then_eof(void **state)
{
	uint8_t buf[4096];
	struct x11probe_reply r;
	size_t n = build_success(buf, "partial", 0, 0, 0, 0);

	assert_int_equal(write(pair[1], buf, n - 4), (ssize_t)(n - 4));
	assert_int_equal(shutdown(pair[1], SHUT_WR), 0);
	assert_int_equal(x11probe_handshake(pair[0], upstream_now_ms() + 1000, &r), -ENODATA);
}

static void test_handshake_garbage(void **state)
{
	static const char http[] = "HTTP/1.1 400 Bad Request\r\n\r\n";
	struct x11probe_reply r;

	assert_int_equal(write(pair[1], http, sizeof(http) - 1), (ssize_t)sizeof(http) - 1);
	assert_int_equal(x11probe_handshake(pair[0], upstream_now_ms() + 1000, &r), -EBADMSG);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_request),
		cmocka_unit_test(test_success),
		cmocka_unit_test(test_success_lies),
		cmocka_unit_test(test_failed),
		cmocka_unit_test(test_authenticate),
		cmocka_unit_test(test_long_vendor_truncated),
		cmocka_unit_test_setup_teardown(test_handshake_success, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_handshake_timeout, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_handshake_eof, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_handshake_partial_then_eof, setup_pair, teardown_pair),
		cmocka_unit_test_setup_teardown(test_handshake_garbage, setup_pair, teardown_pair),
	};

	return cmocka_run_group_tests_name("x11probe", tests, NULL, NULL);
}
