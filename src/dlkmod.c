/* SPDX-License-Identifier: MIT */
/*
 * libkmod through dlopen(): the table of the functions module.c uses.
 */
#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>

#include "dlkmod.h"
#include "macro.h"

#define DLKMOD_DEFINE(name) typeof(name) *sym_##name;
DLKMOD_SYMBOLS(DLKMOD_DEFINE)
#undef DLKMOD_DEFINE

#define DLKMOD_ENTRY(name) { #name, (void **)&sym_##name },
static const struct {
	const char *name;
	void **ptr;
} symbols[] = {
	DLKMOD_SYMBOLS(DLKMOD_ENTRY)
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
