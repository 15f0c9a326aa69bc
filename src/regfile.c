/* SPDX-License-Identifier: MIT */
/*
 * x410-vsock regfile: print what registers X410 displays as Hyper-V guest
 * communication services on the Windows host, as a .reg file for regedit or
 * as commands for an elevated PowerShell.
 */
#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "commands.h"
#include "log.h"
#include "options.h"
#include "regfile.h"
#include "util.h"

#define RANGE_HINT "(expected N, N-M or a list like 0,2,7)"

static int fail(const char **ret_error, const char *why, int r)
{
	if (ret_error)
		*ret_error = why;
	return r;
}

/* One display number of a range item, [s, s + len). */
static int parse_number(const char *s, size_t len, uint32_t *ret, const char **ret_error)
{
	char buf[16];
	int r;

	if (len == 0)
		return fail(ret_error, "a display number is missing " RANGE_HINT, -EINVAL);
	if (len >= sizeof(buf)) {
		/* Too long for any display: out of range if it is a number at all. */
		for (size_t i = 0; i < len; i++)
			if (!isdigit((unsigned char)s[i]))
				return fail(ret_error, "a display number is not a number " RANGE_HINT, -EINVAL);
		return fail(ret_error, "a display number is out of range (0-4294961294)", -ERANGE);
	}
	memcpy(buf, s, len);
	buf[len] = 0;
	r = parse_uint32(buf, false, 0, X410_DISPLAY_MAX, ret);
	if (r == -ERANGE)
		return fail(ret_error, "a display number is out of range (0-4294961294)", r);
	if (r < 0)
		return fail(ret_error, "a display number is not a number " RANGE_HINT, r);
	return 0;
}

/* Insert into the ascending set; duplicates are dropped. */
static int add_display(struct regfile_displays *d, uint32_t m)
{
	size_t i = 0;

	while (i < d->n && d->display[i] < m)
		i++;
	if (i < d->n && d->display[i] == m)
		return 0;
	if (d->n >= REGFILE_DISPLAYS_MAX)
		return -E2BIG;
	memmove(d->display + i + 1, d->display + i, (d->n - i) * sizeof(d->display[0]));
	d->display[i] = m;
	d->n++;
	return 0;
}

int regfile_parse_range(const char *s, struct regfile_displays *ret, const char **ret_error)
{
	struct regfile_displays d = {};
	const char *item = s;

	if (!s || !*s)
		return fail(ret_error, "the range is empty " RANGE_HINT, -EINVAL);
	for (;;) {
		size_t len = strcspn(item, ",");
		const char *dash = memchr(item, '-', len);
		uint32_t first, last;
		int r;

		if (len == 0)
			return fail(ret_error, "the list has an empty item " RANGE_HINT, -EINVAL);
		r = parse_number(item, dash ? (size_t)(dash - item) : len, &first, ret_error);
		if (r < 0)
			return r;
		last = first;
		if (dash) {
			r = parse_number(dash + 1, len - (size_t)(dash - item) - 1, &last, ret_error);
			if (r < 0)
				return r;
			if (last < first)
				return fail(ret_error, "a range ends before it starts (expected N-M with N <= M)", -EINVAL);
		}
		/* Checked before the loop, so that 0-4294961294 costs nothing. */
		if (last - first >= REGFILE_DISPLAYS_MAX)
			return fail(ret_error, "the range covers more than 64 displays", -E2BIG);
		for (uint32_t m = first;; m++) {
			if (add_display(&d, m) < 0)
				return fail(ret_error, "the range covers more than 64 displays", -E2BIG);
			if (m == last)
				break;
		}
		if (!item[len])
			break;
		item += len + 1;
	}
	*ret = d;
	return 0;
}

void regfile_service_key(uint32_t x410_display, char buf[static ADDR_GUID_MAX])
{
	/*
	 * addr_service_guid() spells the GUID in upper case, as Windows prints
	 * GUIDs.  Registry key names are case-insensitive and Hyper-V parses the
	 * name as a GUID, so either case registers the same service; the key is
	 * written in lower case because that is how X410's guide and Microsoft's
	 * integration-service samples create it, so that a user who already
	 * followed them sees the same name in regedit instead of a second
	 * spelling of one key.
	 */
	addr_service_guid(addr_x410_port(x410_display), buf);
	for (char *p = buf; *p; p++)
		*p = (char)tolower((unsigned char)*p);
}

static void describe(const struct regfile_displays *d, char *buf, size_t size)
{
	bool contiguous = d->display[d->n - 1] - d->display[0] == d->n - 1;

	if (d->n == 1)
		(void)snprintf(buf, size, "display %u", d->display[0]);
	else if (contiguous)
		(void)snprintf(buf, size, "displays %u-%u", d->display[0], d->display[d->n - 1]);
	else
		(void)snprintf(buf, size, "%zu displays", d->n);
}

static int stream_status(FILE *f)
{
	return ferror(f) ? -EIO : 0;
}

/*
 * The format regedit exports and imports: the version line, a blank line,
 * then each key in brackets followed by its values and a blank line, with
 * CRLF line endings.  regedit itself exports UTF-16; it imports plain ASCII
 * as well, and everything here is ASCII.
 */
int regfile_write_reg(FILE *f, const struct regfile_displays *d)
{
	char what[64];

	describe(d, what, sizeof(what));
	fprintf(f, "Windows Registry Editor Version 5.00\r\n"
		   "\r\n"
		   "; x410-vsock: register X410 %s as Hyper-V guest communication services.\r\n"
		   "; Import as an administrator (double-click, or: reg import FILE),\r\n"
		   "; then start X410 with: x410 /listen hyperv\r\n", what);
	for (size_t i = 0; i < d->n; i++) {
		char key[ADDR_GUID_MAX];

		regfile_service_key(d->display[i], key);
		fprintf(f, "\r\n"
			   "[HKEY_LOCAL_MACHINE\\" REGFILE_GCS_KEY "\\%s]\r\n"
			   "\"ElementName\"=\"X410 Display %u\"\r\n", key, d->display[i]);
	}
	fputs("\r\n", f);
	return stream_status(f);
}

/*
 * The same keys for an elevated PowerShell.  New-Item is guarded by
 * Test-Path because -Force on a registry key would recreate it and drop what
 * else it holds; New-ItemProperty -Force just sets the value.  CRLF too, so
 * that the output saved as a .ps1 file reads right in any Windows editor.
 */
int regfile_write_powershell(FILE *f, const struct regfile_displays *d)
{
	char what[64];

	describe(d, what, sizeof(what));
	fprintf(f, "# x410-vsock: register X410 %s as Hyper-V guest communication services.\r\n"
		   "# Run in an elevated PowerShell (Run as administrator),\r\n"
		   "# then start X410 with: x410 /listen hyperv\r\n"
		   "$gcs = 'HKLM:\\" REGFILE_GCS_KEY "'\r\n", what);
	for (size_t i = 0; i < d->n; i++) {
		char key[ADDR_GUID_MAX];

		regfile_service_key(d->display[i], key);
		fprintf(f, "$key = \"$gcs\\%s\"\r\n"
			   "if (-not (Test-Path -Path $key)) { New-Item -Path $key | Out-Null }\r\n"
			   "New-ItemProperty -Path $key -Name 'ElementName' -PropertyType String -Value 'X410 Display %u' -Force | Out-Null\r\n",
			key, d->display[i]);
	}
	return stream_status(f);
}

static void help(void)
{
	printf("Usage: %s regfile [OPTIONS] [RANGE]\n"
	       "\n"
	       "Print the Windows registry file that registers X410 displays as Hyper-V\n"
	       "guest communication services, so that X410 accepts them over VSOCK.\n"
	       "RANGE is an X410 display (0), a range (0-5) or a list (0,2,7); default 0;\n"
	       "at most %u displays.  Import the file on Windows as an administrator,\n"
	       "then start X410 with 'x410 /listen hyperv'.\n"
	       "\n"
	       "Options:\n"
	       "  -p, --powershell   Print PowerShell commands instead (run them elevated)\n"
	       "  -h, --help         Show this help and exit\n"
	       "\n"
	       "Example: %s regfile 0-5 > x410-displays.reg\n",
	       program_invocation_short_name, REGFILE_DISPLAYS_MAX, program_invocation_short_name);
}

int cmd_regfile(int argc, char *argv[])
{
	static const struct option options[] = {
		OPTIONS_GLOBAL,
		{ "powershell", no_argument, NULL, 'p' },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	struct regfile_displays displays;
	const char *range = "0", *why = NULL;
	bool powershell = false;
	int c, r;

	/* getopt_long prints its own message for unknown options: keep ours. */
	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" OPTIONS_GLOBAL_SHORT "ph", options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		switch (c) {
		case 'p':
			powershell = true;
			break;
		case 'h':
			help();
			return EXIT_OK;
		default:
			return options_error("regfile", options, c, argv);
		}
	}
	if (optind < argc)
		range = argv[optind++];
	if (optind < argc)
		return usage_error("regfile", "Unexpected argument '%s' (give one RANGE, e.g. 0-5 or 0,2,7)", argv[optind]);

	r = regfile_parse_range(range, &displays, &why);
	if (r < 0)
		return usage_error("regfile", "Invalid X410 display range '%s': %s", range, why);

	errno = 0;
	r = powershell ? regfile_write_powershell(stdout, &displays) : regfile_write_reg(stdout, &displays);
	if (fflush(stdout) != 0 || r < 0) {
		r = errno > 0 ? -errno : -EIO;
		log_error_errno(r, "Failed to write the %s to standard output: %m",
				powershell ? "PowerShell commands" : "registry file");
		return EXIT_FAILED;
	}
	return EXIT_OK;
}
