/* SPDX-License-Identifier: MIT */
/*
 * libkmod through dlopen(): the table of the functions module.c uses.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "dlkmod.h"
#include "macro.h"

#define DLKMOD_DEFINE(name) typeof(name) *sym_##name
DLKMOD_DEFINE(kmod_new);
DLKMOD_DEFINE(kmod_unref);
DLKMOD_DEFINE(kmod_set_log_fn);
DLKMOD_DEFINE(kmod_set_log_priority);
DLKMOD_DEFINE(kmod_get_dirname);
DLKMOD_DEFINE(kmod_list_next);
DLKMOD_DEFINE(kmod_module_new_from_lookup);
DLKMOD_DEFINE(kmod_module_get_module);
DLKMOD_DEFINE(kmod_module_get_name);
DLKMOD_DEFINE(kmod_module_get_path);
DLKMOD_DEFINE(kmod_module_get_initstate);
DLKMOD_DEFINE(kmod_module_get_dependencies);
DLKMOD_DEFINE(kmod_module_get_install_commands);
DLKMOD_DEFINE(kmod_module_apply_filter);
DLKMOD_DEFINE(kmod_module_probe_insert_module);
DLKMOD_DEFINE(kmod_module_unref);
DLKMOD_DEFINE(kmod_module_unref_list);
#undef DLKMOD_DEFINE

#define DLKMOD_ENTRY(name) { #name, (void **)&sym_##name }
static const struct {
	const char *name;
	void **ptr;
} symbols[] = {
	DLKMOD_ENTRY(kmod_new),
	DLKMOD_ENTRY(kmod_unref),
	DLKMOD_ENTRY(kmod_set_log_fn),
	DLKMOD_ENTRY(kmod_set_log_priority),
	DLKMOD_ENTRY(kmod_get_dirname),
	DLKMOD_ENTRY(kmod_list_next),
	DLKMOD_ENTRY(kmod_module_new_from_lookup),
	DLKMOD_ENTRY(kmod_module_get_module),
	DLKMOD_ENTRY(kmod_module_get_name),
	DLKMOD_ENTRY(kmod_module_get_path),
	DLKMOD_ENTRY(kmod_module_get_initstate),
	DLKMOD_ENTRY(kmod_module_get_dependencies),
	DLKMOD_ENTRY(kmod_module_get_install_commands),
	DLKMOD_ENTRY(kmod_module_apply_filter),
	DLKMOD_ENTRY(kmod_module_probe_insert_module),
	DLKMOD_ENTRY(kmod_module_unref),
	DLKMOD_ENTRY(kmod_module_unref_list),
};
#undef DLKMOD_ENTRY

static int state;               /* 0: not tried, 1: loaded, -EOPNOTSUPP */
static char error[256];

static int fail(const char *why)
{
	(void)snprintf(error, sizeof(error), "%s", why ? why : DLKMOD_SONAME ": cannot be loaded");
	state = -EOPNOTSUPP;
	return state;
}

int dlkmod_open(void)
{
	void *dl;

	if (state != 0)
		return state < 0 ? state : 0;

	/* RTLD_NOW: a missing symbol shows here, not in the middle of a
	 * module load.  RTLD_NODELETE and no dlclose(): the pointers stay
	 * valid for the life of the process. */
	dl = dlopen(DLKMOD_SONAME, RTLD_NOW | RTLD_NODELETE);
	if (!dl)
		return fail(dlerror());
	for (size_t i = 0; i < ELEMENTSOF(symbols); i++) {
		void *p;

		(void)dlerror();
		p = dlsym(dl, symbols[i].name);
		if (!p) {
			const char *why = dlerror();
			char buf[sizeof(error)];

			(void)snprintf(buf, sizeof(buf), "%s", why ? why : symbols[i].name);
			/* The handle is not closed: RTLD_NODELETE keeps the
			 * library anyway, and nothing else points into it. */
			return fail(buf);
		}
		*symbols[i].ptr = p;
	}
	state = 1;
	return 0;
}

const char *dlkmod_error(void)
{
	return state < 0 ? error : NULL;
}
