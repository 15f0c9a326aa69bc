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
	char *path;             /* dir/name, allocated */
	const char *name;       /* inside path */
	char *read_path;        /* NULL: path itself */
	size_t dir_index;       /* precedence: lower wins */
	bool masked;
	int error;
	mode_t mode;
};

struct conf_list {
	struct conf_file *files;
	size_t n, allocated;
};

static void conf_list_done(struct conf_list *l)
{
	for (size_t i = 0; i < l->n; i++) {
		free(l->files[i].path);
		free(l->files[i].read_path);
	}
	free(l->files);
	*l = (struct conf_list) {};
}

/* By name; the same name by precedence, so that the first one wins. */
static int conf_file_compare(const void *a, const void *b)
{
	const struct conf_file *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c != 0)
		return c;
	return x->dir_index < y->dir_index ? -1 : x->dir_index > y->dir_index;
}

static bool has_suffix(const char *name, const char *suffix)
{
	size_t n = strlen(name), k = strlen(suffix);

	return n > k && streq(name + n - k, suffix);
}

/* modules-load.d reads "*.conf"; kmod also "*.alias" in modprobe.d. */
static bool is_conf_name(const char *const *dirs, const char *name)
{
	return has_suffix(name, ".conf") || (dirs == modprobe_d_dirs && has_suffix(name, ".alias"));
}

/* What one directory entry is: masked, readable as a regular file (possibly
 * through a link, resolved inside the root for an absolute one), or not
 * (f->error, f->mode).  Never opens it. */
static int conf_file_examine(const char *root, int dfd, const char *name, struct conf_file *f)
{
	struct stat st;

	if (fstatat(dfd, name, &st, AT_SYMLINK_NOFOLLOW) < 0) {
		f->error = -errno;
		return 0;
	}
	if (S_ISLNK(st.st_mode)) {
		char target[PATH_MAX], rooted[PATH_MAX];
		ssize_t len = readlinkat(dfd, name, target, sizeof(target) - 1);
		int k;

		if (len <= 0) {
			f->error = len < 0 ? -errno : -ENOENT;
			return 0;
		}
		target[len] = 0;
		if (streq(target, "/dev/null")) {
			f->masked = true;
			return 0;
		}
		/* Anything else counts by what it points to; inside the root
		 * for an absolute link. */
		if (target[0] == '/' && root && *root && !streq(root, "/")) {
			if (path_below_root(root, target, rooted, sizeof(rooted)) < 0) {
				f->error = -ENAMETOOLONG;
				return 0;
			}
			k = stat(rooted, &st);
			if (k == 0) {
				f->read_path = strdup(rooted);
				if (!f->read_path)
					return -ENOMEM;
			}
		} else
			k = fstatat(dfd, name, &st, 0);
		if (k < 0) {
			f->error = -errno;
			return 0;
		}
	}
	f->mode = st.st_mode & S_IFMT;
	if (S_ISDIR(st.st_mode))
		f->error = -EISDIR;
	else if (!S_ISREG(st.st_mode))
		f->error = -EBADFD;
	else if (st.st_size == 0)
		f->masked = true;
	return 0;
}

/* Add the *.conf entries of one directory. */
static int conf_dir_add(const char *root, const char *const *dirs, const char *dir, size_t dir_index,
			struct conf_list *l)
{
	DIR *d;
	struct dirent *de;
	int r = 0;

	d = opendir(dir);
	if (!d)
		return errno == ENOENT || errno == ENOTDIR ? 0 : -errno;

	while ((errno = 0, de = readdir(d))) {
		struct conf_file *f;

		if (de->d_name[0] == '.' || !is_conf_name(dirs, de->d_name))
			continue;
		if (l->n == l->allocated) {
			size_t m = l->allocated ? l->allocated * 2 : 64;
			struct conf_file *bigger = reallocarray(l->files, m, sizeof(*bigger));

			if (!bigger) {
				r = -ENOMEM;
				break;
			}
			l->files = bigger;
			l->allocated = m;
		}
		f = &l->files[l->n];
		*f = (struct conf_file) { .dir_index = dir_index };
		if (asprintf(&f->path, "%s/%s", dir, de->d_name) < 0) {
			f->path = NULL;
			r = -ENOMEM;
			break;
		}
		f->name = f->path + strlen(dir) + 1;
		l->n++;
		r = conf_file_examine(root, dirfd(d), de->d_name, f);
		if (r < 0)
			break;
	}
	if (r == 0 && errno != 0)
		r = -errno;
	closedir(d);
	return r;
}

int modules_load_conf_files(const char *root, const char *const *dirs,
			    int (*fn)(const struct modules_load_file *file, void *userdata), void *userdata)
{
	struct conf_list l = {};
	int r = 0;

	for (size_t i = 0; dirs[i] && r == 0; i++) {
		char dir[PATH_MAX];

		r = path_below_root(root, dirs[i], dir, sizeof(dir));
		if (r == 0)
			r = conf_dir_add(root, dirs, dir, i, &l);
	}
	if (r < 0)
		goto out;

	/* A file of an earlier directory replaces every file of the same
	 * name in the later ones, whatever it is. */
	if (l.n > 0)
		qsort(l.files, l.n, sizeof(*l.files), conf_file_compare);
	for (size_t i = 0; i < l.n; i++) {
		const struct conf_file *c = &l.files[i];
		struct modules_load_file f = {
			.path = c->path,
			.read_path = c->read_path ? c->read_path : c->path,
			.masked = c->masked,
			.error = c->error,
			.mode = c->mode,
		};

		if (i > 0 && streq(c->name, l.files[i - 1].name))
			continue;
		r = fn(&f, userdata);
		if (r != 0) {
			r = r < 0 ? r : 1;
			break;
		}
	}
out:
	conf_list_done(&l);
	return r;
}

/* Read a whole small regular file; NUL-terminated.  The buffer follows the
 * file's size (thousands of small files are common), up to CONF_FILE_MAX. */
static int read_conf_file(const char *path, char **ret, size_t *ret_len, mode_t *ret_mode)
{
	_cleanup_close_ int fd = -1;
	_cleanup_free_ char *buf = NULL;
	size_t len = 0, cap;
	struct stat st;

	fd = open_regular(path, 0, ret_mode);
	if (fd < 0)
		return fd;
	if (fstat(fd, &st) < 0)
		return -errno;
	if (st.st_size > CONF_FILE_MAX)
		return -EFBIG;
	cap = (size_t)st.st_size + 1;
	buf = malloc(cap + 1);
	if (!buf)
		return -ENOMEM;
	for (;;) {
		ssize_t k;

		if (len == cap) {
			/* It grew while we read. */
			char *bigger;

			if (cap > CONF_FILE_MAX)
				return -EFBIG;
			cap = MIN(cap * 2, (size_t)CONF_FILE_MAX + 1);
			bigger = realloc(buf, cap + 1);
			if (!bigger)
				return -ENOMEM;
			buf = bigger;
		}
		k = read(fd, buf + len, cap - len);
		if (k < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	if (len > CONF_FILE_MAX)
		return -EFBIG;
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

static int file_lists(const char *read_path, const char *path, const char *name, bool etc_modules,
		      struct modules_load_hit *ret, mode_t *ret_mode)
{
	_cleanup_free_ char *buf = NULL;
	size_t len = 0;
	unsigned line;
	int r;

	r = read_conf_file(read_path, &buf, &len, ret_mode);
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
	return file_lists(path, path, name, false, ret, NULL);
}

int modules_load_etc_modules_lists(const char *path, const char *name, struct modules_load_hit *ret)
{
	return file_lists(path, path, name, true, ret, NULL);
}

int modules_load_etc_modules_lists_full(const char *path, const char *name, struct modules_load_hit *ret,
					mode_t *ret_mode)
{
	return file_lists(path, path, name, true, ret, ret_mode);
}

struct find_state {
	const char *name;
	struct modules_load_hit *hit;
	modules_load_skip_fn on_skip;
	void *userdata;
};

static int find_one(const struct modules_load_file *f, void *userdata)
{
	struct find_state *s = userdata;
	mode_t mode = f->mode;
	int r = f->error;

	if (f->masked)
		return 0;
	if (r == 0)
		r = file_lists(f->read_path, f->path, s->name, false, s->hit, &mode);
	/* A file that cannot be read is skipped, as systemd-modules-load
	 * does; the caller hears which and why. */
	if (r < 0) {
		if (s->on_skip)
			s->on_skip(f->path, r, mode, s->userdata);
		return 0;
	}
	return r;
}

int modules_load_find_full(const char *root, const char *name, modules_load_skip_fn on_skip, void *userdata,
			   struct modules_load_hit *ret)
{
	struct modules_load_hit hit;
	struct find_state s = { name, &hit, on_skip, userdata };
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

int modules_load_find(const char *root, const char *name, struct modules_load_hit *ret)
{
	return modules_load_find_full(root, name, NULL, NULL, ret);
}
