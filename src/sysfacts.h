/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * What system is this: WSL1 or WSL2, a Hyper-V guest (VMBus), another
 * hypervisor, a container, the distribution (os-release), the kernel
 * release and its version.  One answer for doctor and setup, read from the
 * files below a root directory ("" is the running system; doctor --root and
 * setup --root read an image or a fake root the same way).  Never logs.
 *
 * /proc/sys/kernel/osrelease and os-release are read here and nowhere
 * else.  The kernel release is uname()'s, as for module.c, which also says
 * where the modules are (module_ctx_modules_dir(): libkmod's choice).  Only
 * the live system is asked CPUID.
 *
 * The small parsers behind the facts (sysfacts_parse.c) are pure functions,
 * fuzzed by tests/fuzz/fuzz-doctor.c.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "macro.h"

#define SYSFACTS_TEXT_MAX 128

/* ---- parsers (pure; sysfacts_parse.c) ---- */

/* "6.1.0-18-amd64", "4.9", "5.15.153.1-microsoft-standard-WSL2": the first
 * three numbers (a missing patch level is 0).  -EINVAL otherwise. */
int sysfacts_parse_kernel_release(const char *s, unsigned *ret_major, unsigned *ret_minor, unsigned *ret_patch);
#define KERNEL_VERSION_CODE(a, b, c) (((unsigned)(a) << 16) + ((unsigned)(b) << 8) + MIN((unsigned)(c), 255u))

enum sysfacts_wsl {
	WSL_NONE = 0,
	WSL_1,          /* "4.4.0-19041-Microsoft": a translation layer, no VM */
	WSL_2,          /* "...-microsoft-standard-WSL2": a Hyper-V utility VM */
};
/* From /proc/sys/kernel/osrelease. */
enum sysfacts_wsl sysfacts_classify_osrelease(const char *osrelease);

/* A WSL2 VM id as `wslinfo --vm-id` prints it: a GUID (8-4-4-4-12 hex
 * digits, braces allowed), blanks around it allowed; written without the
 * braces, in lower case.  -EINVAL for anything else. */
#define SYSFACTS_VM_ID_MAX 37
int sysfacts_parse_vm_id(const char *s, char buf[static SYSFACTS_VM_ID_MAX]);

/* The hypervisor that DMI names (sys_vendor, product_name), or NULL. */
const char *sysfacts_dmi_hypervisor(const char *vendor, const char *product);
/* The hypervisor of a CPUID leaf 0x40000000 signature (12 bytes), or NULL. */
const char *sysfacts_cpuid_hypervisor(const char signature[static 12]);

/* ---- the system ---- */

struct sysfacts {
	/* The root: "" for the running system, else a directory. */
	char root[256];
	bool live;

	/* WSL and hypervisors */
	char osrelease[SYSFACTS_TEXT_MAX];      /* /proc/sys/kernel/osrelease */
	enum sysfacts_wsl wsl;
	/* The running WSL2 VM's id (`wslinfo --vm-id`: it changes at every
	 * WSL start); "" below a root, elsewhere, or without wslinfo. */
	char wsl_vm_id[SYSFACTS_VM_ID_MAX];
	bool vmbus;                     /* /sys/bus/vmbus exists: hv_vmbus is there */
	int vmbus_devices;              /* -1: no /sys/bus/vmbus/devices */
	char dmi_vendor[SYSFACTS_TEXT_MAX], dmi_product[SYSFACTS_TEXT_MAX], dmi_version[SYSFACTS_TEXT_MAX];
	bool dmi_hyperv;
	const char *hypervisor;         /* "Hyper-V", "KVM", ...; NULL: none found */
	const char *hypervisor_source;  /* "DMI", "CPUID", "/sys/hypervisor/type" */
	bool cpuid_hypervisor_bit;      /* live x86 only */

	/* containers */
	char container[SYSFACTS_TEXT_MAX];      /* "" or "docker", "podman", "lxc", ... */
	const char *container_source;   /* the file that says so */

	/* the distribution: os-release's ID and ID_LIKE words, blank-separated */
	char os_ids[256];

	/* the kernel */
	char release[SYSFACTS_TEXT_MAX];        /* uname -r (osrelease if uname fails) */
	bool release_parsed;
	unsigned kernel;                /* KERNEL_VERSION_CODE() */
};

/* Fill facts from the files below root (NULL, "" or "/" for the running
 * system).  -errno when root is not a directory. */
int sysfacts_read(struct sysfacts *facts, const char *root);

/* Run `PROGRAM --vm-id` (never through a shell; stdin and stderr
 * /dev/null; at most 2 s) and parse what it prints
 * (sysfacts_parse_vm_id()).  sysfacts_read() runs WSLINFO_PATH on a live
 * WSL2 system when it is there.  Returns 0 or -errno. */
#define WSLINFO_PATH "/usr/bin/wslinfo"
int sysfacts_run_vm_id(const char *program, char buf[static SYSFACTS_VM_ID_MAX]);

/* A Hyper-V guest: VMBus devices, or WSL2 (whose VMBus is hidden). */
bool sysfacts_hyperv(const struct sysfacts *facts);
/* os-release's ID or ID_LIKE names word ("debian", "ubuntu", "fedora")? */
bool sysfacts_os_is(const struct sysfacts *facts, const char *word);

/* ---- reading below the root (for the other facts doctor and setup read) ---- */

/* root + an absolute path. */
int sysfacts_path(const struct sysfacts *facts, const char *path, char *buf, size_t size);
/* The first line, trailing blanks cut, control characters as '?'. */
int sysfacts_read_line(const struct sysfacts *facts, const char *path, char *buf, size_t size);
/* A non-negative decimal number. */
int sysfacts_read_int(const struct sysfacts *facts, const char *path, int64_t *ret);
/* lstat() succeeds. */
bool sysfacts_exists(const struct sysfacts *facts, const char *path);
/* Entries of a directory without "." and ".."; -errno when it cannot be opened. */
int sysfacts_count_entries(const struct sysfacts *facts, const char *path);
