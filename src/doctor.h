/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * doctor's view of the system: the facts the checks judge (doctor_system.c),
 * on top of what system this is (sysfacts.h, shared with setup).  Everything
 * here reads files below a root directory ("" is the running system) and
 * never logs; the checks that judge them are in doctor_checks.h, and the
 * facts never call them.
 *
 * Only a live system (no --root) is asked things the files cannot say:
 * socket(AF_VSOCK) (created and closed at once, never connected), the local
 * CID from /dev/vsock, the io_uring engine's probe (run_engine_choose()),
 * CPUID, kill(pid, 0) and connect() to display sockets (display.c).
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "display.h"
#include "macro.h"
#include "module.h"
#include "sysfacts.h"

/* ---- the system ---- */

enum doctor_module {
	DOCTOR_MOD_VSOCK,
	DOCTOR_MOD_HVSOCK,
	DOCTOR_MOD_VIRTIO,
	DOCTOR_MOD_VMCI,
	DOCTOR_MOD_LOOPBACK,
	_DOCTOR_MOD_MAX,
};
extern const char *const doctor_module_names[_DOCTOR_MOD_MAX];

enum doctor_transport {
	TRANSPORT_NONE,
	TRANSPORT_HVSOCK,
	TRANSPORT_VIRTIO,
	TRANSPORT_VMCI,
	TRANSPORT_AMBIGUOUS,
	TRANSPORT_LOOPBACK,     /* none to the host: only vsock_loopback (local CID 1) */
};
const char *doctor_transport_name(enum doctor_transport t);

#define DOCTOR_NOT_TRIED 1

struct doctor_system {
	/* environment, kernel: what system this is: WSL, hypervisors, container, kernel (sysfacts.c) */
	struct sysfacts facts;

	/* hv_sock, boot, vsock: the modules, from module.c (libkmod and /sys/module) */
	struct module_info module[_DOCTOR_MOD_MAX];
	int module_error[_DOCTOR_MOD_MAX];      /* -errno when the state is unknown */
	bool module_present[_DOCTOR_MOD_MAX];   /* built in or live */
	char modules_dir[PATH_MAX];             /* /lib/modules/RELEASE, with the root */
	char kmod_error[256];                   /* why libkmod.so.2 cannot be loaded; "" if it can */

	/* vsock */
	/* socket(AF_VSOCK): 0, -errno, DOCTOR_NOT_TRIED (--root, or no vsock
	 * core: the socket would make the kernel load modules for it) */
	int vsock_socket;
	int64_t local_cid;              /* IOCTL_VM_SOCKETS_GET_LOCAL_CID; -1 unknown */
	bool own_cid;                   /* local_cid is a transport's own (not ANY, not LOCAL) */
	bool virtio_vsock_device;       /* a virtio device of type 19 (vsock) */
	bool vmci_device;               /* /dev/vmci */
	enum doctor_transport transport;

	/* io_uring */
	int io_uring_disabled;          /* kernel.io_uring_disabled; -1: none */
	int64_t io_uring_group;         /* kernel.io_uring_group; -1: none */
	/* What `run --engine auto` chooses here (run_engine_choose(), which
	 * runs the io_uring engine's own probe); the live system only. */
	int engine_choice;              /* 0, -errno (run would not start), DOCTOR_NOT_TRIED */
	bool engine_uring;              /* 0 and the io_uring engine */
	int uring_error;                /* else why not io_uring: -errno */
	char uring_why[256];            /* ... and in words */
};

/* Fill sys from the files below root (NULL or "/" for the running system):
 * sysfacts_read(), then the modules, vsock and io_uring. */
int doctor_system_read(struct doctor_system *sys, const char *root);


/* ---- displays ---- */

enum doctor_dir_state {
	DIR_MISSING,
	DIR_OK,
	DIR_NOT_DIR,            /* another user's symlink, or something else than a directory */
	DIR_FOREIGN_OWNER,      /* owned by someone else than root or us */
	DIR_ABSTRACT_ONLY,      /* run serves the abstract socket only (display_dir_abstract_only()) */
	DIR_NOT_WRITABLE,       /* root's, and we may not create sockets in it */
	DIR_ERROR,
};

struct doctor_dir {
	enum doctor_dir_state state;
	enum display_dir_state judged;  /* display_dir_judge()'s answer */
	mode_t mode;
	uid_t uid;
	bool symlink;
	bool wslg;              /* one of WSLg's own layouts (display_dir_is_wslg()) */
	char link_target[PATH_MAX];     /* a symlink's */
	int error;              /* DIR_ERROR: -errno */
};

int doctor_dir_check(const struct doctor_system *sys, const char *dir, struct doctor_dir *ret);

/* The state of each display: display.h, shared with run. */
