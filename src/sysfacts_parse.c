/* SPDX-License-Identifier: MIT */
/*
 * The small parsers behind sysfacts.c: kernel releases, osrelease strings,
 * DMI and CPUID hypervisor names (X lock files and /proc/net/unix lines are
 * display.c's).
 * Pure functions (no I/O, no logging), fuzzed by tests/fuzz/fuzz-doctor.c.
 */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <strings.h>

#include "sysfacts.h"
#include "macro.h"
#include "util.h"

static int parse_decimal(const char **p, unsigned *ret)
{
	unsigned v = 0;

	if (!isdigit((unsigned char)**p))
		return -EINVAL;
	for (; isdigit((unsigned char)**p); (*p)++) {
		if (v > 99999)
			return -ERANGE;
		v = v * 10 + (unsigned)(**p - '0');
	}
	*ret = v;
	return 0;
}

int sysfacts_parse_kernel_release(const char *s, unsigned *ret_major, unsigned *ret_minor, unsigned *ret_patch)
{
	unsigned major, minor, patch = 0;

	if (!s || parse_decimal(&s, &major) < 0 || *s++ != '.' || parse_decimal(&s, &minor) < 0)
		return -EINVAL;
	if (*s == '.') {
		s++;
		if (parse_decimal(&s, &patch) < 0)
			return -EINVAL;
	}
	if (major > 255 || minor > 255)
		return -EINVAL;
	*ret_major = major;
	*ret_minor = minor;
	*ret_patch = patch;
	return 0;
}

enum sysfacts_wsl sysfacts_classify_osrelease(const char *s)
{
	/* WSL2's kernels say "microsoft-standard" (and lately "-WSL2"); WSL1
	 * fakes a release like "4.4.0-19041-Microsoft". */
	if (strstr(s, "WSL2") || strstr(s, "microsoft-standard") || strstr(s, "microsoft"))
		return WSL_2;
	if (strstr(s, "Microsoft") || strstr(s, "WSL"))
		return WSL_1;
	return WSL_NONE;
}

static bool contains_nocase(const char *s, const char *word)
{
	size_t n = strlen(word);

	for (; *s; s++)
		if (strncasecmp(s, word, n) == 0)
			return true;
	return false;
}

const char *sysfacts_dmi_hypervisor(const char *vendor, const char *product)
{
	static const struct {
		const char *word;
		const char *name;
	} table[] = {
		{ "QEMU", "QEMU" },
		{ "KVM", "KVM" },
		{ "VMware", "VMware" },
		{ "VirtualBox", "VirtualBox" },
		{ "innotek", "VirtualBox" },
		{ "Xen", "Xen" },
		{ "Parallels", "Parallels" },
		{ "Bochs", "Bochs" },
		{ "BHYVE", "bhyve" },
		{ "Amazon EC2", "Amazon EC2" },
		{ "Google Compute Engine", "Google Compute Engine" },
		{ "OpenStack", "OpenStack" },
		{ "Apple Virtualization", "Apple Virtualization" },
	};

	/* Hyper-V (and Azure) guests: "Microsoft Corporation" "Virtual Machine";
	 * Microsoft's hardware (Surface) says other things. */
	if (streq(vendor, "Microsoft Corporation") && streq(product, "Virtual Machine"))
		return "Hyper-V";
	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (contains_nocase(vendor, table[i].word) || contains_nocase(product, table[i].word))
			return table[i].name;
	return NULL;
}

const char *sysfacts_cpuid_hypervisor(const char signature[static 12])
{
	static const struct {
		const char sig[13];
		const char *name;
	} table[] = {
		{ "KVMKVMKVM\0\0\0", "KVM" },
		{ "Microsoft Hv", "Hyper-V" },
		{ "VMwareVMware", "VMware" },
		{ "XenVMMXenVMM", "Xen" },
		{ "VBoxVBoxVBox", "VirtualBox" },
		{ "TCGTCGTCGTCG", "QEMU (TCG)" },
		{ "bhyve bhyve ", "bhyve" },
		{ " lrpepyh  vr", "Parallels" },
		{ "ACRNACRNACRN", "ACRN" },
	};

	for (size_t i = 0; i < ELEMENTSOF(table); i++)
		if (memcmp(signature, table[i].sig, 12) == 0)
			return table[i].name;
	return NULL;
}

int sysfacts_parse_vm_id(const char *s, char buf[static SYSFACTS_VM_ID_MAX])
{
	static const unsigned groups[] = { 8, 4, 4, 4, 12 };
	char id[SYSFACTS_VM_ID_MAX];
	bool brace;
	size_t o = 0;

	buf[0] = 0;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	brace = *s == '{';
	if (brace)
		s++;
	for (size_t g = 0; g < ELEMENTSOF(groups); g++) {
		if (g > 0) {
			if (*s++ != '-')
				return -EINVAL;
			id[o++] = '-';
		}
		for (unsigned i = 0; i < groups[g]; i++, s++) {
			if (!isxdigit((unsigned char)*s))
				return -EINVAL;
			id[o++] = (char)tolower((unsigned char)*s);
		}
	}
	id[o] = 0;
	if (brace && *s++ != '}')
		return -EINVAL;
	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (*s)
		return -EINVAL;
	memcpy(buf, id, o + 1);
	return 0;
}
