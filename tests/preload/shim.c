/* SPDX-License-Identifier: MIT */
/*
 * LD_PRELOAD shim for the tests of setup and doctor, in the manner of kmod's
 * testsuite: it fakes a system around the real binary without test hooks in
 * the product.  See tests/preload/README for the environment variables.
 *
 *  - absolute paths under /sys, /proc, /etc, /run, /dev, the module and
 *    modprobe.d/modules-load.d directories go to $X410_SHIM_ROOT instead;
 *  - uname() reports $X410_SHIM_UNAME_R / $X410_SHIM_UNAME_M;
 *  - geteuid() returns $X410_SHIM_EUID;
 *  - init_module(), finit_module() and delete_module() (also through
 *    syscall()) NEVER reach the kernel: they succeed, or fail with the errno
 *    $X410_SHIM_INIT_MODULE chooses, and are recorded in $X410_SHIM_LOG.
 *    A module inserted gets <root>/sys/module/NAME/initstate "live".
 *
 * Built apart from the product (no config.h, no sanitizers, no fortify
 * wrappers), so that it can define open() and friends as plain functions.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <dlfcn.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/types.h>
#include <sys/utsname.h>
#include <unistd.h>

#define EXPORT __attribute__((visibility("default")))

#define REAL(ret, name, ...)                                                    \
	static ret (*real_##name)(__VA_ARGS__);                                 \
	if (!real_##name)                                                       \
		real_##name = (ret (*)(__VA_ARGS__))dlsym(RTLD_NEXT, #name)

/* ------------------------------------------------------------ paths */

static const char default_prefixes[] =
	"/sys:/proc:/dev:/etc:/run"
	":/lib/modules:/lib/modprobe.d:/lib/modules-load.d:/lib/systemd"
	":/usr/lib/modules:/usr/lib/modprobe.d:/usr/lib/modules-load.d:/usr/lib/systemd:/usr/lib/os-release"
	":/usr/local/lib/modprobe.d:/usr/local/lib/modules-load.d";

/* Never redirected: what the process itself, glibc and the sanitizers need. */
static const char *const passthrough[] = {
	"/proc/self", "/proc/thread-self",
	"/dev/null", "/dev/zero", "/dev/full", "/dev/random", "/dev/urandom",
	"/dev/tty", "/dev/fd", "/dev/stdin", "/dev/stdout", "/dev/stderr",
	"/dev/pts", "/dev/shm",
	NULL,
};

/* Does path equal prefix or start with prefix + '/'? */
static bool path_under(const char *path, const char *prefix, size_t n)
{
	return strncmp(path, prefix, n) == 0 && (path[n] == 0 || path[n] == '/');
}

static bool want_redirect(const char *path, const char *root)
{
	const char *list = getenv("X410_SHIM_PREFIXES");
	char self[32];

	if (path_under(path, root, strlen(root)))
		return false;
	for (size_t i = 0; passthrough[i]; i++)
		if (path_under(path, passthrough[i], strlen(passthrough[i])))
			return false;
	snprintf(self, sizeof(self), "/proc/%ld", (long)getpid());
	if (path_under(path, self, strlen(self)))
		return false;

	if (!list || !*list)
		list = default_prefixes;
	while (*list) {
		size_t n = strcspn(list, ":");

		if (n > 1 && path_under(path, list, n))
			return true;
		list += n;
		if (*list == ':')
			list++;
	}
	return false;
}

/* The path to use: redirected into the fake root, or as given.  NULL with
 * errno set when the result does not fit. */
static const char *redirect(const char *path, char buf[PATH_MAX])
{
	const char *root = getenv("X410_SHIM_ROOT");
	int n;

	if (!path || path[0] != '/' || !root || !*root || !want_redirect(path, root))
		return path;
	n = snprintf(buf, PATH_MAX, "%s%s", root, path);
	if (n < 0 || n >= PATH_MAX) {
		errno = ENAMETOOLONG;
		return NULL;
	}
	return buf;
}

#define REDIRECT(var, path, fail)                       \
	char var##_buf[PATH_MAX];                       \
	const char *var = redirect((path), var##_buf);  \
	if (!var)                                       \
		return (fail)

static mode_t open_mode(int flags, va_list ap)
{
	if ((flags & O_CREAT) || (flags & O_TMPFILE) == O_TMPFILE)
		return (mode_t)va_arg(ap, int);
	return 0;
}

EXPORT int open(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, open, const char *, int, ...);
	REDIRECT(p, path, -1);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return real_open(p, flags, mode);
}

EXPORT int open64(const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, open64, const char *, int, ...);
	REDIRECT(p, path, -1);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return real_open64(p, flags, mode);
}

EXPORT int __open_2(const char *path, int flags)
{
	REAL(int, __open_2, const char *, int);
	REDIRECT(p, path, -1);
	return real___open_2(p, flags);
}

EXPORT int __open64_2(const char *path, int flags)
{
	REAL(int, __open64_2, const char *, int);
	REDIRECT(p, path, -1);
	return real___open64_2(p, flags);
}

EXPORT int openat(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, openat, int, const char *, int, ...);
	REDIRECT(p, path, -1);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return real_openat(dirfd, p, flags, mode);
}

EXPORT int openat64(int dirfd, const char *path, int flags, ...)
{
	va_list ap;
	mode_t mode;
	REAL(int, openat64, int, const char *, int, ...);
	REDIRECT(p, path, -1);

	va_start(ap, flags);
	mode = open_mode(flags, ap);
	va_end(ap);
	return real_openat64(dirfd, p, flags, mode);
}

EXPORT int __openat_2(int dirfd, const char *path, int flags)
{
	REAL(int, __openat_2, int, const char *, int);
	REDIRECT(p, path, -1);
	return real___openat_2(dirfd, p, flags);
}

EXPORT int __openat64_2(int dirfd, const char *path, int flags)
{
	REAL(int, __openat64_2, int, const char *, int);
	REDIRECT(p, path, -1);
	return real___openat64_2(dirfd, p, flags);
}

EXPORT int creat(const char *path, mode_t mode)
{
	REAL(int, creat, const char *, mode_t);
	REDIRECT(p, path, -1);
	return real_creat(p, mode);
}

EXPORT FILE *fopen(const char *path, const char *mode)
{
	REAL(FILE *, fopen, const char *, const char *);
	REDIRECT(p, path, NULL);
	return real_fopen(p, mode);
}

EXPORT FILE *fopen64(const char *path, const char *mode)
{
	REAL(FILE *, fopen64, const char *, const char *);
	REDIRECT(p, path, NULL);
	return real_fopen64(p, mode);
}

EXPORT DIR *opendir(const char *path)
{
	REAL(DIR *, opendir, const char *);
	REDIRECT(p, path, NULL);
	return real_opendir(p);
}

EXPORT int stat(const char *path, struct stat *st)
{
	REAL(int, stat, const char *, struct stat *);
	REDIRECT(p, path, -1);
	return real_stat(p, st);
}

EXPORT int stat64(const char *path, struct stat64 *st)
{
	REAL(int, stat64, const char *, struct stat64 *);
	REDIRECT(p, path, -1);
	return real_stat64(p, st);
}

EXPORT int lstat(const char *path, struct stat *st)
{
	REAL(int, lstat, const char *, struct stat *);
	REDIRECT(p, path, -1);
	return real_lstat(p, st);
}

EXPORT int lstat64(const char *path, struct stat64 *st)
{
	REAL(int, lstat64, const char *, struct stat64 *);
	REDIRECT(p, path, -1);
	return real_lstat64(p, st);
}

EXPORT int fstatat(int dirfd, const char *path, struct stat *st, int flags)
{
	REAL(int, fstatat, int, const char *, struct stat *, int);
	REDIRECT(p, path, -1);
	return real_fstatat(dirfd, p, st, flags);
}

EXPORT int fstatat64(int dirfd, const char *path, struct stat64 *st, int flags)
{
	REAL(int, fstatat64, int, const char *, struct stat64 *, int);
	REDIRECT(p, path, -1);
	return real_fstatat64(dirfd, p, st, flags);
}

EXPORT int statx(int dirfd, const char *path, int flags, unsigned mask, struct statx *stx)
{
	REAL(int, statx, int, const char *, int, unsigned, struct statx *);
	REDIRECT(p, path, -1);
	return real_statx(dirfd, p, flags, mask, stx);
}

/* Binaries built against glibc < 2.33 call these instead of stat(). */
int __xstat(int ver, const char *path, struct stat *st);
int __lxstat(int ver, const char *path, struct stat *st);
int __xstat64(int ver, const char *path, struct stat64 *st);
int __lxstat64(int ver, const char *path, struct stat64 *st);

EXPORT int __xstat(int ver, const char *path, struct stat *st)
{
	REAL(int, __xstat, int, const char *, struct stat *);
	REDIRECT(p, path, -1);
	return real___xstat(ver, p, st);
}

EXPORT int __lxstat(int ver, const char *path, struct stat *st)
{
	REAL(int, __lxstat, int, const char *, struct stat *);
	REDIRECT(p, path, -1);
	return real___lxstat(ver, p, st);
}

EXPORT int __xstat64(int ver, const char *path, struct stat64 *st)
{
	REAL(int, __xstat64, int, const char *, struct stat64 *);
	REDIRECT(p, path, -1);
	return real___xstat64(ver, p, st);
}

EXPORT int __lxstat64(int ver, const char *path, struct stat64 *st)
{
	REAL(int, __lxstat64, int, const char *, struct stat64 *);
	REDIRECT(p, path, -1);
	return real___lxstat64(ver, p, st);
}

EXPORT int access(const char *path, int mode)
{
	REAL(int, access, const char *, int);
	REDIRECT(p, path, -1);
	return real_access(p, mode);
}

EXPORT int faccessat(int dirfd, const char *path, int mode, int flags)
{
	REAL(int, faccessat, int, const char *, int, int);
	REDIRECT(p, path, -1);
	return real_faccessat(dirfd, p, mode, flags);
}

EXPORT ssize_t readlink(const char *path, char *buf, size_t size)
{
	REAL(ssize_t, readlink, const char *, char *, size_t);
	REDIRECT(p, path, -1);
	return real_readlink(p, buf, size);
}

EXPORT ssize_t readlinkat(int dirfd, const char *path, char *buf, size_t size)
{
	REAL(ssize_t, readlinkat, int, const char *, char *, size_t);
	REDIRECT(p, path, -1);
	return real_readlinkat(dirfd, p, buf, size);
}

EXPORT int mkdir(const char *path, mode_t mode)
{
	REAL(int, mkdir, const char *, mode_t);
	REDIRECT(p, path, -1);
	return real_mkdir(p, mode);
}

EXPORT int mkdirat(int dirfd, const char *path, mode_t mode)
{
	REAL(int, mkdirat, int, const char *, mode_t);
	REDIRECT(p, path, -1);
	return real_mkdirat(dirfd, p, mode);
}

EXPORT int rmdir(const char *path)
{
	REAL(int, rmdir, const char *);
	REDIRECT(p, path, -1);
	return real_rmdir(p);
}

EXPORT int unlink(const char *path)
{
	REAL(int, unlink, const char *);
	REDIRECT(p, path, -1);
	return real_unlink(p);
}

EXPORT int unlinkat(int dirfd, const char *path, int flags)
{
	REAL(int, unlinkat, int, const char *, int);
	REDIRECT(p, path, -1);
	return real_unlinkat(dirfd, p, flags);
}

EXPORT int rename(const char *from, const char *to)
{
	REAL(int, rename, const char *, const char *);
	REDIRECT(f, from, -1);
	REDIRECT(t, to, -1);
	return real_rename(f, t);
}

EXPORT int renameat(int fromfd, const char *from, int tofd, const char *to)
{
	REAL(int, renameat, int, const char *, int, const char *);
	REDIRECT(f, from, -1);
	REDIRECT(t, to, -1);
	return real_renameat(fromfd, f, tofd, t);
}

EXPORT int renameat2(int fromfd, const char *from, int tofd, const char *to, unsigned flags)
{
	REAL(int, renameat2, int, const char *, int, const char *, unsigned);
	REDIRECT(f, from, -1);
	REDIRECT(t, to, -1);
	return real_renameat2(fromfd, f, tofd, t, flags);
}

/* The link's contents stay as given: it is resolved inside the fake root
 * only by whoever reads it through this shim. */
EXPORT int symlink(const char *target, const char *path)
{
	REAL(int, symlink, const char *, const char *);
	REDIRECT(p, path, -1);
	return real_symlink(target, p);
}

EXPORT int chmod(const char *path, mode_t mode)
{
	REAL(int, chmod, const char *, mode_t);
	REDIRECT(p, path, -1);
	return real_chmod(p, mode);
}

/* ------------------------------------------------------------ identity */

EXPORT int uname(struct utsname *u)
{
	const char *r = getenv("X410_SHIM_UNAME_R"), *m = getenv("X410_SHIM_UNAME_M");
	REAL(int, uname, struct utsname *);

	if (real_uname(u) < 0)
		return -1;
	if (r && *r)
		snprintf(u->release, sizeof(u->release), "%s", r);
	if (m && *m)
		snprintf(u->machine, sizeof(u->machine), "%s", m);
	return 0;
}

EXPORT uid_t geteuid(void)
{
	const char *e = getenv("X410_SHIM_EUID");
	REAL(uid_t, geteuid, void);

	if (e && *e)
		return (uid_t)strtoul(e, NULL, 10);
	return real_geteuid();
}

/* ------------------------------------------------------------ libraries */

/* $X410_SHIM_DLOPEN_FAIL=SONAME: dlopen(SONAME) fails as if the library
 * were not installed, with the dynamic loader's own wording in dlerror(). */
static char dl_error[512];
static bool dl_error_pending;

static void shim_log(const char *format, ...);

EXPORT void *dlopen(const char *file, int flags)
{
	const char *deny = getenv("X410_SHIM_DLOPEN_FAIL");
	REAL(void *, dlopen, const char *, int);

	if (file && deny && *deny && strcmp(file, deny) == 0) {
		snprintf(dl_error, sizeof(dl_error), "%s: cannot open shared object file: No such file or directory", file);
		dl_error_pending = true;
		shim_log("dlopen %s ENOENT", file);
		return NULL;
	}
	return real_dlopen(file, flags);
}

EXPORT char *dlerror(void)
{
	REAL(char *, dlerror, void);

	if (dl_error_pending) {
		dl_error_pending = false;
		return dl_error;
	}
	return real_dlerror();
}

/* ------------------------------------------------------------ modules */

static void shim_log(const char *format, ...)
{
	const char *path = getenv("X410_SHIM_LOG");
	char line[512];
	va_list ap;
	int fd, n;
	REAL(int, open, const char *, int, ...);

	if (!path || !*path)
		return;
	va_start(ap, format);
	n = vsnprintf(line, sizeof(line) - 1, format, ap);
	va_end(ap);
	if (n < 0)
		return;
	if ((size_t)n > sizeof(line) - 2)
		n = (int)sizeof(line) - 2;
	line[n++] = '\n';
	fd = real_open(path, O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	(void)!write(fd, line, (size_t)n);
	close(fd);
}

__attribute__((constructor)) static void shim_init(void)
{
	shim_log("active pid %ld", (long)getpid());
}

static const struct {
	const char *name;
	int value;
} errnos[] = {
	{ "EPERM", EPERM }, { "ENOENT", ENOENT }, { "EIO", EIO }, { "ENOEXEC", ENOEXEC },
	{ "ENOMEM", ENOMEM }, { "EACCES", EACCES }, { "EFAULT", EFAULT }, { "EBUSY", EBUSY },
	{ "EEXIST", EEXIST }, { "ENODEV", ENODEV }, { "EINVAL", EINVAL }, { "ENOSPC", ENOSPC },
	{ "ETXTBSY", ETXTBSY }, { "ENOSYS", ENOSYS }, { "ENOKEY", ENOKEY },
	{ "EKEYREJECTED", EKEYREJECTED }, { "EBADMSG", EBADMSG }, { "ENOTSUP", ENOTSUP },
};

static const char *errno_name(int e)
{
	for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
		if (errnos[i].value == e)
			return errnos[i].name;
	return "E?";
}

/* $X410_SHIM_INIT_MODULE: "NAME=ERRNO ..." (space or comma separated; ERRNO
 * symbolic or a number, 0 for success; NAME '*' for every module). */
static int wanted_errno(const char *name)
{
	const char *spec = getenv("X410_SHIM_INIT_MODULE");
	int wildcard = 0;

	while (spec && *spec) {
		size_t n = strcspn(spec, " ,"), k;
		const char *eq = memchr(spec, '=', n);

		if (eq) {
			char value[32];
			int e = -1;

			k = (size_t)(eq - spec);
			snprintf(value, sizeof(value), "%.*s", (int)(n - k - 1), eq + 1);
			for (size_t i = 0; i < sizeof(errnos) / sizeof(errnos[0]); i++)
				if (strcmp(value, errnos[i].name) == 0)
					e = errnos[i].value;
			if (e < 0)
				e = atoi(value);
			if (k == strlen(name) && strncmp(spec, name, k) == 0)
				return e;
			if (k == 1 && spec[0] == '*')
				wildcard = e;
		}
		spec += n;
		spec += strspn(spec, " ,");
	}
	return wildcard;
}

static int root_path(char buf[PATH_MAX], const char *format, const char *name)
{
	const char *root = getenv("X410_SHIM_ROOT");
	char rel[PATH_MAX];
	int n;

	if (!root || !*root)
		return -1;
	snprintf(rel, sizeof(rel), format, name);
	n = snprintf(buf, PATH_MAX, "%s%s", root, rel);
	return n < 0 || n >= PATH_MAX ? -1 : 0;
}

/* The module's name: "name=" in its .modinfo, else the file name. */
static void module_name(const char *mem, size_t len, const char *path, char name[64])
{
	static const char key[] = "name=";
	size_t i = 0;

	name[0] = 0;
	for (; mem && i + sizeof(key) - 1 < len; i++) {
		if ((i == 0 || mem[i - 1] == 0) && memcmp(mem + i, key, sizeof(key) - 1) == 0) {
			size_t start = i + sizeof(key) - 1, n = 0;

			while (start + n < len && mem[start + n] && n < 63)
				n++;
			memcpy(name, mem + start, n);
			name[n] = 0;
			break;
		}
	}
	if (!name[0] && path) {
		const char *b = strrchr(path, '/');

		snprintf(name, 64, "%s", b ? b + 1 : path);
		name[strcspn(name, ".")] = 0;
	}
	for (char *c = name; *c; c++)
		if (*c == '-')
			*c = '_';
	if (!name[0])
		snprintf(name, 64, "unknown");
}

static long fake_insert(const char *how, const char *mem, size_t len, const char *path)
{
	REAL(int, open, const char *, int, ...);
	REAL(int, mkdir, const char *, mode_t);
	REAL(int, stat, const char *, struct stat *);
	char name[64], dir[PATH_MAX], file[PATH_MAX];
	struct stat st;
	int e, fd;

	module_name(mem, len, path, name);
	if (!getenv("X410_SHIM_ROOT")) {
		shim_log("%s %s ENOSYS (no X410_SHIM_ROOT)", how, name);
		errno = ENOSYS;
		return -1;
	}
	e = wanted_errno(name);
	if (e == 0 && root_path(file, "/sys/module/%s/initstate", name) == 0 &&
	    real_stat(file, &st) == 0)
		e = EEXIST;     /* as the kernel says for a module already loaded */
	if (e != 0) {
		shim_log("%s %s %s", how, name, errno_name(e));
		errno = e;
		return -1;
	}
	if (root_path(dir, "/sys/module/%s", name) == 0 && root_path(file, "/sys/module/%s/initstate", name) == 0) {
		(void)real_mkdir(dir, 0755);
		fd = real_open(file, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
		if (fd >= 0) {
			(void)!write(fd, "live\n", 5);
			close(fd);
		}
	}
	shim_log("%s %s ok", how, name);
	return 0;
}

static long fake_init_module(const void *mem, unsigned long len, const char *args)
{
	return fake_insert("init_module", mem, len, NULL);
}

static long fake_finit_module(int fd, const char *args, int flags)
{
	REAL(ssize_t, readlink, const char *, char *, size_t);
	char link[64], path[PATH_MAX], buf[65536];
	ssize_t n, l;

	snprintf(link, sizeof(link), "/proc/self/fd/%d", fd);
	l = real_readlink(link, path, sizeof(path) - 1);
	path[l > 0 ? l : 0] = 0;
	n = pread(fd, buf, sizeof(buf), 0);
	if (n < 0) {
		errno = EBADF;
		return -1;
	}
	return fake_insert("finit_module", buf, (size_t)n, path);
}

static long fake_delete_module(const char *name, unsigned flags)
{
	REAL(int, unlink, const char *);
	REAL(int, rmdir, const char *);
	char file[PATH_MAX], dir[PATH_MAX];
	int e = 0;

	if (root_path(file, "/sys/module/%s/initstate", name) < 0 || real_unlink(file) < 0)
		e = ENOENT;
	else if (root_path(dir, "/sys/module/%s", name) == 0)
		(void)real_rmdir(dir);
	shim_log("delete_module %s %s", name, e ? errno_name(e) : "ok");
	if (e) {
		errno = e;
		return -1;
	}
	return 0;
}

EXPORT long init_module(const void *mem, unsigned long len, const char *args)
{
	return fake_init_module(mem, len, args);
}

EXPORT int finit_module(int fd, const char *args, int flags)
{
	return (int)fake_finit_module(fd, args, flags);
}

EXPORT long delete_module(const char *name, unsigned flags)
{
	return fake_delete_module(name, flags);
}

/* libkmod calls finit_module() (and, without glibc wrappers, the others)
 * through syscall(). */
EXPORT long syscall(long number, ...)
{
	REAL(long, syscall, long, ...);
	long a[6];
	va_list ap;

	va_start(ap, number);
	for (int i = 0; i < 6; i++)
		a[i] = va_arg(ap, long);
	va_end(ap);

	switch (number) {
	case SYS_init_module:
		return fake_init_module((const void *)a[0], (unsigned long)a[1], (const char *)a[2]);
	case SYS_finit_module:
		return fake_finit_module((int)a[0], (const char *)a[1], (int)a[2]);
	case SYS_delete_module:
		return fake_delete_module((const char *)a[0], (unsigned)a[1]);
	default:
		return real_syscall(number, a[0], a[1], a[2], a[3], a[4], a[5]);
	}
}
