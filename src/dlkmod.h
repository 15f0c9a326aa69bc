/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * libkmod, loaded with dlopen() on first use instead of linked: only doctor
 * and setup need it, and linking it maps libkmod, libcrypto, libzstd and
 * liblzma into every relay process (about 1.7 MB of PSS for nothing).  The
 * headers still give the types and, through typeof(), the exact prototype of
 * each pointer below, so a mismatch with libkmod.h does not compile.
 * module.c is the only user.
 */

#include <libkmod.h>

#define DLKMOD_SONAME "libkmod.so.2"

/* Every libkmod function module.c calls: X(name) once each.  The pointer
 * declarations here, their definitions and dlkmod.c's table of names are
 * generated from this one list. */
#define DLKMOD_SYMBOLS(X) \
	X(kmod_new) \
	X(kmod_unref) \
	X(kmod_set_log_fn) \
	X(kmod_set_log_priority) \
	X(kmod_get_dirname) \
	X(kmod_list_next) \
	X(kmod_module_new_from_lookup) \
	X(kmod_module_get_module) \
	X(kmod_module_get_name) \
	X(kmod_module_get_path) \
	X(kmod_module_get_initstate) \
	X(kmod_module_get_dependencies) \
	X(kmod_module_get_install_commands) \
	X(kmod_module_apply_filter) \
	X(kmod_module_probe_insert_module) \
	X(kmod_module_unref) \
	X(kmod_module_unref_list)

#define DLKMOD_DECLARE(name) extern typeof(name) *sym_##name;
DLKMOD_SYMBOLS(DLKMOD_DECLARE)
#undef DLKMOD_DECLARE

/* kmod_list_foreach() calls kmod_list_next() directly. */
#define dlkmod_list_foreach(entry, first) \
	for ((entry) = (first); (entry); (entry) = sym_kmod_list_next((first), (entry)))

/*
 * Load libkmod.so.2 and resolve every sym_* pointer, once; later calls
 * return the first answer.  Returns 0, or -EOPNOTSUPP when the library or
 * one of its symbols cannot be loaded: dlkmod_error() then says why (the
 * dynamic loader's message, e.g. "libkmod.so.2: cannot open shared object
 * file: No such file or directory").
 */
int dlkmod_open(void);
const char *dlkmod_error(void);
