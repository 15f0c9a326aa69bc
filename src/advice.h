/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What to do, in one place: the sentence for each situation that both doctor
 * and setup meet, worded by the facts of the system (sysfacts.h), so that the
 * two commands give the same advice on the same system.  Each function writes
 * a phrase without a final full stop ("install 'libkmod2' (apt install
 * libkmod2)") for the caller to frame: doctor prints it as a "fix:" line,
 * setup inside its error sentence.  Pure: no I/O, no logging.
 */

#include <stddef.h>

#include "sysfacts.h"

/* There is no hv_sock module for the running kernel: the package that has it
 * (by distribution), or a kernel built with it; on WSL2 (a custom kernel:
 * WSL's own has it built in) CONFIG_HYPERV_VSOCKETS=y, never a package. */
void advice_hv_sock_missing(const struct sysfacts *facts, char *buf, size_t size);

/* libkmod.so.2 cannot be loaded: the package that has it. */
void advice_libkmod_missing(const struct sysfacts *facts, char *buf, size_t size);
