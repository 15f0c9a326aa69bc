/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The guest-only helpers of check-vm (vm-exit, vsock-peer, module-probe)
 * refuse to run anywhere else: they write to an I/O port, open AF_VSOCK
 * sockets or load kernel modules.  The guest's kernel command line carries
 * a token that no real system has.
 */

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define GUEST_TOKEN "x410_vm_guest=1"

static inline bool in_vm_guest(void)
{
	char line[4096] = "";
	FILE *f = fopen("/proc/cmdline", "re");

	if (f) {
		if (!fgets(line, sizeof(line), f))
			line[0] = 0;
		fclose(f);
	}
	for (char *tok = strtok(line, " \n"); tok; tok = strtok(NULL, " \n"))
		if (strcmp(tok, GUEST_TOKEN) == 0)
			return true;
	return false;
}
