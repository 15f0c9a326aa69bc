/* SPDX-License-Identifier: MIT */
/*
 * doctor's facts: what the files below the root (and, on the live system
 * only, a few harmless system calls) say about the chain to X410, on top of
 * what system this is (sysfacts.c): the modules, the vsock transport,
 * io_uring and the socket directory.  Nothing here connects anywhere over
 * VSOCK: the guest-to-host transport is read from /sys/module and the local
 * CID, never found out by trying.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "addr.h"
#include "display.h"
#include "doctor.h"
#include "log.h"
#include "macro.h"
#include "run.h"
#include "util.h"

#define VIRTIO_ID_VSOCK "0x0013"
#ifndef VMADDR_CID_LOCAL
#define VMADDR_CID_LOCAL 1
#endif

const char *const doctor_module_names[_DOCTOR_MOD_MAX] = {
	[DOCTOR_MOD_VSOCK] = "vsock",
	[DOCTOR_MOD_HVSOCK] = "hv_sock",
	[DOCTOR_MOD_VIRTIO] = "vmw_vsock_virtio_transport",
	[DOCTOR_MOD_VMCI] = "vmw_vsock_vmci_transport",
	[DOCTOR_MOD_LOOPBACK] = "vsock_loopback",
};

const char *doctor_transport_name(enum doctor_transport t)
{
	switch (t) {
	case TRANSPORT_NONE:
		return "none";
	case TRANSPORT_HVSOCK:
		return "hv_sock";
	case TRANSPORT_VIRTIO:
		return "virtio";
	case TRANSPORT_VMCI:
		return "vmci";
	case TRANSPORT_AMBIGUOUS:
		return "ambiguous";
	case TRANSPORT_LOOPBACK:
		return "loopback";
	}
	return "?";
}

/* ---------------------------------------------------------------- facts */

static bool virtio_vsock_device(const struct doctor_system *sys)
{
	char full[PATH_MAX], path[PATH_MAX], id[32];
	struct dirent *de;
	bool found = false;
	DIR *d;

	if (sysfacts_path(&sys->facts, "/sys/bus/virtio/devices", full, sizeof(full)) < 0)
		return false;
	d = opendir(full);
	if (!d)
		return false;
	while (!found && (de = readdir(d))) {
		if (de->d_name[0] == '.')
			continue;
		if (snprintf_bounded(path, sizeof(path), "/sys/bus/virtio/devices/%s/device", de->d_name) < 0)
			continue;
		found = sysfacts_read_line(&sys->facts, path, id, sizeof(id)) == 0 && streq(id, VIRTIO_ID_VSOCK);
	}
	closedir(d);
	return found;
}

static int read_modules(struct doctor_system *sys)
{
	_cleanup_module_ctx_ struct module_ctx *ctx = NULL;
	int r;

	r = module_ctx_new(sys->facts.root, &ctx);
	if (r < 0)
		return r;
	/* Not handed to libkmod, which would block on a FIFO: said on stderr,
	 * as it is about the files, not a link of the chain. */
	for (size_t i = 0; module_ctx_skipped(ctx, i); i++) {
		const struct module_skipped *k = module_ctx_skipped(ctx, i);
		char why[128];

		log_warning("Skipped '%s' (libkmod would read it): %s.", k->path,
			    file_skip_reason(k->error, k->mode, why, sizeof(why)));
	}
	if (module_ctx_skipped_count(ctx) > MODULE_SKIPPED_MAX)
		log_warning("Skipped %zu more files libkmod would read.", module_ctx_skipped_count(ctx) - MODULE_SKIPPED_MAX);
	(void)strcpy_bounded(sys->modules_dir, sizeof(sys->modules_dir), module_ctx_modules_dir(ctx));
	if (module_ctx_kmod_error(ctx))
		(void)snprintf(sys->kmod_error, sizeof(sys->kmod_error), "%s", module_ctx_kmod_error(ctx));
	for (unsigned i = 0; i < _DOCTOR_MOD_MAX; i++) {
		r = module_state(ctx, doctor_module_names[i], &sys->module[i]);
		sys->module_error[i] = r < 0 ? r : 0;
		sys->module_present[i] = r == 0 && (sys->module[i].state == MODULE_STATE_BUILTIN ||
						    sys->module[i].state == MODULE_STATE_LIVE);
	}
	/* Debug-level, escaped and bounded by module.c: a hostile image's
	 * modprobe.d can make libkmod quote any bytes, any number of times. */
	for (size_t i = 0; i < module_ctx_log_count(ctx); i++)
		log_debug("libkmod: %s", module_ctx_log_line(ctx, i));
	if (module_ctx_log_dropped(ctx) > 0)
		log_debug("libkmod: ... and %zu more messages", module_ctx_log_dropped(ctx));
	return 0;
}

static void read_vsock(struct doctor_system *sys)
{
	unsigned n = 0;
	enum doctor_transport found = TRANSPORT_NONE;
	bool hv, virtio, vmci;

	sys->virtio_vsock_device = virtio_vsock_device(sys);
	sys->vmci_device = sysfacts_exists(&sys->facts, "/dev/vmci");
	sys->vsock_socket = DOCTOR_NOT_TRIED;
	sys->local_cid = -1;

	/* Without the vsock core, socket(AF_VSOCK) would make the kernel load
	 * modules for "net-pf-40" (hv_sock, vmci's transport, ...): doctor
	 * changes nothing, so it does not ask then. */
	if (sys->facts.live && sys->module_present[DOCTOR_MOD_VSOCK]) {
		/* Created and closed: never connected, bound or listening. */
		int fd = socket(AF_VSOCK, SOCK_STREAM | SOCK_CLOEXEC, 0);

		sys->vsock_socket = fd < 0 ? -errno : 0;
		safe_close(fd);
	}
	if (sys->facts.live && sys->module_present[DOCTOR_MOD_VSOCK]) {
		int fd;

		/* The local CID of the guest-to-host transport: hv_sock has none
		 * (VMADDR_CID_ANY), virtio and vmci have a real one. */
		fd = open("/dev/vsock", O_RDONLY | O_CLOEXEC | O_NOCTTY);
		if (fd >= 0) {
			unsigned cid = VMADDR_CID_ANY;

			if (ioctl(fd, IOCTL_VM_SOCKETS_GET_LOCAL_CID, &cid) == 0)
				sys->local_cid = cid;
			safe_close(fd);
		}
	}

	/* The ioctl answers the guest-to-host transport's CID, else the
	 * host-to-guest one's, else (kernels from late 2024 on, stable ones
	 * such as Debian's 6.1 included) VMADDR_CID_LOCAL when vsock_loopback
	 * is there.  hv_sock has
	 * no CID of its own (VMADDR_CID_ANY): with vsock_loopback next to it
	 * the answer is VMADDR_CID_LOCAL, which says nothing against hv_sock. */
	sys->own_cid = sys->local_cid >= 0 && sys->local_cid != VMADDR_CID_ANY && sys->local_cid != VMADDR_CID_LOCAL;

	/* A transport in the kernel is the guest-to-host one when it is the
	 * only one there: from 5.5 only one may register for guest-to-host
	 * (the second fails with EBUSY), before 5.5 only one at all.  vmci's
	 * transport registers only with a VMCI device from 5.5 on, and takes
	 * AF_VSOCK whatever the device before that. */
	hv = sys->module_present[DOCTOR_MOD_HVSOCK];
	virtio = sys->module_present[DOCTOR_MOD_VIRTIO];
	vmci = sys->module_present[DOCTOR_MOD_VMCI] &&
		(sys->vmci_device || (sys->facts.release_parsed && sys->facts.kernel < KERNEL_VERSION_CODE(5, 5, 0)));
	if (sys->own_cid)
		hv = false;
	if (hv) {
		n++;
		found = TRANSPORT_HVSOCK;
	}
	if (virtio) {
		n++;
		found = TRANSPORT_VIRTIO;
	}
	if (vmci) {
		n++;
		found = TRANSPORT_VMCI;
	}
	if (n == 0 && sys->own_cid)
		/* Someone has a CID, and it is not one we know. */
		n = 2;
	if (n == 0 && (sys->module_present[DOCTOR_MOD_LOOPBACK] || sys->local_cid == VMADDR_CID_LOCAL))
		/* Only this machine can be reached: no guest-to-host transport. */
		found = TRANSPORT_LOOPBACK;
	sys->transport = n > 1 ? TRANSPORT_AMBIGUOUS : found;
}

static void read_io_uring(struct doctor_system *sys)
{
	int64_t v;

	sys->io_uring_disabled = sysfacts_read_int(&sys->facts, "/proc/sys/kernel/io_uring_disabled", &v) == 0 ? (int)MIN(v, 99) : -1;
	sys->io_uring_group = sysfacts_read_int(&sys->facts, "/proc/sys/kernel/io_uring_group", &v) == 0 ? v : -1;
	sys->engine_choice = DOCTOR_NOT_TRIED;
	if (sys->facts.live) {
		/* The very choice run makes, with the engine's own probe. */
		struct run_engine_choice c;

		sys->engine_choice = run_engine_choose(RUN_ENGINE_AUTO, &c);
		sys->engine_uring = sys->engine_choice == 0 && c.uring_error == 0;
		sys->uring_error = c.uring_error;
		(void)strcpy_bounded(sys->uring_why, sizeof(sys->uring_why), c.why);
	}
}

int doctor_system_read(struct doctor_system *sys, const char *root)
{
	int r;

	memset(sys, 0, sizeof(*sys));
	r = sysfacts_read(&sys->facts, root);
	if (r < 0)
		return r;
	r = read_modules(sys);
	if (r < 0)
		return r;
	read_vsock(sys);
	read_io_uring(sys);
	return 0;
}

/* ---------------------------------------------------------------- displays */

int doctor_dir_check(const struct doctor_system *sys, const char *dir, struct doctor_dir *ret)
{
	char full[PATH_MAX];
	struct stat st;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = sysfacts_path(&sys->facts, dir, full, sizeof(full));
	if (r < 0)
		return r;
	if (lstat(full, &st) < 0) {
		ret->state = errno == ENOENT ? DIR_MISSING : DIR_ERROR;
		ret->error = -errno;
		return 0;
	}
	ret->mode = st.st_mode & 07777;
	ret->uid = st.st_uid;
	ret->symlink = S_ISLNK(st.st_mode);
	if (ret->symlink) {
		ssize_t n = readlink(full, ret->link_target, sizeof(ret->link_target) - 1);

		ret->link_target[n > 0 ? n : 0] = 0;
	}
	/* What run does there, by run's own rule. */
	ret->judged = display_dir_judge(&st, geteuid(),
					!ret->symlink && display_dir_readonly(sys->facts.root, sys->facts.live, sys->facts.live ? full : dir));
	ret->wslg = display_dir_is_wslg(ret->judged, &st, geteuid(), ret->link_target);
	switch (ret->judged) {
	case DISPLAY_DIR_FOREIGN_SYMLINK:
	case DISPLAY_DIR_NOT_DIR:
		ret->state = DIR_NOT_DIR;
		return 0;
	case DISPLAY_DIR_FOREIGN_OWNER:
		ret->state = DIR_FOREIGN_OWNER;
		return 0;
	case DISPLAY_DIR_SYMLINK:
	case DISPLAY_DIR_READONLY:
	case DISPLAY_DIR_NOT_STICKY:
		ret->state = DIR_ABSTRACT_ONLY;
		return 0;
	case DISPLAY_DIR_OK:
		break;
	}
	ret->state = faccessat(AT_FDCWD, full, W_OK | X_OK, AT_EACCESS) == 0 ? DIR_OK : DIR_NOT_WRITABLE;
	return 0;
}
