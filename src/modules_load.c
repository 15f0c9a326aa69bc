/* SPDX-License-Identifier: MIT */
/*
 * Which file loads a module at boot: modules-load.d in systemd's precedence,
 * and the enumeration of configuration directories that modprobe.d shares.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "macro.h"
#include "modules_load.h"
#include "util.h"

/* systemd's CONF_PATHS("modules-load.d"); /lib/modules-load.d is read on
 * split-/usr systems and is the same directory as /usr/lib/modules-load.d
 * elsewhere (the name rule then keeps one copy of each file). */
const char *const modules_load_dirs[] = {
	"/etc/modules-load.d",
	"/run/modules-load.d",
	"/usr/local/lib/modules-load.d",
	"/usr/lib/modules-load.d",
	"/lib/modules-load.d",
	NULL,
};

/* kmod's default configuration directories, in its precedence. */
const char *const modprobe_d_dirs[] = {
	"/etc/modprobe.d",
	"/run/modprobe.d",
	"/usr/local/lib/modprobe.d",
	"/usr/lib/modprobe.d",
	"/lib/modprobe.d",
	NULL,
};

/* Configuration files are small; anything larger is not one. */
#define CONF_FILE_MAX (1024 * 1024)

struct conf_file {
	char name[NAME_MAX + 1];
	char path[PATH_MAX];
	bool masked;
};

static int conf_file_compare(const void *a, const void *b)
{
	return strcmp(((const struct conf_file *)a)->name, ((const struct conf_file *)b)->name);
}

static bool has_conf_suffix(const char *name)
{
	size_t n = strlen(name);

	return n > 5 && streq(name + n - 5, ".conf");
}

/* Add the *.conf files of one directory that no earlier directory has. */
static int conf_dir_add(const char *root, const char *dir, struct conf_file *files, size_t *n)
{
	DIR *d;
	struct dirent *de;
	size_t before = *n;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;

	while ((errno = 0, de = readdir(d))) {
		struct stat st;
		bool masked = false, seen = false;

		if (de->d_name[0] == '.' || !has_conf_suffix(de->d_name))
			continue;
		if (fstatat(dirfd(d), de->d_name, &st, AT_SYMLINK_NOFOLLOW) < 0)
			continue;
		if (S_ISLNK(st.st_mode)) {
			char target[PATH_MAX];
			ssize_t len = readlinkat(dirfd(d), de->d_name, target, sizeof(target) - 1);

			char rooted[PATH_MAX];
			int k;

			if (len <= 0)
				continue;
			target[len] = 0;
			masked = streq(target, "/dev/null");
			/* Anything else counts by what it points to; inside the
			 * root for an absolute link. */
			if (!masked) {
				if (target[0] == '/' && root && *root)
					k = path_below_root(root, target, rooted, sizeof(rooted)) < 0 ? -1 :
						stat(rooted, &st);
				else
					k = fstatat(dirfd(d), de->d_name, &st, 0);
				if (k < 0 || !S_ISREG(st.st_mode))
					continue;
			}
		} else if (!S_ISREG(st.st_mode))
			continue;
		else if (st.st_size == 0)
			masked = true;

		/* A file of an earlier directory replaces this one. */
		for (size_t i = 0; i < before && !seen; i++)
			seen = streq(files[i].name, de->d_name);
		if (seen)
			continue;
		if (*n >= MODULES_LOAD_FILES_MAX) {
			r = -E2BIG;
			break;
		}
		if (strcpy_bounded(files[*n].name, sizeof(files[*n].name), de->d_name) < 0 ||
		    snprintf_bounded(files[*n].path, sizeof(files[*n].path), "%s/%s", dir, de->d_name) < 0)
			continue;
		files[*n].masked = masked;
		(*n)++;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

int modules_load_conf_files(const char *root, const char *const *dirs,
			    int (*fn)(const char *path, bool masked, void *userdata), void *userdata)
{
	_cleanup_free_ struct conf_file *files = NULL;
	size_t n = 0;
	int r;

	files = calloc(MODULES_LOAD_FILES_MAX, sizeof(*files));
	if (!files)
		return -ENOMEM;

	for (size_t i = 0; dirs[i]; i++) {
		char dir[PATH_MAX];

		r = path_below_root(root, dirs[i], dir, sizeof(dir));
		if (r < 0)
			return r;
		r = conf_dir_add(root, dir, files, &n);
		if (r < 0)
			return r;
	}

	qsort(files, n, sizeof(*files), conf_file_compare);
	for (size_t i = 0; i < n; i++) {
		r = fn(files[i].path, files[i].masked, userdata);
		if (r != 0)
			return r < 0 ? r : 1;
	}
	return 0;
}

/* Read a whole small file; NUL-terminated.  Under a root, an absolute
 * symbolic link is resolved inside the root (one level), as the system that
 * boots from it would. */
static int read_conf_file(const char *root, const char *path, char **ret, size_t *ret_len)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	char target[PATH_MAX], rooted[PATH_MAX];
	size_t len = 0;
	ssize_t l;

	if (root && *root && !streq(root, "/")) {
		l = readlink(path, target, sizeof(target) - 1);
		if (l > 0) {
			target[l] = 0;
			if (target[0] == '/' && !streq(target, "/dev/null") &&
			    path_below_root(root, target, rooted, sizeof(rooted)) == 0)
				path = rooted;
		}
	}

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return -errno;
	buf = malloc(CONF_FILE_MAX + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k = read(fd, buf + len, CONF_FILE_MAX + 1 - len);

		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
		if (len > CONF_FILE_MAX)
			return -EFBIG;
	}
	buf[len] = 0;
	*ret = buf;
	buf = NULL;
	*ret_len = len;
	return 0;
}

static bool name_char_eq(char a, char b)
{
	if (a == '-')
		a = '_';
	if (b == '-')
		b = '_';
	return a == b;
}

/* Module names compare with '-' and '_' alike, as kmod does. */
static bool module_name_eq(const char *a, size_t alen, const char *b)
{
	size_t blen = strlen(b);

	if (alen != blen)
		return false;
	for (size_t i = 0; i < alen; i++)
		if (!name_char_eq(a[i], b[i]))
			return false;
	return true;
}

static bool is_blank(char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\v' || c == '\f';
}

/* Walk the lines of buf: fn(line, len, lineno) on each line stripped of the
 * blanks around it; stops when fn returns non-zero and returns that. */
static unsigned for_each_line(const char *buf, size_t len,
			      unsigned (*fn)(const char *line, size_t len, unsigned lineno, const void *arg),
			      const void *arg)
{
	unsigned lineno = 0;

	for (size_t pos = 0; pos < len;) {
		const char *start = buf + pos, *nl = memchr(start, '\n', len - pos);
		size_t n = nl ? (size_t)(nl - start) : len - pos;
		unsigned r;

		pos += n + (nl ? 1 : 0);
		lineno++;
		while (n > 0 && is_blank(*start)) {
			start++;
			n--;
		}
		while (n > 0 && is_blank(start[n - 1]))
			n--;
		r = fn(start, n, lineno, arg);
		if (r)
			return r;
	}
	return 0;
}

static unsigned match_modules_load_line(const char *line, size_t n, unsigned lineno, const void *arg)
{
	if (n == 0 || line[0] == '#' || line[0] == ';')
		return 0;
	return module_name_eq(line, n, arg) ? lineno : 0;
}

/* /etc/modules: "NAME [ARGUMENTS]", '#' comments. */
static unsigned match_etc_modules_line(const char *line, size_t n, unsigned lineno, const void *arg)
{
	size_t w = 0;

	if (n == 0 || line[0] == '#')
		return 0;
	while (w < n && !is_blank(line[w]))
		w++;
	return module_name_eq(line, w, arg) ? lineno : 0;
}

static void copy_line(const char *buf, size_t len, unsigned lineno, char *ret, size_t size)
{
	unsigned l = 1;
	size_t pos = 0, n;

	if (!ret || size == 0)
		return;
	while (l < lineno && pos < len) {
		const char *nl = memchr(buf + pos, '\n', len - pos);
		if (!nl)
			break;
		pos = (size_t)(nl - buf) + 1;
		l++;
	}
	while (pos < len && is_blank(buf[pos]))
		pos++;
	n = strcspn(buf + pos, "\n");
	while (n > 0 && is_blank(buf[pos + n - 1]))
		n--;
	n = MIN(n, size - 1);
	memcpy(ret, buf + pos, n);
	ret[n] = 0;
}

unsigned modules_load_buffer_lists(const char *buf, size_t len, const char *name, char *ret_text, size_t text_size)
{
	unsigned line = for_each_line(buf, len, match_modules_load_line, name);

	if (line)
		copy_line(buf, len, line, ret_text, text_size);
	return line;
}

static int file_lists(const char *root, const char *path, const char *name, bool etc_modules,
		      struct modules_load_hit *ret)
{
	_cleanup_free_ char *buf = NULL;
	size_t len;
	unsigned line;
	int r;

	r = read_conf_file(root, path, &buf, &len);
	if (r < 0)
		return r;
	line = for_each_line(buf, len, etc_modules ? match_etc_modules_line : match_modules_load_line, name);
	if (!line)
		return 0;
	if (ret) {
		memset(ret, 0, sizeof(*ret));
		r = strcpy_bounded(ret->path, sizeof(ret->path), path);
		if (r < 0)
			return r;
		ret->line = line;
		copy_line(buf, len, line, ret->text, sizeof(ret->text));
	}
	return 1;
}

int modules_load_file_lists(const char *path, const char *name, struct modules_load_hit *ret)
{
	return file_lists(NULL, path, name, false, ret);
}

int modules_load_etc_modules_lists(const char *path, const char *name, struct modules_load_hit *ret)
{
	return file_lists(NULL, path, name, true, ret);
}

struct find_state {
	const char *root;
	const char *name;
	struct modules_load_hit *hit;
};

static int find_one(const char *path, bool masked, void *userdata)
{
	struct find_state *s = userdata;
	int r;

	if (masked)
		return 0;
	r = file_lists(s->root, path, s->name, false, s->hit);
	/* An unreadable file is skipped, as systemd-modules-load does. */
	return r < 0 ? 0 : r;
}

int modules_load_find(const char *root, const char *name, struct modules_load_hit *ret)
{
	struct modules_load_hit hit;
	struct find_state s = { root, name, &hit };
	int r;

	if (!name || !*name)
		return -EINVAL;
	r = modules_load_conf_files(root, modules_load_dirs, find_one, &s);
	if (r <= 0)
		return r;
	if (ret)
		*ret = hit;
	return 1;
}
