/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The X11 connection setup, as the first thing every X client does: send the
 * 12-byte setup request, read the server's reply (Success, Failed or
 * Authenticate).  Enough to tell that an X server is there and who it is.
 * The parser is pure (fuzzed in tests/fuzz/fuzz-x11setup.c); only
 * x11probe_handshake() does I/O.  No logging.
 */

#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define X11PROBE_REQUEST_SIZE 12
#define X11PROBE_HEADER_SIZE 8
/* The reply's length field counts 4-byte units in a CARD16. */
#define X11PROBE_REPLY_MAX (X11PROBE_HEADER_SIZE + 4u * 65535u)
#define X11PROBE_TEXT_MAX 256

enum x11probe_status {
	X11PROBE_FAILED = 0,
	X11PROBE_SUCCESS = 1,
	X11PROBE_AUTHENTICATE = 2,
};

struct x11probe_reply {
	enum x11probe_status status;
	uint16_t major, minor;          /* the server's protocol version */
	uint32_t release;               /* Success: the vendor's release number */
	char vendor[X11PROBE_TEXT_MAX]; /* Success: printable, truncated */
	char reason[X11PROBE_TEXT_MAX]; /* Failed/Authenticate: printable, truncated */
	unsigned screens;               /* Success */
	uint16_t width, height;         /* Success: the first screen, in pixels */
};

/* The setup request (little-endian, protocol 11.0, no authorization). */
void x11probe_request(uint8_t buf[static X11PROBE_REQUEST_SIZE]);

/* From the first 8 bytes of a reply: its total size in bytes.  -EAGAIN when
 * len < 8, -EBADMSG when the first byte is no known status. */
ssize_t x11probe_reply_size(const uint8_t *buf, size_t len);

/* Parse a whole reply (len at least x11probe_reply_size()).  Returns 0 or
 * -EBADMSG when the reply contradicts itself (fields beyond its length). */
int x11probe_parse_reply(const uint8_t *buf, size_t len, struct x11probe_reply *ret);

/* On a connected nonblocking fd: send the request and read and parse the
 * reply before deadline_ms (CLOCK_MONOTONIC).  Returns 0, -ETIMEDOUT,
 * -ENODATA when the server closed the connection before a whole reply
 * (-EPIPE or -ECONNRESET when it was gone before the request went out),
 * -EBADMSG for a malformed reply (not an X server?), or -errno. */
int x11probe_handshake(int fd, uint64_t deadline_ms, struct x11probe_reply *ret);
