/* SPDX-License-Identifier: MIT */
/*
 * vm-exit CODE: end the check-vm guest with a verdict.  qemu's
 * isa-debug-exit device (iobase 0xf4) makes qemu exit with status
 * (CODE << 1) | 1 when a byte is written to its port.  Debian kernels have
 * no /dev/port, so the write is an outb() after ioperm().  Static, and guest
 * only: on any other machine that port may belong to something else.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/io.h>

#include "guest-token.h"

#define DEBUG_EXIT_PORT 0xf4

int main(int argc, char *argv[])
{
	char *end;
	long code;

	if (argc != 2) {
		fprintf(stderr, "usage: vm-exit CODE (0-127)\n");
		return 2;
	}
	errno = 0;
	code = strtol(argv[1], &end, 10);
	if (errno || *end || end == argv[1] || code < 0 || code > 127) {
		fprintf(stderr, "vm-exit: bad code '%s' (0-127)\n", argv[1]);
		return 2;
	}
	if (!in_vm_guest()) {
		fprintf(stderr, "vm-exit: refusing to run: only inside the check-vm guest (no '%s' on the kernel command line)\n",
			GUEST_TOKEN);
		return 1;
	}
	if (ioperm(DEBUG_EXIT_PORT, 4, 1) < 0) {
		fprintf(stderr, "vm-exit: ioperm(0x%x): %s\n", DEBUG_EXIT_PORT, strerror(errno));
		return 1;
	}
	outb((unsigned char)code, DEBUG_EXIT_PORT);
	/* Still here: qemu has no isa-debug-exit device at that port. */
	fprintf(stderr, "vm-exit: no isa-debug-exit device at port 0x%x\n", DEBUG_EXIT_PORT);
	return 1;
}
