/* SPDX-License-Identifier: MIT */
#include <arpa/inet.h>
#include <errno.h>
#include <netdb.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include "addr.h"
#include "util.h"

#define SUN_PATH_MAX (sizeof(((struct sockaddr_un *)0)->sun_path))

static int fail(const char **ret_error, const char *why, int r)
{
	if (ret_error)
		*ret_error = why;
	return r;
}

int addr_parse_display(const char *s, unsigned *ret_display, const char **ret_error)
{
	char number[16];
	const char *dot;
	uint32_t n, screen;
	size_t len;
	int r;

	if (!s || !*s)
		return fail(ret_error, "the display is empty (expected :N, e.g. :5)", -EINVAL);
	if (s[0] == ':')
		s++;
	else if (strchr(s, ':'))
		return fail(ret_error, "only local displays can be served (expected :N, e.g. :5)", -EINVAL);
	dot = strchr(s, '.');
	len = dot ? (size_t)(dot - s) : strlen(s);
	if (len == 0)
		return fail(ret_error, "the display number is missing (expected :N, e.g. :5)", -EINVAL);
	if (len >= sizeof(number))
		return fail(ret_error, "the display number is out of range (0-65535)", -ERANGE);
	memcpy(number, s, len);
	number[len] = 0;
	r = parse_uint32(number, false, 0, DISPLAY_MAX, &n);
	if (r == -ERANGE)
		return fail(ret_error, "the display number is out of range (0-65535)", r);
	if (r < 0)
		return fail(ret_error, "the display number is not a number (expected :N, e.g. :5)", r);
	if (dot) {
		/* The screen is X's business, not ours: checked, then ignored. */
		r = parse_uint32(dot + 1, false, 0, DISPLAY_MAX, &screen);
		if (r < 0)
			return fail(ret_error, "the screen number after '.' is not a number in 0-65535", r);
	}
	*ret_display = n;
	return 0;
}

int addr_display_socket_path(unsigned display, const char *dir, char *buf, size_t size)
{
	char path[SUN_PATH_MAX];
	int r;

	r = snprintf_bounded(path, sizeof(path), "%s/X%u", dir, display);
	if (r < 0)
		return r;
	return strcpy_bounded(buf, size, path);
}

int addr_display_abstract_name(unsigned display, char *buf, size_t size)
{
	/* The abstract name is always the default path, whatever the socket
	 * directory: that is the name libxcb tries. */
	return addr_display_socket_path(display, X11_UNIX_DIR, buf, size);
}

int addr_display_lock_path(unsigned display, const char *dir, char *buf, size_t size)
{
	int r = snprintf_bounded(buf, size, "%s/.X%u-lock", dir, display);

	return r < 0 ? r : 0;
}

int addr_parse_x410_display(const char *s, uint32_t *ret_display, const char **ret_error)
{
	int r;

	if (s && s[0] == ':')
		s++;
	r = parse_uint32(s, false, 0, X410_DISPLAY_MAX, ret_display);
	if (r == -ERANGE)
		return fail(ret_error, "the X410 display number is out of range (0-4294961294)", r);
	if (r < 0)
		return fail(ret_error, "the X410 display number is not a number", r);
	return 0;
}

uint32_t addr_x410_port(uint32_t x410_display)
{
	return X410_PORT_BASE + x410_display;
}

void addr_service_guid(uint32_t port, char buf[static ADDR_GUID_MAX])
{
	(void)snprintf(buf, ADDR_GUID_MAX, "%08X-FACB-11E6-BD58-64006A7986D3", port);
}

void addr_vsock(uint32_t cid, uint32_t port, struct addr *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->kind = ADDR_VSOCK;
	ret->sa.vm.svm_family = AF_VSOCK;
	ret->sa.vm.svm_cid = cid;
	ret->sa.vm.svm_port = port;
	ret->sa_len = sizeof(struct sockaddr_vm);
	if (cid != VMADDR_CID_HOST)
		ret->warnings |= ADDR_WARN_HVSOCK_CID;
}

static int parse_vsock(const char *s, struct addr *ret, const char **ret_error)
{
	const char *colon = strchr(s, ':');
	char cid_str[16];
	uint32_t cid, port;
	size_t len;
	int r;

	if (!colon)
		return fail(ret_error, "expected vsock:CID:PORT", -EINVAL);
	len = (size_t)(colon - s);
	if (len == 0)
		return fail(ret_error, "the vsock CID is empty (expected host, local or a number)", -EINVAL);
	if (len >= sizeof(cid_str))
		return fail(ret_error, "the vsock CID is out of range (0-4294967294)", -ERANGE);
	memcpy(cid_str, s, len);
	cid_str[len] = 0;
	if (streq(cid_str, "host"))
		cid = VMADDR_CID_HOST;
	else if (streq(cid_str, "local"))
		cid = VMADDR_CID_LOCAL;
	else {
		r = parse_uint32(cid_str, true, 0, VSOCK_CID_MAX, &cid);
		if (r == -ERANGE)
			return fail(ret_error, "the vsock CID is out of range (0-4294967294)", r);
		if (r < 0)
			return fail(ret_error, "the vsock CID is not 'host', 'local' or a number", r);
	}
	if (!colon[1])
		return fail(ret_error, "the vsock port is empty", -EINVAL);
	r = parse_uint32(colon + 1, true, 0, VSOCK_PORT_MAX, &port);
	if (r == -ERANGE)
		return fail(ret_error, "the vsock port is out of range (0-4294967294)", r);
	if (r < 0)
		return fail(ret_error, "the vsock port is not a number", r);
	addr_vsock(cid, port, ret);
	return 0;
}

int addr_unix(const char *path, struct addr *ret)
{
	size_t len = strlen(path);

	memset(ret, 0, sizeof(*ret));
	ret->kind = ADDR_UNIX;
	ret->sa.un.sun_family = AF_UNIX;
	if (path[0] == '@') {
		/* Abstract: a leading NUL and exactly the name's bytes, no
		 * trailing NUL, the way libxcb and X servers spell it. */
		len--;
		if (len == 0)
			return -EINVAL;
		if (len > SUN_PATH_MAX - 1)
			return -ENAMETOOLONG;
		memcpy(ret->sa.un.sun_path + 1, path + 1, len);
		ret->abstract = true;
		ret->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + 1 + len);
		return 0;
	}
	if (len == 0)
		return -EINVAL;
	if (len > SUN_PATH_MAX - 1)
		return -ENAMETOOLONG;
	memcpy(ret->sa.un.sun_path, path, len + 1);
	ret->sa_len = (socklen_t)(offsetof(struct sockaddr_un, sun_path) + len + 1);
	return 0;
}

static int parse_unix(const char *s, struct addr *ret, const char **ret_error)
{
	int r = addr_unix(s, ret);

	if (r == -ENAMETOOLONG)
		return fail(ret_error, "the socket path is too long (at most 107 bytes)", r);
	if (r < 0)
		return fail(ret_error, "the socket path is empty", r);
	return 0;
}

static bool valid_host_name(const char *h)
{
	size_t len = strlen(h);

	if (len == 0 || len > 253)
		return false;
	for (; *h; h++)
		if (!((*h >= 'a' && *h <= 'z') || (*h >= 'A' && *h <= 'Z') ||
		      (*h >= '0' && *h <= '9') || *h == '-' || *h == '.'))
			return false;
	return true;
}

static int parse_tcp(const char *s, struct addr *ret, const char **ret_error)
{
	char host[256];
	const char *port_str;
	uint32_t port;
	size_t len;
	int r;

	memset(ret, 0, sizeof(*ret));
	if (s[0] == '[') {
		const char *end = strchr(s, ']');

		if (!end)
			return fail(ret_error, "the IPv6 address has no closing ']'", -EINVAL);
		if (end[1] != ':')
			return fail(ret_error, "expected tcp:[IPV6]:PORT", -EINVAL);
		len = (size_t)(end - s - 1);
		if (len == 0 || len >= sizeof(host))
			return fail(ret_error, "the IPv6 address is empty or too long", -EINVAL);
		memcpy(host, s + 1, len);
		host[len] = 0;
		port_str = end + 2;
		if (inet_pton(AF_INET6, host, &ret->sa.in6.sin6_addr) != 1)
			return fail(ret_error, "the IPv6 address is not valid", -EINVAL);
		ret->sa.in6.sin6_family = AF_INET6;
		ret->sa_len = sizeof(struct sockaddr_in6);
	} else {
		const char *colon = strrchr(s, ':');

		if (!colon)
			return fail(ret_error, "expected tcp:HOST:PORT", -EINVAL);
		len = (size_t)(colon - s);
		if (memchr(s, ':', len))
			return fail(ret_error, "an IPv6 address needs brackets (tcp:[::1]:6000)", -EINVAL);
		if (len == 0)
			return fail(ret_error, "the host is empty (expected tcp:HOST:PORT)", -EINVAL);
		if (len >= sizeof(host))
			return fail(ret_error, "the host name is too long", -ENAMETOOLONG);
		memcpy(host, s, len);
		host[len] = 0;
		port_str = colon + 1;
		if (inet_pton(AF_INET, host, &ret->sa.in.sin_addr) == 1) {
			ret->sa.in.sin_family = AF_INET;
			ret->sa_len = sizeof(struct sockaddr_in);
		} else if (!valid_host_name(host))
			return fail(ret_error, "the host is not an IP address or a valid host name", -EINVAL);
	}
	if (!*port_str)
		return fail(ret_error, "the TCP port is empty", -EINVAL);
	r = parse_uint32(port_str, false, 1, 65535, &port);
	if (r == -ERANGE)
		return fail(ret_error, "the TCP port is out of range (1-65535)", r);
	if (r < 0)
		return fail(ret_error, "the TCP port is not a number", r);
	if (ret->sa_len == sizeof(struct sockaddr_in))
		ret->sa.in.sin_port = htons((uint16_t)port);
	else if (ret->sa_len == sizeof(struct sockaddr_in6))
		ret->sa.in6.sin6_port = htons((uint16_t)port);
	ret->kind = ADDR_TCP;
	ret->port = (uint16_t)port;
	memcpy(ret->host, host, strlen(host) + 1);
	return 0;
}

int addr_parse(const char *s, struct addr *ret, const char **ret_error)
{
	if (!s || !*s)
		return fail(ret_error, "the address is empty (expected vsock:CID:PORT, unix:PATH or tcp:HOST:PORT)", -EINVAL);
	if (startswith(s, "vsock:"))
		return parse_vsock(s + 6, ret, ret_error);
	if (startswith(s, "unix:"))
		return parse_unix(s + 5, ret, ret_error);
	if (startswith(s, "tcp:"))
		return parse_tcp(s + 4, ret, ret_error);
	return fail(ret_error, "unknown address type (expected vsock:CID:PORT, unix:PATH or tcp:HOST:PORT)", -EINVAL);
}

int addr_format(const struct addr *a, char *buf, size_t size)
{
	int r;

	switch (a->kind) {
	case ADDR_VSOCK:
		r = snprintf_bounded(buf, size, "vsock:%u:%u", a->sa.vm.svm_cid, a->sa.vm.svm_port);
		break;
	case ADDR_UNIX:
		if (a->abstract) {
			size_t len = a->sa_len - offsetof(struct sockaddr_un, sun_path) - 1;

			r = snprintf_bounded(buf, size, "unix:@%.*s", (int)len, a->sa.un.sun_path + 1);
		} else
			r = snprintf_bounded(buf, size, "unix:%s", a->sa.un.sun_path);
		break;
	case ADDR_TCP:
		r = snprintf_bounded(buf, size, strchr(a->host, ':') ? "tcp:[%s]:%u" : "tcp:%s:%u",
				     a->host, a->port);
		break;
	default:
		return -EINVAL;
	}
	return r < 0 ? r : 0;
}

int addr_family(const struct addr *a)
{
	return a->sa_len > 0 ? a->sa.sa.sa_family : AF_UNSPEC;
}

int addr_resolve(struct addr *a)
{
	return addr_resolve_why(a, NULL);
}

int addr_resolve_why(struct addr *a, const char **ret_why)
{
	struct addrinfo hints = { .ai_socktype = SOCK_STREAM, .ai_flags = AI_ADDRCONFIG };
	struct addrinfo *res = NULL;
	int r;

	if (ret_why)
		*ret_why = NULL;
	if (a->kind != ADDR_TCP || a->sa_len > 0)
		return 0;
	r = getaddrinfo(a->host, NULL, &hints, &res);
	if (r == EAI_SYSTEM)
		return -errno;
	if (r != 0 || !res) {
		/* The resolver's own words ("Name or service not known"):
		 * EHOSTUNREACH alone would read "No route to host". */
		if (ret_why)
			*ret_why = r != 0 ? gai_strerror(r) : "no address";
		return -EHOSTUNREACH;
	}
	if (res->ai_addrlen > sizeof(a->sa)) {
		freeaddrinfo(res);
		return -EINVAL;
	}
	memcpy(&a->sa, res->ai_addr, res->ai_addrlen);
	a->sa_len = res->ai_addrlen;
	if (a->sa.sa.sa_family == AF_INET)
		a->sa.in.sin_port = htons(a->port);
	else
		a->sa.in6.sin6_port = htons(a->port);
	freeaddrinfo(res);
	return 0;
}
