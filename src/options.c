/* SPDX-License-Identifier: MIT */
/*
 * The global options (-v, -q) as every command accepts them, and one
 * wording for the errors getopt_long reports.
 */
#include <string.h>

#include "commands.h"
#include "log.h"
#include "options.h"

bool options_global(int c)
{
	switch (c) {
	case 'v':
		log_set_max_level(LOG_DEBUG);
		return true;
	case 'q':
		log_set_max_level(LOG_ERR);
		return true;
	default:
		return false;
	}
}

/* The long option "--name[=value]" names, exactly or as the unique prefix
 * getopt_long accepts; NULL with *ret_matches counting the candidates. */
static const struct option *long_option(const struct option *options, const char *name, size_t len,
					unsigned *ret_matches)
{
	const struct option *found = NULL;
	unsigned n = 0;

	for (const struct option *o = options; o->name; o++) {
		if (strncmp(o->name, name, len) != 0)
			continue;
		if (strlen(o->name) == len) {
			*ret_matches = 1;
			return o;
		}
		found = o;
		n++;
	}
	*ret_matches = n;
	return n == 1 ? found : NULL;
}

int options_error(const char *command, const struct option *options, int c, char *argv[])
{
	/* getopt_long has moved optind past a long option it refused; a
	 * short one inside a cluster ("-vx") may leave it on the cluster, so
	 * the element before optind is a long option only when it names one
	 * whose value is optopt (or optopt is 0: no option matched). */
	const char *arg = optind > 0 ? argv[optind - 1] : NULL;

	if (arg && arg[0] == '-' && arg[1] == '-' && arg[2]) {
		const char *name = arg + 2;
		size_t len = strcspn(name, "=");
		unsigned matches = 0;
		const struct option *o = long_option(options, name, len, &matches);

		if (!o && optopt == 0) {
			if (matches > 1)
				return usage_error(command, "Option '--%.*s' is ambiguous", (int)len, name);
			return usage_error(command, "Unknown option '--%.*s'", (int)len, name);
		}
		if (o && o->val == optopt) {
			if (c == ':')
				return usage_error(command, "Option '--%s' needs an argument", o->name);
			if (o->has_arg == no_argument && name[len] == '=')
				return usage_error(command, "Option '--%s' takes no argument", o->name);
			return usage_error(command, "Unknown option '--%.*s'", (int)len, name);
		}
	}
	if (optopt > 0 && optopt < 0x80) {
		if (c == ':')
			return usage_error(command, "Option '-%c' needs an argument", optopt);
		return usage_error(command, "Unknown option '-%c'", optopt);
	}
	return usage_error(command, "Unknown option '%s'", arg ? arg : "?");
}
