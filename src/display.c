/* SPDX-License-Identifier: MIT */
/*
 * Local X displays, the same for `run` and `doctor`: lock files, socket
 * files, abstract sockets, the socket directory, and the free displays to
 * suggest.  See display.h.
 */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <time.h>
#include <unistd.h>

#include "display.h"
#include "macro.h"
#include "upstream.h"
#include "util.h"

/* Bounds for what we read: /proc/net/unix of a busy machine is long, but
 * not this long. */
#define UNIX_TABLE_MAX (16u * 1024u * 1024u)
/* A lock without a PID younger than this is a server writing it in place. */
#define LOCK_STARTING_SECONDS 5
/* A connect to a local socket answers at once; this is only a bound. */
#define UNIX_CONNECT_MS 1000u

/* ---------------------------------------------------------------- parsers */

int display_lock_parse(const char *buf, size_t len, pid_t *ret_pid)
{
	size_t i = 0;
	uint64_t pid = 0;
	bool digits = false;

	/* X servers write "%10d\n": leading blanks, the PID, a newline.
	 * Others write it without the padding or the newline. */
	while (i < len && buf[i] == ' ')
		i++;
	for (; i < len && buf[i] >= '0' && buf[i] <= '9'; i++) {
		pid = pid * 10 + (uint64_t)(buf[i] - '0');
		if (pid > INT_MAX)
			return -EINVAL;
		digits = true;
	}
	if (i < len && buf[i] == '\n')
		i++;
	if (!digits || i != len || pid == 0)
		return -EINVAL;
	*ret_pid = (pid_t)pid;
	return 0;
}

/* Skip one field of hex digits. */
static const char *skip_hex_field(const char *p, unsigned long *ret)
{
	unsigned long v = 0;
	const char *start = p;

	for (; isxdigit((unsigned char)*p); p++) {
		if (v > (ULONG_MAX >> 4))
			return NULL;
		v = v * 16 + (unsigned long)(isdigit((unsigned char)*p) ? *p - '0' : (tolower((unsigned char)*p) - 'a' + 10));
	}
	if (p == start)
		return NULL;
	if (ret)
		*ret = v;
	return p;
}

int display_unix_line_parse(const char *line, bool *ret_listening, char *path, size_t size)
{
	/* "%pK: %08X %08X %08X %04X %02X %5lu[ path]": Num, RefCount, Protocol,
	 * Flags, Type, St, Inode.  Flags has __SO_ACCEPTCON (1 << 16) on a
	 * listening socket. */
	const char *p = line;
	unsigned long flags = 0;
	size_t len;

	if (startswith(line, "Num "))
		return 0;
	p = skip_hex_field(p, NULL);
	if (!p || *p++ != ':')
		return -EINVAL;
	for (unsigned field = 0; field < 5; field++) {
		if (*p != ' ')
			return -EINVAL;
		while (*p == ' ')
			p++;
		p = skip_hex_field(p, field == 2 ? &flags : NULL);
		if (!p)
			return -EINVAL;
	}
	/* The inode, decimal, right-aligned in 5 columns. */
	if (*p != ' ')
		return -EINVAL;
	while (*p == ' ')
		p++;
	if (!isdigit((unsigned char)*p))
		return -EINVAL;
	while (isdigit((unsigned char)*p))
		p++;
	if (*p == 0 || *p == '\n')
		return 0;
	if (*p != ' ')
		return -EINVAL;
	p++;
	len = strcspn(p, "\n");
	if (len == 0)
		return 0;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(path, p, len);
	path[len] = 0;
	*ret_listening = (flags & (1ul << 16)) != 0;
	return 1;
}

/* ---------------------------------------------------------------- sockets */

int display_unix_table_read(const char *root, struct display_unix_table *ret)
{
	char full[PATH_MAX];
	_cleanup_close_ int fd = -1;
	size_t cap = 64 * 1024;
	char *data;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = path_below_root(root, "/proc/net/unix", full, sizeof(full));
	if (r < 0)
		return r;
	fd = open_regular(full, 0, NULL);
	if (fd < 0)
		return fd;
	data = malloc(cap + 1);
	if (!data)
		return -ENOMEM;
	for (;;) {
		ssize_t k;

		if (ret->size == cap) {
			char *bigger;

			if (cap >= UNIX_TABLE_MAX)
				break;
			bigger = realloc(data, cap * 2 + 1);
			if (!bigger) {
				free(data);
				return -ENOMEM;
			}
			data = bigger;
			cap *= 2;
		}
		k = read(fd, data + ret->size, cap - ret->size);
		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			r = -errno;
			free(data);
			return r;
		}
		if (k == 0)
			break;
		ret->size += (size_t)k;
	}
	data[ret->size] = 0;
	ret->data = data;
	return 0;
}

void display_unix_table_free(struct display_unix_table *t)
{
	free(t->data);
	t->data = NULL;
	t->size = 0;
}

bool display_unix_table_listening(const struct display_unix_table *t, const char *path)
{
	char entry[256];
	const char *line = t ? t->data : NULL;

	if (!line)
		return false;
	while (*line) {
		const char *end = strchr(line, '\n');
		char buf[512];
		size_t len = end ? (size_t)(end - line) : strlen(line);
		bool listening;

		if (len < sizeof(buf)) {
			memcpy(buf, line, len);
			buf[len] = 0;
			if (display_unix_line_parse(buf, &listening, entry, sizeof(entry)) == 1 &&
			    listening && streq(entry, path))
				return true;
		}
		if (!end)
			break;
		line = end + 1;
	}
	return false;
}

int display_unix_live(const struct addr *a)
{
	int fd = upstream_connect(a, 0, upstream_now_ms() + UNIX_CONNECT_MS);

	if (fd >= 0) {
		safe_close(fd);
		return 1;
	}
	switch (fd) {
	case -EAGAIN:           /* a listener with a full queue: alive */
		return 1;
	case -ECONNREFUSED:
	case -ENOENT:
		return 0;
	default:
		return fd;
	}
}

int display_unix_live_settle(const struct addr *a, unsigned wait_ms)
{
	uint64_t deadline = upstream_now_ms() + wait_ms;

	for (;;) {
		int r = display_unix_live(a);

		if (r != 1 || upstream_now_ms() >= deadline)
			return r;
		(void)nanosleep(&(struct timespec) { .tv_nsec = 10 * 1000 * 1000 }, NULL);
	}
}

/* ---------------------------------------------------------------- the socket directory */

enum display_dir_state display_dir_judge(const struct stat *st, uid_t euid, bool readonly)
{
	bool ours = st->st_uid == 0 || st->st_uid == euid;

	/* A link of another user's could be pointed anywhere at any time. */
	if (S_ISLNK(st->st_mode))
		return ours ? DISPLAY_DIR_SYMLINK : DISPLAY_DIR_FOREIGN_SYMLINK;
	if (!S_ISDIR(st->st_mode))
		return DISPLAY_DIR_NOT_DIR;
	if (!ours)
		return DISPLAY_DIR_FOREIGN_OWNER;
	/* Before the mode: WSLg's read-only 0777 mount is read-only first. */
	if (readonly)
		return DISPLAY_DIR_READONLY;
	/* Writable by others without the sticky bit: anyone could replace
	 * the socket, whoever owns the directory. */
	if ((st->st_mode & (S_IWGRP | S_IWOTH)) && !(st->st_mode & S_ISVTX))
		return DISPLAY_DIR_NOT_STICKY;
	return DISPLAY_DIR_OK;
}

bool display_dir_abstract_only(enum display_dir_state state)
{
	return state == DISPLAY_DIR_SYMLINK || state == DISPLAY_DIR_READONLY || state == DISPLAY_DIR_NOT_STICKY;
}

const char *display_dir_reason(enum display_dir_state state)
{
	switch (state) {
	case DISPLAY_DIR_OK:
		return "";
	case DISPLAY_DIR_SYMLINK:
		return "is a symbolic link";
	case DISPLAY_DIR_FOREIGN_SYMLINK:
		return "is a symbolic link of another user's";
	case DISPLAY_DIR_NOT_DIR:
		return "is not a directory";
	case DISPLAY_DIR_FOREIGN_OWNER:
		return "belongs to another user than root or you";
	case DISPLAY_DIR_READONLY:
		return "is read-only";
	case DISPLAY_DIR_NOT_STICKY:
		return "is writable by others without the sticky bit (another user could replace a socket in it)";
	}
	return "";
}

bool display_dir_is_wslg(enum display_dir_state state, const struct stat *st, uid_t euid, const char *link_target)
{
	if (st->st_uid != 0 && st->st_uid != euid)
		return false;
	if (state == DISPLAY_DIR_READONLY)
		return (st->st_mode & 07777) == 0777;
	if (state == DISPLAY_DIR_SYMLINK)
		return link_target && streq(link_target, WSLG_X11_DIR);
	return false;
}

/* One line of /proc/mounts: "DEVICE MOUNTPOINT TYPE OPTIONS ...", the
 * mount point with octal escapes (\040 for a blank).  Returns true with
 * the mount point unescaped and whether "ro" is among the options. */
static bool mounts_line(const char *line, char *point, size_t size, bool *ret_ro)
{
	const char *p = strchr(line, ' '), *opts;
	size_t o = 0;

	if (!p)
		return false;
	for (p++; *p && *p != ' '; p++) {
		char c = *p;

		if (c == '\\' && p[1] >= '0' && p[1] <= '3' && p[2] >= '0' && p[2] <= '7' && p[3] >= '0' && p[3] <= '7') {
			c = (char)((p[1] - '0') * 64 + (p[2] - '0') * 8 + (p[3] - '0'));
			p += 3;
		}
		if (o + 1 >= size)
			return false;
		point[o++] = c;
	}
	point[o] = 0;
	if (*p != ' ' || !(opts = strchr(p + 1, ' ')))
		return false;
	opts++;
	*ret_ro = startswith(opts, "ro ") || startswith(opts, "ro,") || streq(opts, "ro");
	return o > 0;
}

bool display_dir_readonly(const char *root, bool live, const char *dir)
{
	char full[PATH_MAX], line[PATH_MAX + 256], point[PATH_MAX];
	size_t best = 0;
	bool ro = false;
	FILE *f;

	if (live) {
		struct statvfs vfs;

		return statvfs(dir, &vfs) == 0 && (vfs.f_flag & ST_RDONLY);
	}
	if (path_below_root(root, "/proc/mounts", full, sizeof(full)) < 0 || !(f = fopen(full, "re")))
		return false;
	while (fgets(line, sizeof(line), f)) {
		size_t n;
		bool line_ro;

		line[strcspn(line, "\n")] = 0;
		if (!mounts_line(line, point, sizeof(point), &line_ro))
			continue;
		n = strlen(point);
		/* The mount point holds dir: "/" or a prefix up to a '/'. */
		if (!(streq(point, "/") || (strneq(dir, point, n) && (dir[n] == 0 || dir[n] == '/'))))
			continue;
		if (n >= best) {
			best = n;
			ro = line_ro;
		}
	}
	fclose(f);
	return ro;
}

int display_dir_normalize(const char *dir, char *buf, size_t size)
{
	size_t o = 0;

	if (!dir || !*dir)
		return -EINVAL;
	if (size < 2)
		return -ENAMETOOLONG;
	if (dir[0] == '/')
		buf[o++] = '/';
	for (const char *p = dir; *p;) {
		size_t n;

		while (*p == '/')
			p++;
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if (n == 2 && p[0] == '.' && p[1] == '.')
			return -EINVAL;
		if (!(n == 1 && p[0] == '.')) {
			bool sep = o > 0 && buf[o - 1] != '/';

			if (o + sep + n + 1 > size)
				return -ENAMETOOLONG;
			if (sep)
				buf[o++] = '/';
			memcpy(buf + o, p, n);
			o += n;
		}
		p += n;
	}
	if (o == 0)
		/* "." or "./": the current directory. */
		buf[o++] = '.';
	buf[o] = 0;
	return 0;
}

/* ---------------------------------------------------------------- one display */

static bool pid_runs(const struct display_where *w, pid_t pid)
{
	char path[64], full[PATH_MAX];
	struct stat st;

	/* EPERM: alive, someone else's. */
	if (w->live)
		return kill(pid, 0) == 0 || errno == EPERM;
	(void)snprintf(path, sizeof(path), "/proc/%d", (int)pid);
	return path_below_root(w->root, path, full, sizeof(full)) == 0 && lstat(full, &st) == 0;
}

static void pid_comm(const struct display_where *w, pid_t pid, char *buf, size_t size)
{
	char path[64], full[PATH_MAX];

	buf[0] = 0;
	(void)snprintf(path, sizeof(path), "/proc/%d/comm", (int)pid);
	if (path_below_root(w->root, path, full, sizeof(full)) < 0 || read_one_line(full, buf, size) < 0) {
		buf[0] = 0;
		return;
	}
	/* A name is a user string: keep it printable, and out of quotes. */
	for (size_t n = strlen(buf); n > 0 && isspace((unsigned char)buf[n - 1]); n--)
		buf[n - 1] = 0;
	for (char *c = buf; *c; c++)
		if (!isprint((unsigned char)*c) || *c == '\'')
			*c = '?';
}

int display_lock_check(const struct display_where *w, unsigned display, struct display_lock *ret)
{
	char path[PATH_MAX], full[PATH_MAX], buf[64];
	_cleanup_close_ int fd = -1;
	struct stat st;
	ssize_t n;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = addr_display_lock_path(display, w->lock_dir, path, sizeof(path));
	if (r < 0)
		return r;
	r = path_below_root(w->root, path, full, sizeof(full));
	if (r < 0)
		return r;

	fd = open(full, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NOFOLLOW | O_NONBLOCK);
	if (fd < 0) {
		if (errno == ENOENT || errno == ENOTDIR)
			ret->state = DISPLAY_LOCK_NONE;
		else if (errno == ELOOP)
			ret->state = DISPLAY_LOCK_NOT_REGULAR;
		else {
			ret->state = DISPLAY_LOCK_UNREADABLE;
			ret->error = -errno;
		}
		return 0;
	}
	if (fstat(fd, &st) < 0) {
		ret->state = DISPLAY_LOCK_UNREADABLE;
		ret->error = -errno;
		return 0;
	}
	if (!S_ISREG(st.st_mode)) {
		ret->state = DISPLAY_LOCK_NOT_REGULAR;
		return 0;
	}
	n = read(fd, buf, sizeof(buf));
	if (n < 0) {
		ret->state = DISPLAY_LOCK_UNREADABLE;
		ret->error = -errno;
		return 0;
	}
	if (display_lock_parse(buf, (size_t)n, &ret->pid) < 0) {
		/* Servers that write in place leave a moment where the file is
		 * empty; only an old one without a PID is stale.  (Below a
		 * root, nobody is starting.) */
		ret->pid = 0;
		ret->state = w->live && time(NULL) - st.st_mtime < LOCK_STARTING_SECONDS ?
			DISPLAY_LOCK_STARTING : DISPLAY_LOCK_GARBLED;
		return 0;
	}
	ret->state = pid_runs(w, ret->pid) ? DISPLAY_LOCK_LIVE : DISPLAY_LOCK_STALE;
	if (ret->state == DISPLAY_LOCK_LIVE)
		pid_comm(w, ret->pid, ret->comm, sizeof(ret->comm));
	return 0;
}

static enum display_sock_state socket_check(const struct display_where *w, unsigned display)
{
	char path[PATH_MAX], full[PATH_MAX];
	struct addr a;
	struct stat st;
	int r;

	if (addr_display_socket_path(display, w->socket_dir, path, sizeof(path)) < 0 ||
	    path_below_root(w->root, path, full, sizeof(full)) < 0)
		return DISPLAY_SOCK_UNKNOWN;
	if (lstat(full, &st) < 0)
		/* ENOTDIR: the socket directory is not one; nothing is there. */
		return errno == ENOENT || errno == ENOTDIR ? DISPLAY_SOCK_NONE : DISPLAY_SOCK_UNKNOWN;
	if (!S_ISSOCK(st.st_mode))
		return DISPLAY_SOCK_NOT_SOCKET;
	if (!w->live) {
		/* Another system's socket is never connected to: its
		 * /proc/net/unix says. */
		if (display_unix_table_listening(w->table, path))
			return DISPLAY_SOCK_LIVE;
		return w->table && w->table->data ? DISPLAY_SOCK_STALE : DISPLAY_SOCK_UNKNOWN;
	}
	if (addr_unix(full, &a) < 0)
		return DISPLAY_SOCK_UNKNOWN;
	r = display_unix_live(&a);
	return r > 0 ? DISPLAY_SOCK_LIVE : r == 0 ? DISPLAY_SOCK_STALE : DISPLAY_SOCK_UNKNOWN;
}

/* Is @/tmp/.X11-unix/XN served?  When it cannot be told, it counts as
 * served: a display is only called free when it surely is. */
static bool abstract_served(const struct display_where *w, unsigned display)
{
	char name[PATH_MAX];
	struct addr a;

	name[0] = '@';
	if (addr_display_abstract_name(display, name + 1, sizeof(name) - 1) < 0)
		return true;
	if (!w->live)
		return display_unix_table_listening(w->table, name);
	if (addr_unix(name, &a) < 0)
		return true;
	return display_unix_live(&a) != 0;
}

void display_check(const struct display_where *w, unsigned display, struct display_state *ret)
{
	memset(ret, 0, sizeof(*ret));
	ret->display = display;
	if (display_lock_check(w, display, &ret->lock) < 0)
		ret->lock.state = DISPLAY_LOCK_UNREADABLE;
	ret->path = socket_check(w, display);
	ret->abstract = abstract_served(w, display);
}

bool display_state_free(const struct display_state *s)
{
	return s->lock.state == DISPLAY_LOCK_NONE && s->path == DISPLAY_SOCK_NONE && !s->abstract;
}

/* Is anything at SOCKET_DIR/XN below the root?  What cannot be looked at
 * counts as something. */
static bool socket_file_exists(const struct display_where *w, const char *dir, unsigned display)
{
	char path[PATH_MAX], full[PATH_MAX];
	struct stat st;

	if (addr_display_socket_path(display, dir, path, sizeof(path)) < 0 ||
	    path_below_root(w->root, path, full, sizeof(full)) < 0)
		return true;
	return lstat(full, &st) == 0 || (errno != ENOENT && errno != ENOTDIR);
}

bool display_is_free(const struct display_where *w, unsigned display)
{
	struct display_lock lock;

	if (display_lock_check(w, display, &lock) < 0 || lock.state != DISPLAY_LOCK_NONE)
		return false;
	if (socket_file_exists(w, w->socket_dir, display))
		return false;
	/* X clients look in the default directory, whatever --socket-dir. */
	if (!streq(w->socket_dir, X11_UNIX_DIR) && socket_file_exists(w, X11_UNIX_DIR, display))
		return false;
	return !abstract_served(w, display);
}

unsigned display_suggest_free(const struct display_where *w, unsigned near, bool skip_near,
			      unsigned *found, unsigned max)
{
	unsigned n = 0;

	for (unsigned d = 0; d <= near + DISPLAY_SUGGEST_SCAN && d <= DISPLAY_MAX && n < max; d++)
		if (!(skip_near && d == near) && display_is_free(w, d))
			found[n++] = d;
	return n;
}
