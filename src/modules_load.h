/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Boot-time module configuration: which file makes a module load at boot.
 *
 * modules-load.d(5): *.conf files in /etc/modules-load.d, /run/modules-load.d,
 * /usr/local/lib/modules-load.d, /usr/lib/modules-load.d (and /lib/modules-load.d
 * on split-/usr systems), in that precedence: a file in an earlier directory
 * replaces every file of the same name in the later ones, and the files that
 * remain are read in the order of their names.  One module name per line;
 * empty lines and lines whose first non-blank character is '#' or ';' are
 * comments.  A file that is a symbolic link to /dev/null masks its name.
 *
 * The same enumeration serves modprobe.d(5), which kmod reads with the same
 * override rule.  Nothing here logs.  Paths given out include the root.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

/* NULL-terminated directory lists, in precedence order (without a root),
 * of at most MODULES_LOAD_DIRS_MAX entries. */
#define MODULES_LOAD_DIRS_MAX 8
extern const char *const modules_load_dirs[];
extern const char *const modprobe_d_dirs[];

struct modules_load_hit {
	char path[PATH_MAX];    /* the file, with the root */
	unsigned line;          /* 1-based; 0 when not about a line */
	char text[256];         /* the line as written, without leading/trailing blanks */
};

/* One effective "*.conf" entry of a configuration directory. */
struct modules_load_file {
	const char *path;       /* as listed, with the root */
	const char *read_path;  /* what to read: path, or (under a root) the
				 * target of an absolute link inside the root */
	bool masked;            /* a symbolic link to /dev/null, or empty */
	int error;              /* 0, or why it must not be read: -EBADFD (not a
				 * regular file: a FIFO, a device, a socket),
				 * -EISDIR, -ENOENT (a dangling link), -errno */
	mode_t mode;            /* the type of what it is (or points to); 0 when unknown */
};

/*
 * Call fn(file, userdata) for every effective "*.conf" entry of dirs under
 * root, in the order they are read (sorted by name), including those that
 * cannot be read (file->error): an entry of an earlier directory replaces
 * every entry of the same name in the later ones, whatever it is.  Nothing
 * is opened here: entries are only looked at (lstat/stat), so that a FIFO or
 * a device is never opened.  Missing directories are skipped.  A negative
 * return from fn stops the walk and is returned; a positive one stops it and
 * 1 is returned.  Returns 0, 1 or -errno.
 */
int modules_load_conf_files(const char *root, const char *const *dirs,
			    int (*fn)(const struct modules_load_file *file, void *userdata), void *userdata);

/* A file that was not read: its path (with the root), why (-errno as
 * file_skip_reason() takes it) and its type. */
typedef void (*modules_load_skip_fn)(const char *path, int error, mode_t mode, void *userdata);

/*
 * Does the buffer (the contents of one modules-load.d file) list module NAME?
 * Names compare with '-' and '_' alike.  Returns the 1-based line number, or 0.
 * The matching line, trimmed, goes to ret_text when given.
 */
unsigned modules_load_buffer_lists(const char *buf, size_t len, const char *name, char *ret_text, size_t text_size);

/* The same for one file (following symbolic links); -errno when it cannot be read. */
int modules_load_file_lists(const char *path, const char *name, struct modules_load_hit *ret);

/*
 * Which modules-load.d file loads module NAME at boot: the first effective
 * file (in systemd's reading order) with a line naming it.
 * Returns 1 (found, *ret filled), 0 (no file loads it) or -errno.
 */
int modules_load_find(const char *root, const char *name, struct modules_load_hit *ret);
/* The same, telling on_skip (when not NULL) about every file that could not
 * be read: not a regular file, larger than 1 MiB, unreadable. */
int modules_load_find_full(const char *root, const char *name, modules_load_skip_fn on_skip, void *userdata,
			   struct modules_load_hit *ret);

/*
 * Is there an /etc/modules-style list (one module per line, optionally with
 * arguments after it; '#' comments) at path that loads NAME?
 * Returns 1, 0 or -errno (-ENOENT when the file does not exist).
 */
int modules_load_etc_modules_lists(const char *path, const char *name, struct modules_load_hit *ret);
/* The same; the type of what was found at path goes to *ret_mode. */
int modules_load_etc_modules_lists_full(const char *path, const char *name, struct modules_load_hit *ret,
					mode_t *ret_mode);

