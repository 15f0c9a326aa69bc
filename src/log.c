/* SPDX-License-Identifier: MIT */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include "commands.h"
#include "log.h"
#include "util.h"

static int log_max_level = LOG_INFO;
static const char *log_program = "x410-vsock";
/* -1: not looked at yet; 0: plain lines; 1: "<N>" syslog priority prefixes. */
static int log_journal = -1;
static log_sink_fn log_sink;

/*
 * systemd sets JOURNAL_STREAM=DEVICE:INODE when it connects stdout/stderr
 * to journald.  Only if stderr is still that very stream (not redirected by
 * a wrapper or a shell) does a "<N>" prefix reach journald, which strips it
 * and records N as the line's priority; anywhere else it would be noise.
 */
static int stderr_is_journal(void)
{
	const char *e = getenv("JOURNAL_STREAM");
	char dev_str[24];
	const char *colon;
	uint64_t dev, ino;
	struct stat st;

	if (!e || !(colon = strchr(e, ':')) || (size_t)(colon - e) >= sizeof(dev_str))
		return 0;
	memcpy(dev_str, e, (size_t)(colon - e));
	dev_str[colon - e] = 0;
	if (parse_uint64(dev_str, false, 0, UINT64_MAX, &dev) < 0 ||
	    parse_uint64(colon + 1, false, 0, UINT64_MAX, &ino) < 0)
		return 0;
	if (fstat(STDERR_FILENO, &st) < 0)
		return 0;
	return (uint64_t)st.st_dev == dev && (uint64_t)st.st_ino == ino;
}

void log_open(void)
{
	log_journal = stderr_is_journal();
}

/* "<3>" under journald, "" elsewhere. */
static const char *priority_prefix(int level, char buf[static 8])
{
	if (log_journal < 0)
		log_open();
	if (!log_journal)
		return "";
	(void)snprintf(buf, 8, "<%d>", level & LOG_PRIMASK);
	return buf;
}

void log_set_max_level(int level)
{
	log_max_level = level;
}

int log_get_max_level(void)
{
	return log_max_level;
}

void log_set_sink(log_sink_fn sink)
{
	log_sink = sink;
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
	char line[2048], prio[8];

	/* A sink gets the line without the program name: syslog and the log
	 * file put it (and the PID) in front themselves. */
	int n = log_sink ? snprintf(line, sizeof(line), "%s", level_prefix(level)) :
		snprintf(line, sizeof(line), "%s%s: %s", priority_prefix(level, prio), log_program, level_prefix(level));
	if (n < 0 || (size_t)n >= sizeof(line))
		n = 0;
	errno = error;  /* for %m */
	va_start(ap, format);
	(void)vsnprintf(line + n, sizeof(line) - (size_t)n, format, ap);
	va_end(ap);
	if (log_sink)
		log_sink(level, line);
	else
		fprintf(stderr, "%s\n", line);

	errno = saved_errno;
	return -error;
}

int usage_error(const char *command, const char *format, ...)
{
	char msg[1024], prio[8];
	const char *p = priority_prefix(LOG_ERR, prio);
	va_list ap;

	va_start(ap, format);
	(void)vsnprintf(msg, sizeof(msg), format, ap);
	va_end(ap);
	fprintf(stderr, "%s%s: ERROR: %s\n", p, log_program, msg);
	if (command)
		fprintf(stderr, "%sTry '%s %s --help'.\n", p, log_program, command);
	else
		fprintf(stderr, "%sTry '%s --help'.\n", p, log_program);
	return EXIT_USAGE;
}
