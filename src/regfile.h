/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * The Windows side of the chain: X410 listens on VSOCK only for the displays
 * registered as Hyper-V guest communication services.  These functions parse
 * a list of X410 displays and print the registry file (or the PowerShell
 * commands) that registers them.  No logging: they return -errno and, for
 * the parser, a static sentence through ret_error.
 */

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "addr.h"

/* A .reg file for more displays than this is a typo, not a plan. */
#define REGFILE_DISPLAYS_MAX 64u

#define REGFILE_GCS_KEY "SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices"

struct regfile_displays {
	uint32_t display[REGFILE_DISPLAYS_MAX];  /* ascending, no duplicates */
	size_t n;
};

/* "0", "0-5", "0,2,7", "0-3,8": X410 display numbers, at most
 * REGFILE_DISPLAYS_MAX of them.  -EINVAL (junk, empty, reversed), -ERANGE
 * (a number above X410_DISPLAY_MAX) or -E2BIG (too many displays). */
int regfile_parse_range(const char *s, struct regfile_displays *ret, const char **ret_error);

/* The service key name of an X410 display, in lower case:
 * display 0 -> "00001770-facb-11e6-bd58-64006a7986d3". */
void regfile_service_key(uint32_t x410_display, char buf[static ADDR_GUID_MAX]);

/* Write the .reg file / the PowerShell commands, CRLF line endings.
 * Returns 0, or -EIO when the stream has an error. */
int regfile_write_reg(FILE *f, const struct regfile_displays *d);
int regfile_write_powershell(FILE *f, const struct regfile_displays *d);
