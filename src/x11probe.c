/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>

#include "macro.h"
#include "upstream.h"
#include "x11probe.h"

/* We ask for little-endian ('l'), so every number in the reply is too,
 * whatever the host's byte order. */
static uint16_t get16(const uint8_t *p)
{
	return (uint16_t)(p[0] | p[1] << 8);
}

static uint32_t get32(const uint8_t *p)
{
	return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static size_t pad4(size_t n)
{
	return (n + 3u) & ~(size_t)3u;
}

void x11probe_request(uint8_t buf[static X11PROBE_REQUEST_SIZE])
{
	memset(buf, 0, X11PROBE_REQUEST_SIZE);
	buf[0] = 'l';           /* byte order: least significant byte first */
	buf[2] = 11;            /* protocol-major-version (CARD16) */
	buf[4] = 0;             /* protocol-minor-version */
	/* authorization-protocol-name and -data lengths stay 0: no cookie.
	 * A server that wants one answers Failed or Authenticate, which is
	 * still proof that it is there. */
}

ssize_t x11probe_reply_size(const uint8_t *buf, size_t len)
{
	if (len < X11PROBE_HEADER_SIZE)
		return -EAGAIN;
	if (buf[0] > X11PROBE_AUTHENTICATE)
		return -EBADMSG;
	return (ssize_t)(X11PROBE_HEADER_SIZE + 4u * (size_t)get16(buf + 6));
}

/* Copy a server string for display: printable ASCII kept, anything else
 * as '?', trailing NULs (padding) and line ends dropped (Xorg's reasons end
 * in "\n"), truncated to fit. */
static void copy_text(char *dst, const uint8_t *src, size_t n)
{
	size_t i;

	while (n > 0 && (src[n - 1] == 0 || src[n - 1] == '\n' || src[n - 1] == '\r' || src[n - 1] == ' '))
		n--;
	n = MIN(n, (size_t)X11PROBE_TEXT_MAX - 1);
	for (i = 0; i < n; i++)
		dst[i] = (src[i] >= 0x20 && src[i] < 0x7f) ? (char)src[i] : '?';
	dst[i] = 0;
}

int x11probe_parse_reply(const uint8_t *buf, size_t len, struct x11probe_reply *ret)
{
	ssize_t size = x11probe_reply_size(buf, len);
	size_t total, vendor_len, formats, screen;

	if (size < 0)
		return size == -EAGAIN ? -EBADMSG : (int)size;
	total = (size_t)size;
	if (len < total)
		return -EBADMSG;

	memset(ret, 0, sizeof(*ret));
	ret->status = (enum x11probe_status)buf[0];
	ret->major = get16(buf + 2);
	ret->minor = get16(buf + 4);

	switch (ret->status) {
	case X11PROBE_FAILED:
		/* byte 1: length of the reason, which follows the header. */
		if (X11PROBE_HEADER_SIZE + (size_t)buf[1] > total)
			return -EBADMSG;
		copy_text(ret->reason, buf + X11PROBE_HEADER_SIZE, buf[1]);
		return 0;

	case X11PROBE_AUTHENTICATE:
		/* The reason fills the additional data; the version fields are
		 * unused here. */
		ret->major = ret->minor = 0;
		copy_text(ret->reason, buf + X11PROBE_HEADER_SIZE, total - X11PROBE_HEADER_SIZE);
		return 0;

	case X11PROBE_SUCCESS:
		break;
	}

	/* Success: 32 fixed bytes after the header, then the vendor (padded),
	 * the pixmap formats (8 bytes each), then the screens. */
	if (total < 40)
		return -EBADMSG;
	ret->release = get32(buf + 8);
	vendor_len = get16(buf + 24);
	ret->screens = buf[28];
	formats = buf[29];
	if (40 + pad4(vendor_len) > total)
		return -EBADMSG;
	copy_text(ret->vendor, buf + 40, vendor_len);
	screen = 40 + pad4(vendor_len) + 8 * formats;
	if (screen > total)
		return -EBADMSG;
	if (ret->screens > 0) {
		/* SCREEN: root, colormap, white, black, input masks (4 bytes
		 * each), then width and height in pixels (CARD16 each); 40
		 * bytes before its list of depths. */
		if (screen + 40 > total)
			return -EBADMSG;
		ret->width = get16(buf + screen + 20);
		ret->height = get16(buf + screen + 22);
	}
	return 0;
}

static int send_all(int fd, const uint8_t *p, size_t n, uint64_t deadline_ms)
{
	while (n > 0) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			int r = upstream_wait(fd, POLLOUT, deadline_ms);

			if (r < 0)
				return r;
			continue;
		}
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

/* Read until buf holds want bytes. */
static int recv_until(int fd, uint8_t *buf, size_t *have, size_t want, uint64_t deadline_ms)
{
	while (*have < want) {
		ssize_t k = recv(fd, buf + *have, want - *have, 0);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0 && errno == EAGAIN) {
			int r = upstream_wait(fd, POLLIN, deadline_ms);

			if (r < 0)
				return r;
			continue;
		}
		if (k < 0)
			return -errno;
		if (k == 0)
			return -ENODATA;
		*have += (size_t)k;
	}
	return 0;
}

int x11probe_handshake(int fd, uint64_t deadline_ms, struct x11probe_reply *ret)
{
	uint8_t request[X11PROBE_REQUEST_SIZE];
	_cleanup_free_ uint8_t *buf = NULL;
	size_t have = 0;
	ssize_t size;
	int r;

	x11probe_request(request);
	r = send_all(fd, request, sizeof(request), deadline_ms);
	if (r < 0)
		return r;

	buf = malloc(X11PROBE_REPLY_MAX);
	if (!buf)
		return -ENOMEM;
	r = recv_until(fd, buf, &have, X11PROBE_HEADER_SIZE, deadline_ms);
	if (r < 0)
		return r;
	size = x11probe_reply_size(buf, have);
	if (size < 0)
		return (int)size;
	r = recv_until(fd, buf, &have, (size_t)size, deadline_ms);
	if (r < 0)
		return r;
	return x11probe_parse_reply(buf, have, ret);
}
