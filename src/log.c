/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>

#include "commands.h"
#include "log.h"

static int log_max_level = LOG_INFO;
static const char *log_program = "x410-vsock";

void log_set_max_level(int level)
{
	log_max_level = level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

void log_set_program_name(const char *name)
{
	log_program = name;
}

static const char *level_prefix(int level)
{
	switch (level) {
	case LOG_EMERG:
	case LOG_ALERT:
	case LOG_CRIT:
	case LOG_ERR:
		return "ERROR: ";
	case LOG_WARNING:
		return "WARNING: ";
	case LOG_DEBUG:
		return "DEBUG: ";
	default:
		return "";
	}
}

int log_internal(int level, int error, const char *format, ...)
{
	int saved_errno = errno;
	va_list ap;

	error = abs(error);
	if (level > log_max_level) {
		errno = saved_errno;
		return -error;
	}

	/* One fprintf per line keeps lines whole when stderr is shared. */
	char line[2048];
	int n = snprintf(line, sizeof(line), "%s: %s", log_program, level_prefix(level));
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	errno = error;  /* for %m */
	va_start(ap, format);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, format, ap);
	va_end(ap);
	fprintf(stderr, "%s\n", line);

	errno = saved_errno;
	return -error;
}

int usage_error(const char *command, const char *format, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, format);
	(void)vsnprintf(msg, sizeof(msg), format, ap);
	va_end(ap);
	fprintf(stderr, "%s: ERROR: %s\n", log_program, msg);
	if (command)
		fprintf(stderr, "Try '%s %s --help'.\n", log_program, command);
	else
		fprintf(stderr, "Try '%s --help'.\n", log_program);
	return EXIT_USAGE;
}
