/* SPDX-License-Identifier: MIT */
/* modules-load.d in systemd's precedence, modprobe.d blacklists, and the
 * module states that need no libkmod index, on temporary roots. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "module.h"
#include "modules_load.h"

static char root[PATH_MAX];

static void put(const char *path, const char *content)
{
	char full[PATH_MAX * 2], *slash;
	FILE *f;

	snprintf(full, sizeof(full), "%s%s", root, path);
	for (slash = strchr(full + strlen(root) + 1, '/'); slash; slash = strchr(slash + 1, '/')) {
		*slash = 0;
		(void)mkdir(full, 0755);
		*slash = '/';
	}
	f = fopen(full, "we");
	assert_non_null(f);
	fputs(content, f);
	fclose(f);
}

static void link_at(const char *target, const char *path)
{
	char full[PATH_MAX * 2];

	snprintf(full, sizeof(full), "%s%s", root, path);
	assert_int_equal(symlink(target, full), 0);
}

static int setup_root(void **state)
{
	const char *tmp = getenv("TMPDIR");

	snprintf(root, sizeof(root), "%s/x410-unit.XXXXXX", tmp && *tmp ? tmp : "/tmp");
	assert_non_null(mkdtemp(root));
	return 0;
}

static int remove_one(const char *path, const struct stat *st, int type, struct FTW *ftw)
{
	return remove(path) < 0 ? -1 : 0;
}

static int remove_root(void **state)
{
	/* Depth first, without following links: links planted by the tests
	 * point outside the scratch directory. */
	return nftw(root, remove_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_buffer(void **state)
{
	static const char conf[] =
		"# Load the Hyper-V socket transport\n"
		"; hv_sock in a comment does not count\n"
		"\n"
		"  vsock  \n"
		"\thv-sock\r\n";
	char text[64];

	assert_int_equal(modules_load_buffer_lists(conf, strlen(conf), "hv_sock", text, sizeof(text)), 5);
	assert_string_equal(text, "hv-sock");
	assert_int_equal(modules_load_buffer_lists(conf, strlen(conf), "vsock", NULL, 0), 4);
	assert_int_equal(modules_load_buffer_lists(conf, strlen(conf), "hv", NULL, 0), 0);
	assert_int_equal(modules_load_buffer_lists(conf, strlen(conf), "hv_sock_x", NULL, 0), 0);
	/* Only comments, no final newline, an empty buffer. */
	assert_int_equal(modules_load_buffer_lists("#hv_sock", 8, "hv_sock", NULL, 0), 0);
	assert_int_equal(modules_load_buffer_lists("hv_sock", 7, "hv_sock", NULL, 0), 1);
	assert_int_equal(modules_load_buffer_lists("", 0, "hv_sock", NULL, 0), 0);
	/* A module name with arguments is not a modules-load.d line. */
	assert_int_equal(modules_load_buffer_lists("hv_sock x=1\n", 12, "hv_sock", NULL, 0), 0);
}

static void test_find_none(void **state)
{
	struct modules_load_hit hit;

	/* No directories at all. */
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 0);
	put("/etc/modules-load.d/other.conf", "vsock\n");
	put("/etc/modules-load.d/hv_sock.conf.disabled", "hv_sock\n");
	put("/etc/modules-load.d/.hidden.conf", "hv_sock\n");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 0);
	assert_int_equal(modules_load_find(root, "", &hit), -EINVAL);
}

static void test_find_precedence(void **state)
{
	struct modules_load_hit hit;
	char want[PATH_MAX * 2];

	put("/usr/lib/modules-load.d/hv.conf", "# distro\nhv_sock\n");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 1);
	snprintf(want, sizeof(want), "%s/usr/lib/modules-load.d/hv.conf", root);
	assert_string_equal(hit.path, want);
	assert_int_equal(hit.line, 2);
	assert_string_equal(hit.text, "hv_sock");

	/* The same name in /run replaces it, and loads nothing. */
	put("/run/modules-load.d/hv.conf", "# nothing\n");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 0);

	/* Files are read in the order of their names across directories. */
	put("/usr/local/lib/modules-load.d/a.conf", "hv_sock\n");
	put("/etc/modules-load.d/b.conf", "hv_sock\n");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 1);
	snprintf(want, sizeof(want), "%s/usr/local/lib/modules-load.d/a.conf", root);
	assert_string_equal(hit.path, want);

	/* /etc masks a.conf with a link to /dev/null; b.conf is next. */
	link_at("/dev/null", "/etc/modules-load.d/a.conf");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 1);
	snprintf(want, sizeof(want), "%s/etc/modules-load.d/b.conf", root);
	assert_string_equal(hit.path, want);

	/* An empty file masks too. */
	put("/etc/modules-load.d/b.conf", "");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 0);
}

static void test_find_symlink(void **state)
{
	struct modules_load_hit hit;
	char want[PATH_MAX * 2];

	/* Debian's /etc/modules-load.d/modules.conf -> ../modules */
	put("/etc/modules", "# /etc/modules\nvsock\nhv_sock\n");
	put("/etc/modules-load.d/x.conf", "vsock\n");
	link_at("../modules", "/etc/modules-load.d/modules.conf");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 1);
	snprintf(want, sizeof(want), "%s/etc/modules-load.d/modules.conf", root);
	assert_string_equal(hit.path, want);
	assert_int_equal(hit.line, 3);

	/* An absolute link is resolved inside the root. */
	put("/opt/hv.list", "hv_sock\n");
	unlink(want);
	link_at("/opt/hv.list", "/etc/modules-load.d/modules.conf");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 1);
	assert_int_equal(hit.line, 1);

	/* A dangling link and a directory named *.conf are no files. */
	unlink(want);
	link_at("/nowhere", "/etc/modules-load.d/modules.conf");
	put("/etc/modules-load.d/dir.conf/hv_sock", "hv_sock\n");
	assert_int_equal(modules_load_find(root, "hv_sock", &hit), 0);
}

static void test_etc_modules(void **state)
{
	struct modules_load_hit hit;
	char path[PATH_MAX * 2];

	snprintf(path, sizeof(path), "%s/etc/modules", root);
	assert_int_equal(modules_load_etc_modules_lists(path, "hv_sock", &hit), -ENOENT);
	put("/etc/modules", "# hv_sock\nloop\nhv_sock  arg=1\n");
	assert_int_equal(modules_load_etc_modules_lists(path, "hv_sock", &hit), 1);
	assert_int_equal(hit.line, 3);
	assert_string_equal(hit.text, "hv_sock  arg=1");
	assert_int_equal(modules_load_etc_modules_lists(path, "hv", &hit), 0);
}

static void test_blacklist(void **state)
{
	struct modules_load_hit hit;
	char want[PATH_MAX * 2];

	assert_int_equal(module_find_blacklist(root, "hv_sock", &hit), 0);
	put("/usr/lib/modprobe.d/a.conf", "# blacklist hv_sock\nblacklist vsock\n");
	put("/etc/modprobe.d/z.conf", "options hv_sock x=1\nblacklist  hv-sock\n");
	assert_int_equal(module_find_blacklist(root, "hv_sock", &hit), 1);
	snprintf(want, sizeof(want), "%s/etc/modprobe.d/z.conf", root);
	assert_string_equal(hit.path, want);
	assert_int_equal(hit.line, 2);
	assert_string_equal(hit.text, "blacklist hv-sock");

	/* The kernel command line. */
	put("/etc/modprobe.d/z.conf", "\n");
	put("/proc/cmdline", "ro quiet modprobe.blacklist=nouveau,hv_sock\n");
	assert_int_equal(module_find_blacklist(root, "hv_sock", &hit), 1);
	assert_int_equal(hit.line, 0);
	assert_string_equal(hit.text, "modprobe.blacklist=nouveau,hv_sock");
	assert_int_equal(module_find_blacklist(root, "nouveau", &hit), 1);
	assert_int_equal(module_find_blacklist(root, "hv", &hit), 0);
}

static void test_state_without_index(void **state)
{
	struct module_ctx *ctx = NULL;
	struct module_info info;

	assert_int_equal(module_ctx_new(root, &ctx), 0);
	assert_string_equal(module_ctx_root(ctx), root);
	assert_true(strncmp(module_ctx_modules_dir(ctx), root, strlen(root)) == 0);

	/* No modules directory (a container, WSL): not a crash. */
	assert_int_equal(module_state(ctx, "hv-sock", &info), 0);
	assert_string_equal(info.name, "hv_sock");
	assert_int_equal(info.state, MODULE_STATE_NO_MODULES_DIR);

	/* /sys/module/NAME without initstate: built in. */
	put("/sys/module/hv_sock/version", "1.0.0\n");
	assert_int_equal(module_state(ctx, "hv_sock", &info), 0);
	assert_int_equal(info.state, MODULE_STATE_BUILTIN);

	put("/sys/module/hv_sock/initstate", "live\n");
	assert_int_equal(module_state(ctx, "hv_sock", &info), 0);
	assert_int_equal(info.state, MODULE_STATE_LIVE);
	put("/sys/module/hv_sock/initstate", "coming\n");
	assert_int_equal(module_state(ctx, "hv_sock", &info), 0);
	assert_int_equal(info.state, MODULE_STATE_COMING);
	put("/sys/module/hv_sock/initstate", "going\n");
	assert_int_equal(module_state(ctx, "hv_sock", &info), 0);
	assert_int_equal(info.state, MODULE_STATE_GOING);

	assert_string_equal(module_state_to_string(MODULE_STATE_NO_MODULES_DIR), "no-modules-dir");
	assert_string_equal(module_state_to_string(MODULE_STATE_BUILTIN), "built-in");
	assert_null(module_state_to_string(_MODULE_STATE_MAX));
	assert_int_equal(module_state(ctx, "", &info), -EINVAL);
	module_ctx_free(ctx);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_buffer),
		cmocka_unit_test_setup_teardown(test_find_none, setup_root, remove_root),
		cmocka_unit_test_setup_teardown(test_find_precedence, setup_root, remove_root),
		cmocka_unit_test_setup_teardown(test_find_symlink, setup_root, remove_root),
		cmocka_unit_test_setup_teardown(test_etc_modules, setup_root, remove_root),
		cmocka_unit_test_setup_teardown(test_blacklist, setup_root, remove_root),
		cmocka_unit_test_setup_teardown(test_state_without_index, setup_root, remove_root),
	};

	return cmocka_run_group_tests_name("modules_load", tests, NULL, NULL);
}
