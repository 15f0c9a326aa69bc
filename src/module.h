/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Kernel modules through libkmod: is a module built in, loaded or loadable,
 * and load it with its dependencies.  Never logs: functions return -errno
 * (or a result enum) and libkmod's own messages are collected in the
 * context, for the caller to show at debug level if it wants.
 *
 * Every function takes the files it reads from a root directory: "" or "/"
 * (or NULL) is the running system, anything else a mounted image or a fake
 * root in the tests.  The root applies to /sys, /proc, /lib/modules and the
 * modprobe.d directories alike.
 */

#include <limits.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "macro.h"
#include "modules_load.h"

#define MODULE_NAME_MAX 64
#define MODULE_LOG_LINES 32
#define MODULE_LOG_LINE_MAX 256
#define MODULE_INSERTED_MAX 16

enum module_state {
	MODULE_STATE_BUILTIN,           /* compiled into the kernel */
	MODULE_STATE_LIVE,              /* loaded */
	MODULE_STATE_COMING,            /* being loaded right now */
	MODULE_STATE_GOING,             /* being unloaded right now */
	MODULE_STATE_LOADABLE,          /* a module file exists for this kernel */
	MODULE_STATE_MISSING,           /* no module file for this kernel */
	MODULE_STATE_NO_MODULES_DIR,    /* no /lib/modules/$(uname -r) at all (containers, WSL) */
	_MODULE_STATE_MAX,
};

struct module_ctx;

/* root: NULL, "" or "/" for the running system.  Reads uname() for the
 * kernel release.  Returns 0 or -errno.
 *
 * libkmod is loaded here (dlopen, see dlkmod.h), not linked.  Without it the
 * context is still made: module_state() answers from /sys/module for
 * built-in and loaded modules, and whatever needs libkmod's indexes returns
 * -EOPNOTSUPP; module_ctx_kmod_error() then gives the dynamic loader's
 * reason (NULL when libkmod is loaded), and module_ctx_modules_dir() is "". */
int module_ctx_new(const char *root, struct module_ctx **ret);
struct module_ctx *module_ctx_free(struct module_ctx *ctx);
static inline void module_ctx_freep(struct module_ctx **ctx) { module_ctx_free(*ctx); }
#define _cleanup_module_ctx_ _cleanup_(module_ctx_freep)

/* The root prefix as given ("" for the running system), the kernel release
 * (uname -r) and the modules directory libkmod uses (with the root). */
const char *module_ctx_root(const struct module_ctx *ctx);
const char *module_ctx_release(const struct module_ctx *ctx);
const char *module_ctx_modules_dir(const struct module_ctx *ctx);
const char *module_ctx_kmod_error(const struct module_ctx *ctx);

/* libkmod's messages since the context was made (also those kmod_new()
 * writes to stderr while it parses modprobe.d, caught here): the first
 * MODULE_LOG_LINES, without the trailing newline and with every control or
 * non-ASCII byte escaped (escape_text()), for the caller to show at debug
 * level; module_ctx_log_dropped() counts the others. */
size_t module_ctx_log_count(const struct module_ctx *ctx);
size_t module_ctx_log_dropped(const struct module_ctx *ctx);
const char *module_ctx_log_line(const struct module_ctx *ctx, size_t i);

/* A modprobe.d file that was not handed to libkmod because it is not a
 * regular file (a FIFO, on which libkmod's open() would block for ever; a
 * device; a socket; a directory) or cannot be looked at. */
#define MODULE_SKIPPED_MAX 16
struct module_skipped {
	char path[PATH_MAX];    /* with the root */
	int error;              /* -EBADFD, -EISDIR, -ENOENT, -errno */
	mode_t mode;            /* its type, 0 when unknown */
};

/* How many were skipped (all of them), and the first MODULE_SKIPPED_MAX. */
size_t module_ctx_skipped_count(const struct module_ctx *ctx);
const struct module_skipped *module_ctx_skipped(const struct module_ctx *ctx, size_t i);

struct module_info {
	enum module_state state;
	char name[MODULE_NAME_MAX];     /* normalized: '-' becomes '_' */
	char path[PATH_MAX];            /* the module file when LOADABLE (or LIVE and known), else "" */
};

/*
 * The state of module NAME, from <root>/sys/module/NAME first (initstate
 * "live", "coming" or "going"; a directory without initstate is a built-in
 * module: libkmod would call it "coming" when modules.builtin is absent),
 * then from libkmod's indexes under the modules directory.
 * Returns 0 or -errno.
 */
int module_state(struct module_ctx *ctx, const char *name, struct module_info *ret);
const char *module_state_to_string(enum module_state state);

enum module_load_result {
	MODULE_LOAD_DONE,               /* inserted now: report->inserted lists what, in order */
	MODULE_LOAD_ALREADY,            /* built in or already loaded: nothing to do */
	MODULE_LOAD_BLACKLISTED,        /* report->culprit is blacklisted (modprobe.d or the kernel command line) */
	MODULE_LOAD_INSTALL_COMMAND,    /* report->culprit has an "install" command in modprobe.d (report->command); not run */
};

enum {
	MODULE_LOAD_FLAG_DRY_RUN = 1 << 0,  /* decide and fill the report, insert nothing */
};

struct module_load_report {
	/* Modules inserted (or, in a dry run, that would be), dependencies first. */
	char inserted[MODULE_INSERTED_MAX][MODULE_NAME_MAX];
	size_t n_inserted;
	/* The module a BLACKLISTED / INSTALL_COMMAND result, or an insertion
	 * error, is about: NAME itself or one of its dependencies. */
	char culprit[MODULE_NAME_MAX];
	char command[256];
};

/*
 * Load NAME and its dependencies (libkmod's modules.dep), applying the
 * modprobe.d blacklist to NAME and to every dependency.  modprobe.d
 * "install" commands are never run (no shell is ever run): a module that has
 * one is reported as MODULE_LOAD_INSTALL_COMMAND instead.
 * Returns a module_load_result, or -errno from the kernel (-ENOENT: no
 * module file; -ENODEV, -EPERM, -EBUSY ... from init_module), with
 * report->culprit naming the module that failed.
 */
int module_load(struct module_ctx *ctx, const char *name, unsigned flags, struct module_load_report *report);

/*
 * Where NAME is blacklisted: the first "blacklist NAME" line in the
 * modprobe.d directories (in precedence order), or "modprobe.blacklist=" on
 * <root>/proc/cmdline (ret->path "/proc/cmdline", ret->line 0).
 * Returns 1 (found), 0 (not found) or -errno.
 */
int module_find_blacklist(const char *root, const char *name, struct modules_load_hit *ret);

/*
 * The first "KEYWORD NAME ..." line ("blacklist", "install", "options" ...)
 * of the modprobe.d directories under root, for saying where a setting comes
 * from.  ret->text is the line.  Returns 1, 0 or -errno.
 */
int module_find_modprobe_line(const char *root, const char *keyword, const char *name, struct modules_load_hit *ret);

/* "hv-sock" -> "hv_sock"; -ENAMETOOLONG when it does not fit. */
int module_name_normalize(const char *name, char *buf, size_t size);
