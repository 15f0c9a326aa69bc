/* SPDX-License-Identifier: MIT */
/*
 * doctor's checks of the system, one function each: the environment
 * (Hyper-V, WSL, container), the kernel, hv_sock now and at boot, AF_VSOCK
 * and its guest-to-host transport, io_uring.  Each judges the facts of
 * doctor_system.c into one finding (doctor_report.h); only the hv_sock and
 * boot checks read more, the modprobe.d and modules-load.d lines that
 * name hv_sock (modules_load.h).
 */
#include <errno.h>
#include <limits.h>
#include <string.h>
#include <unistd.h>
#include <linux/vm_sockets.h>

#include "advice.h"
#include "doctor_checks.h"
#include "log.h"
#include "modules_load.h"
#include "util.h"

static void kernel_text(unsigned code, char *buf, size_t size)
{
	report_strf(buf, size, "%u.%u", code >> 16, (code >> 8) & 0xff);
}

/* ---------------------------------------------------------------- environment */

void check_environment(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char what[TEXT_MAX], dmi[TEXT_MAX / 2] = "", where[TEXT_MAX / 2] = "";

	f->id = "environment";
	report_strf(f->subject, sizeof(f->subject), "environment");

	if (s->facts.dmi_vendor[0] || s->facts.dmi_product[0])
		report_strf(dmi, sizeof(dmi), "; DMI '%s' '%s' '%s'", s->facts.dmi_vendor, s->facts.dmi_product, s->facts.dmi_version);
	if (s->facts.container[0])
		report_strf(where, sizeof(where), "; in a container: %s (%s)", s->facts.container, s->facts.container_source);

	finding_data_str(f, "wsl", s->facts.wsl == WSL_2 ? "2" : s->facts.wsl == WSL_1 ? "1" : "");
	finding_data_int(f, "vmbus_devices", s->facts.vmbus_devices);
	finding_data_str(f, "hypervisor", s->facts.vmbus_devices > 0 || s->facts.wsl == WSL_2 ? "Hyper-V" : s->facts.hypervisor ? s->facts.hypervisor : "");
	finding_data_str(f, "container", s->facts.container);

	if (s->facts.wsl == WSL_1) {
		finding_set(f, d->hv_needed ? CHECK_FAIL : CHECK_OK,
		    "WSL1 (kernel '%s'): not a virtual machine, so no VSOCK%s", s->facts.osrelease, where);
		if (d->hv_needed)
			finding_fix(f, "convert the distribution to WSL2, in Windows: wsl --set-version <distribution> 2");
		return;
	}
	if (s->facts.wsl == WSL_2)
		report_strf(what, sizeof(what), "WSL2, a Hyper-V utility VM (kernel '%s')%s", s->facts.osrelease, where);
	else if (s->facts.vmbus_devices > 0)
		report_strf(what, sizeof(what), "Hyper-V guest: %d VMBus devices%s%s", s->facts.vmbus_devices, dmi, where);
	else if (s->facts.hypervisor && streq(s->facts.hypervisor, "Hyper-V")) {
		finding_set(f, d->hv_needed ? CHECK_FAIL : CHECK_OK,
		    "%s says Hyper-V, but there is no VMBus (/sys/bus/vmbus/devices): hv_vmbus is not loaded%s%s",
		    s->facts.hypervisor_source, dmi, where);
		if (d->hv_needed)
			finding_fix(f, "sudo modprobe hv_vmbus");
		return;
	} else {
		if (s->facts.hypervisor)
			report_strf(what, sizeof(what), "not a Hyper-V guest: %s (from %s)%s%s",
				       s->facts.hypervisor, s->facts.hypervisor_source, dmi, where);
		else
			report_strf(what, sizeof(what), "not a Hyper-V guest: no VMBus and no hypervisor found%s%s",
				       dmi, where);
		if (!d->hv_needed) {
			finding_set(f, CHECK_OK, "%s; not needed for '%s'", what, d->upstream_text);
			return;
		}
		finding_set(f, CHECK_FAIL, "%s; hv_sock works only in Hyper-V VMs and WSL2", what);
		finding_fix(f, "run x410-vsock in a Hyper-V VM or WSL2 on the Windows machine that runs X410, or relay to an X server elsewhere: x410-vsock run --connect tcp:HOST:PORT");
		return;
	}

	/* A Hyper-V guest.  In a container the question is whether AF_VSOCK
	 * may be used at all: Docker's default seccomp profile blocks it since
	 * 20.10.x and 23.0 (moby#44562, December 2022). */
	if (s->facts.container[0] && d->hv_needed && s->vsock_socket != 0) {
		finding_set(f, CHECK_WARN, "%s; AF_VSOCK is blocked in containers by default (Docker's seccomp profile since 20.10.x and 23.0)", what);
		finding_fix(f, "run x410-vsock on the VM itself, outside the container, or allow socket(AF_VSOCK) in the container's seccomp profile");
		return;
	}
	finding_set(f, CHECK_OK, "%s", what);
}

/* ---------------------------------------------------------------- kernel */

void check_kernel(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	const unsigned k = s->facts.kernel;
	char v[16];

	f->id = "kernel";
	report_strf(f->subject, sizeof(f->subject), "kernel");
	finding_data_str(f, "release", s->facts.release);

	if (!s->facts.release_parsed) {
		finding_set(f, CHECK_SKIP, "cannot read a version from the release '%s'", s->facts.release);
		return;
	}
	kernel_text(k, v, sizeof(v));
	finding_data_str(f, "version", v);

	if (d->hv_needed && k < KERNEL_VERSION_CODE(4, 14, 0)) {
		finding_set(f, CHECK_FAIL, "Linux %s ('%s'): hv_sock needs 4.14 or later", v, s->facts.release);
		finding_fix(f, "install and boot a kernel 4.14 or later (your distribution's current kernel package)");
		return;
	}
	if (d->hv_needed && k < KERNEL_VERSION_CODE(5, 5, 0)) {
		finding_set(f, CHECK_WARN,
		    "Linux %s ('%s'): before 5.5 only one vsock transport can load (vmw_vsock_vmci_transport may take it before hv_sock)%s",
		    v, s->facts.release, k < KERNEL_VERSION_CODE(5, 6, 0) ? "; before 5.6 no io_uring: run will use the epoll engine" : "");
		finding_fix(f, "echo 'blacklist vmw_vsock_vmci_transport' | sudo tee /etc/modprobe.d/x410-vsock.conf");
		finding_fix(f, "optional: a kernel 5.6 or later for the io_uring engine");
		return;
	}
	if (k < KERNEL_VERSION_CODE(5, 6, 0)) {
		finding_set(f, CHECK_WARN, "Linux %s ('%s'): no io_uring before 5.6: run will use the epoll engine", v, s->facts.release);
		finding_fix(f, "optional: a kernel 5.6 or later for the io_uring engine (the epoll engine relays the same)");
		return;
	}
	finding_set(f, CHECK_OK, "Linux %s ('%s'): new enough for hv_sock (4.14), several vsock transports (5.5) and io_uring (5.6)",
	    v, s->facts.release);
}

/* ---------------------------------------------------------------- hv_sock, boot */

static bool hv_skip(struct doctor *d, struct finding *f, const char *what)
{
	if (!d->hv_needed) {
		finding_set(f, CHECK_SKIP, "%snot needed for '%s'", what, d->upstream_text);
		return true;
	}
	if (!d->hyperv) {
		finding_set(f, CHECK_SKIP, "%snot a Hyper-V guest", what);
		return true;
	}
	return false;
}

/* A path module.c gave out, without the root, as the user knows it. */
static const char *unroot(const struct doctor *d, const char *path)
{
	size_t n = strlen(d->sys.facts.root);

	if (n > 0 && strneq(path, d->sys.facts.root, n) && path[n] == '/')
		return path + n;
	return path;
}

static void fix_modules_package(struct doctor *d, struct finding *f)
{
	char advice[TEXT_MAX];

	if (d->sys.facts.container[0]) {
		finding_fix(f, "load it on the VM itself, outside the container: sudo modprobe hv_sock (or x410-vsock setup there)");
		return;
	}
	advice_hv_sock_missing(&d->sys.facts, advice, sizeof(advice));
	finding_fix(f, "%s", advice);
}

void check_hv_sock(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	const struct module_info *m = &s->module[DOCTOR_MOD_HVSOCK];
	struct modules_load_hit bl;
	char state[TEXT_MAX / 2], err[96];

	f->id = "hv_sock";
	report_strf(f->subject, sizeof(f->subject), "hv_sock");

	if (s->module_error[DOCTOR_MOD_HVSOCK] < 0) {
		finding_data_str(f, "state", "unknown");
		if (hv_skip(d, f, ""))
			return;
		if (s->kmod_error[0]) {
			/* Not in /sys/module, and libkmod (dlopen'ed) is
			 * needed for the rest. */
			char advice[TEXT_MAX];

			finding_set(f, CHECK_FAIL, "not in /sys/module, and libkmod cannot be loaded to tell whether it is built in or loadable (%s)", s->kmod_error);
			advice_libkmod_missing(&s->facts, advice, sizeof(advice));
			finding_fix(f, "%s, then run setup", advice);
			return;
		}
		finding_set(f, CHECK_FAIL, "cannot tell whether it is in the kernel: %s",
		    report_error_text(s->module_error[DOCTOR_MOD_HVSOCK], err, sizeof(err)));
		finding_fix(f, "sudo modprobe hv_sock");
		return;
	}
	finding_data_str(f, "state", module_state_to_string(m->state));
	switch (m->state) {
	case MODULE_STATE_BUILTIN:
		report_strf(state, sizeof(state), "built into the kernel");
		break;
	case MODULE_STATE_LIVE:
		report_strf(state, sizeof(state), "loaded");
		break;
	case MODULE_STATE_COMING:
		report_strf(state, sizeof(state), "being loaded right now");
		break;
	case MODULE_STATE_GOING:
		report_strf(state, sizeof(state), "being unloaded right now");
		break;
	case MODULE_STATE_LOADABLE:
		report_strf(state, sizeof(state), "not loaded (the module is %s)", unroot(d, m->path));
		finding_data_str(f, "path", unroot(d, m->path));
		break;
	case MODULE_STATE_MISSING:
		report_strf(state, sizeof(state), "not in the kernel, and no module for kernel '%s' in %s",
		     s->facts.release, unroot(d, s->modules_dir));
		break;
	case MODULE_STATE_NO_MODULES_DIR:
	default:
		report_strf(state, sizeof(state), "not in the kernel, and there is no %s", unroot(d, s->modules_dir));
		break;
	}
	{
		char prefix[TEXT_MAX / 2 + 4];

		report_strf(prefix, sizeof(prefix), "%s; ", state);
		if (hv_skip(d, f, prefix))
			return;
	}

	switch (m->state) {
	case MODULE_STATE_BUILTIN:
	case MODULE_STATE_LIVE:
		finding_set(f, CHECK_OK, "%s", state);
		return;
	case MODULE_STATE_COMING:
	case MODULE_STATE_GOING:
		finding_set(f, CHECK_WARN, "%s", state);
		finding_fix(f, "run x410-vsock doctor again in a moment");
		return;
	case MODULE_STATE_LOADABLE:
		if (module_find_blacklist(s->facts.root, "hv_sock", &bl) == 1) {
			finding_set(f, CHECK_FAIL, "%s, and blacklisted by %s line %u ('%s')", state, unroot(d, bl.path), bl.line, bl.text);
			if (bl.line > 0)
				finding_fix(f, "delete line %u ('%s') of %s, then: sudo x410-vsock setup", bl.line, bl.text, unroot(d, bl.path));
			else
				finding_fix(f, "remove hv_sock from modprobe.blacklist= on the kernel command line, then: sudo x410-vsock setup");
			return;
		}
		finding_set(f, CHECK_FAIL, "%s", state);
		finding_fix(f, "sudo x410-vsock setup (loads it now and at every boot; just now: sudo modprobe hv_sock)");
		return;
	case MODULE_STATE_MISSING:
	case MODULE_STATE_NO_MODULES_DIR:
	default:
		finding_set(f, CHECK_FAIL, "%s", state);
		if (s->facts.release_parsed && s->facts.kernel < KERNEL_VERSION_CODE(4, 14, 0))
			finding_fix(f, "boot a kernel 4.14 or later, which has hv_sock (see kernel)");
		else
			fix_modules_package(d, f);
		return;
	}
}

/* A modules-load.d file or /etc/modules that could not be read (a FIFO, a
 * device, over 1 MiB, unreadable): a warning on stderr that names it
 * (modules_load_skip_fn). */
static void warn_skipped(const char *path, int error, mode_t mode, void *userdata)
{
	char why[128];

	log_warning("Skipped '%s' (a list of modules to load at boot): %s.", path,
		    file_skip_reason(error, mode, why, sizeof(why)));
}

void check_boot(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	const struct module_info *m = &s->module[DOCTOR_MOD_HVSOCK];
	struct modules_load_hit hit, bl;
	char path[PATH_MAX], err[96];
	int r;

	f->id = "boot";
	report_strf(f->subject, sizeof(f->subject), "hv_sock at boot");
	if (hv_skip(d, f, ""))
		return;
	if (s->module_error[DOCTOR_MOD_HVSOCK] < 0) {
		finding_set(f, CHECK_SKIP, "the state of hv_sock is unknown");
		return;
	}
	if (s->facts.container[0]) {
		finding_set(f, CHECK_SKIP, "in a container: the VM loads its modules at boot, not the container");
		return;
	}
	if (m->state == MODULE_STATE_BUILTIN) {
		finding_data_bool(f, "at_boot", true);
		finding_set(f, CHECK_OK, "built into the kernel: there at every boot");
		return;
	}
	if (m->state == MODULE_STATE_MISSING || m->state == MODULE_STATE_NO_MODULES_DIR) {
		finding_set(f, CHECK_SKIP, "there is no hv_sock module to load (see hv_sock)");
		return;
	}

	r = modules_load_find_full(s->facts.root, "hv_sock", warn_skipped, NULL, &hit);
	if (r == 0 && path_below_root(s->facts.root, "/etc/modules", path, sizeof(path)) == 0) {
		/* Debian's list, read by its kmod init script (and by systemd
		 * through the modules-load.d/modules.conf symlink). */
		mode_t mode;
		int k = modules_load_etc_modules_lists_full(path, "hv_sock", &hit, &mode);

		if (k < 0 && k != -ENOENT)
			warn_skipped(path, k, mode, NULL);
		r = k == 1 ? 1 : 0;
	}
	if (r < 0) {
		finding_set(f, CHECK_SKIP, "cannot read the modules-load.d directories: %s", report_error_text(r, err, sizeof(err)));
		return;
	}
	if (r == 0) {
		finding_data_bool(f, "at_boot", false);
		finding_set(f, CHECK_WARN, "no modules-load.d file lists hv_sock: %s after a reboot",
		    m->state == MODULE_STATE_LIVE ? "it will be missing" : "it will not be loaded");
		finding_fix(f, "sudo x410-vsock setup (writes /etc/modules-load.d/hv_sock.conf)");
		return;
	}
	finding_data_str(f, "file", unroot(d, hit.path));
	if (module_find_blacklist(s->facts.root, "hv_sock", &bl) == 1) {
		finding_data_bool(f, "at_boot", false);
		finding_set(f, CHECK_WARN, "listed in %s line %u, but blacklisted by %s line %u ('%s'): systemd-modules-load skips it",
		    unroot(d, hit.path), hit.line, unroot(d, bl.path), bl.line, bl.text);
		if (bl.line > 0)
			finding_fix(f, "delete line %u ('%s') of %s", bl.line, bl.text, unroot(d, bl.path));
		else
			finding_fix(f, "remove hv_sock from modprobe.blacklist= on the kernel command line");
		return;
	}
	finding_data_bool(f, "at_boot", true);
	finding_set(f, CHECK_OK, "loaded at boot by %s (line %u)", unroot(d, hit.path), hit.line);
}

/* ---------------------------------------------------------------- vsock */

/* The fix that brings hv_sock (and with it vsock) into the kernel. */
static void fix_load_hv_sock(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	enum module_state state = s->module[DOCTOR_MOD_HVSOCK].state;

	if (s->module_error[DOCTOR_MOD_HVSOCK] == 0 &&
	    (state == MODULE_STATE_MISSING || state == MODULE_STATE_NO_MODULES_DIR) && !s->facts.container[0])
		finding_fix(f, "first make hv_sock available (see hv_sock), then: sudo x410-vsock setup");
	else if (s->facts.container[0])
		finding_fix(f, "load hv_sock on the VM itself, outside the container: sudo x410-vsock setup there");
	else
		finding_fix(f, "sudo x410-vsock setup (loads hv_sock, which brings vsock)");
}

void check_vsock(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char sock[TEXT_MAX / 2], transport[TEXT_MAX / 2], err[96];
	bool vsock_upstream = d->upstream.kind == ADDR_VSOCK;

	f->id = "vsock";
	report_strf(f->subject, sizeof(f->subject), "AF_VSOCK");
	finding_data_str(f, "transport", doctor_transport_name(s->transport));
	if (s->local_cid >= 0 && s->local_cid != VMADDR_CID_ANY)
		finding_data_int(f, "local_cid", s->local_cid);
	if (s->vsock_socket != DOCTOR_NOT_TRIED)
		finding_data_bool(f, "socket", s->vsock_socket == 0);

	if (!s->module_present[DOCTOR_MOD_VSOCK])
		report_strf(sock, sizeof(sock), "the vsock core is not loaded");
	else if (s->vsock_socket == DOCTOR_NOT_TRIED)
		report_strf(sock, sizeof(sock), "socket() not tried (--root)");
	else if (s->vsock_socket == 0)
		report_strf(sock, sizeof(sock), "socket() works");
	else
		report_strf(sock, sizeof(sock), "socket() fails: %s", report_error_text(s->vsock_socket, err, sizeof(err)));

	switch (s->transport) {
	case TRANSPORT_HVSOCK:
		report_strf(transport, sizeof(transport), "guest-to-host transport: hv_sock");
		break;
	case TRANSPORT_VIRTIO:
	case TRANSPORT_VMCI:
		if (s->own_cid)
			report_strf(transport, sizeof(transport), "guest-to-host transport: %s (local CID %lld)",
				       doctor_transport_name(s->transport), (long long)s->local_cid);
		else
			report_strf(transport, sizeof(transport), "guest-to-host transport: %s",
				       doctor_transport_name(s->transport));
		break;
	case TRANSPORT_AMBIGUOUS: {
		/* "unclear (in the kernel: hv_sock, virtio; local CID 3)" */
		static const struct {
			enum doctor_module module;
			const char *name;
		} listed[] = {
			{ DOCTOR_MOD_HVSOCK, "hv_sock" },
			{ DOCTOR_MOD_VIRTIO, "virtio" },
			{ DOCTOR_MOD_VMCI, "vmci" },
		};
		char why[TEXT_MAX / 4] = "";

		for (size_t i = 0; i < ELEMENTSOF(listed); i++)
			if (s->module_present[listed[i].module])
				report_append(why, sizeof(why), "%s%s", why[0] ? ", " : "in the kernel: ", listed[i].name);
		if (s->own_cid)
			report_append(why, sizeof(why), "%slocal CID %lld of a transport doctor does not know",
			       why[0] ? "; " : "", (long long)s->local_cid);
		report_strf(transport, sizeof(transport), "guest-to-host transport: unclear (%s)", why);
		break;
	}
	case TRANSPORT_LOOPBACK:
		report_strf(transport, sizeof(transport), "guest-to-host transport: none, loopback only (vsock_loopback%s)",
		     s->local_cid == VMADDR_CID_LOCAL ? ", local CID 1" : "");
		break;
	case TRANSPORT_NONE:
		report_strf(transport, sizeof(transport), "no guest-to-host transport");
		break;
	}

	if (!vsock_upstream) {
		finding_set(f, CHECK_SKIP, "not needed for '%s' (%s; %s)", d->upstream_text, sock, transport);
		return;
	}
	if (d->hv_needed && !d->hyperv) {
		finding_set(f, CHECK_SKIP, "not a Hyper-V guest (%s; %s)", sock, transport);
		return;
	}

	if (!s->module_present[DOCTOR_MOD_VSOCK] || s->vsock_socket == -EAFNOSUPPORT) {
		finding_set(f, CHECK_FAIL, "%s%s; %s", sock, s->vsock_socket == -EAFNOSUPPORT ? ": no vsock in the kernel" : "", transport);
		if (d->hv_needed)
			fix_load_hv_sock(d, f);
		else
			finding_fix(f, "sudo modprobe vsock");
		return;
	}
	if (s->vsock_socket == -EPERM || s->vsock_socket == -EACCES) {
		finding_set(f, CHECK_FAIL, "%s: blocked by a seccomp profile or an LSM (Docker's default profile blocks AF_VSOCK since 20.10.x and 23.0); %s",
		    sock, transport);
		finding_fix(f, "run x410-vsock outside the container, or allow socket(AF_VSOCK) in its seccomp profile (docker run --security-opt seccomp=PROFILE)");
		return;
	}
	if (s->vsock_socket < 0) {
		finding_set(f, CHECK_FAIL, "%s; %s", sock, transport);
		fix_load_hv_sock(d, f);
		return;
	}
	if (!d->hv_needed) {
		/* vsock:local or another CID: any transport may do. */
		finding_set(f, CHECK_OK, "%s; %s", sock, transport);
		return;
	}

	switch (s->transport) {
	case TRANSPORT_HVSOCK:
		finding_set(f, CHECK_OK, "%s; %s", sock, transport);
		return;
	case TRANSPORT_NONE:
	case TRANSPORT_LOOPBACK:
		finding_set(f, CHECK_FAIL, "%s; %s: hv_sock is not in the kernel", sock, transport);
		fix_load_hv_sock(d, f);
		return;
	case TRANSPORT_VIRTIO:
	case TRANSPORT_VMCI:
		finding_set(f, CHECK_FAIL, "%s; %s, not hv_sock: CID 2 is not reached through Hyper-V", sock, transport);
		finding_fix(f, "echo 'blacklist %s' | sudo tee /etc/modprobe.d/x410-vsock.conf, then reboot",
		    s->transport == TRANSPORT_VIRTIO ? "vmw_vsock_virtio_transport" : "vmw_vsock_vmci_transport");
		return;
	case TRANSPORT_AMBIGUOUS:
		finding_set(f, CHECK_WARN, "%s; %s: cannot tell whether CID 2 goes through hv_sock", sock, transport);
		finding_fix(f, "blacklist the transports other than hv_sock in /etc/modprobe.d/x410-vsock.conf (blacklist vmw_vsock_virtio_transport, blacklist vmw_vsock_vmci_transport), then reboot");
		return;
	}
}

/* ---------------------------------------------------------------- io_uring */

/* The sysctl that keeps io_uring from us, if it is that: run falls back
 * to epoll.  Returns true when it said so. */
static bool io_uring_sysctl(const struct doctor_system *s, struct finding *f)
{
	if (s->io_uring_disabled >= 2)
		finding_set(f, CHECK_WARN, "disabled by kernel.io_uring_disabled=%d: run will use the epoll engine",
		    s->io_uring_disabled);
	else if (s->io_uring_disabled == 1 && s->io_uring_group >= 0)
		finding_set(f, CHECK_WARN, "kernel.io_uring_disabled=1 allows io_uring only to root and group %lld (kernel.io_uring_group): run will use the epoll engine",
		    (long long)s->io_uring_group);
	else if (s->io_uring_disabled == 1)
		finding_set(f, CHECK_WARN, "kernel.io_uring_disabled=1 allows io_uring only to root: run will use the epoll engine");
	else
		return false;
	finding_data_str(f, "engine", "epoll");
	finding_fix(f, "optional: sudo sysctl -w kernel.io_uring_disabled=0 (and put 'kernel.io_uring_disabled = 0' in /etc/sysctl.d/ to keep it)");
	if (s->io_uring_disabled == 1 && s->io_uring_group >= 0)
		finding_fix(f, "optional: add the user to group %lld (kernel.io_uring_group)", (long long)s->io_uring_group);
	return true;
}

/* Below --root: what the files say (the kernel, the sysctl). */
static void check_io_uring_root(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char v[16];

	if (s->facts.release_parsed && s->facts.kernel < KERNEL_VERSION_CODE(5, 6, 0)) {
		kernel_text(s->facts.kernel, v, sizeof(v));
		finding_data_str(f, "engine", "epoll");
		finding_set(f, CHECK_WARN, "not in Linux %s (io_uring needs 5.6): run will use the epoll engine", v);
		finding_fix(f, "optional: a kernel 5.6 or later for the io_uring engine (the epoll engine relays the same)");
		return;
	}
	if ((s->io_uring_disabled >= 2 || (s->io_uring_disabled == 1 && geteuid() != 0)) && io_uring_sysctl(s, f))
		return;
	finding_data_str(f, "engine", "io_uring");
	finding_set(f, CHECK_OK, "available (kernel.io_uring_disabled=%d; io_uring_setup() not tried under --root): run will use the io_uring engine",
	    MAX(s->io_uring_disabled, 0));
}

void check_io_uring(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char err[96];
	int e;

	f->id = "io_uring";
	report_strf(f->subject, sizeof(f->subject), "io_uring");
	if (s->io_uring_disabled >= 0)
		finding_data_int(f, "io_uring_disabled", s->io_uring_disabled);

#ifndef HAVE_LIBURING
	finding_data_str(f, "engine", "epoll");
	finding_set(f, CHECK_WARN, "x410-vsock is built without liburing: run will use the epoll engine");
	finding_fix(f, "optional: rebuild with liburing 2.2 or later (Debian: apt install liburing-dev) for the io_uring engine");
	return;
#endif
	if (!s->facts.live) {
		check_io_uring_root(d, f);
		return;
	}

	/* The live system: run_engine_choose() made run's own choice. */
	e = s->uring_error;
	if (s->engine_choice < 0) {
		finding_data_str(f, "engine", "none");
		finding_set(f, CHECK_FAIL, "%s: %s: run (--engine auto) would not start", s->uring_why, report_error_text(e, err, sizeof(err)));
		if (e == -ENOMEM)
			finding_fix(f, "raise RLIMIT_MEMLOCK ('ulimit -l', LimitMEMLOCK= in a unit), or run with --engine epoll");
		else
			finding_fix(f, "run with --engine epoll");
		return;
	}
	if (s->engine_uring) {
		finding_data_str(f, "engine", "io_uring");
		finding_set(f, CHECK_OK, "io_uring_setup() works: run will use the io_uring engine");
		return;
	}
	if ((e == -EPERM || e == -EACCES) && io_uring_sysctl(s, f))
		return;
	finding_data_str(f, "engine", "epoll");
	if (e == -EPERM || e == -EACCES) {
		finding_set(f, CHECK_WARN, "io_uring_setup() fails: %s: blocked by a seccomp profile (Docker's default blocks io_uring since 25.0) or an LSM: run will use the epoll engine",
		    report_error_text(e, err, sizeof(err)));
		finding_fix(f, "optional: allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile");
		return;
	}
	if (e == -ENOSYS) {
		finding_set(f, CHECK_WARN, "io_uring_setup() fails: %s: the kernel is built without io_uring (CONFIG_IO_URING) or a seccomp profile hides it: run will use the epoll engine",
		    report_error_text(e, err, sizeof(err)));
		finding_fix(f, "optional: a kernel with CONFIG_IO_URING=y, or allow the io_uring system calls in the seccomp profile");
		return;
	}
	/* The kernel's io_uring lacks what the engine needs. */
	finding_set(f, CHECK_WARN, "%s: %s: run will use the epoll engine", s->uring_why, report_error_text(e, err, sizeof(err)));
	finding_fix(f, "optional: a kernel 5.7 or later for the io_uring engine (the epoll engine relays the same)");
}
