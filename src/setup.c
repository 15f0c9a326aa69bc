/* SPDX-License-Identifier: MIT */
/*
 * cmd_setup(): load hv_sock now (libkmod, with its dependencies, respecting
 * blacklists) and make it load at every boot through
 * /etc/modules-load.d/hv_sock.conf, written atomically and only when nothing
 * else loads it already.  --undo removes that file, and only if it is ours.
 *
 * What it did and what was already in place goes to stdout, one line each
 * ("done:", "already:", "would:", "skipped:", "note:"); errors are sentences
 * on stderr.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "advice.h"
#include "commands.h"
#include "log.h"
#include "options.h"
#include "macro.h"
#include "module.h"
#include "modules_load.h"
#include "sysfacts.h"
#include "util.h"

#define HV_SOCK "hv_sock"
#define CONF_DIR "/etc/modules-load.d"
#define CONF_NAME "hv_sock.conf"
#define CONF_PATH CONF_DIR "/" CONF_NAME

/*
 * The file setup writes: the same bytes as modules-load.d/hv_sock.conf in the
 * source tree (installed to $(pkgdatadir) for reference; the tests check
 * that both agree), compiled in so that the binary works where it was built.
 * --undo removes the file only when it still has exactly these bytes.
 */
static const char conf_content[] =
	"# Load the Hyper-V socket transport for AF_VSOCK at boot (installed by x410-vsock setup)\n"
	HV_SOCK "\n";

static bool arg_dry_run;
static bool arg_undo;
static char arg_root[PATH_MAX];         /* "" for the running system */
static struct sysfacts facts;           /* of the system below arg_root */

static void help(void)
{
	printf("Usage: %s setup [OPTIONS]\n"
	       "\n"
	       "Load the hv_sock module (the Hyper-V transport of AF_VSOCK) and its\n"
	       "dependencies now, and make it load at every boot with\n"
	       "" CONF_PATH ". Needs root, except with --dry-run or --root.\n"
	       "\n"
	       "Options:\n"
	       "  -n, --dry-run    Print what would be done and change nothing\n"
	       "      --root=DIR   Write the boot configuration under DIR (an image) and\n"
	       "                   leave the running kernel alone\n"
	       "      --undo       Remove " CONF_PATH " if setup wrote it;\n"
	       "                   hv_sock stays loaded until the next boot\n"
	       "  -h, --help       Show this help and exit\n",
	       program_invocation_short_name);
}

static void report(const char *tag, const char *format, ...) _printf_(2, 3);
static void report(const char *tag, const char *format, ...)
{
	char label[16];
	va_list ap;

	(void)snprintf(label, sizeof(label), "%s:", tag);
	printf("%-9s", label);
	va_start(ap, format);
	vprintf(format, ap);
	va_end(ap);
	putchar('\n');
}

static int root_path(const char *path, char *buf, size_t size)
{
	return path_below_root(arg_root, path, buf, size);
}

static bool root_exists(const char *path)
{
	char p[PATH_MAX];
	struct stat st;

	return root_path(path, p, sizeof(p)) == 0 && stat(p, &st) == 0;
}

/* A configuration file that was not read: say which and why, never skip it
 * silently (it may be what loads hv_sock, or blacklists it). */
static void warn_skipped(const char *what, const char *path, int error, mode_t mode)
{
	char why[128];

	log_warning("Skipped '%s' (%s): %s.", path, what, file_skip_reason(error, mode, why, sizeof(why)));
}

static void warn_skipped_modules_load(const char *path, int error, mode_t mode, void *userdata)
{
	warn_skipped("modules-load.d; if it loads " HV_SOCK ", setup cannot tell", path, error, mode);
}

static void show_kmod_skipped(const struct module_ctx *ctx)
{
	for (size_t i = 0; module_ctx_skipped(ctx, i); i++)
		warn_skipped("libkmod would read it", module_ctx_skipped(ctx, i)->path, module_ctx_skipped(ctx, i)->error,
			     module_ctx_skipped(ctx, i)->mode);
	if (module_ctx_skipped_count(ctx) > MODULE_SKIPPED_MAX)
		log_warning("Skipped %zu more files libkmod would read.", module_ctx_skipped_count(ctx) - MODULE_SKIPPED_MAX);
}

/* libkmod's messages (escaped and bounded by module.c), each once. */
static void show_kmod_log(const struct module_ctx *ctx)
{
	static size_t shown, dropped_shown;

	for (size_t i = shown; i < module_ctx_log_count(ctx); i++)
		log_debug("libkmod: %s", module_ctx_log_line(ctx, i));
	shown = module_ctx_log_count(ctx);
	if (module_ctx_log_dropped(ctx) > dropped_shown)
		log_debug("libkmod: ... and %zu more messages", module_ctx_log_dropped(ctx) - dropped_shown);
	dropped_shown = module_ctx_log_dropped(ctx);
}

/* ------------------------------------------------------------ errors */

static int error_missing(const struct module_ctx *ctx, const char *culprit)
{
	const char *rel = module_ctx_release(ctx);
	char advice[512];

	if (!streq(culprit, HV_SOCK))
		return log_error_errno(ENOENT, "'%s' needs '%s', which has no module for kernel '%s' in '%s'. Nothing was changed.",
				       HV_SOCK, culprit, rel, module_ctx_modules_dir(ctx));
	advice_hv_sock_missing(&facts, advice, sizeof(advice));
	return log_error_errno(ENOENT, "There is no '%s' module for kernel '%s' in '%s': %s, then run setup again. Nothing was changed.",
			       HV_SOCK, rel, module_ctx_modules_dir(ctx), advice);
}

/* libkmod.so.2 could not be dlopen'ed (module.c still read /sys/module). */
static int error_no_kmod(const struct module_ctx *ctx, int error)
{
	char advice[256];

	advice_libkmod_missing(&facts, advice, sizeof(advice));
	return log_error_errno(error, "'%s' is not loaded and libkmod, which loads it, cannot be loaded (%s): %s, then run setup again. Nothing was changed.",
			       HV_SOCK, module_ctx_kmod_error(ctx), advice);
}

static int error_blacklisted(const char *culprit)
{
	struct modules_load_hit hit;
	char where[PATH_MAX + 300];
	int r;

	r = module_find_blacklist(arg_root, culprit, &hit);
	if (r > 0 && hit.line > 0)
		(void)snprintf(where, sizeof(where), "'%s' in '%s', line %u", hit.text, hit.path, hit.line);
	else if (r > 0)
		(void)snprintf(where, sizeof(where), "'%s' on the kernel command line", hit.text);
	else
		(void)snprintf(where, sizeof(where), "'blacklist %s' in modprobe.d", culprit);

	if (streq(culprit, HV_SOCK))
		return log_error_errno(EPERM, "'%s' is blacklisted (%s): x410-vsock respects that; remove the blacklist and run setup again. Nothing was changed.",
				 HV_SOCK, where);
	return log_error_errno(EPERM, "'%s' needs '%s', which is blacklisted (%s): x410-vsock respects that; remove the blacklist and run setup again. Nothing was changed.",
			 HV_SOCK, culprit, where);
}

static int error_install_command(const struct module_load_report *rep)
{
	struct modules_load_hit hit;
	char where[PATH_MAX + 64] = "modprobe.d";
	const char *cmd = rep->command;

	if (module_find_modprobe_line(arg_root, "install", rep->culprit, &hit) > 0)
		(void)snprintf(where, sizeof(where), "'%s', line %u", hit.path, hit.line);
	while (*cmd == ' ' || *cmd == '\t')
		cmd++;
	if (startswith(cmd, "/bin/false") || startswith(cmd, "/usr/bin/false") ||
	    startswith(cmd, "/bin/true") || startswith(cmd, "/usr/bin/true") ||
	    startswith(cmd, "false") || startswith(cmd, "true"))
		return log_error_errno(EPERM, "Loading '%s' is disabled by 'install %s %s' in %s; remove that line and run setup again. Nothing was changed.",
				 rep->culprit, rep->culprit, rep->command, where);
	return log_error_errno(EPERM, "modprobe.d runs a command instead of loading '%s' ('install %s %s' in %s), and x410-vsock runs no commands: run 'modprobe %s', then run setup again. Nothing was changed.",
			 rep->culprit, rep->culprit, rep->command, where, HV_SOCK);
}

/* The other VSOCK transport in /sys/module that keeps hv_sock from
 * registering: before 5.5 any transport at all (only one may register),
 * from 5.5 on only another guest-to-host one (virtio, vmci): vsock_loopback
 * registers as the local transport and is no rival. */
static const char *other_vsock_transport(bool guest_to_host_only)
{
	static const char *const transports[] = {
		"vmw_vsock_vmci_transport", "vmw_vsock_virtio_transport", "vsock_loopback",
	};

	for (size_t i = 0; i < ELEMENTSOF(transports) - (guest_to_host_only ? 1 : 0); i++) {
		char p[PATH_MAX];

		if (snprintf_bounded(p, sizeof(p), "/sys/module/%s", transports[i]) >= 0 && root_exists(p))
			return transports[i];
	}
	return NULL;
}

static int error_load(const struct module_ctx *ctx, int r, const char *culprit)
{
	char p[PATH_MAX], v[256], what[2 * MODULE_NAME_MAX + 32];
	const char *rel = module_ctx_release(ctx);

	if (streq(culprit, HV_SOCK))
		(void)snprintf(what, sizeof(what), "'%s'", culprit);
	else
		(void)snprintf(what, sizeof(what), "'%s' (needed by '%s')", culprit, HV_SOCK);

	switch (-r) {
	case ENOENT:
		return error_missing(ctx, culprit);
	case ENODEV:
		if (facts.vmbus)
			return log_error_errno(r, "The Hyper-V host is older than Windows 10 / Windows Server 2016: loading %s failed with '%m', and hv_sock needs a newer host. Nothing was written.",
					       what);
		return log_error_errno(r, "This is not a Hyper-V guest (there is no /sys/bus/vmbus): loading %s failed with '%m'; hv_sock works only in a Hyper-V virtual machine or WSL2. Nothing was written.",
				       what);
	case EPERM:
		if (root_path("/proc/sys/kernel/modules_disabled", p, sizeof(p)) == 0 &&
		    read_one_line(p, v, sizeof(v)) == 0 && streq(v, "1"))
			return log_error_errno(r, "Loading modules is disabled until the next boot (kernel.modules_disabled=1): loading %s failed with '%m'; reboot and run setup again. Nothing was written.",
					       what);
		if (root_path("/sys/kernel/security/lockdown", p, sizeof(p)) == 0 &&
		    read_one_line(p, v, sizeof(v)) == 0 && !strstr(v, "[none]") && strchr(v, '[')) {
			char *mode = strchr(v, '[') + 1;

			mode[strcspn(mode, "]")] = 0;
			return log_error_errno(r, "Kernel lockdown ('%s') refuses %s ('%m'): its module is not signed with a key this kernel trusts. Nothing was written.",
					       mode, what);
		}
		return log_error_errno(r, "Loading %s is not permitted ('%m'): module loading is restricted here (a container without CAP_SYS_MODULE, or a security module). Nothing was written.",
				       what);
	case EBUSY: {
		bool old_kernel = facts.release_parsed && facts.kernel < KERNEL_VERSION_CODE(5, 5, 0);
		const char *other = other_vsock_transport(!old_kernel);

		if (old_kernel && other)
			return log_error_errno(r, "Another VSOCK transport ('%s') is loaded, and kernel %s (before 5.5) allows only one: blacklist it with 'echo blacklist %s > /etc/modprobe.d/blacklist-%s.conf', reboot, and run setup again. Nothing was written.",
					       other, rel, other, other);
		/* From 5.5 on: another guest-to-host one has registered. */
		if (other)
			return log_error_errno(r, "Another guest-to-host VSOCK transport ('%s') is registered, and kernel %s allows only one (hv_sock's load failed with '%m'): blacklist it with 'echo blacklist %s > /etc/modprobe.d/blacklist-%s.conf', reboot, and run setup again. Nothing was written.",
					       other, rel, other, other);
		return log_error_errno(r, "Failed to load %s: %m. Nothing was written.", what);
	}
	case ENOEXEC:
	case EINVAL:
		return log_error_errno(r, "The module %s does not fit kernel '%s' ('%m'; see 'dmesg'): are the installed modules those of the running kernel? Nothing was written.",
				       what, rel);
	case EKEYREJECTED:
	case ENOKEY:
	case EBADMSG:
		return log_error_errno(r, "The kernel rejected the signature of %s ('%m'), as it does with Secure Boot and an unsigned or foreign module. Nothing was written.",
				       what);
	default:
		return log_error_errno(r, "Failed to load %s: %m. Nothing was written.", what);
	}
}

/* ------------------------------------------------------------ the kernel */

/* Load hv_sock (or say what would be done).  Returns 1 when there is nothing
 * left to do at all (built in), 0 to go on with the boot configuration, or
 * a negative error already logged. */
static int setup_kernel(bool *changed)
{
	_cleanup_module_ctx_ struct module_ctx *ctx = NULL;
	struct module_load_report rep;
	struct module_info info;
	int r;

	r = module_ctx_new(NULL, &ctx);
	if (r < 0)
		return log_error_errno(r, "Failed to start libkmod: %m");
	show_kmod_skipped(ctx);
	r = module_state(ctx, HV_SOCK, &info);
	show_kmod_log(ctx);
	if (r < 0 && module_ctx_kmod_error(ctx))
		return error_no_kmod(ctx, r);
	if (r < 0)
		return log_error_errno(r, "Failed to find out the state of '%s': %m", HV_SOCK);
	log_debug("'%s' is %s (kernel %s)", HV_SOCK, module_state_to_string(info.state), module_ctx_release(ctx));

	switch (info.state) {
	case MODULE_STATE_BUILTIN:
		report("already", "%s is built into this kernel%s: nothing to load, nothing to write",
		       HV_SOCK, facts.wsl != WSL_NONE ? " (WSL2)" : "");
		return 1;
	case MODULE_STATE_LIVE:
	case MODULE_STATE_COMING:
		report("already", "%s is loaded", HV_SOCK);
		return 0;
	case MODULE_STATE_GOING:
		return log_error_errno(EBUSY, "'%s' is being unloaded right now; run setup again when that is done. Nothing was changed.",
				 HV_SOCK);
	case MODULE_STATE_NO_MODULES_DIR:
		if (facts.wsl == WSL_2) {
			/* A custom WSL2 kernel: advice.c, doctor's words. */
			char advice[512];

			advice_hv_sock_missing(&facts, advice, sizeof(advice));
			return log_error_errno(ENOENT, "hv_sock is not built into the WSL2 kernel '%s', and there are no modules for it ('%s' is missing): %s, then run setup again. Nothing was changed.",
					       module_ctx_release(ctx), module_ctx_modules_dir(ctx), advice);
		}
		return log_error_errno(ENOENT, "There are no modules for kernel '%s' ('%s' is missing: a container, or a kernel without modules?), so '%s' cannot be loaded here. Nothing was changed.",
				       module_ctx_release(ctx), module_ctx_modules_dir(ctx), HV_SOCK);
	case MODULE_STATE_MISSING:
		return error_missing(ctx, HV_SOCK);
	default:
		break;
	}

	r = module_load(ctx, HV_SOCK, arg_dry_run ? MODULE_LOAD_FLAG_DRY_RUN : 0, &rep);
	show_kmod_log(ctx);
	if (rep.n_inserted > 0 && (r < 0 || r == MODULE_LOAD_DONE)) {
		char list[MODULE_INSERTED_MAX * (MODULE_NAME_MAX + 2)] = "";
		size_t n = 0;

		/* Dependencies first, as loaded; hv_sock itself last. */
		for (size_t i = 0; i < rep.n_inserted; i++)
			if (!streq(rep.inserted[i], HV_SOCK))
				n += (size_t)snprintf(list + n, sizeof(list) - n, "%s%s", n ? ", " : "", rep.inserted[i]);
		if (r < 0)
			report(arg_dry_run ? "would" : "done", "loaded %s (needed by %s), before the failure", list, HV_SOCK);
		else if (n > 0)
			report(arg_dry_run ? "would" : "done", "%s %s (with %s)", arg_dry_run ? "load" : "loaded", HV_SOCK, list);
		else
			report(arg_dry_run ? "would" : "done", "%s %s", arg_dry_run ? "load" : "loaded", HV_SOCK);
	}
	if (r < 0)
		return error_load(ctx, r, rep.culprit);

	switch (r) {
	case MODULE_LOAD_DONE:
		if (!arg_dry_run)
			*changed = true;
		return 0;
	case MODULE_LOAD_ALREADY:
		report("already", "%s is loaded", HV_SOCK);
		return 0;
	case MODULE_LOAD_BLACKLISTED:
		return error_blacklisted(rep.culprit);
	case MODULE_LOAD_INSTALL_COMMAND:
		return error_install_command(&rep);
	default:
		return log_error_errno(EINVAL, "Failed to load '%s': unexpected result %d", HV_SOCK, r);
	}
}

/* ------------------------------------------------------------ boot configuration */

enum boot_reader {
	BOOT_MODULES_LOAD_D,    /* reads modules-load.d: we write our file there */
	BOOT_OTHER_FILE,        /* reads another file only: the user edits it */
	BOOT_UNKNOWN,
};

struct boot {
	enum boot_reader reader;
	const char *who;        /* what reads it */
	const char *file;       /* BOOT_OTHER_FILE: the file, without the root */
	const char *how;        /* BOOT_OTHER_FILE: how to add hv_sock */
};

/*
 * What loads modules at boot here.  systemd-modules-load reads
 * modules-load.d; so do Debian's /etc/init.d/kmod, OpenRC's modules-load
 * service (when enabled) and Void's runit core services.  Other inits read a
 * file of their own, which setup names instead of pretending.
 */
static void boot_detect(struct boot *b)
{
	static const char *const openrc_levels[] = {
		"/etc/runlevels/sysinit/modules-load", "/etc/runlevels/boot/modules-load",
		"/etc/runlevels/default/modules-load",
	};
	char p[PATH_MAX];
	struct stat st;

	memset(b, 0, sizeof(*b));
	b->reader = BOOT_MODULES_LOAD_D;

	/* A running system booted with systemd has /run/systemd/system; an
	 * image (--root) has no /run to ask, only the program. */
	if (root_path("/run/systemd/system", p, sizeof(p)) == 0 && stat(p, &st) == 0 && S_ISDIR(st.st_mode)) {
		b->who = "systemd-modules-load.service";
		return;
	}
	if (arg_root[0] && (root_exists("/usr/lib/systemd/systemd-modules-load") ||
			    root_exists("/lib/systemd/systemd-modules-load"))) {
		b->who = "systemd-modules-load.service";
		return;
	}
	if (root_exists("/etc/init.d/kmod")) {
		b->who = "/etc/init.d/kmod";
		return;
	}
	for (size_t i = 0; i < ELEMENTSOF(openrc_levels); i++)
		if (root_exists(openrc_levels[i])) {
			b->who = "OpenRC's modules-load service";
			return;
		}
	if (root_exists("/etc/runit/core-services/02-kmods.sh")) {
		b->who = "runit's core services";
		return;
	}

	b->reader = BOOT_OTHER_FILE;
	if (root_exists("/etc/conf.d/modules")) {
		b->who = "OpenRC's modules service";
		b->file = "/etc/conf.d/modules";
		b->how = "add hv_sock to its modules=\"...\" line";
	} else if (root_exists("/etc/modules")) {
		b->who = "the init system";
		b->file = "/etc/modules";
		b->how = "add the line 'hv_sock' to it";
	} else if (root_exists("/etc/rc.d/rc.modules.local")) {
		b->who = "/etc/rc.d/rc.S";
		b->file = "/etc/rc.d/rc.modules.local";
		b->how = "add the line '/sbin/modprobe hv_sock' to it";
	} else
		b->reader = BOOT_UNKNOWN;
}

/* Does a non-modules-load.d file already load hv_sock?  (A word "hv_sock"
 * on a line that is not a comment: enough for /etc/modules,
 * /etc/conf.d/modules and rc.modules.local alike.) */
static int other_file_loads(const char *path, struct modules_load_hit *hit, mode_t *ret_mode)
{
	_cleanup_free_ char *line = NULL;
	unsigned lineno = 0;
	size_t size = 0;
	FILE *f;
	int found = 0;

	found = fopen_regular(path, &f, ret_mode);
	if (found < 0)
		return found;
	while (!found && getline(&line, &size, f) >= 0) {
		char *s = line, *hash;

		lineno++;
		hash = strchr(s, '#');
		if (hash)
			*hash = 0;
		for (char *save = NULL, *w = strtok_r(s, " \t\r\n\"'=", &save); w; w = strtok_r(NULL, " \t\r\n\"'=", &save))
			if (streq(w, HV_SOCK) || streq(w, "hv-sock"))
				found = 1;
	}
	fclose(f);
	if (found) {
		memset(hit, 0, sizeof(*hit));
		(void)strcpy_bounded(hit->path, sizeof(hit->path), path);
		hit->line = lineno;
	}
	return found;
}

/* Open <root>/etc/modules-load.d without following symbolic links,
 * creating modules-load.d if needed (unless dry_run: then -ENOENT). */
static int open_conf_dir(bool create, int *ret_fd)
{
	_cleanup_close_ int etc = -1, dir = -1;
	char p[PATH_MAX];
	int r;

	r = root_path("/etc", p, sizeof(p));
	if (r < 0)
		return r;
	etc = open(p, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (etc < 0)
		return -errno;
	dir = openat(etc, "modules-load.d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir < 0 && errno == ENOENT && create) {
		if (mkdirat(etc, "modules-load.d", 0755) < 0 && errno != EEXIST)
			return -errno;
		if (fsync(etc) < 0)
			return -errno;
		dir = openat(etc, "modules-load.d", O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	}
	if (dir < 0)
		return -errno;
	*ret_fd = TAKE_FD(dir);
	return 0;
}

static int write_all(int fd, const char *buf, size_t len)
{
	while (len > 0) {
		ssize_t n = write(fd, buf, len);

		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		buf += n;
		len -= (size_t)n;
	}
	return 0;
}

/*
 * Write CONF_NAME in dir atomically: a temporary file in the same directory
 * (a dot file without ".conf", which nothing reads if we die), written,
 * fsync'ed, renamed over the name without replacing anything that appeared
 * meanwhile, then the directory fsync'ed so that the rename survives a crash.
 */
static int write_conf(int dir)
{
	char tmp[64];
	_cleanup_close_ int fd = -1;
	int r;

	for (int attempt = 0; fd < 0; attempt++) {
		uint64_t rnd;

		if (getrandom(&rnd, sizeof(rnd), GRND_NONBLOCK) != sizeof(rnd))
			rnd = ((uint64_t)getpid() << 20) ^ (uint64_t)attempt;
		(void)snprintf(tmp, sizeof(tmp), "." CONF_NAME ".%016llx", (unsigned long long)rnd);
		fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);
		if (fd < 0 && (errno != EEXIST || attempt >= 16))
			return -errno;
	}

	r = write_all(fd, conf_content, sizeof(conf_content) - 1);
	if (r == 0 && fchmod(fd, 0644) < 0)
		r = -errno;
	if (r == 0 && fsync(fd) < 0)
		r = -errno;
	if (r == 0) {
		if (renameat2(dir, tmp, dir, CONF_NAME, RENAME_NOREPLACE) < 0) {
			r = -errno;
			/* Not every file system knows RENAME_NOREPLACE. */
			if ((r == -EINVAL || r == -ENOSYS) && faccessat(dir, CONF_NAME, F_OK, AT_SYMLINK_NOFOLLOW) < 0 &&
			    errno == ENOENT)
				r = renameat(dir, tmp, dir, CONF_NAME) < 0 ? -errno : 0;
		}
	}
	if (r < 0) {
		(void)unlinkat(dir, tmp, 0);
		return r;
	}
	return fsync(dir) < 0 ? -errno : 0;
}

/* Is the file at name in dir exactly ours?  1, 0, or -errno. */
static int conf_is_ours(int dir, const char *name)
{
	_cleanup_close_ int fd = -1;
	char buf[sizeof(conf_content) + 1];
	size_t len = 0;
	ssize_t n;

	fd = openat(dir, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	while (len < sizeof(buf) && (n = read(fd, buf + len, sizeof(buf) - len)) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		len += (size_t)n;
	}
	return len == sizeof(conf_content) - 1 && memcmp(buf, conf_content, len) == 0;
}

static void describe_symlink(int dir, char *buf, size_t size)
{
	char target[PATH_MAX];
	ssize_t n = readlinkat(dir, CONF_NAME, target, sizeof(target) - 1);

	if (n < 0) {
		buf[0] = 0;
		return;
	}
	target[n] = 0;
	(void)snprintf(buf, size, " (to '%s'%s)", target, streq(target, "/dev/null") ? ", which masks it" : "");
}

/* Our file and its directory, below the root.  Returns 0 or a negative
 * error already logged. */
static int conf_paths(char conf[static PATH_MAX], char conf_dir[static PATH_MAX])
{
	int r = root_path(CONF_PATH, conf, PATH_MAX);

	if (r == 0)
		r = root_path(CONF_DIR, conf_dir, PATH_MAX);
	if (r < 0)
		return log_error_errno(r, "Failed to build the path of '%s': %m", CONF_PATH);
	return 0;
}

/* Returns 0 or a negative error already logged. */
static int setup_boot(bool *changed)
{
	char conf[PATH_MAX], conf_dir[PATH_MAX], link[PATH_MAX + 32];
	_cleanup_close_ int dir = -1;
	struct modules_load_hit hit;
	struct stat st;
	struct boot b;
	int r;

	r = conf_paths(conf, conf_dir);
	if (r < 0)
		return r;

	boot_detect(&b);
	if (b.reader == BOOT_OTHER_FILE) {
		char p[PATH_MAX];
		mode_t mode;

		if (root_path(b.file, p, sizeof(p)) < 0)
			return log_error_errno(ENAMETOOLONG, "Failed to build the path of '%s': %m", b.file);

		r = other_file_loads(p, &hit, &mode);
		if (r < 0 && r != -ENOENT)
			warn_skipped("the list of modules to load at boot", p, r, mode);
		if (r > 0) {
			report("already", "'%s' loads %s at every boot (line %u; read by %s)", hit.path, HV_SOCK, hit.line, b.who);
			return 0;
		}
		return log_error_errno(EOPNOTSUPP, "This system does not boot with systemd, and %s reads '%s', not %s: %s, so that %s loads at every boot. Nothing was written.",
				 b.who, p, CONF_DIR, b.how, HV_SOCK);
	}
	if (b.reader == BOOT_UNKNOWN)
		return log_error_errno(EOPNOTSUPP, "Cannot tell how this system loads modules at boot (no systemd, no /etc/modules, no /etc/init.d/kmod): make its init load '%s'. Nothing was written.",
				 HV_SOCK);

	/* Something that is not a regular file at our path is refused in any
	 * case: above all a symbolic link, which we never follow nor replace. */
	r = open_conf_dir(false, &dir);
	if (r == -ELOOP || r == -ENOTDIR)
		return log_error_errno(ELOOP, "'%s' or its parent is a symbolic link or not a directory: refusing to write through it. Nothing was written.",
				       conf_dir);
	if (r < 0 && r != -ENOENT)
		return log_error_errno(r, "Cannot open '%s': %m. Nothing was written.", conf_dir);
	if (dir >= 0 && fstatat(dir, CONF_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0 && !S_ISREG(st.st_mode)) {
		if (S_ISLNK(st.st_mode)) {
			describe_symlink(dir, link, sizeof(link));
			return log_error_errno(ELOOP, "'%s' is a symbolic link%s: refusing to follow or replace it. Remove it and run setup again. Nothing was written.",
					 conf, link);
		}
		return log_error_errno(EEXIST, "'%s' is not a regular file: refusing to replace it. Nothing was written.", conf);
	}

	r = modules_load_find_full(arg_root, HV_SOCK, warn_skipped_modules_load, NULL, &hit);
	if (r < 0)
		return log_error_errno(r, "Failed to read the modules-load.d directories: %m");
	if (r == 0 && streq(b.who, "/etc/init.d/kmod")) {
		/* Debian's init script also reads /etc/modules. */
		char p[PATH_MAX];
		mode_t mode;

		if (root_path("/etc/modules", p, sizeof(p)) == 0) {
			r = modules_load_etc_modules_lists_full(p, HV_SOCK, &hit, &mode);
			if (r < 0 && r != -ENOENT)
				warn_skipped("the list of modules to load at boot", p, r, mode);
			r = r > 0;
		}
	}
	if (r > 0) {
		if (streq(hit.path, conf))
			report("already", "'%s' loads %s at every boot (read by %s)", conf, HV_SOCK, b.who);
		else
			report("already", "'%s' loads %s at every boot (line %u; read by %s): left alone, nothing written",
			       hit.path, HV_SOCK, hit.line, b.who);
		return 0;
	}

	if (dir >= 0 && fstatat(dir, CONF_NAME, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return log_error_errno(EEXIST, "'%s' exists but does not load %s, and x410-vsock did not write it: add the line '%s' to it (or remove it), then run setup again. Nothing was written.",
				 conf, HV_SOCK, HV_SOCK);

	if (arg_dry_run) {
		report("would", "write '%s': %s loads %s at every boot", conf, b.who, HV_SOCK);
		return 0;
	}

	if (dir < 0) {
		r = open_conf_dir(true, &dir);
		if (r < 0)
			return log_error_errno(r, "Cannot create '%s': %m. Nothing was written.", conf_dir);
	}
	r = write_conf(dir);
	if (r == -EEXIST)
		return log_error_errno(EEXIST, "'%s' appeared while setup was writing it: left alone; run setup again.", conf);
	if (r == -EROFS)
		return log_error_errno(r, "Cannot write '%s': the file system is read-only (%m).", conf);
	if (r < 0)
		return log_error_errno(r, "Cannot write '%s': %m.", conf);
	*changed = true;
	report("done", "wrote '%s': %s loads %s at every boot", conf, b.who, HV_SOCK);
	return 0;
}

/* ------------------------------------------------------------ --undo */

static int setup_undo(void)
{
	char conf[PATH_MAX], conf_dir[PATH_MAX], link[PATH_MAX + 32];
	_cleanup_close_ int dir = -1;
	struct modules_load_hit hit;
	struct stat st;
	int r;

	r = conf_paths(conf, conf_dir);
	if (r < 0)
		return r;

	r = open_conf_dir(false, &dir);
	if (r == 0 && fstatat(dir, CONF_NAME, &st, AT_SYMLINK_NOFOLLOW) < 0)
		r = -errno;
	if (r == -ENOENT) {
		report("already", "'%s' does not exist: nothing to undo", conf);
		return 0;
	}
	if (r == -ELOOP || r == -ENOTDIR)
		return log_error_errno(ELOOP, "'%s' or its parent is a symbolic link or not a directory: refusing to touch it.", conf_dir);
	if (r < 0)
		return log_error_errno(r, "Cannot look at '%s': %m", conf);
	if (S_ISLNK(st.st_mode)) {
		describe_symlink(dir, link, sizeof(link));
		return log_error_errno(ELOOP, "'%s' is a symbolic link%s, which x410-vsock never writes: left alone.", conf, link);
	}
	r = S_ISREG(st.st_mode) ? conf_is_ours(dir, CONF_NAME) : 0;
	if (r < 0)
		return log_error_errno(r, "Cannot read '%s': %m", conf);
	if (r == 0)
		return log_error_errno(EEXIST, "'%s' is not the file x410-vsock writes (it was changed, or written by someone else): left alone; remove it by hand if you want to.",
				 conf);

	if (arg_dry_run)
		report("would", "remove '%s'", conf);
	else {
		if (unlinkat(dir, CONF_NAME, 0) < 0)
			return log_error_errno(errno, "Cannot remove '%s': %m", conf);
		if (fsync(dir) < 0)
			return log_error_errno(errno, "Failed to sync '%s': %m", conf_dir);
		report("done", "removed '%s'", conf);
	}

	r = modules_load_find(arg_root, HV_SOCK, &hit);
	if (r > 0 && !streq(hit.path, conf))
		report("note", "'%s' still loads %s at boot (line %u; not written by x410-vsock, left alone)",
		       hit.path, HV_SOCK, hit.line);
	if (!arg_root[0])
		report("note", "%s stays loaded until the next boot (x410-vsock does not unload modules)", HV_SOCK);
	if (arg_dry_run)
		printf("Dry run: nothing was changed.\n");
	return 0;
}

/* ------------------------------------------------------------ the command */

static void next_steps(void)
{
	char guid[ADDR_GUID_MAX];

	addr_service_guid(addr_x410_port(0), guid);
	report("next", "x410-vsock run :5   (then DISPLAY=:5 for your X programs)");
	if (facts.wsl == WSL_2) {
		/* No registry key names WSL2's VM (a new id at every start). */
		report("windows", "X410 must itself accept VSOCK connections from WSL2: turn on its WSL2/VSOCK option (no registry key applies to WSL2)");
		if (facts.wsl_vm_id[0])
			printf("%-9sthis WSL2 VM's id: %s (wslinfo --vm-id; it changes at every WSL start)\n", "", facts.wsl_vm_id);
		return;
	}
	report("windows", "register X410 display 0 as a Hyper-V guest service (as Administrator), then start 'x410 /listen hyperv':");
	printf("%-9sreg add \"HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\%s\" /v ElementName /t REG_SZ /d \"X410 Display 0\" /f\n",
	       "", guid);
}

static int parse_root(const char *arg)
{
	char real[PATH_MAX];
	struct stat st;

	if (!arg || !*arg)
		return usage_error("setup", "'--root' needs a directory");
	if (!realpath(arg, real)) {
		log_error_errno(errno, "Cannot use '%s' as the root directory: %m", arg);
		return EXIT_FAILED;
	}
	if (stat(real, &st) < 0 || !S_ISDIR(st.st_mode)) {
		log_error_errno(ENOTDIR, "Cannot use '%s' as the root directory: %m", arg);
		return EXIT_FAILED;
	}
	/* "/" is the running system. */
	if (streq(real, "/"))
		real[0] = 0;
	(void)strcpy_bounded(arg_root, sizeof(arg_root), real);
	return EXIT_OK;
}

int cmd_setup(int argc, char *argv[])
{
	enum { ARG_ROOT = 0x100, ARG_UNDO };
	static const struct option options[] = {
		OPTIONS_GLOBAL,
		{ "dry-run", no_argument, NULL, 'n' },
		{ "root", required_argument, NULL, ARG_ROOT },
		{ "undo", no_argument, NULL, ARG_UNDO },
		{ "help", no_argument, NULL, 'h' },
		{}
	};
	const char *root = NULL;
	bool changed = false;
	int c, r = 0;

	arg_dry_run = arg_undo = false;
	arg_root[0] = 0;
	opterr = 0;
	while ((c = getopt_long(argc, argv, "+:" OPTIONS_GLOBAL_SHORT "nh", options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		switch (c) {
		case 'n':
			arg_dry_run = true;
			break;
		case ARG_ROOT:
			root = optarg;
			break;
		case ARG_UNDO:
			arg_undo = true;
			break;
		case 'h':
			help();
			return EXIT_OK;
		default:
			return options_error("setup", options, c, argv);
		}
	}
	if (optind < argc)
		return usage_error("setup", "Unexpected argument '%s'", argv[optind]);
	if (root) {
		r = parse_root(root);
		if (r != EXIT_OK)
			return r;
	}

	r = sysfacts_read(&facts, arg_root);
	if (r < 0) {
		log_error_errno(r, "Cannot use '%s' as the root directory: %m", arg_root);
		return EXIT_FAILED;
	}

	/* Root is needed to load a module and to write /etc; not to look. */
	if (!arg_dry_run && !arg_root[0] && geteuid() != 0) {
		if (arg_undo)
			log_error("setup --undo must run as root: sudo x410-vsock setup --undo");
		else
			log_error("setup must run as root: sudo x410-vsock setup");
		return EXIT_FAILED;
	}

	if (arg_undo)
		return setup_undo() < 0 ? EXIT_FAILED : EXIT_OK;

	if (arg_root[0])
		report("skipped", "the running kernel (--root): %s loads when '%s' boots", HV_SOCK, arg_root);
	else {
		r = setup_kernel(&changed);
		if (r < 0)
			return EXIT_FAILED;
	}
	if (arg_root[0] || r == 0) {
		r = setup_boot(&changed);
		if (r < 0)
			return EXIT_FAILED;
	}

	if (arg_dry_run)
		printf("Dry run: nothing was changed.\n");
	else if (!changed)
		printf("Already set up: nothing changed.\n");
	if (!arg_dry_run)
		next_steps();
	return EXIT_OK;
}
