/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the regfile display range parser: no input may crash,
 * hang or read out of bounds; what parses is a bounded ascending set that
 * parses back to itself, and both writers can print it. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "regfile.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct regfile_displays d, e;
	char list[REGFILE_DISPLAYS_MAX * 12 + 1];
	const char *why = NULL;
	char *s = malloc(size + 1);
	size_t n = 0;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;
	if (regfile_parse_range(s, &d, &why) < 0) {
		if (!why)
			abort();
		free(s);
		return 0;
	}
	if (d.n == 0 || d.n > REGFILE_DISPLAYS_MAX)
		abort();
	for (size_t i = 0; i < d.n; i++) {
		if (d.display[i] > X410_DISPLAY_MAX || (i > 0 && d.display[i] <= d.display[i - 1]))
			abort();
		n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%u", i ? "," : "", d.display[i]);
	}
	if (regfile_parse_range(list, &e, NULL) != 0 || e.n != d.n ||
	    memcmp(e.display, d.display, d.n * sizeof(d.display[0])) != 0)
		abort();

	char *out = NULL;
	size_t out_size = 0;
	FILE *f = open_memstream(&out, &out_size);
	if (f) {
		if (regfile_write_reg(f, &d) != 0 || regfile_write_powershell(f, &d) != 0)
			abort();
		fclose(f);
		free(out);
	}
	free(s);
	return 0;
}
