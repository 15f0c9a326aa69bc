/* SPDX-License-Identifier: MIT */
/* libFuzzer target for every address parser: no input may crash, hang or
 * read out of bounds, and what parses must format and parse back the same. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1);
	char buf[ADDR_FORMAT_MAX];
	const char *why;
	struct addr a, b;
	unsigned d;
	uint32_t m;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	(void)addr_parse_display(s, &d, &why);
	(void)addr_parse_x410_display(s, &m, &why);
	if (addr_parse(s, &a, &why) == 0) {
		if (addr_format(&a, buf, sizeof(buf)) != 0)
			abort();
		if (addr_parse(buf, &b, &why) != 0)
			abort();
		if (a.sa_len != b.sa_len || memcmp(&a.sa, &b.sa, a.sa_len) != 0)
			abort();
	}
	free(s);
	return 0;
}
