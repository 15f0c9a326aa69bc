/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

/*
 * The one bounded number parser: decimal, or hexadecimal with a "0x" prefix
 * when allow_hex is set.  No sign, no white space, no trailing junk.
 * Returns 0, -EINVAL (not a number) or -ERANGE (outside [min, max]).
 */
int parse_uint64(const char *s, bool allow_hex, uint64_t min, uint64_t max, uint64_t *ret);
int parse_uint32(const char *s, bool allow_hex, uint32_t min, uint32_t max, uint32_t *ret);

/* Byte counts with an optional binary suffix: 4096, 64K, 64KiB, 1M, 1MiB. */
int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret);

/* Seconds with up to three decimals ("2", "0.5") into milliseconds. */
int parse_seconds_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ret_ms);

/* Copy src into dst of size n; -ENAMETOOLONG when it does not fit. */
int strcpy_bounded(char *dst, size_t n, const char *src);

/* snprintf that returns -ENAMETOOLONG instead of truncating. */
int snprintf_bounded(char *dst, size_t n, const char *format, ...) _printf_(3, 4);

bool startswith(const char *s, const char *prefix);

/* root + path into buf, for reading a system image or fake root below root
 * (NULL, "" or "/" mean the live system).  0 or -ENAMETOOLONG. */
int path_below_root(const char *root, const char *path, char *buf, size_t size);

/* Read the first line of a small file (without its newline); -errno on failure. */
int read_one_line(const char *path, char *buf, size_t size);
