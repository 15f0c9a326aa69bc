/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the X11 connection setup reply parser: no reply a
 * server (or whatever listens on the port) sends may crash it or make it
 * read out of bounds; what it accepts is printable and within the reply. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "x11probe.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	size_t n = strlen(s);

	if (n >= X11PROBE_TEXT_MAX)
		abort();
	for (size_t i = 0; i < n; i++)
		if (s[i] < 0x20 || s[i] > 0x7e)
			abort();
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	/* A copy of exactly size bytes, so that ASan sees any overread. */
	uint8_t *buf = malloc(size ? size : 1);
	struct x11probe_reply r;
	ssize_t want;

	if (!buf)
		return 0;
	memcpy(buf, data, size);
	want = x11probe_reply_size(buf, size);
	if (x11probe_parse_reply(buf, size, &r) == 0) {
		if (want < 0 || (size_t)want > size || (size_t)want > X11PROBE_REPLY_MAX)
			abort();
		if (r.status != X11PROBE_SUCCESS && r.status != X11PROBE_FAILED && r.status != X11PROBE_AUTHENTICATE)
			abort();
		check_text(r.vendor);
		check_text(r.reason);
		if (r.status != X11PROBE_SUCCESS && (r.vendor[0] || r.screens))
			abort();
	}
	free(buf);
	return 0;
}
