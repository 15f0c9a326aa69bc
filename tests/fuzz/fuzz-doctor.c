/* SPDX-License-Identifier: MIT */
/* libFuzzer target for doctor's small parsers (kernel releases, osrelease
 * strings, DMI names) and display.c's (X lock files, /proc/net/unix lines).
 * None may crash or read out of bounds, and what they accept must be
 * consistent. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "display.h"
#include "doctor.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	char *s = malloc(size + 1), path[64];
	unsigned a, b, c;
	const char *split;
	bool listening;
	pid_t pid;
	int r;

	if (!s)
		return 0;
	memcpy(s, data, size);
	s[size] = 0;

	if (sysfacts_parse_kernel_release(s, &a, &b, &c) == 0 && (a > 255 || b > 255))
		abort();
	(void)sysfacts_classify_osrelease(s);
	/* The lock parser takes bytes, NULs included. */
	if (display_lock_parse((const char *)data, size, &pid) == 0 && pid <= 0)
		abort();
	r = display_unix_line_parse(s, &listening, path, sizeof(path));
	if (r == 1 && (strlen(path) >= sizeof(path) || strchr(path, '\n')))
		abort();
	split = strchr(s, '|');
	if (split) {
		*(char *)split = 0;
		(void)sysfacts_dmi_hypervisor(s, split + 1);
	}
	if (size >= 12)
		(void)sysfacts_cpuid_hypervisor((const char *)data);
	free(s);
	return 0;
}
