/* SPDX-License-Identifier: MIT */
/*
 * The advice doctor and setup share (advice.h): one wording per situation
 * and distribution.
 */
#include <stdio.h>

#include "advice.h"

void advice_hv_sock_missing(const struct sysfacts *facts, char *buf, size_t size)
{
	const char *r = facts->release;

	/* WSL2 runs Microsoft's kernel (hv_sock built in) or the user's own
	 * (.wslconfig kernel=): no distribution package has its modules, and
	 * WSL often has no /lib/modules at all. */
	if (facts->wsl == WSL_2)
		(void)snprintf(buf, size, "WSL's own kernel has it built in: build the custom kernel '%s' with CONFIG_HYPERV_VSOCKETS=y, or go back to WSL's kernel (remove kernel= from %%UserProfile%%\\.wslconfig), then restart WSL (wsl --shutdown)", r);
	else if (sysfacts_os_is(facts, "ubuntu"))
		(void)snprintf(buf, size, "install it with 'apt install linux-modules-extra-%s' (or use the Azure kernel, 'linux-image-azure')", r);
	else if (sysfacts_os_is(facts, "debian"))
		(void)snprintf(buf, size, "reinstall 'linux-image-%s' (Debian's kernels include it)", r);
	else
		(void)snprintf(buf, size, "install the modules of kernel '%s' (Debian: linux-image-%s; Ubuntu: linux-modules-extra-%s), or boot a kernel built with CONFIG_HYPERV_VSOCKETS", r, r, r);
}

void advice_libkmod_missing(const struct sysfacts *facts, char *buf, size_t size)
{
	if (sysfacts_os_is(facts, "debian") || sysfacts_os_is(facts, "ubuntu"))
		(void)snprintf(buf, size, "install 'libkmod2' (apt install libkmod2)");
	else if (sysfacts_os_is(facts, "fedora") || sysfacts_os_is(facts, "rhel"))
		(void)snprintf(buf, size, "install 'kmod-libs' (dnf install kmod-libs)");
	else if (sysfacts_os_is(facts, "arch"))
		(void)snprintf(buf, size, "install 'kmod' (pacman -S kmod)");
	else
		(void)snprintf(buf, size, "install libkmod (Debian/Ubuntu: libkmod2, Fedora: kmod-libs, Arch: kmod)");
}
