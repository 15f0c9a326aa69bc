/* SPDX-License-Identifier: MIT */
/* Address parsing: a table of valid and invalid inputs, and the exact bytes
 * of the addresses the relay will connect to. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <arpa/inet.h>
#include <errno.h>
#include <string.h>

#include "addr.h"

struct upstream_case {
	const char *input;
	int expect;             /* 0 or the -errno */
	const char *formatted;  /* addr_format() of a valid input */
	unsigned warnings;
};

static const struct upstream_case upstream_cases[] = {
	/* valid */
	{ "vsock:host:6000", 0, "vsock:2:6000", 0 },
	{ "vsock:2:6000", 0, "vsock:2:6000", 0 },
	{ "vsock:local:6000", 0, "vsock:1:6000", ADDR_WARN_HVSOCK_CID },
	{ "vsock:3:1024", 0, "vsock:3:1024", ADDR_WARN_HVSOCK_CID },
	{ "vsock:2:0x1770", 0, "vsock:2:6000", 0 },
	{ "vsock:0x2:6000", 0, "vsock:2:6000", 0 },
	{ "vsock:2:0", 0, "vsock:2:0", 0 },
	{ "vsock:2:2147483647", 0, "vsock:2:2147483647", 0 },
	/* Above 0x7FFFFFFF: the kernel answers (some hv_sock ENETUNREACH). */
	{ "vsock:2:2147483648", 0, "vsock:2:2147483648", 0 },
	{ "vsock:2:4294967294", 0, "vsock:2:4294967294", 0 },
	{ "vsock:4294967294:1", 0, "vsock:4294967294:1", ADDR_WARN_HVSOCK_CID },
	{ "unix:/tmp/.X11-unix/X0", 0, "unix:/tmp/.X11-unix/X0", 0 },
	{ "unix:relative/sock", 0, "unix:relative/sock", 0 },
	{ "unix:@/tmp/.X11-unix/X0", 0, "unix:@/tmp/.X11-unix/X0", 0 },
	{ "unix:@x", 0, "unix:@x", 0 },
	{ "tcp:127.0.0.1:6000", 0, "tcp:127.0.0.1:6000", 0 },
	{ "tcp:[::1]:6000", 0, "tcp:[::1]:6000", 0 },
	{ "tcp:[fe80::1]:1", 0, "tcp:[fe80::1]:1", 0 },
	{ "tcp:localhost:6000", 0, "tcp:localhost:6000", 0 },
	{ "tcp:x410.example:65535", 0, "tcp:x410.example:65535", 0 },
	/* invalid */
	{ "", -EINVAL, NULL, 0 },
	{ "vsock", -EINVAL, NULL, 0 },
	{ "vsock:", -EINVAL, NULL, 0 },
	{ "vsock:2", -EINVAL, NULL, 0 },
	{ "vsock:2:", -EINVAL, NULL, 0 },
	{ "vsock::6000", -EINVAL, NULL, 0 },
	{ "vsock:hots:6000", -EINVAL, NULL, 0 },
	{ "vsock:-2:6000", -EINVAL, NULL, 0 },
	{ "vsock:+2:6000", -EINVAL, NULL, 0 },
	{ "vsock:2:-1", -EINVAL, NULL, 0 },
	{ "vsock:2:+6000", -EINVAL, NULL, 0 },
	{ "vsock:2: 6000", -EINVAL, NULL, 0 },
	{ "vsock:2:6000 ", -EINVAL, NULL, 0 },
	{ "vsock:2:6000x", -EINVAL, NULL, 0 },
	{ "vsock:2:60:00", -EINVAL, NULL, 0 },
	{ "vsock:2:4294967295", -ERANGE, NULL, 0 },
	{ "vsock:2:99999999999999999999999", -ERANGE, NULL, 0 },
	{ "vsock:4294967295:6000", -ERANGE, NULL, 0 },
	{ "vsock:2:0x", -EINVAL, NULL, 0 },
	{ "vsock:2:0x1g", -EINVAL, NULL, 0 },
	{ "unix:", -EINVAL, NULL, 0 },
	{ "unix:@", -EINVAL, NULL, 0 },
	{ "unix:/aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -ENAMETOOLONG, NULL, 0 },
	{ "unix:@aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", -ENAMETOOLONG, NULL, 0 },
	{ "tcp:", -EINVAL, NULL, 0 },
	{ "tcp:127.0.0.1", -EINVAL, NULL, 0 },
	{ "tcp:127.0.0.1:", -EINVAL, NULL, 0 },
	{ "tcp::6000", -EINVAL, NULL, 0 },
	{ "tcp:127.0.0.1:0", -ERANGE, NULL, 0 },
	{ "tcp:127.0.0.1:65536", -ERANGE, NULL, 0 },
	{ "tcp:127.0.0.1:-1", -EINVAL, NULL, 0 },
	{ "tcp:::1:6000", -EINVAL, NULL, 0 },
	{ "tcp:[::1:6000", -EINVAL, NULL, 0 },
	{ "tcp:[::1]6000", -EINVAL, NULL, 0 },
	{ "tcp:[::g]:6000", -EINVAL, NULL, 0 },
	{ "tcp:[]:6000", -EINVAL, NULL, 0 },
	{ "tcp:bad_host:6000", -EINVAL, NULL, 0 },
	{ "tcp:bad host:6000", -EINVAL, NULL, 0 },
	{ "udp:127.0.0.1:6000", -EINVAL, NULL, 0 },
	{ "VSOCK:2:6000", -EINVAL, NULL, 0 },
	{ "/tmp/.X11-unix/X0", -EINVAL, NULL, 0 },
};

static void test_upstream_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(upstream_cases) / sizeof(upstream_cases[0]); i++) {
		const struct upstream_case *c = &upstream_cases[i];
		const char *why = NULL;
		struct addr a;
		int r = addr_parse(c->input, &a, &why);

		print_message("# %s -> %d (%s)\n", c->input, r, why ? why : "ok");
		assert_int_equal(r, c->expect);
		if (r < 0) {
			assert_non_null(why);
			assert_true(strlen(why) > 10);
			continue;
		}
		char buf[ADDR_FORMAT_MAX];
		assert_int_equal(addr_format(&a, buf, sizeof(buf)), 0);
		assert_string_equal(buf, c->formatted);
		assert_int_equal(a.warnings, c->warnings);
		/* What formats must parse back to the same address. */
		struct addr b;
		assert_int_equal(addr_parse(buf, &b, NULL), 0);
		assert_int_equal(a.sa_len, b.sa_len);
		assert_memory_equal(&a.sa, &b.sa, a.sa_len);
	}
}

/* The address of X410's own socat recipe for display 0:
 * SOCKET-CONNECT:40:0:x0000x70170000x02000000x00000000 */
static void test_vsock_bytes_match_recipe(void **state)
{
	static const uint8_t expect[16] = {
		40, 0,                  /* AF_VSOCK, little-endian */
		0x00, 0x00,             /* svm_reserved1 */
		0x70, 0x17, 0x00, 0x00, /* port 6000 */
		0x02, 0x00, 0x00, 0x00, /* CID 2 (host) */
		0x00, 0x00, 0x00, 0x00, /* svm_flags + svm_zero */
	};
	struct addr a;

	(void)state;
	addr_vsock(VMADDR_CID_HOST, addr_x410_port(0), &a);
	assert_int_equal(a.sa_len, sizeof(expect));
	assert_memory_equal(&a.sa.vm, expect, sizeof(expect));

	assert_int_equal(addr_parse("vsock:host:6000", &a, NULL), 0);
	assert_memory_equal(&a.sa.vm, expect, sizeof(expect));
}

static void test_unix_lengths(void **state)
{
	struct addr a;

	(void)state;
	/* Abstract names are exactly NUL + name, as libxcb connects. */
	assert_int_equal(addr_parse("unix:@/tmp/.X11-unix/X5", &a, NULL), 0);
	assert_true(a.abstract);
	assert_int_equal(a.sa_len, offsetof(struct sockaddr_un, sun_path) + 1 + strlen("/tmp/.X11-unix/X5"));
	assert_int_equal(a.sa.un.sun_path[0], 0);
	assert_memory_equal(a.sa.un.sun_path + 1, "/tmp/.X11-unix/X5", 17);

	assert_int_equal(addr_parse("unix:/tmp/.X11-unix/X5", &a, NULL), 0);
	assert_false(a.abstract);
	assert_int_equal(a.sa_len, offsetof(struct sockaddr_un, sun_path) + strlen("/tmp/.X11-unix/X5") + 1);

	/* 107 bytes fit, 108 do not. */
	char path[120] = "unix:/";
	memset(path + 6, 'a', 106);
	path[112] = 0;
	assert_int_equal(addr_parse(path, &a, NULL), 0);
	strcat(path, "a");
	assert_int_equal(addr_parse(path, &a, NULL), -ENAMETOOLONG);
}

static void test_tcp_bytes(void **state)
{
	struct addr a;

	(void)state;
	assert_int_equal(addr_parse("tcp:127.0.0.1:6000", &a, NULL), 0);
	assert_int_equal(a.sa.in.sin_family, AF_INET);
	assert_int_equal(ntohs(a.sa.in.sin_port), 6000);
	assert_int_equal(ntohl(a.sa.in.sin_addr.s_addr), 0x7f000001);

	assert_int_equal(addr_parse("tcp:[::1]:6001", &a, NULL), 0);
	assert_int_equal(a.sa.in6.sin6_family, AF_INET6);
	assert_int_equal(ntohs(a.sa.in6.sin6_port), 6001);
	assert_true(IN6_IS_ADDR_LOOPBACK(&a.sa.in6.sin6_addr));

	/* A name stays unresolved until addr_resolve(). */
	assert_int_equal(addr_parse("tcp:localhost:6002", &a, NULL), 0);
	assert_int_equal(a.sa_len, 0);
	assert_int_equal(addr_resolve(&a), 0);
	assert_true(a.sa_len > 0);
	assert_true(addr_family(&a) == AF_INET || addr_family(&a) == AF_INET6);
}

struct display_case {
	const char *input;
	int expect;
	unsigned display;
};

static const struct display_case display_cases[] = {
	{ ":0", 0, 0 },
	{ "0", 0, 0 },
	{ ":5", 0, 5 },
	{ "5", 0, 5 },
	{ ":5.0", 0, 5 },
	{ ":5.12", 0, 5 },
	{ ":65535", 0, 65535 },
	{ "65535", 0, 65535 },
	{ ":007", 0, 7 },
	{ "", -EINVAL, 0 },
	{ ":", -EINVAL, 0 },
	{ ":.0", -EINVAL, 0 },
	{ ":5.", -EINVAL, 0 },
	{ ":5.x", -EINVAL, 0 },
	{ ":5.0.0", -EINVAL, 0 },
	{ ":65536", -ERANGE, 0 },
	{ ":99999999999999999999", -ERANGE, 0 },
	{ ":-1", -EINVAL, 0 },
	{ ":+1", -EINVAL, 0 },
	{ ": 1", -EINVAL, 0 },
	{ ":1 ", -EINVAL, 0 },
	{ ":1x", -EINVAL, 0 },
	{ "localhost:5", -EINVAL, 0 },
	{ "::5", -EINVAL, 0 },
	{ "x", -EINVAL, 0 },
};

static void test_display_table(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(display_cases) / sizeof(display_cases[0]); i++) {
		const struct display_case *c = &display_cases[i];
		const char *why = NULL;
		unsigned d = 12345;
		int r = addr_parse_display(c->input, &d, &why);

		print_message("# '%s' -> %d (%s)\n", c->input, r, why ? why : "ok");
		assert_int_equal(r, c->expect);
		if (r == 0)
			assert_int_equal(d, c->display);
		else
			assert_non_null(why);
	}
}

static void test_display_paths(void **state)
{
	char buf[108];

	(void)state;
	assert_int_equal(addr_display_socket_path(5, X11_UNIX_DIR, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/.X11-unix/X5");
	assert_int_equal(addr_display_abstract_name(65535, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/.X11-unix/X65535");
	assert_int_equal(addr_display_lock_path(5, X11_LOCK_DIR, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/tmp/.X5-lock");
	assert_int_equal(addr_display_socket_path(5, "/run/user/1000/x", buf, sizeof(buf)), 0);
	assert_string_equal(buf, "/run/user/1000/x/X5");

	/* A socket directory too long for sun_path is an error, not a cut path. */
	char dir[200];
	memset(dir, 'd', sizeof(dir) - 1);
	dir[0] = '/';
	dir[sizeof(dir) - 1] = 0;
	assert_int_equal(addr_display_socket_path(5, dir, buf, sizeof(buf)), -ENAMETOOLONG);
	dir[103] = 0;  /* "/ddd…" 103 bytes + "/X5" = 106 < 108 */
	assert_int_equal(addr_display_socket_path(5, dir, buf, sizeof(buf)), 0);
	assert_int_equal(addr_display_socket_path(65535, dir, buf, sizeof(buf)), -ENAMETOOLONG);
}

static void test_x410_display(void **state)
{
	char guid[ADDR_GUID_MAX];
	const char *why;
	uint32_t m;

	(void)state;
	assert_int_equal(addr_parse_x410_display("0", &m, NULL), 0);
	assert_int_equal(m, 0);
	assert_int_equal(addr_x410_port(m), 6000);
	assert_int_equal(addr_parse_x410_display(":3", &m, NULL), 0);
	assert_int_equal(m, 3);
	assert_int_equal(addr_parse_x410_display("2147477647", &m, NULL), 0);
	assert_int_equal(addr_x410_port(m), 0x7FFFFFFF);
	/* Past 0x7FFFFFFF: not refused here, the kernel answers. */
	assert_int_equal(addr_parse_x410_display("2147477648", &m, NULL), 0);
	assert_int_equal(addr_x410_port(m), 0x80000000u);
	assert_int_equal(addr_parse_x410_display("4294961294", &m, NULL), 0);
	assert_int_equal(addr_x410_port(m), 0xFFFFFFFEu);
	assert_int_equal(addr_parse_x410_display("4294961295", &m, &why), -ERANGE);
	assert_non_null(why);
	assert_string_equal(why, "the X410 display number is out of range (0-4294961294)");
	assert_int_equal(addr_parse_x410_display("-1", &m, NULL), -EINVAL);
	assert_int_equal(addr_parse_x410_display("", &m, NULL), -EINVAL);
	assert_int_equal(addr_parse_x410_display("1e3", &m, NULL), -EINVAL);

	addr_service_guid(addr_x410_port(0), guid);
	assert_string_equal(guid, "00001770-FACB-11E6-BD58-64006A7986D3");
	addr_service_guid(addr_x410_port(5), guid);
	assert_string_equal(guid, "00001775-FACB-11E6-BD58-64006A7986D3");
	addr_service_guid(0x7FFFFFFF, guid);
	assert_string_equal(guid, "7FFFFFFF-FACB-11E6-BD58-64006A7986D3");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_upstream_table),
		cmocka_unit_test(test_vsock_bytes_match_recipe),
		cmocka_unit_test(test_unix_lengths),
		cmocka_unit_test(test_tcp_bytes),
		cmocka_unit_test(test_display_table),
		cmocka_unit_test(test_display_paths),
		cmocka_unit_test(test_x410_display),
	};

	return cmocka_run_group_tests_name("addr", tests, NULL, NULL);
}
