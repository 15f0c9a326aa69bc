/* SPDX-License-Identifier: MIT */
/* doctor's parsers (kernel release, osrelease, DMI and CPUID names), its
 * socket directory check against real files in a scratch root, and the
 * upstream connect (X lock files and displays: test-display.c). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <poll.h>
#include <unistd.h>

#include "addr.h"
#include "doctor.h"
#include "upstream.h"
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

static void test_dir_states(void **state)
{
	struct doctor_system sys;
	struct doctor_dir dir;
	char path[PATH_MAX];

	assert_int_equal(doctor_system_read(&sys, root), 0);
	assert_false(sys.facts.live);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_MISSING);

	make_dir("/tmp/.X11-unix", 01777);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_OK);
	assert_int_equal(dir.mode, 01777);

	snprintf(path, sizeof(path), "%s/tmp/.X11-unix", root);
	assert_int_equal(chmod(path, 0777), 0);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_NOT_STICKY);

	assert_int_equal(rmdir(path), 0);
	assert_int_equal(symlink("/", path), 0);
	assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
	assert_int_equal(dir.state, DIR_NOT_DIR);
	assert_int_equal(unlink(path), 0);

	if (geteuid() == 0) {
		/* Owned by someone else than root or us. */
		make_dir("/tmp/.X11-unix", 01777);
		assert_int_equal(chown(path, 4242, 4242), 0);
		assert_int_equal(doctor_dir_check(&sys, "/tmp/.X11-unix", &dir), 0);
		assert_int_equal(dir.state, DIR_FOREIGN_OWNER);
		assert_int_equal(dir.uid, 4242);
		assert_int_equal(rmdir(path), 0);
	}
}


static void test_upstream_connect(void **state)
{
	struct addr a;
	char path[PATH_MAX];
	uint64_t start;
	int lfd, fd;

	snprintf(path, sizeof(path), "%s/s", root);
	if (strlen(path) >= sizeof(((struct sockaddr_un *)0)->sun_path))
		skip();
	assert_int_equal(addr_unix(path, &a), 0);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -ENOENT);

	lfd = listen_unix(path, false);
	fd = upstream_connect(&a, 0, upstream_now_ms() + 1000);
	assert_true(fd >= 0);
	assert_true(fcntl(fd, F_GETFD) & FD_CLOEXEC);
	assert_true(fcntl(fd, F_GETFL) & O_NONBLOCK);
	/* Nothing to read: the wait ends at the deadline. */
	start = upstream_now_ms();
	assert_int_equal(upstream_wait(fd, POLLIN, start + 150), -ETIMEDOUT);
	assert_true(upstream_now_ms() - start >= 150);
	close(fd);
	close(lfd);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -ECONNREFUSED);
	unlink(path);

	/* An unresolved tcp name is refused before any socket. */
	assert_int_equal(addr_parse("tcp:localhost:6000", &a, NULL), 0);
	assert_int_equal(upstream_connect(&a, 0, upstream_now_ms() + 1000), -EDESTADDRREQ);
	/* A deadline already passed. */
	assert_int_equal(addr_parse("tcp:127.0.0.1:1", &a, NULL), 0);
	fd = upstream_connect(&a, 0, upstream_now_ms());
	assert_true(fd == -ECONNREFUSED || fd == -ETIMEDOUT);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_kernel_release),
		cmocka_unit_test(test_osrelease),
		cmocka_unit_test(test_hypervisor_names),
		cmocka_unit_test_setup_teardown(test_dir_states, setup_root, teardown_root),
		cmocka_unit_test_setup_teardown(test_upstream_connect, setup_root, teardown_root),
	};

	return cmocka_run_group_tests_name("doctor", tests, NULL, NULL);
}
