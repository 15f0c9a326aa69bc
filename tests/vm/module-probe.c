/* SPDX-License-Identifier: MIT */
/*
 * module-probe: the project's module code (src/module.c) on the real kernel
 * of the check-vm guest.  Guest only: it loads kernel modules.
 *
 *   module-probe state NAME...          "NAME STATE" for each
 *   module-probe load [--dry-run] NAME  module_load(): "result R", "inserted A B...",
 *                                       "culprit C", then libkmod's messages as "kmod: ..."
 * R is done, already, blacklisted, install-command, or the errno name of a
 * failure (ENODEV ...).
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "guest-token.h"
#include "module.h"

static int require_guest(void)
{
	if (in_vm_guest())
		return 0;
	fprintf(stderr, "module-probe: refusing to run: only inside the check-vm guest (it loads kernel modules)\n");
	return -1;
}

static const char *result_name(int r)
{
	switch (r) {
	case MODULE_LOAD_DONE:
		return "done";
	case MODULE_LOAD_ALREADY:
		return "already";
	case MODULE_LOAD_BLACKLISTED:
		return "blacklisted";
	case MODULE_LOAD_INSTALL_COMMAND:
		return "install-command";
	default:
		return r < 0 ? strerrorname_np(-r) : "unknown";
	}
}

int main(int argc, char *argv[])
{
	_cleanup_module_ctx_ struct module_ctx *ctx = NULL;
	int r;

	if (argc < 3 || (strcmp(argv[1], "state") != 0 && strcmp(argv[1], "load") != 0)) {
		fprintf(stderr, "usage: module-probe state NAME... | load [--dry-run] NAME\n");
		return 2;
	}
	if (require_guest() < 0)
		return 1;
	r = module_ctx_new(NULL, &ctx);
	if (r < 0) {
		fprintf(stderr, "module-probe: module_ctx_new: %s\n", strerror(-r));
		return 1;
	}

	if (strcmp(argv[1], "state") == 0) {
		for (int i = 2; i < argc; i++) {
			struct module_info info;

			r = module_state(ctx, argv[i], &info);
			if (r < 0) {
				printf("%s error %s\n", argv[i], strerrorname_np(-r));
				continue;
			}
			printf("%s %s\n", info.name, module_state_to_string(info.state));
		}
	} else {
		struct module_load_report report;
		unsigned flags = 0;
		const char *name = argv[2];

		if (strcmp(argv[2], "--dry-run") == 0 && argc == 4) {
			flags = MODULE_LOAD_FLAG_DRY_RUN;
			name = argv[3];
		} else if (argc != 3) {
			fprintf(stderr, "usage: module-probe load [--dry-run] NAME\n");
			return 2;
		}
		r = module_load(ctx, name, flags, &report);
		printf("result %s\n", result_name(r));
		printf("inserted");
		for (size_t i = 0; i < report.n_inserted; i++)
			printf(" %s", report.inserted[i]);
		printf("\nculprit %s\n", report.culprit);
	}
	for (size_t i = 0; i < module_ctx_log_count(ctx); i++)
		printf("kmod: %s\n", module_ctx_log_line(ctx, i));
	return 0;
}
