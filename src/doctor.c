/* SPDX-License-Identifier: MIT */
/*
 * x410-vsock doctor: check every link from this machine to X410 and say
 * exactly what to fix.  A table of checks, each judging the facts that
 * doctor_system.c gathered into one finding: OK, WARN, FAIL or SKIP, a
 * message and the commands that fix it.  Printed as one line per check (and
 * indented "fix:" lines), or as one JSON document.
 */
#include <errno.h>
#include <getopt.h>
#include <limits.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "advice.h"
#include "commands.h"
#include "display.h"
#include "doctor.h"
#include "log.h"
#include "regfile.h"
#include "run.h"
#include "upstream.h"
#include "util.h"
#include "x11probe.h"

#define FIX_MAX 4
#define LINE_MAX_ 8
#define DATA_MAX 12
#define TEXT_MAX 768
#define DEFAULT_TIMEOUT_MS 3000u


enum check_status {
	CHECK_OK,
	CHECK_WARN,
	CHECK_FAIL,
	CHECK_SKIP,
};

static const char *const status_tag[] = {
	[CHECK_OK] = "[ OK ]",
	[CHECK_WARN] = "[WARN]",
	[CHECK_FAIL] = "[FAIL]",
	[CHECK_SKIP] = "[SKIP]",
};

static const char *const status_json[] = {
	[CHECK_OK] = "ok",
	[CHECK_WARN] = "warn",
	[CHECK_FAIL] = "fail",
	[CHECK_SKIP] = "skip",
};

enum data_type {
	DATA_STR,
	DATA_INT,
	DATA_BOOL,
};

struct data {
	const char *key;
	enum data_type type;
	char str[TEXT_MAX];
	long long num;
};

struct finding {
	const char *id;
	char subject[ADDR_FORMAT_MAX + 64];
	enum check_status status;
	char message[TEXT_MAX];
	char fix[FIX_MAX][TEXT_MAX];
	unsigned n_fix;
	/* Further indented lines, printed as they are ("key: ...", ".reg: ..."). */
	char line[LINE_MAX_][TEXT_MAX];
	unsigned n_line;
	struct data data[DATA_MAX];
	unsigned n_data;
};

struct doctor {
	struct doctor_system sys;
	/* options */
	bool json;
	uint32_t x410_display;
	bool have_connect;
	struct addr upstream;
	char upstream_text[ADDR_FORMAT_MAX];
	const char *socket_dir;
	const char *lock_dir;
	bool have_display;
	unsigned display;
	uint64_t timeout_ms;
	/* derived */
	bool hv_needed;         /* the upstream is vsock CID 2: the hv_sock chain matters */
	bool hyperv;            /* a Hyper-V guest (VMBus, or WSL2) */
};

/* ---------------------------------------------------------------- findings */

static void vformat(char *buf, size_t size, const char *format, va_list ap)
{
	int n = vsnprintf(buf, size, format, ap);

	/* A message too long for its buffer is cut with an ellipsis rather
	 * than silently. */
	if (n >= 0 && (size_t)n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

/* snprintf that marks a cut with "..." (and keeps -Wformat-truncation
 * quiet: every message here is bounded on purpose). */
_printf_(3, 4) static void strf(char *buf, size_t size, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vformat(buf, size, format, ap);
	va_end(ap);
}

static void append(char *buf, size_t size, const char *format, ...) _printf_(3, 4);
static void append(char *buf, size_t size, const char *format, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, format);
	vformat(buf + n, size - n, format, ap);
	va_end(ap);
}

_printf_(3, 4) static void set(struct finding *f, enum check_status status, const char *format, ...)
{
	va_list ap;

	f->status = status;
	va_start(ap, format);
	vformat(f->message, sizeof(f->message), format, ap);
	va_end(ap);
}

_printf_(2, 3) static void fix(struct finding *f, const char *format, ...)
{
	va_list ap;

	if (f->n_fix >= FIX_MAX)
		return;
	va_start(ap, format);
	vformat(f->fix[f->n_fix++], TEXT_MAX, format, ap);
	va_end(ap);
}

_printf_(2, 3) static void line(struct finding *f, const char *format, ...)
{
	va_list ap;

	if (f->n_line >= LINE_MAX_)
		return;
	va_start(ap, format);
	vformat(f->line[f->n_line++], TEXT_MAX, format, ap);
	va_end(ap);
}

static struct data *data_add(struct finding *f, const char *key, enum data_type type)
{
	struct data *d;

	if (f->n_data >= DATA_MAX)
		return NULL;
	d = &f->data[f->n_data++];
	d->key = key;
	d->type = type;
	return d;
}

static void data_str(struct finding *f, const char *key, const char *value)
{
	struct data *d = data_add(f, key, DATA_STR);

	if (d)
		strf(d->str, sizeof(d->str), "%s", value);
}

static void data_int(struct finding *f, const char *key, long long value)
{
	struct data *d = data_add(f, key, DATA_INT);

	if (d)
		d->num = value;
}

static void data_bool(struct finding *f, const char *key, bool value)
{
	struct data *d = data_add(f, key, DATA_BOOL);

	if (d)
		d->num = value;
}

static const char *errno_name(int error)
{
	switch (abs(error)) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ENODEV: return "ENODEV";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EMFILE: return "EMFILE";
	default: return NULL;
	}
}

/* "Permission denied (EACCES)", or just the sentence for rarer errors. */
static const char *error_text(int error, char *buf, size_t size)
{
	const char *name = errno_name(error);

	if (name)
		strf(buf, size, "%s (%s)", strerror(abs(error)), name);
	else
		strf(buf, size, "%s", strerror(abs(error)));
	return buf;
}

static void kernel_text(unsigned code, char *buf, size_t size)
{
	strf(buf, size, "%u.%u", code >> 16, (code >> 8) & 0xff);
}

/* ---------------------------------------------------------------- 1. environment */

static void check_environment(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char what[TEXT_MAX], dmi[TEXT_MAX / 2] = "", where[TEXT_MAX / 2] = "";

	f->id = "environment";
	strf(f->subject, sizeof(f->subject), "environment");

	if (s->facts.dmi_vendor[0] || s->facts.dmi_product[0])
		strf(dmi, sizeof(dmi), "; DMI '%s' '%s' '%s'", s->facts.dmi_vendor, s->facts.dmi_product, s->facts.dmi_version);
	if (s->facts.container[0])
		strf(where, sizeof(where), "; in a container: %s (%s)", s->facts.container, s->facts.container_source);

	data_str(f, "wsl", s->facts.wsl == WSL_2 ? "2" : s->facts.wsl == WSL_1 ? "1" : "");
	data_int(f, "vmbus_devices", s->facts.vmbus_devices);
	data_str(f, "hypervisor", s->facts.vmbus_devices > 0 || s->facts.wsl == WSL_2 ? "Hyper-V" : s->facts.hypervisor ? s->facts.hypervisor : "");
	data_str(f, "container", s->facts.container);

	if (s->facts.wsl == WSL_1) {
		set(f, d->hv_needed ? CHECK_FAIL : CHECK_OK,
		    "WSL1 (kernel '%s'): not a virtual machine, so no VSOCK%s", s->facts.osrelease, where);
		if (d->hv_needed)
			fix(f, "convert the distribution to WSL2, in Windows: wsl --set-version <distribution> 2");
		return;
	}
	if (s->facts.wsl == WSL_2)
		strf(what, sizeof(what), "WSL2, a Hyper-V utility VM (kernel '%s')%s", s->facts.osrelease, where);
	else if (s->facts.vmbus_devices > 0)
		strf(what, sizeof(what), "Hyper-V guest: %d VMBus devices%s%s", s->facts.vmbus_devices, dmi, where);
	else if (s->facts.hypervisor && streq(s->facts.hypervisor, "Hyper-V")) {
		set(f, d->hv_needed ? CHECK_FAIL : CHECK_OK,
		    "%s says Hyper-V, but there is no VMBus (/sys/bus/vmbus/devices): hv_vmbus is not loaded%s%s",
		    s->facts.hypervisor_source, dmi, where);
		if (d->hv_needed)
			fix(f, "sudo modprobe hv_vmbus");
		return;
	} else {
		if (s->facts.hypervisor)
			strf(what, sizeof(what), "not a Hyper-V guest: %s (from %s)%s%s",
				       s->facts.hypervisor, s->facts.hypervisor_source, dmi, where);
		else
			strf(what, sizeof(what), "not a Hyper-V guest: no VMBus and no hypervisor found%s%s",
				       dmi, where);
		if (!d->hv_needed) {
			set(f, CHECK_OK, "%s; not needed for '%s'", what, d->upstream_text);
			return;
		}
		set(f, CHECK_FAIL, "%s; hv_sock works only in Hyper-V VMs and WSL2", what);
		fix(f, "run x410-vsock in a Hyper-V VM or WSL2 on the Windows machine that runs X410, or relay to an X server elsewhere: x410-vsock run --connect tcp:HOST:PORT");
		return;
	}

	/* A Hyper-V guest.  In a container the question is whether AF_VSOCK
	 * may be used at all: Docker >= 24 blocks it by default. */
	if (s->facts.container[0] && d->hv_needed && s->vsock_socket != 0) {
		set(f, CHECK_WARN, "%s; AF_VSOCK is blocked in containers by default (Docker >= 24)", what);
		fix(f, "run x410-vsock on the VM itself, outside the container, or allow socket(AF_VSOCK) in the container's seccomp profile");
		return;
	}
	set(f, CHECK_OK, "%s", what);
}

/* ---------------------------------------------------------------- 2. kernel */

static void check_kernel(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	const unsigned k = s->facts.kernel;
	char v[16];

	f->id = "kernel";
	strf(f->subject, sizeof(f->subject), "kernel");
	data_str(f, "release", s->facts.release);

	if (!s->facts.release_parsed) {
		set(f, CHECK_SKIP, "cannot read a version from the release '%s'", s->facts.release);
		return;
	}
	kernel_text(k, v, sizeof(v));
	data_str(f, "version", v);

	if (d->hv_needed && k < KERNEL_VERSION_CODE(4, 14, 0)) {
		set(f, CHECK_FAIL, "Linux %s ('%s'): hv_sock needs 4.14 or later", v, s->facts.release);
		fix(f, "install and boot a kernel 4.14 or later (your distribution's current kernel package)");
		return;
	}
	if (d->hv_needed && k < KERNEL_VERSION_CODE(5, 5, 0)) {
		set(f, CHECK_WARN,
		    "Linux %s ('%s'): before 5.5 only one vsock transport can load (vmw_vsock_vmci_transport may take it before hv_sock)%s",
		    v, s->facts.release, k < KERNEL_VERSION_CODE(5, 6, 0) ? "; before 5.6 no io_uring: run will use the epoll engine" : "");
		fix(f, "echo 'blacklist vmw_vsock_vmci_transport' | sudo tee /etc/modprobe.d/x410-vsock.conf");
		fix(f, "optional: a kernel 5.6 or later for the io_uring engine");
		return;
	}
	if (k < KERNEL_VERSION_CODE(5, 6, 0)) {
		set(f, CHECK_WARN, "Linux %s ('%s'): no io_uring before 5.6: run will use the epoll engine", v, s->facts.release);
		fix(f, "optional: a kernel 5.6 or later for the io_uring engine (the epoll engine relays the same)");
		return;
	}
	set(f, CHECK_OK, "Linux %s ('%s'): new enough for hv_sock (4.14), several vsock transports (5.5) and io_uring (5.6)",
	    v, s->facts.release);
}

/* ---------------------------------------------------------------- 3./4. hv_sock */

static bool hv_skip(struct doctor *d, struct finding *f, const char *what)
{
	if (!d->hv_needed) {
		set(f, CHECK_SKIP, "%snot needed for '%s'", what, d->upstream_text);
		return true;
	}
	if (!d->hyperv) {
		set(f, CHECK_SKIP, "%snot a Hyper-V guest", what);
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
		fix(f, "load it on the VM itself, outside the container: sudo modprobe hv_sock (or x410-vsock setup there)");
		return;
	}
	advice_hv_sock_missing(&d->sys.facts, advice, sizeof(advice));
	fix(f, "%s", advice);
}

static void check_hv_sock(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	const struct module_info *m = &s->module[DOCTOR_MOD_HVSOCK];
	struct modules_load_hit bl;
	char state[TEXT_MAX / 2], err[96];

	f->id = "hv_sock";
	strf(f->subject, sizeof(f->subject), "hv_sock");

	if (s->module_error[DOCTOR_MOD_HVSOCK] < 0) {
		data_str(f, "state", "unknown");
		if (hv_skip(d, f, ""))
			return;
		if (s->kmod_error[0]) {
			/* Not in /sys/module, and libkmod (dlopen'ed) is
			 * needed for the rest. */
			char advice[TEXT_MAX];

			set(f, CHECK_FAIL, "not in /sys/module, and libkmod cannot be loaded to tell whether it is built in or loadable (%s)", s->kmod_error);
			advice_libkmod_missing(&s->facts, advice, sizeof(advice));
			fix(f, "%s, then run setup", advice);
			return;
		}
		set(f, CHECK_FAIL, "cannot tell whether it is in the kernel: %s",
		    error_text(s->module_error[DOCTOR_MOD_HVSOCK], err, sizeof(err)));
		fix(f, "sudo modprobe hv_sock");
		return;
	}
	data_str(f, "state", module_state_to_string(m->state));
	switch (m->state) {
	case MODULE_STATE_BUILTIN:
		strf(state, sizeof(state), "built into the kernel");
		break;
	case MODULE_STATE_LIVE:
		strf(state, sizeof(state), "loaded");
		break;
	case MODULE_STATE_COMING:
		strf(state, sizeof(state), "being loaded right now");
		break;
	case MODULE_STATE_GOING:
		strf(state, sizeof(state), "being unloaded right now");
		break;
	case MODULE_STATE_LOADABLE:
		strf(state, sizeof(state), "not loaded (the module is %s)", unroot(d, m->path));
		data_str(f, "path", unroot(d, m->path));
		break;
	case MODULE_STATE_MISSING:
		strf(state, sizeof(state), "not in the kernel, and no module for kernel '%s' in %s",
		     s->facts.release, unroot(d, s->modules_dir));
		break;
	case MODULE_STATE_NO_MODULES_DIR:
	default:
		strf(state, sizeof(state), "not in the kernel, and there is no %s", unroot(d, s->modules_dir));
		break;
	}
	{
		char prefix[TEXT_MAX / 2 + 4];

		strf(prefix, sizeof(prefix), "%s; ", state);
		if (hv_skip(d, f, prefix))
			return;
	}

	switch (m->state) {
	case MODULE_STATE_BUILTIN:
	case MODULE_STATE_LIVE:
		set(f, CHECK_OK, "%s", state);
		return;
	case MODULE_STATE_COMING:
	case MODULE_STATE_GOING:
		set(f, CHECK_WARN, "%s", state);
		fix(f, "run x410-vsock doctor again in a moment");
		return;
	case MODULE_STATE_LOADABLE:
		if (module_find_blacklist(s->facts.root, "hv_sock", &bl) == 1) {
			set(f, CHECK_FAIL, "%s, and blacklisted by %s line %u ('%s')", state, unroot(d, bl.path), bl.line, bl.text);
			if (bl.line > 0)
				fix(f, "delete line %u ('%s') of %s, then: sudo x410-vsock setup", bl.line, bl.text, unroot(d, bl.path));
			else
				fix(f, "remove hv_sock from modprobe.blacklist= on the kernel command line, then: sudo x410-vsock setup");
			return;
		}
		set(f, CHECK_FAIL, "%s", state);
		fix(f, "sudo x410-vsock setup (loads it now and at every boot; just now: sudo modprobe hv_sock)");
		return;
	case MODULE_STATE_MISSING:
	case MODULE_STATE_NO_MODULES_DIR:
	default:
		set(f, CHECK_FAIL, "%s", state);
		if (s->facts.release_parsed && s->facts.kernel < KERNEL_VERSION_CODE(4, 14, 0))
			fix(f, "boot a kernel 4.14 or later, which has hv_sock (see kernel)");
		else
			fix_modules_package(d, f);
		return;
	}
}

static void check_boot(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	const struct module_info *m = &s->module[DOCTOR_MOD_HVSOCK];
	struct modules_load_hit hit, bl;
	char path[PATH_MAX], err[96];
	int r;

	f->id = "boot";
	strf(f->subject, sizeof(f->subject), "hv_sock at boot");
	if (hv_skip(d, f, ""))
		return;
	if (s->module_error[DOCTOR_MOD_HVSOCK] < 0) {
		set(f, CHECK_SKIP, "the state of hv_sock is unknown");
		return;
	}
	if (s->facts.container[0]) {
		set(f, CHECK_SKIP, "in a container: the VM loads its modules at boot, not the container");
		return;
	}
	if (m->state == MODULE_STATE_BUILTIN) {
		data_bool(f, "at_boot", true);
		set(f, CHECK_OK, "built into the kernel: there at every boot");
		return;
	}
	if (m->state == MODULE_STATE_MISSING || m->state == MODULE_STATE_NO_MODULES_DIR) {
		set(f, CHECK_SKIP, "there is no hv_sock module to load (see hv_sock)");
		return;
	}

	r = modules_load_find(s->facts.root, "hv_sock", &hit);
	if (r == 0 && path_below_root(s->facts.root, "/etc/modules", path, sizeof(path)) == 0)
		/* Debian's list, read by its kmod init script (and by systemd
		 * through the modules-load.d/modules.conf symlink). */
		r = modules_load_etc_modules_lists(path, "hv_sock", &hit) == 1 ? 1 : 0;
	if (r < 0) {
		set(f, CHECK_SKIP, "cannot read the modules-load.d directories: %s", error_text(r, err, sizeof(err)));
		return;
	}
	if (r == 0) {
		data_bool(f, "at_boot", false);
		set(f, CHECK_WARN, "no modules-load.d file lists hv_sock: %s after a reboot",
		    m->state == MODULE_STATE_LIVE ? "it will be missing" : "it will not be loaded");
		fix(f, "sudo x410-vsock setup (writes /etc/modules-load.d/hv_sock.conf)");
		return;
	}
	data_str(f, "file", unroot(d, hit.path));
	if (module_find_blacklist(s->facts.root, "hv_sock", &bl) == 1) {
		data_bool(f, "at_boot", false);
		set(f, CHECK_WARN, "listed in %s line %u, but blacklisted by %s line %u ('%s'): systemd-modules-load skips it",
		    unroot(d, hit.path), hit.line, unroot(d, bl.path), bl.line, bl.text);
		if (bl.line > 0)
			fix(f, "delete line %u ('%s') of %s", bl.line, bl.text, unroot(d, bl.path));
		else
			fix(f, "remove hv_sock from modprobe.blacklist= on the kernel command line");
		return;
	}
	data_bool(f, "at_boot", true);
	set(f, CHECK_OK, "loaded at boot by %s (line %u)", unroot(d, hit.path), hit.line);
}

/* ---------------------------------------------------------------- 5. AF_VSOCK */

/* The fix that brings hv_sock (and with it vsock) into the kernel. */
static void fix_load_hv_sock(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	enum module_state state = s->module[DOCTOR_MOD_HVSOCK].state;

	if (s->module_error[DOCTOR_MOD_HVSOCK] == 0 &&
	    (state == MODULE_STATE_MISSING || state == MODULE_STATE_NO_MODULES_DIR) && !s->facts.container[0])
		fix(f, "first make hv_sock available (see hv_sock), then: sudo x410-vsock setup");
	else if (s->facts.container[0])
		fix(f, "load hv_sock on the VM itself, outside the container: sudo x410-vsock setup there");
	else
		fix(f, "sudo x410-vsock setup (loads hv_sock, which brings vsock)");
}

static void check_vsock(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char sock[TEXT_MAX / 2], transport[TEXT_MAX / 2], err[96];
	bool vsock_upstream = d->upstream.kind == ADDR_VSOCK;

	f->id = "vsock";
	strf(f->subject, sizeof(f->subject), "AF_VSOCK");
	data_str(f, "transport", doctor_transport_name(s->transport));
	if (s->local_cid >= 0 && s->local_cid != VMADDR_CID_ANY)
		data_int(f, "local_cid", s->local_cid);
	if (s->vsock_socket != DOCTOR_NOT_TRIED)
		data_bool(f, "socket", s->vsock_socket == 0);

	if (!s->module_present[DOCTOR_MOD_VSOCK])
		strf(sock, sizeof(sock), "the vsock core is not loaded");
	else if (s->vsock_socket == DOCTOR_NOT_TRIED)
		strf(sock, sizeof(sock), "socket() not tried (--root)");
	else if (s->vsock_socket == 0)
		strf(sock, sizeof(sock), "socket() works");
	else
		strf(sock, sizeof(sock), "socket() fails: %s", error_text(s->vsock_socket, err, sizeof(err)));

	switch (s->transport) {
	case TRANSPORT_HVSOCK:
		strf(transport, sizeof(transport), "guest-to-host transport: hv_sock");
		break;
	case TRANSPORT_VIRTIO:
	case TRANSPORT_VMCI:
		if (s->own_cid)
			strf(transport, sizeof(transport), "guest-to-host transport: %s (local CID %lld)",
				       doctor_transport_name(s->transport), (long long)s->local_cid);
		else
			strf(transport, sizeof(transport), "guest-to-host transport: %s",
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
				append(why, sizeof(why), "%s%s", why[0] ? ", " : "in the kernel: ", listed[i].name);
		if (s->own_cid)
			append(why, sizeof(why), "%slocal CID %lld of a transport doctor does not know",
			       why[0] ? "; " : "", (long long)s->local_cid);
		strf(transport, sizeof(transport), "guest-to-host transport: unclear (%s)", why);
		break;
	}
	case TRANSPORT_LOOPBACK:
		strf(transport, sizeof(transport), "guest-to-host transport: none, loopback only (vsock_loopback%s)",
		     s->local_cid == VMADDR_CID_LOCAL ? ", local CID 1" : "");
		break;
	case TRANSPORT_NONE:
		strf(transport, sizeof(transport), "no guest-to-host transport");
		break;
	}

	if (!vsock_upstream) {
		set(f, CHECK_SKIP, "not needed for '%s' (%s; %s)", d->upstream_text, sock, transport);
		return;
	}
	if (d->hv_needed && !d->hyperv) {
		set(f, CHECK_SKIP, "not a Hyper-V guest (%s; %s)", sock, transport);
		return;
	}

	if (!s->module_present[DOCTOR_MOD_VSOCK] || s->vsock_socket == -EAFNOSUPPORT) {
		set(f, CHECK_FAIL, "%s%s; %s", sock, s->vsock_socket == -EAFNOSUPPORT ? ": no vsock in the kernel" : "", transport);
		if (d->hv_needed)
			fix_load_hv_sock(d, f);
		else
			fix(f, "sudo modprobe vsock");
		return;
	}
	if (s->vsock_socket == -EPERM || s->vsock_socket == -EACCES) {
		set(f, CHECK_FAIL, "%s: blocked by a seccomp profile or an LSM (Docker >= 24 blocks AF_VSOCK by default); %s",
		    sock, transport);
		fix(f, "run x410-vsock outside the container, or allow socket(AF_VSOCK) in its seccomp profile (docker run --security-opt seccomp=PROFILE)");
		return;
	}
	if (s->vsock_socket < 0) {
		set(f, CHECK_FAIL, "%s; %s", sock, transport);
		fix_load_hv_sock(d, f);
		return;
	}
	if (!d->hv_needed) {
		/* vsock:local or another CID: any transport may do. */
		set(f, CHECK_OK, "%s; %s", sock, transport);
		return;
	}

	switch (s->transport) {
	case TRANSPORT_HVSOCK:
		set(f, CHECK_OK, "%s; %s", sock, transport);
		return;
	case TRANSPORT_NONE:
	case TRANSPORT_LOOPBACK:
		set(f, CHECK_FAIL, "%s; %s: hv_sock is not in the kernel", sock, transport);
		fix_load_hv_sock(d, f);
		return;
	case TRANSPORT_VIRTIO:
	case TRANSPORT_VMCI:
		set(f, CHECK_FAIL, "%s; %s, not hv_sock: CID 2 is not reached through Hyper-V", sock, transport);
		fix(f, "echo 'blacklist %s' | sudo tee /etc/modprobe.d/x410-vsock.conf, then reboot",
		    s->transport == TRANSPORT_VIRTIO ? "vmw_vsock_virtio_transport" : "vmw_vsock_vmci_transport");
		return;
	case TRANSPORT_AMBIGUOUS:
		set(f, CHECK_WARN, "%s; %s: cannot tell whether CID 2 goes through hv_sock", sock, transport);
		fix(f, "blacklist the transports other than hv_sock in /etc/modprobe.d/x410-vsock.conf (blacklist vmw_vsock_virtio_transport, blacklist vmw_vsock_vmci_transport), then reboot");
		return;
	}
}

/* ---------------------------------------------------------------- 6. io_uring */

/* The sysctl that keeps io_uring from us, if it is that: run falls back
 * to epoll.  Returns true when it said so. */
static bool io_uring_sysctl(const struct doctor_system *s, struct finding *f)
{
	if (s->io_uring_disabled >= 2)
		set(f, CHECK_WARN, "disabled by kernel.io_uring_disabled=%d: run will use the epoll engine",
		    s->io_uring_disabled);
	else if (s->io_uring_disabled == 1 && s->io_uring_group >= 0)
		set(f, CHECK_WARN, "kernel.io_uring_disabled=1 allows io_uring only to root and group %lld (kernel.io_uring_group): run will use the epoll engine",
		    (long long)s->io_uring_group);
	else if (s->io_uring_disabled == 1)
		set(f, CHECK_WARN, "kernel.io_uring_disabled=1 allows io_uring only to root: run will use the epoll engine");
	else
		return false;
	data_str(f, "engine", "epoll");
	fix(f, "optional: sudo sysctl -w kernel.io_uring_disabled=0 (and put 'kernel.io_uring_disabled = 0' in /etc/sysctl.d/ to keep it)");
	if (s->io_uring_disabled == 1 && s->io_uring_group >= 0)
		fix(f, "optional: add the user to group %lld (kernel.io_uring_group)", (long long)s->io_uring_group);
	return true;
}

/* Below --root: what the files say (the kernel, the sysctl). */
static void check_io_uring_root(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char v[16];

	if (s->facts.release_parsed && s->facts.kernel < KERNEL_VERSION_CODE(5, 6, 0)) {
		kernel_text(s->facts.kernel, v, sizeof(v));
		data_str(f, "engine", "epoll");
		set(f, CHECK_WARN, "not in Linux %s (io_uring needs 5.6): run will use the epoll engine", v);
		fix(f, "optional: a kernel 5.6 or later for the io_uring engine (the epoll engine relays the same)");
		return;
	}
	if ((s->io_uring_disabled >= 2 || (s->io_uring_disabled == 1 && geteuid() != 0)) && io_uring_sysctl(s, f))
		return;
	data_str(f, "engine", "io_uring");
	set(f, CHECK_OK, "available (kernel.io_uring_disabled=%d; io_uring_setup() not tried under --root): run will use the io_uring engine",
	    MAX(s->io_uring_disabled, 0));
}

static void check_io_uring(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	char err[96];
	int e;

	f->id = "io_uring";
	strf(f->subject, sizeof(f->subject), "io_uring");
	if (s->io_uring_disabled >= 0)
		data_int(f, "io_uring_disabled", s->io_uring_disabled);

#ifndef HAVE_LIBURING
	data_str(f, "engine", "epoll");
	set(f, CHECK_WARN, "x410-vsock is built without liburing: run will use the epoll engine");
	fix(f, "optional: rebuild with liburing 2.2 or later (Debian: apt install liburing-dev) for the io_uring engine");
	return;
#endif
	if (!s->facts.live) {
		check_io_uring_root(d, f);
		return;
	}

	/* The live system: run_engine_choose() made run's own choice. */
	e = s->uring_error;
	if (s->engine_choice < 0) {
		data_str(f, "engine", "none");
		set(f, CHECK_FAIL, "%s: %s: run (--engine auto) would not start", s->uring_why, error_text(e, err, sizeof(err)));
		if (e == -ENOMEM)
			fix(f, "raise RLIMIT_MEMLOCK ('ulimit -l', LimitMEMLOCK= in a unit), or run with --engine epoll");
		else
			fix(f, "run with --engine epoll");
		return;
	}
	if (s->engine_uring) {
		data_str(f, "engine", "io_uring");
		set(f, CHECK_OK, "io_uring_setup() works: run will use the io_uring engine");
		return;
	}
	if ((e == -EPERM || e == -EACCES) && io_uring_sysctl(s, f))
		return;
	data_str(f, "engine", "epoll");
	if (e == -EPERM || e == -EACCES) {
		set(f, CHECK_WARN, "io_uring_setup() fails: %s: blocked by a seccomp profile (Docker's default blocks io_uring) or an LSM: run will use the epoll engine",
		    error_text(e, err, sizeof(err)));
		fix(f, "optional: allow io_uring_setup, io_uring_enter and io_uring_register in the seccomp profile");
		return;
	}
	if (e == -ENOSYS) {
		set(f, CHECK_WARN, "io_uring_setup() fails: %s: the kernel is built without io_uring (CONFIG_IO_URING) or a seccomp profile hides it: run will use the epoll engine",
		    error_text(e, err, sizeof(err)));
		fix(f, "optional: a kernel with CONFIG_IO_URING=y, or allow the io_uring system calls in the seccomp profile");
		return;
	}
	/* The kernel's io_uring lacks what the engine needs. */
	set(f, CHECK_WARN, "%s: %s: run will use the epoll engine", s->uring_why, error_text(e, err, sizeof(err)));
	fix(f, "optional: a kernel 5.7 or later for the io_uring engine (the epoll engine relays the same)");
}

/* ---------------------------------------------------------------- 7. display */

/* ":1 :2 :3": the free displays run would suggest too. */
static unsigned suggest_free(struct doctor *d, const struct display_where *w, char *buf, size_t size,
			     unsigned found[static DISPLAY_SUGGEST_COUNT])
{
	unsigned n = display_suggest_free(w, d->have_display ? d->display : 0, d->have_display,
					  found, DISPLAY_SUGGEST_COUNT);

	buf[0] = 0;
	for (unsigned i = 0; i < n; i++)
		append(buf, size, "%s:%u", i ? " " : "", found[i]);
	return n;
}

/* "taken by Xvfb (PID 123, lock /tmp/.X5-lock), socket /tmp/.X11-unix/X5, abstract @/tmp/.X11-unix/X5" */
static bool describe_display(struct doctor *d, const struct display_state *dd, char *buf, size_t size,
			     bool *ret_live, bool *ret_stale)
{
	char path[PATH_MAX], lock[PATH_MAX];
	bool any = false;

	buf[0] = 0;
	*ret_live = *ret_stale = false;
	(void)addr_display_socket_path(dd->display, d->socket_dir, path, sizeof(path));
	(void)addr_display_lock_path(dd->display, d->lock_dir, lock, sizeof(lock));

	switch (dd->lock.state) {
	case DISPLAY_LOCK_NONE:
		break;
	case DISPLAY_LOCK_LIVE:
		if (dd->lock.comm[0])
			append(buf, size, "lock %s held by '%s' (PID %d)", lock, dd->lock.comm, (int)dd->lock.pid);
		else
			append(buf, size, "lock %s held by PID %d", lock, (int)dd->lock.pid);
		*ret_live = any = true;
		break;
	case DISPLAY_LOCK_STARTING:
		append(buf, size, "lock %s just written, without a PID yet (an X server starting?)", lock);
		*ret_live = any = true;
		break;
	case DISPLAY_LOCK_STALE:
		append(buf, size, "stale lock %s (PID %d is gone)", lock, (int)dd->lock.pid);
		*ret_stale = any = true;
		break;
	case DISPLAY_LOCK_GARBLED:
		append(buf, size, "lock %s without a PID in it", lock);
		*ret_stale = any = true;
		break;
	case DISPLAY_LOCK_NOT_REGULAR:
		append(buf, size, "lock %s is not a regular file (a symbolic link?): run does not touch it", lock);
		*ret_live = any = true;
		break;
	case DISPLAY_LOCK_UNREADABLE:
		append(buf, size, "lock %s cannot be read", lock);
		*ret_live = any = true;
		break;
	}
	switch (dd->path) {
	case DISPLAY_SOCK_NONE:
		break;
	case DISPLAY_SOCK_LIVE:
		append(buf, size, "%ssocket %s is served", any ? ", " : "", path);
		*ret_live = any = true;
		break;
	case DISPLAY_SOCK_STALE:
		append(buf, size, "%sstale socket %s (nobody listens)", any ? ", " : "", path);
		*ret_stale = any = true;
		break;
	case DISPLAY_SOCK_NOT_SOCKET:
		append(buf, size, "%s%s is not a socket", any ? ", " : "", path);
		*ret_live = any = true;
		break;
	case DISPLAY_SOCK_UNKNOWN:
		append(buf, size, "%s%s exists (cannot tell whether it is served)", any ? ", " : "", path);
		*ret_live = any = true;
		break;
	}
	if (dd->abstract) {
		append(buf, size, "%sabstract socket @%s/X%u is served", any ? ", " : "", X11_UNIX_DIR, dd->display);
		*ret_live = any = true;
	}
	return any;
}

static void check_display(struct doctor *d, struct finding *f)
{
	struct display_unix_table t = {};
	struct display_where w = {
		.root = d->sys.facts.root,
		.live = d->sys.facts.live,
		.socket_dir = d->socket_dir,
		.lock_dir = d->lock_dir,
	};
	struct doctor_dir dir;
	char dirtext[TEXT_MAX / 2], suggest[64], state[TEXT_MAX / 2];
	unsigned free_list[DISPLAY_SUGGEST_COUNT];
	unsigned n_free = 0;
	enum check_status status = CHECK_OK;
	bool is_default_dir = streq(d->socket_dir, X11_UNIX_DIR);
	int r;

	f->id = "display";
	if (d->have_display) {
		strf(f->subject, sizeof(f->subject), "display :%u", d->display);
		data_int(f, "display", d->display);
	} else
		strf(f->subject, sizeof(f->subject), "displays");

	/* Below --root, sockets are not asked but looked up in the root's
	 * /proc/net/unix; without it abstract sockets cannot be seen, and
	 * whether a socket file is served cannot be told. */
	if (!d->sys.facts.live && display_unix_table_read(d->sys.facts.root, &t) == 0)
		w.table = &t;

	r = doctor_dir_check(&d->sys, d->socket_dir, &dir);
	if (r < 0) {
		set(f, CHECK_FAIL, "cannot check '%s': %s", d->socket_dir, strerror(-r));
		goto finish;
	}
	switch (dir.state) {
	case DIR_MISSING:
		strf(dirtext, sizeof(dirtext), "%s does not exist yet (run creates it)", d->socket_dir);
		break;
	case DIR_OK:
		strf(dirtext, sizeof(dirtext), "%s has mode %04o%s", d->socket_dir, (unsigned)dir.mode,
			       dir.readonly ? ", read-only (run serves the abstract socket only)" : "");
		break;
	case DIR_NOT_DIR:
		status = CHECK_FAIL;
		strf(dirtext, sizeof(dirtext), "%s is not a directory (a symlink?): run refuses it", d->socket_dir);
		/* Never suggest removing what is there: it may be anything. */
		if (is_default_dir)
			fix(f, "sudo mv %s %s.bad && sudo install -d -m 1777 -o root -g root %s",
			    d->socket_dir, d->socket_dir, d->socket_dir);
		else
			fix(f, "give --socket-dir a directory");
		break;
	case DIR_FOREIGN_OWNER:
		status = CHECK_FAIL;
		strf(dirtext, sizeof(dirtext), "%s belongs to UID %u, neither root nor you: run refuses it",
		     d->socket_dir, (unsigned)dir.uid);
		if (is_default_dir)
			fix(f, "sudo chown root:root %s && sudo chmod 1777 %s", d->socket_dir, d->socket_dir);
		else
			fix(f, "give --socket-dir a directory of yours or root's");
		break;
	case DIR_NOT_STICKY:
		status = CHECK_FAIL;
		strf(dirtext, sizeof(dirtext), "%s is %s-writable without the sticky bit (mode %04o): run refuses it",
		     d->socket_dir, dir.mode & S_IWOTH ? "world" : "group", (unsigned)dir.mode);
		fix(f, "%schmod +t %s", dir.uid == geteuid() ? "" : "sudo ", d->socket_dir);
		break;
	case DIR_NOT_WRITABLE:
		status = CHECK_WARN;
		strf(dirtext, sizeof(dirtext), "%s (mode %04o) is not writable for you: run can serve the abstract socket only",
		     d->socket_dir, (unsigned)dir.mode);
		fix(f, "%s", is_default_dir ? "sudo chmod 1777 " X11_UNIX_DIR : "give --socket-dir a directory you may write to");
		break;
	case DIR_ERROR:
	default:
		status = CHECK_FAIL;
		strf(dirtext, sizeof(dirtext), "cannot look at %s: %s", d->socket_dir, strerror(-dir.error));
		fix(f, "check the permissions of the directories above %s", d->socket_dir);
		break;
	}
	data_str(f, "socket_dir", d->socket_dir);

	n_free = suggest_free(d, &w, suggest, sizeof(suggest), free_list);

	if (d->have_display) {
		struct display_state dd;
		bool live, stale;

		display_check(&w, d->display, &dd);
		if (!describe_display(d, &dd, state, sizeof(state), &live, &stale)) {
			data_bool(f, "free", true);
			set(f, status, "free; %s", dirtext);
		} else if (live) {
			data_bool(f, "free", false);
			set(f, CHECK_FAIL, "taken: %s; %s", state, dirtext);
			if (n_free > 0)
				fix(f, "use a free display: %s (e.g. x410-vsock run :%u)", suggest, free_list[0]);
			else
				fix(f, "use another display number");
		} else if (stale) {
			char lock[PATH_MAX], path[PATH_MAX];

			data_bool(f, "free", true);
			set(f, status == CHECK_FAIL ? CHECK_FAIL : CHECK_WARN, "left over by a server that is gone: %s; run takes %s over; %s",
			    state, dd.lock.state != DISPLAY_LOCK_NONE && dd.path == DISPLAY_SOCK_STALE ? "them" : "it", dirtext);
			(void)addr_display_lock_path(d->display, d->lock_dir, lock, sizeof(lock));
			(void)addr_display_socket_path(d->display, d->socket_dir, path, sizeof(path));
			fix(f, "optional, run does it by itself: rm -f%s%s%s%s",
			    dd.lock.state != DISPLAY_LOCK_NONE ? " " : "", dd.lock.state != DISPLAY_LOCK_NONE ? lock : "",
			    dd.path == DISPLAY_SOCK_STALE ? " " : "", dd.path == DISPLAY_SOCK_STALE ? path : "");
		}
	} else
		set(f, status, "%s", dirtext);

	if (n_free > 0 && !(d->have_display && f->status == CHECK_FAIL && f->n_fix > 0 && strstr(f->fix[0], "free display")))
		append(f->message, sizeof(f->message), "; free: %s", suggest);
	if (n_free > 0) {
		struct data *x = data_add(f, "free_displays", DATA_STR);

		if (x)
			strf(x->str, sizeof(x->str), "%s", suggest);
	}
finish:
	display_unix_table_free(&t);
}

/* ---------------------------------------------------------------- 8. X410 */

static void registry_lines(struct doctor *d, struct finding *f)
{
	char guid[ADDR_GUID_MAX];

	/* The key name 'x410-vsock regfile' writes (lower case, as X410's
	 * guide has it). */
	regfile_service_key(d->x410_display, guid);
	line(f, "key: HKLM\\%s\\%s, string value ElementName = \"X410 Display %u\"", REGFILE_GCS_KEY, guid, d->x410_display);
	line(f, ".reg: Windows Registry Editor Version 5.00");
	line(f, ".reg: [HKEY_LOCAL_MACHINE\\%s\\%s]", REGFILE_GCS_KEY, guid);
	line(f, ".reg: \"ElementName\"=\"X410 Display %u\"", d->x410_display);
	{
		char key[TEXT_MAX];

		strf(key, sizeof(key), "HKLM\\%s\\%s", REGFILE_GCS_KEY, guid);
		data_str(f, "registry_key", key);
	}
}

/* Why a connect to the upstream failed, in the user's terms: the sentence
 * the relay logs for the same error. */
static void connect_failed(struct doctor *d, struct finding *f, int error)
{
	char hint[TEXT_MAX];
	const char *name = errno_name(error);

	upstream_error_hint(&d->upstream, !d->have_connect, d->x410_display, d->timeout_ms, error, hint, sizeof(hint));
	set(f, CHECK_FAIL, "%s", hint);
	data_str(f, "connect_error", name ? name : strerror(abs(error)));
	if (d->upstream.kind == ADDR_VSOCK) {
		if (d->upstream.sa.vm.svm_cid == VMADDR_CID_HOST) {
			fix(f, "on Windows, as an administrator: import the .reg lines below (save them as x410-display-%u.reg), then start X410 with: x410 /listen hyperv",
			    d->x410_display);
			if (error == -ENODEV || error == -EAFNOSUPPORT || error == -EPROTONOSUPPORT)
				fix(f, "sudo x410-vsock setup");
		}
		return;
	}
	fix(f, "start the X server at '%s', or give the right address with --connect", d->upstream_text);
}

static void check_x410(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	struct x11probe_reply reply;
	uint64_t start, deadline, took;
	char err[96];
	int fd, r;

	f->id = "x410";
	strf(f->subject, sizeof(f->subject), "X410 display %u (%s)", d->x410_display, d->upstream_text);
	data_int(f, "x410_display", d->x410_display);
	data_str(f, "address", d->upstream_text);

	/* Off Hyper-V, CID 2 is some other host: never knock on it unless
	 * asked to with --connect. */
	if (!d->have_connect) {
		if (!s->facts.live) {
			set(f, CHECK_SKIP, "not probed: --root describes another system (give --connect ADDR to probe anyway)");
			registry_lines(d, f);
			return;
		}
		if (s->transport != TRANSPORT_HVSOCK) {
			if (s->transport == TRANSPORT_NONE)
				set(f, CHECK_SKIP, "not probed: hv_sock is not the guest-to-host transport (there is none); give --connect ADDR to probe anyway");
			else if (s->transport == TRANSPORT_LOOPBACK)
				set(f, CHECK_SKIP, "not probed: hv_sock is not the guest-to-host transport (there is none, only loopback); give --connect ADDR to probe anyway");
			else
				set(f, CHECK_SKIP, "not probed: hv_sock is not the guest-to-host transport (%s is), so CID 2 is not Windows; give --connect ADDR to probe anyway",
				    doctor_transport_name(s->transport));
			registry_lines(d, f);
			return;
		}
	}

	start = upstream_now_ms();
	deadline = start + d->timeout_ms;
	r = addr_resolve(&d->upstream);
	if (r < 0) {
		if (r == -EHOSTUNREACH)
			set(f, CHECK_FAIL, "cannot resolve '%s'", d->upstream.host);
		else
			set(f, CHECK_FAIL, "cannot resolve '%s': %s", d->upstream.host, error_text(r, err, sizeof(err)));
		fix(f, "give an address that resolves, e.g. --connect tcp:127.0.0.1:6000");
		registry_lines(d, f);
		return;
	}
	fd = upstream_connect(&d->upstream, RUN_DEFAULT_VSOCK_BUFFER, deadline);
	if (fd < 0) {
		connect_failed(d, f, fd);
		registry_lines(d, f);
		return;
	}
	r = x11probe_handshake(fd, deadline, &reply);
	safe_close(fd);
	took = upstream_now_ms() - start;

	if (r == -ETIMEDOUT) {
		set(f, CHECK_FAIL, "connected, but no answer to the X11 connection setup within %llu.%03llu s: not an X server, or a hung one",
		    (unsigned long long)(d->timeout_ms / 1000), (unsigned long long)(d->timeout_ms % 1000));
		fix(f, "restart X410 (x410 /listen hyperv); check that the address is X410's");
	} else if (r == -ENODATA || r == -ECONNRESET || r == -EPIPE) {
		set(f, CHECK_FAIL, "connected, but the server closed the connection without answering the X11 connection setup");
		fix(f, "check that X410 accepts this client (its access settings), or that the address is an X server's");
	} else if (r == -EBADMSG) {
		set(f, CHECK_FAIL, "connected, but the answer is not an X11 connection setup reply: not an X server");
		fix(f, "give the address of an X server with --connect, or stop what listens there");
	} else if (r < 0) {
		set(f, CHECK_FAIL, "X11 connection setup: %s", error_text(r, err, sizeof(err)));
		fix(f, "restart X410 (x410 /listen hyperv)");
	} else {
		char version[16];

		strf(version, sizeof(version), "%u.%u", reply.major, reply.minor);
		data_str(f, "protocol", version);
		data_int(f, "milliseconds", (long long)took);
		switch (reply.status) {
		case X11PROBE_SUCCESS:
			data_str(f, "vendor", reply.vendor);
			data_int(f, "release", reply.release);
			if (reply.screens > 0)
				set(f, CHECK_OK, "'%s' release %u, X11 protocol %s, %u screen%s (%ux%u), answered in %llu ms",
				    reply.vendor, reply.release, version, reply.screens, reply.screens == 1 ? "" : "s",
				    reply.width, reply.height, (unsigned long long)took);
			else
				set(f, CHECK_OK, "'%s' release %u, X11 protocol %s, answered in %llu ms",
				    reply.vendor, reply.release, version, (unsigned long long)took);
			return;
		case X11PROBE_AUTHENTICATE:
			data_str(f, "reason", reply.reason);
			set(f, CHECK_WARN, "the X server is there but asks for authentication: '%s'", reply.reason);
			fix(f, "allow clients without a cookie in X410's access settings, or give them its cookie (xauth)");
			break;
		case X11PROBE_FAILED:
			data_str(f, "reason", reply.reason);
			set(f, CHECK_FAIL, "the X server refused the connection (X11 protocol %s): '%s'", version, reply.reason);
			fix(f, "allow this client in the X server's access control (X410's settings; xhost on other servers)");
			break;
		}
	}
	registry_lines(d, f);
}

/* ---------------------------------------------------------------- output */

/* JSON strings are UTF-8: valid sequences pass, anything else is U+FFFD. */
static size_t utf8_sequence(const unsigned char *s)
{
	size_t n;
	unsigned c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

static void json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		size_t n;

		switch (*p) {
		case '"':
			fputs("\\\"", out);
			p++;
			continue;
		case '\\':
			fputs("\\\\", out);
			p++;
			continue;
		case '\n':
			fputs("\\n", out);
			p++;
			continue;
		case '\t':
			fputs("\\t", out);
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_sequence(p);
		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

static void print_json(FILE *out, const struct doctor *d, const struct finding *findings, size_t n, int status)
{
	unsigned count[4] = {};

	fputs("{\n  \"version\": ", out);
	json_string(out, PACKAGE_VERSION);
	fputs(",\n  \"root\": ", out);
	json_string(out, d->sys.facts.live ? "/" : d->sys.facts.root);
	fputs(",\n  \"checks\": [", out);
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = &findings[i];

		count[f->status]++;
		fprintf(out, "%s\n    {\n      \"id\": ", i ? "," : "");
		json_string(out, f->id);
		fputs(",\n      \"subject\": ", out);
		json_string(out, f->subject);
		fputs(",\n      \"status\": ", out);
		json_string(out, status_json[f->status]);
		fputs(",\n      \"message\": ", out);
		json_string(out, f->message);
		fputs(",\n      \"fix\": [", out);
		for (unsigned j = 0; j < f->n_fix; j++) {
			fputs(j ? ", " : "", out);
			json_string(out, f->fix[j]);
		}
		fputs("],\n      \"details\": [", out);
		for (unsigned j = 0; j < f->n_line; j++) {
			fputs(j ? ", " : "", out);
			json_string(out, f->line[j]);
		}
		fputs("],\n      \"data\": {", out);
		for (unsigned j = 0; j < f->n_data; j++) {
			const struct data *x = &f->data[j];

			fputs(j ? ", " : "", out);
			json_string(out, x->key);
			fputs(": ", out);
			if (x->type == DATA_STR)
				json_string(out, x->str);
			else if (x->type == DATA_INT)
				fprintf(out, "%lld", x->num);
			else
				fputs(x->num ? "true" : "false", out);
		}
		fputs("}\n    }", out);
	}
	fprintf(out, "\n  ],\n  \"summary\": {\"ok\": %u, \"warn\": %u, \"fail\": %u, \"skip\": %u},\n"
		"  \"exit_status\": %d\n}\n",
		count[CHECK_OK], count[CHECK_WARN], count[CHECK_FAIL], count[CHECK_SKIP], status);
}

static void print_text(FILE *out, const struct finding *findings, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = &findings[i];

		fprintf(out, "%s %s: %s\n", status_tag[f->status], f->subject, f->message);
		/* Fixes are for what is wrong; a skipped check has none. */
		if (f->status == CHECK_WARN || f->status == CHECK_FAIL)
			for (unsigned j = 0; j < f->n_fix; j++)
				fprintf(out, "       fix: %s\n", f->fix[j]);
		for (unsigned j = 0; j < f->n_line; j++)
			fprintf(out, "       %s\n", f->line[j]);
	}
}

/* ---------------------------------------------------------------- command */

static void help(void)
{
	printf("Usage: %s doctor [OPTIONS] [:N]\n"
	       "\n"
	       "Check every link from this machine to X410 and say what to fix: the\n"
	       "environment (Hyper-V, WSL2, container), the kernel, hv_sock now and at\n"
	       "boot, AF_VSOCK and its guest-to-host transport, io_uring, the local\n"
	       "display :N, and X410 itself (probed only where hv_sock is the\n"
	       "guest-to-host transport, or with --connect).\n"
	       "\n"
	       "One line per check: [ OK ], [WARN], [FAIL] or [SKIP], then indented\n"
	       "'fix:' lines.  Exit status 0 when no check failed, 1 otherwise.\n"
	       "\n"
	       "Options:\n"
	       "      --x410-display M  X410 display to check (default 0: VSOCK port 6000+M)\n"
	       "      --connect ADDR    Probe this X server instead (vsock:CID:PORT,\n"
	       "                        unix:PATH, unix:@NAME, tcp:HOST:PORT)\n"
	       "      --timeout SECONDS Deadline of the X410 probe (default 3, 0.1-60)\n"
	       "      --socket-dir DIR  X socket directory (default %s)\n"
	       "      --lock-dir DIR    X lock file directory (default %s)\n"
	       "      --root DIR        Read /sys, /proc, /etc, /run, /dev and the display\n"
	       "                        directories below DIR instead of /; the running\n"
	       "                        kernel is not asked, X410 not probed without --connect\n"
	       "      --json            Print the findings as one JSON document\n"
	       "  -h, --help            Show this help and exit\n",
	       program_invocation_short_name, X11_UNIX_DIR, X11_LOCK_DIR);
}

enum {
	ARG_JSON = 0x100,
	ARG_X410_DISPLAY,
	ARG_CONNECT,
	ARG_TIMEOUT,
	ARG_SOCKET_DIR,
	ARG_LOCK_DIR,
	ARG_ROOT,
};

static int parse_args(struct doctor *d, const char **ret_root, int argc, char *argv[])
{
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		{ "json", no_argument, NULL, ARG_JSON },
		{ "x410-display", required_argument, NULL, ARG_X410_DISPLAY },
		{ "connect", required_argument, NULL, ARG_CONNECT },
		{ "timeout", required_argument, NULL, ARG_TIMEOUT },
		{ "socket-dir", required_argument, NULL, ARG_SOCKET_DIR },
		{ "lock-dir", required_argument, NULL, ARG_LOCK_DIR },
		{ "root", required_argument, NULL, ARG_ROOT },
		{}
	};
	const char *why;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":h", options, NULL)) >= 0) {
		switch (c) {
		case 'h':
			help();
			return 1;
		case ARG_JSON:
			d->json = true;
			break;
		case ARG_X410_DISPLAY:
			if (addr_parse_x410_display(optarg, &d->x410_display, &why) < 0)
				return usage_error("doctor", "Invalid X410 display '%s': %s", optarg, why);
			break;
		case ARG_CONNECT:
			if (addr_parse(optarg, &d->upstream, &why) < 0)
				return usage_error("doctor", "Invalid address '%s': %s", optarg, why);
			d->have_connect = true;
			break;
		case ARG_TIMEOUT:
			r = parse_seconds_ms(optarg, 100, 60000, &d->timeout_ms);
			if (r < 0)
				return usage_error("doctor", "Invalid timeout '%s': expected seconds from 0.1 to 60", optarg);
			break;
		case ARG_SOCKET_DIR:
		case ARG_LOCK_DIR:
		case ARG_ROOT:
			if (optarg[0] != '/')
				return usage_error("doctor", "Option '%s' needs an absolute path, not '%s'",
						   c == ARG_SOCKET_DIR ? "--socket-dir" : c == ARG_LOCK_DIR ? "--lock-dir" : "--root",
						   optarg);
			if (strlen(optarg) >= PATH_MAX / 2)
				return usage_error("doctor", "The path '%.40s...' is too long", optarg);
			if (c == ARG_SOCKET_DIR)
				d->socket_dir = optarg;
			else if (c == ARG_LOCK_DIR)
				d->lock_dir = optarg;
			else
				*ret_root = optarg;
			break;
		case ':':
			return usage_error("doctor", "Option '%s' needs an argument", argv[optind - 1]);
		default:
			if (optopt)
				return usage_error("doctor", "Unknown option '-%c'", optopt);
			return usage_error("doctor", "Unknown option '%s'", argv[optind - 1]);
		}
	}
	if (optind < argc) {
		if (addr_parse_display(argv[optind], &d->display, &why) < 0)
			return usage_error("doctor", "Invalid display '%s': %s", argv[optind], why);
		d->have_display = true;
		optind++;
	}
	if (optind < argc)
		return usage_error("doctor", "Unexpected argument '%s'", argv[optind]);
	return 0;
}

int cmd_doctor(int argc, char *argv[])
{
	static void (*const checks[])(struct doctor *, struct finding *) = {
		check_environment,
		check_kernel,
		check_hv_sock,
		check_boot,
		check_vsock,
		check_io_uring,
		check_display,
		check_x410,
	};
	_cleanup_free_ struct doctor *d = NULL;
	_cleanup_free_ struct finding *findings = NULL;
	const char *root = NULL;
	int status = EXIT_OK, r;

	d = calloc(1, sizeof(*d));
	findings = calloc(ELEMENTSOF(checks), sizeof(*findings));
	if (!d || !findings)
		return log_error_errno(-ENOMEM, "Out of memory"), EXIT_FAILED;
	d->socket_dir = X11_UNIX_DIR;
	d->lock_dir = X11_LOCK_DIR;
	d->timeout_ms = DEFAULT_TIMEOUT_MS;

	r = parse_args(d, &root, argc, argv);
	if (r == 1)
		return EXIT_OK;
	if (r != 0)
		return r;
	if (!d->have_connect)
		addr_vsock(VMADDR_CID_HOST, addr_x410_port(d->x410_display), &d->upstream);
	(void)addr_format(&d->upstream, d->upstream_text, sizeof(d->upstream_text));
	d->hv_needed = d->upstream.kind == ADDR_VSOCK && d->upstream.sa.vm.svm_cid == VMADDR_CID_HOST;

	r = doctor_system_read(&d->sys, root);
	if (r < 0) {
		log_error_errno(r, "Failed to read the system below '%s': %m", root ? root : "/");
		return EXIT_FAILED;
	}
	d->hyperv = sysfacts_hyperv(&d->sys.facts);
	log_debug("root '%s', kernel '%s', transport %s, hv_sock needed: %s", root ? root : "/", d->sys.facts.release,
		  doctor_transport_name(d->sys.transport), d->hv_needed ? "yes" : "no");

	for (size_t i = 0; i < ELEMENTSOF(checks); i++) {
		checks[i](d, &findings[i]);
		if (findings[i].status == CHECK_FAIL)
			status = EXIT_FAILED;
	}

	if (d->json)
		print_json(stdout, d, findings, ELEMENTSOF(checks), status);
	else
		print_text(stdout, findings, ELEMENTSOF(checks));
	if (fflush(stdout) != 0 || ferror(stdout)) {
		log_error_errno(-errno, "Failed to write the report: %m");
		return EXIT_FAILED;
	}
	return status;
}
