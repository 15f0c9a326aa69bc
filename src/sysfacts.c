/* SPDX-License-Identifier: MIT */
/*
 * What system is this, from the files below the root (sysfacts.h): WSL,
 * hypervisors, containers, the distribution and the kernel.  doctor judges
 * these facts, setup words its errors by them; neither reads them itself.
 */
#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <unistd.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <sys/wait.h>
#include <time.h>
#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#endif

#include "macro.h"
#include "sysfacts.h"
#include "util.h"

/* ---------------------------------------------------------------- files */

int sysfacts_path(const struct sysfacts *facts, const char *path, char *buf, size_t size)
{
	return path_below_root(facts->root, path, buf, size);
}

int sysfacts_read_line(const struct sysfacts *facts, const char *path, char *buf, size_t size)
{
	char full[PATH_MAX];
	int r;

	buf[0] = 0;
	r = sysfacts_path(facts, path, full, sizeof(full));
	if (r < 0)
		return r;
	r = read_one_line(full, buf, size);
	if (r < 0) {
		buf[0] = 0;
		return r;
	}
	/* DMI strings come padded with blanks; control characters have no
	 * business in a report line. */
	for (size_t n = strlen(buf); n > 0 && isspace((unsigned char)buf[n - 1]); n--)
		buf[n - 1] = 0;
	for (char *c = buf; *c; c++)
		if ((unsigned char)*c < 0x20 || *c == 0x7f)
			*c = '?';
	return 0;
}

bool sysfacts_exists(const struct sysfacts *facts, const char *path)
{
	char full[PATH_MAX];
	struct stat st;

	if (sysfacts_path(facts, path, full, sizeof(full)) < 0)
		return false;
	return lstat(full, &st) == 0;
}

int sysfacts_read_int(const struct sysfacts *facts, const char *path, int64_t *ret)
{
	char buf[32];
	uint64_t v;
	int r;

	r = sysfacts_read_line(facts, path, buf, sizeof(buf));
	if (r < 0)
		return r;
	r = parse_uint64(buf, false, 0, INT64_MAX, &v);
	if (r < 0)
		return r;
	*ret = (int64_t)v;
	return 0;
}

int sysfacts_count_entries(const struct sysfacts *facts, const char *path)
{
	char full[PATH_MAX];
	DIR *d;
	struct dirent *de;
	int n = 0, r;

	r = sysfacts_path(facts, path, full, sizeof(full));
	if (r < 0)
		return r;
	d = opendir(full);
	if (!d)
		return -errno;
	while ((de = readdir(d)))
		if (de->d_name[0] != '.')
			n++;
	closedir(d);
	return n;
}

/* ---------------------------------------------------------------- wslinfo */

#define WSLINFO_TIMEOUT_MS 2000

int sysfacts_run_vm_id(const char *program, char buf[static SYSFACTS_VM_ID_MAX])
{
	char *const argv[] = { (char *)"wslinfo", (char *)"--vm-id", NULL };
	char *const envp[] = { (char *)"PATH=/usr/bin:/bin", NULL };
	posix_spawn_file_actions_t fa;
	char out[256];
	size_t n = 0;
	int p[2], status, r;
	pid_t pid;

	buf[0] = 0;
	/* Asked first: where clone(CLONE_VFORK) is emulated (valgrind), a
	 * failed exec is only an exit status 127, not posix_spawn's error. */
	if (access(program, X_OK) < 0)
		return -errno;
	if (pipe2(p, O_CLOEXEC) < 0)
		return -errno;
	r = posix_spawn_file_actions_init(&fa);
	if (r == 0) {
		(void)posix_spawn_file_actions_addopen(&fa, 0, "/dev/null", O_RDONLY, 0);
		(void)posix_spawn_file_actions_adddup2(&fa, p[1], 1);
		(void)posix_spawn_file_actions_addopen(&fa, 2, "/dev/null", O_WRONLY, 0);
		/* Never a shell: the program itself, with its two words. */
		r = posix_spawn(&pid, program, &fa, NULL, argv, envp);
		posix_spawn_file_actions_destroy(&fa);
	}
	safe_close(p[1]);
	if (r != 0) {
		safe_close(p[0]);
		return -r;
	}
	for (uint64_t waited = 0; n < sizeof(out) - 1 && waited < WSLINFO_TIMEOUT_MS; waited += 100) {
		struct pollfd pfd = { .fd = p[0], .events = POLLIN };
		ssize_t k;

		if (poll(&pfd, 1, 100) <= 0)
			continue;
		k = read(p[0], out + n, sizeof(out) - 1 - n);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			break;
		n += (size_t)k;
	}
	safe_close(p[0]);
	out[n] = 0;
	/* It has closed its output (or said too much, or taken too long):
	 * give it a second to exit, and no more. */
	for (unsigned i = 0;; i++) {
		pid_t w = waitpid(pid, &status, WNOHANG);

		if (w == pid)
			break;
		if (w < 0 && errno != EINTR)
			return -errno;
		if (i >= 100) {
			(void)kill(pid, SIGKILL);
			(void)waitpid(pid, &status, 0);
			return -ETIMEDOUT;
		}
		(void)nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
	if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
		return -EIO;
	return sysfacts_parse_vm_id(out, buf);
}

/* ---------------------------------------------------------------- facts */

static void read_environment(struct sysfacts *facts)
{
	static const struct {
		const char *path;
		const char *name;       /* NULL: the file says */
	} containers[] = {
		{ "/.dockerenv", "docker" },
		{ "/run/.containerenv", "podman" },
		{ "/run/systemd/container", NULL },
	};
	char hv[32], p[PATH_MAX];
	struct stat st;
	int n;

	(void)sysfacts_read_line(facts, "/proc/sys/kernel/osrelease", facts->osrelease, sizeof(facts->osrelease));
	facts->wsl = sysfacts_classify_osrelease(facts->osrelease);

	facts->vmbus = sysfacts_path(facts, "/sys/bus/vmbus", p, sizeof(p)) == 0 && stat(p, &st) == 0;
	n = sysfacts_count_entries(facts, "/sys/bus/vmbus/devices");
	facts->vmbus_devices = n < 0 ? -1 : n;

	(void)sysfacts_read_line(facts, "/sys/class/dmi/id/sys_vendor", facts->dmi_vendor, sizeof(facts->dmi_vendor));
	(void)sysfacts_read_line(facts, "/sys/class/dmi/id/product_name", facts->dmi_product, sizeof(facts->dmi_product));
	(void)sysfacts_read_line(facts, "/sys/class/dmi/id/product_version", facts->dmi_version, sizeof(facts->dmi_version));

	facts->hypervisor = sysfacts_dmi_hypervisor(facts->dmi_vendor, facts->dmi_product);
	if (facts->hypervisor) {
		facts->hypervisor_source = "DMI";
		facts->dmi_hyperv = streq(facts->hypervisor, "Hyper-V");
	} else if (sysfacts_read_line(facts, "/sys/hypervisor/type", hv, sizeof(hv)) == 0 && streq(hv, "xen")) {
		facts->hypervisor = "Xen";
		facts->hypervisor_source = "/sys/hypervisor/type";
	}
#if defined(__x86_64__) || defined(__i386__)
	/* CPUID describes the machine we run on: only for the live system. */
	if (!facts->hypervisor && facts->live) {
		unsigned a, b, c, d;

		if (__get_cpuid(1, &a, &b, &c, &d) && (c & (1u << 31))) {
			char sig[12];

			facts->cpuid_hypervisor_bit = true;
			__cpuid(0x40000000, a, b, c, d);
			memcpy(sig, &b, 4);
			memcpy(sig + 4, &c, 4);
			memcpy(sig + 8, &d, 4);
			facts->hypervisor = sysfacts_cpuid_hypervisor(sig);
			if (!facts->hypervisor)
				facts->hypervisor = "an unknown hypervisor";
			facts->hypervisor_source = "CPUID";
		}
	}
#endif

	for (size_t i = 0; i < ELEMENTSOF(containers); i++) {
		if (!sysfacts_exists(facts, containers[i].path))
			continue;
		if (containers[i].name)
			(void)strcpy_bounded(facts->container, sizeof(facts->container), containers[i].name);
		else if (sysfacts_read_line(facts, containers[i].path, facts->container, sizeof(facts->container)) < 0 ||
			 !facts->container[0])
			(void)strcpy_bounded(facts->container, sizeof(facts->container), "a container");
		facts->container_source = containers[i].path;
		break;
	}
}

/* The words of "ID=..." and "ID_LIKE=..." of the first os-release there is. */
static void read_os_release(struct sysfacts *facts)
{
	static const char *const files[] = { "/etc/os-release", "/usr/lib/os-release" };

	for (size_t i = 0; i < ELEMENTSOF(files); i++) {
		char p[PATH_MAX], line[512];
		FILE *f;

		if (sysfacts_path(facts, files[i], p, sizeof(p)) < 0)
			continue;
		/* Read by every setup and doctor, so never a FIFO (the open would
		 * wait for a writer) nor a device: regular files only. */
		if (fopen_regular(p, &f, NULL) < 0)
			continue;
		while (fgets(line, sizeof(line), f)) {
			char *v;

			if (!startswith(line, "ID=") && !startswith(line, "ID_LIKE="))
				continue;
			v = strchr(line, '=') + 1;
			v[strcspn(v, "\n")] = 0;
			for (char *save = NULL, *w = strtok_r(v, " \"'", &save); w; w = strtok_r(NULL, " \"'", &save)) {
				size_t n = strlen(facts->os_ids);

				(void)snprintf(facts->os_ids + n, sizeof(facts->os_ids) - n, "%s%s", n ? " " : "", w);
			}
		}
		fclose(f);
		return;
	}
}

static void read_kernel(struct sysfacts *facts)
{
	struct utsname u;
	unsigned a, b, c;

	/* uname(), also below another root: module.c looks for the modules of
	 * this release, and the two must agree. */
	if (uname(&u) == 0)
		(void)strcpy_bounded(facts->release, sizeof(facts->release), u.release);
	if (!facts->release[0])
		(void)strcpy_bounded(facts->release, sizeof(facts->release), facts->osrelease);
	if (sysfacts_parse_kernel_release(facts->release, &a, &b, &c) == 0) {
		facts->release_parsed = true;
		facts->kernel = KERNEL_VERSION_CODE(a, b, c);
	}
}

int sysfacts_read(struct sysfacts *facts, const char *root)
{
	int r;

	memset(facts, 0, sizeof(*facts));
	if (!root || streq(root, "/") || !*root) {
		facts->live = true;
	} else {
		struct stat st;

		if (stat(root, &st) < 0)
			return -errno;
		if (!S_ISDIR(st.st_mode))
			return -ENOTDIR;
		r = strcpy_bounded(facts->root, sizeof(facts->root), root);
		if (r < 0)
			return r;
		/* "/x/" and "/x" are the same root. */
		for (size_t n = strlen(facts->root); n > 1 && facts->root[n - 1] == '/'; n--)
			facts->root[n - 1] = 0;
	}
	read_environment(facts);
	read_os_release(facts);
	read_kernel(facts);
	/* Only this very system is asked, and only when it has wslinfo. */
	if (facts->live && facts->wsl == WSL_2 && access(WSLINFO_PATH, X_OK) == 0)
		(void)sysfacts_run_vm_id(WSLINFO_PATH, facts->wsl_vm_id);
	return 0;
}

bool sysfacts_hyperv(const struct sysfacts *facts)
{
	return facts->vmbus_devices > 0 || facts->wsl == WSL_2;
}

bool sysfacts_os_is(const struct sysfacts *facts, const char *word)
{
	size_t n = strlen(word);

	/* One word: os_ids is a list of them. */
	if (n == 0 || strchr(word, ' '))
		return false;
	for (const char *p = facts->os_ids; (p = strstr(p, word)); p += n)
		if ((p == facts->os_ids || p[-1] == ' ') && (p[n] == 0 || p[n] == ' '))
			return true;
	return false;
}
