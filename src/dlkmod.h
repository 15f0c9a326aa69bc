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

#define DLKMOD_SYM(name) extern typeof(name) *sym_##name
DLKMOD_SYM(kmod_new);
DLKMOD_SYM(kmod_unref);
DLKMOD_SYM(kmod_set_log_fn);
DLKMOD_SYM(kmod_set_log_priority);
DLKMOD_SYM(kmod_get_dirname);
DLKMOD_SYM(kmod_list_next);
DLKMOD_SYM(kmod_module_new_from_lookup);
DLKMOD_SYM(kmod_module_get_module);
DLKMOD_SYM(kmod_module_get_name);
DLKMOD_SYM(kmod_module_get_path);
DLKMOD_SYM(kmod_module_get_initstate);
DLKMOD_SYM(kmod_module_get_dependencies);
DLKMOD_SYM(kmod_module_get_install_commands);
DLKMOD_SYM(kmod_module_apply_filter);
DLKMOD_SYM(kmod_module_probe_insert_module);
DLKMOD_SYM(kmod_module_unref);
DLKMOD_SYM(kmod_module_unref_list);
#undef DLKMOD_SYM

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
