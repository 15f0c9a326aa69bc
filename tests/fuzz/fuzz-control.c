/* SPDX-License-Identifier: MIT */
/* libFuzzer target for the relay's status reply (control_status_parse): no
 * input may crash, hang or read out of bounds; what parses is printed again
 * by control_status_format and parses back to the same values. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "control.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct control_status a, b;
	char buf[CONTROL_REPLY_MAX * 2];
	int n;

	if (control_status_parse((const char *)data, size, &a) < 0)
		return 0;
	if (a.pid <= 0 || !a.served[0] || !a.upstream[0] || !a.engine[0])
		abort();
	n = control_status_format(&a, buf, sizeof(buf));
	if (n < 0 || control_status_parse(buf, (size_t)n, &b) != 0 || memcmp(&a, &b, sizeof(a)) != 0)
		abort();
	return 0;
}
