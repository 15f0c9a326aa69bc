/* SPDX-License-Identifier: MIT */
/* What system this is (sysfacts.c): the pure parsers behind the facts,
 * the facts read below a scratch root, and the advice worded by them. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "advice.h"
#include "sysfacts.h"
#include "scratch-root.h"

static void test_kernel_release(void **state)
{
	static const struct {
		const char *s;
		int r;
		unsigned a, b, c;
	} cases[] = {
		{ "6.1.0-18-amd64", 0, 6, 1, 0 },
		{ "4.9", 0, 4, 9, 0 },
		{ "4.9.0", 0, 4, 9, 0 },
		{ "5.4.0-42-generic", 0, 5, 4, 0 },
		{ "5.15.153.1-microsoft-standard-WSL2", 0, 5, 15, 153 },
		{ "4.14.336", 0, 4, 14, 336 },
		{ "6.18.44-fc-v595", 0, 6, 18, 44 },
		{ "5.10-rc1", 0, 5, 10, 0 },
		{ "", -EINVAL, 0, 0, 0 },
		{ "6", -EINVAL, 0, 0, 0 },
		{ "6.", -EINVAL, 0, 0, 0 },
		{ "6.x", -EINVAL, 0, 0, 0 },
		{ "v6.1", -EINVAL, 0, 0, 0 },
		{ ".1.2", -EINVAL, 0, 0, 0 },
		{ "256.1", -EINVAL, 0, 0, 0 },
		{ "99999999999999999999.1", -EINVAL, 0, 0, 0 },
		{ "6.1.", -EINVAL, 0, 0, 0 },
	};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		unsigned a = 7, b = 7, c = 7;
		int r = sysfacts_parse_kernel_release(cases[i].s, &a, &b, &c);

		if (r != cases[i].r)
			fail_msg("'%s': %d, expected %d", cases[i].s, r, cases[i].r);
		if (r == 0 && (a != cases[i].a || b != cases[i].b || c != cases[i].c))
			fail_msg("'%s': %u.%u.%u", cases[i].s, a, b, c);
	}
	assert_true(KERNEL_VERSION_CODE(4, 14, 0) > KERNEL_VERSION_CODE(4, 9, 400));
	assert_true(KERNEL_VERSION_CODE(5, 5, 0) > KERNEL_VERSION_CODE(5, 4, 255));
}

static void test_osrelease(void **state)
{
	assert_int_equal(sysfacts_classify_osrelease("5.15.153.1-microsoft-standard-WSL2"), WSL_2);
	assert_int_equal(sysfacts_classify_osrelease("4.19.128-microsoft-standard"), WSL_2);
	assert_int_equal(sysfacts_classify_osrelease("6.6.36.3-microsoft-standard-WSL2+"), WSL_2);
	assert_int_equal(sysfacts_classify_osrelease("4.4.0-19041-Microsoft"), WSL_1);
	assert_int_equal(sysfacts_classify_osrelease("6.1.0-18-amd64"), WSL_NONE);
	assert_int_equal(sysfacts_classify_osrelease(""), WSL_NONE);
}

static void test_hypervisor_names(void **state)
{
	char sig[12];

	assert_string_equal(sysfacts_dmi_hypervisor("Microsoft Corporation", "Virtual Machine"), "Hyper-V");
	assert_null(sysfacts_dmi_hypervisor("Microsoft Corporation", "Surface Laptop 5"));
	assert_string_equal(sysfacts_dmi_hypervisor("QEMU", "Standard PC (Q35 + ICH9, 2009)"), "QEMU");
	assert_string_equal(sysfacts_dmi_hypervisor("Red Hat", "KVM"), "KVM");
	assert_string_equal(sysfacts_dmi_hypervisor("VMware, Inc.", "VMware7,1"), "VMware");
	assert_string_equal(sysfacts_dmi_hypervisor("innotek GmbH", "VirtualBox"), "VirtualBox");
	assert_string_equal(sysfacts_dmi_hypervisor("Xen", "HVM domU"), "Xen");
	assert_null(sysfacts_dmi_hypervisor("Dell Inc.", "OptiPlex 7090"));
	assert_null(sysfacts_dmi_hypervisor("", ""));

	memcpy(sig, "KVMKVMKVM\0\0\0", 12);
	assert_string_equal(sysfacts_cpuid_hypervisor(sig), "KVM");
	memcpy(sig, "Microsoft Hv", 12);
	assert_string_equal(sysfacts_cpuid_hypervisor(sig), "Hyper-V");
	memcpy(sig, "XXXXXXXXXXXX", 12);
	assert_null(sysfacts_cpuid_hypervisor(sig));
}

/* ---- below a scratch root (scratch-root.h) ---- */

static void make_dirs(const char *const *dirs)
{
	for (; *dirs; dirs++)
		make_dir(*dirs, 0755);
}

static void test_read(void **state)
{
	static const char *const dirs[] = {
		"/proc/sys", "/proc/sys/kernel", "/etc", "/sys", "/sys/bus", "/sys/bus/vmbus",
		"/sys/bus/vmbus/devices", "/sys/bus/vmbus/devices/a", "/sys/bus/vmbus/devices/b", NULL,
	};
	struct sysfacts f;
	char path[PATH_MAX];

	/* An empty root: nothing found, nothing crashes. */
	assert_int_equal(sysfacts_read(&f, root), 0);
	assert_false(f.live);
	assert_string_equal(f.root, root);
	assert_int_equal(f.wsl, WSL_NONE);
	assert_false(f.vmbus);
	assert_int_equal(f.vmbus_devices, -1);
	assert_false(sysfacts_hyperv(&f));
	assert_string_equal(f.container, "");
	assert_string_equal(f.os_ids, "");
	assert_false(sysfacts_os_is(&f, "debian"));

	make_dirs(dirs);
	write_file("/proc/sys/kernel/osrelease", "5.15.153.1-microsoft-standard-WSL2\n");
	write_file("/etc/os-release", "NAME=\"Ubuntu\"\nID=ubuntu\nID_LIKE=\"debian\"\nVERSION_ID=\"24.04\"\n");
	write_file("/.dockerenv", "");
	/* "/x/" is the root "/x". */
	snprintf(path, sizeof(path), "%s/", root);
	assert_int_equal(sysfacts_read(&f, path), 0);
	assert_string_equal(f.root, root);
	assert_string_equal(f.osrelease, "5.15.153.1-microsoft-standard-WSL2");
	assert_int_equal(f.wsl, WSL_2);
	assert_true(f.vmbus);
	assert_int_equal(f.vmbus_devices, 2);
	assert_true(sysfacts_hyperv(&f));
	assert_string_equal(f.container, "docker");
	assert_string_equal(f.container_source, "/.dockerenv");
	assert_string_equal(f.os_ids, "ubuntu debian");
	assert_true(sysfacts_os_is(&f, "ubuntu"));
	assert_true(sysfacts_os_is(&f, "debian"));
	/* Whole words only. */
	assert_false(sysfacts_os_is(&f, "deb"));
	assert_false(sysfacts_os_is(&f, "ian"));
	assert_false(sysfacts_os_is(&f, "ubuntu debian"));

	/* Without /etc/os-release, /usr/lib/os-release says. */
	snprintf(path, sizeof(path), "%s/etc/os-release", root);
	assert_int_equal(unlink(path), 0);
	make_dir("/usr", 0755);
	make_dir("/usr/lib", 0755);
	write_file("/usr/lib/os-release", "ID=fedora\n");
	assert_int_equal(sysfacts_read(&f, root), 0);
	assert_string_equal(f.os_ids, "fedora");

	/* A FIFO /etc/os-release is not waited on: the next file says. */
	snprintf(path, sizeof(path), "%s/etc/os-release", root);
	assert_int_equal(mkfifo(path, 0644), 0);
	alarm(10);      /* a hang is a failure (SIGALRM), not a stuck test */
	assert_int_equal(sysfacts_read(&f, root), 0);
	alarm(0);
	assert_string_equal(f.os_ids, "fedora");
	assert_int_equal(unlink(path), 0);

	/* A root that is not a directory. */
	snprintf(path, sizeof(path), "%s/.dockerenv", root);
	assert_int_equal(sysfacts_read(&f, path), -ENOTDIR);
}

static void test_advice(void **state)
{
	struct sysfacts f = { .release = "6.1.0-18-amd64" };
	char buf[512];

	(void)strcpy(f.os_ids, "ubuntu debian");
	advice_hv_sock_missing(&f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "apt install linux-modules-extra-6.1.0-18-amd64"));
	advice_libkmod_missing(&f, buf, sizeof(buf));
	assert_string_equal(buf, "install 'libkmod2' (apt install libkmod2)");

	(void)strcpy(f.os_ids, "debian");
	advice_hv_sock_missing(&f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "'linux-image-6.1.0-18-amd64'"));

	(void)strcpy(f.os_ids, "fedora");
	advice_libkmod_missing(&f, buf, sizeof(buf));
	assert_string_equal(buf, "install 'kmod-libs' (dnf install kmod-libs)");

	/* Nothing known: every distribution's name, and the kernel option. */
	f.os_ids[0] = 0;
	advice_hv_sock_missing(&f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Debian: linux-image-6.1.0-18-amd64; Ubuntu: linux-modules-extra-6.1.0-18-amd64"));
	assert_non_null(strstr(buf, "CONFIG_HYPERV_VSOCKETS"));
	advice_libkmod_missing(&f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "Debian/Ubuntu: libkmod2"));

	/* WSL2 (a custom kernel: WSL's own has hv_sock built in): the kernel
	 * option, never a distribution package. */
	(void)strcpy(f.os_ids, "ubuntu debian");
	f.wsl = WSL_2;
	(void)strcpy(f.release, "6.6.36.3-microsoft-standard-WSL2+");
	advice_hv_sock_missing(&f, buf, sizeof(buf));
	assert_non_null(strstr(buf, "CONFIG_HYPERV_VSOCKETS=y"));
	assert_non_null(strstr(buf, "'6.6.36.3-microsoft-standard-WSL2+'"));
	assert_non_null(strstr(buf, ".wslconfig"));
	assert_null(strstr(buf, "apt"));
	assert_null(strstr(buf, "linux-modules-extra"));
}

static void test_vm_id(void **state)
{
	char id[SYSFACTS_VM_ID_MAX];

	(void)state;
	assert_int_equal(sysfacts_parse_vm_id("6F5E8A4C-1B2D-4E3F-8A9B-0C1D2E3F4A5B\n", id), 0);
	assert_string_equal(id, "6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b");
	assert_int_equal(sysfacts_parse_vm_id(" {6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b}\r\n", id), 0);
	assert_string_equal(id, "6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b");
	assert_int_equal(sysfacts_parse_vm_id("", id), -EINVAL);
	assert_string_equal(id, "");
	assert_int_equal(sysfacts_parse_vm_id("6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5", id), -EINVAL);
	assert_int_equal(sysfacts_parse_vm_id("6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5bb", id), -EINVAL);
	assert_int_equal(sysfacts_parse_vm_id("6f5e8a4c1b2d-4e3f-8a9b-0c1d2e3f4a5b", id), -EINVAL);
	assert_int_equal(sysfacts_parse_vm_id("{6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b", id), -EINVAL);
	assert_int_equal(sysfacts_parse_vm_id("wslinfo: unknown option", id), -EINVAL);
	assert_string_equal(id, "");
}

/* A fake wslinfo: what it prints, its exit status, and no shell between. */
static void write_program(const char *rel, const char *text)
{
	char path[PATH_MAX];

	write_file(rel, text);
	snprintf(path, sizeof(path), "%s%s", root, rel);
	assert_int_equal(chmod(path, 0755), 0);
}

static void test_run_vm_id(void **state)
{
	char id[SYSFACTS_VM_ID_MAX], path[PATH_MAX];

	(void)state;
	/* It gets exactly "--vm-id" as its one argument. */
	write_program("/wslinfo", "#!/bin/sh\n[ \"$#\" = 1 ] && [ \"$1\" = --vm-id ] || exit 3\necho 6F5E8A4C-1B2D-4E3F-8A9B-0C1D2E3F4A5B\n");
	snprintf(path, sizeof(path), "%s/wslinfo", root);
	assert_int_equal(sysfacts_run_vm_id(path, id), 0);
	assert_string_equal(id, "6f5e8a4c-1b2d-4e3f-8a9b-0c1d2e3f4a5b");
	/* An older wslinfo without --vm-id: an error, nothing shown. */
	write_program("/wslinfo", "#!/bin/sh\necho \"wslinfo: unknown option\" >&2\nexit 1\n");
	assert_int_equal(sysfacts_run_vm_id(path, id), -EIO);
	assert_string_equal(id, "");
	write_program("/wslinfo", "#!/bin/sh\necho not-a-guid\n");
	assert_int_equal(sysfacts_run_vm_id(path, id), -EINVAL);
	/* One that hangs is killed within the bound. */
	write_program("/wslinfo", "#!/bin/sh\nexec sleep 30\n");
	alarm(10);
	assert_int_equal(sysfacts_run_vm_id(path, id), -ETIMEDOUT);
	alarm(0);
	snprintf(path, sizeof(path), "%s/none", root);
	assert_int_equal(sysfacts_run_vm_id(path, id), -ENOENT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_release),
		cmocka_unit_test(test_osrelease),
		cmocka_unit_test(test_hypervisor_names),
		cmocka_unit_test_setup_teardown(test_read, setup_root, teardown_root),
		cmocka_unit_test(test_vm_id),
		cmocka_unit_test_setup_teardown(test_run_vm_id, setup_root, teardown_root),
		cmocka_unit_test(test_advice),
	};

	return cmocka_run_group_tests_name("sysfacts", tests, NULL, NULL);
}
