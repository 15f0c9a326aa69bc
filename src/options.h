/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What every command's option parsing shares: the global options that are
 * accepted on either side of the command (x410-vsock -v run, x410-vsock run
 * -v), and the one wording of getopt_long's errors.
 */

#include <getopt.h>
#include <stdbool.h>

/* The short options of OPTIONS_GLOBAL, for a command's optstring. */
#define OPTIONS_GLOBAL_SHORT "vq"
/* Its rows, for a command's struct option table. */
#define OPTIONS_GLOBAL \
	{ "verbose", no_argument, NULL, 'v' }, \
	{ "quiet", no_argument, NULL, 'q' }

/* c is 'v' or 'q': sets the log level (-v: debug, -q: errors only; the
 * last one given wins).  Returns true when c was one of them. */
bool options_global(int c);

/* getopt_long returned c, '?' or ':', for the element(s) before optind of
 * argv: prints the one-line error and the Try line of command (NULL: the
 * program itself) and returns EXIT_USAGE.  The wording is the same for
 * every command:
 *   Unknown option '-x' / Unknown option '--bogus'
 *   Option '--no' is ambiguous
 *   Option '--undo' takes no argument
 *   Option '--connect' needs an argument
 * getopt must run with opterr = 0 and an optstring that starts with ':'
 * (after any '+'). */
int options_error(const char *command, const struct option *options, int c, char *argv[]);
