/* SPDX-License-Identifier: MIT */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/types.h>

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

/*
 * Open a file for reading only when it is a regular file.  Opening a FIFO
 * blocks until a writer comes, and opening a device node can act on the
 * device, so the type is checked before the open (stat, or lstat with
 * O_NOFOLLOW in flags) and again on the descriptor (fstat: it may have been
 * replaced meanwhile); the open itself is non-blocking.  flags may add
 * O_NOFOLLOW, for files in directories that others can write to; files of
 * /etc, /usr and the like may be symbolic links and are followed.
 * Returns the fd (O_CLOEXEC), -EISDIR for a directory, -EBADFD for anything
 * else that is not a regular file, -ELOOP for a symbolic link with
 * O_NOFOLLOW, or -errno.  The type found goes to *ret_mode when given
 * (0 when unknown).
 */
int open_regular(const char *path, int flags, mode_t *ret_mode);

/* The same through stdio ("re"). */
int fopen_regular(const char *path, FILE **ret, mode_t *ret_mode);

/* "a FIFO", "a socket", "a directory" ...: for messages about mode's type. */
const char *file_type_name(mode_t mode);

/* Why a file was not read, as a short phrase: "a FIFO, not a regular file",
 * "larger than 1 MiB", or strerror().  error is -errno from open_regular()
 * or a reader; mode the type it found. */
const char *file_skip_reason(int error, mode_t mode, char *buf, size_t size);

/*
 * Copy len bytes of src to dst (size bytes, NUL-terminated) with every byte
 * that is not printable ASCII written as \xHH and '\\' as "\\\\": text from
 * a hostile file or library cannot move the cursor, change colours or forge
 * log lines.  Truncated to fit, ending in "..." when cut.  Returns dst.
 */
char *escape_text(const char *src, size_t len, char *dst, size_t size);

/* Read the first line of a small regular file (without its newline); -errno
 * on failure (see open_regular() for what is not a regular file). */
int read_one_line(const char *path, char *buf, size_t size);
