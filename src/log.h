/* SPDX-License-Identifier: MIT */
#pragma once

#include <syslog.h>

#include "macro.h"

/*
 * Logging for commands and the relay's top level only: parsers, module.c and
 * util.c return -errno and let their caller say what went wrong.
 *
 * Lines go to stderr as "x410-vsock: ERROR: ...", "x410-vsock: WARNING: ...",
 * "x410-vsock: ..." (notice/info) and "x410-vsock: DEBUG: ...".  "%m" in a
 * format expands to the error passed to the *_errno variants.
 *
 * Under systemd, when JOURNAL_STREAM names the stream stderr is connected
 * to, every line starts with its syslog priority ("<3>x410-vsock: ERROR:
 * ...") so that journald records its level.
 */

/* Look at JOURNAL_STREAM and stderr again (main() calls it first; logging
 * calls it by itself if nobody did). */
void log_open(void);

void log_set_max_level(int level);
int log_get_max_level(void);
void log_set_program_name(const char *name);

/* Send every line elsewhere (run --detach: syslog or a log file): the sink
 * gets the level and the line without the program name ("WARNING: ...").
 * NULL returns to stderr. */
typedef void (*log_sink_fn)(int level, const char *line);
void log_set_sink(log_sink_fn sink);

/* Returns -abs(error), so that "return log_error_errno(r, ...)" works. */
int log_internal(int level, int error, const char *format, ...) _printf_(3, 4);

#define log_full_errno(level, error, ...) log_internal((level), (error), __VA_ARGS__)
#define log_debug(...) log_internal(LOG_DEBUG, 0, __VA_ARGS__)
#define log_info(...) log_internal(LOG_INFO, 0, __VA_ARGS__)
#define log_notice(...) log_internal(LOG_NOTICE, 0, __VA_ARGS__)
#define log_warning(...) log_internal(LOG_WARNING, 0, __VA_ARGS__)
#define log_error(...) log_internal(LOG_ERR, 0, __VA_ARGS__)
#define log_debug_errno(e, ...) log_internal(LOG_DEBUG, (e), __VA_ARGS__)
#define log_info_errno(e, ...) log_internal(LOG_INFO, (e), __VA_ARGS__)
#define log_warning_errno(e, ...) log_internal(LOG_WARNING, (e), __VA_ARGS__)
#define log_error_errno(e, ...) log_internal(LOG_ERR, (e), __VA_ARGS__)
