/* SPDX-License-Identifier: MIT */
#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "util.h"

int parse_uint64(const char *s, bool allow_hex, uint64_t min, uint64_t max, uint64_t *ret)
{
	unsigned base = 10;
	uint64_t v = 0;

	if (!s || !*s)
		return -EINVAL;
	if (allow_hex && s[0] == '0' && (s[1] == 'x' || s[1] == 'X')) {
		base = 16;
		s += 2;
		if (!*s)
			return -EINVAL;
	}
	for (; *s; s++) {
		unsigned d;

		if (*s >= '0' && *s <= '9')
			d = (unsigned)(*s - '0');
		else if (base == 16 && *s >= 'a' && *s <= 'f')
			d = (unsigned)(*s - 'a' + 10);
		else if (base == 16 && *s >= 'A' && *s <= 'F')
			d = (unsigned)(*s - 'A' + 10);
		else
			return -EINVAL;
		if (v > (UINT64_MAX - d) / base) {
			/* Keep scanning: junk after an overflow is still junk. */
			for (s++; *s; s++)
				if (!isxdigit((unsigned char)*s) || (base == 10 && !isdigit((unsigned char)*s)))
					return -EINVAL;
			return -ERANGE;
		}
		v = v * base + d;
	}
	if (v < min || v > max)
		return -ERANGE;
	*ret = v;
	return 0;
}

int parse_uint32(const char *s, bool allow_hex, uint32_t min, uint32_t max, uint32_t *ret)
{
	uint64_t v;
	int r = parse_uint64(s, allow_hex, min, max, &v);

	if (r < 0)
		return r;
	*ret = (uint32_t)v;
	return 0;
}

int parse_size(const char *s, uint64_t min, uint64_t max, uint64_t *ret)
{
	static const struct {
		const char *suffix;
		uint64_t factor;
	} suffixes[] = {
		{ "", 1 },
		{ "K", 1024 }, { "KiB", 1024 },
		{ "M", 1024 * 1024 }, { "MiB", 1024 * 1024 },
		{ "G", 1024 * 1024 * 1024 }, { "GiB", 1024 * 1024 * 1024 },
	};
	char digits[32];
	size_t n = 0;
	uint64_t v;
	int r;

	if (!s)
		return -EINVAL;
	while (s[n] >= '0' && s[n] <= '9')
		n++;
	if (n == 0 || n >= sizeof(digits))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(digits, s, n);
	digits[n] = 0;
	r = parse_uint64(digits, false, 0, UINT64_MAX, &v);
	if (r < 0)
		return r;
	for (size_t i = 0; i < ELEMENTSOF(suffixes); i++) {
		if (!streq(s + n, suffixes[i].suffix))
			continue;
		if (v > UINT64_MAX / suffixes[i].factor)
			return -ERANGE;
		v *= suffixes[i].factor;
		if (v < min || v > max)
			return -ERANGE;
		*ret = v;
		return 0;
	}
	return -EINVAL;
}

int parse_seconds_ms(const char *s, uint64_t min_ms, uint64_t max_ms, uint64_t *ret_ms)
{
	char whole[24];
	const char *dot;
	uint64_t sec, ms = 0;
	size_t n;
	int r;

	if (!s || !*s)
		return -EINVAL;
	dot = strchr(s, '.');
	n = dot ? (size_t)(dot - s) : strlen(s);
	if (n == 0 || n >= sizeof(whole))
		return n == 0 ? -EINVAL : -ERANGE;
	memcpy(whole, s, n);
	whole[n] = 0;
	r = parse_uint64(whole, false, 0, UINT64_MAX / 1000, &sec);
	if (r < 0)
		return r;
	if (dot) {
		const char *f = dot + 1;
		size_t len = strlen(f);
		uint64_t scale = 100;

		if (len == 0 || len > 3)
			return -EINVAL;
		for (; *f; f++, scale /= 10) {
			if (*f < '0' || *f > '9')
				return -EINVAL;
			ms += (uint64_t)(*f - '0') * scale;
		}
	}
	ms += sec * 1000;
	if (ms < min_ms || ms > max_ms)
		return -ERANGE;
	*ret_ms = ms;
	return 0;
}

int strcpy_bounded(char *dst, size_t n, const char *src)
{
	size_t len = strlen(src);

	if (len >= n)
		return -ENAMETOOLONG;
	memcpy(dst, src, len + 1);
	return 0;
}

int snprintf_bounded(char *dst, size_t n, const char *format, ...)
{
	va_list ap;
	int r;

	va_start(ap, format);
	r = vsnprintf(dst, n, format, ap);
	va_end(ap);
	if (r < 0)
		return -EINVAL;
	if ((size_t)r >= n)
		return -ENAMETOOLONG;
	return r;
}

bool startswith(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

int path_below_root(const char *root, const char *path, char *buf, size_t size)
{
	if (!root || streq(root, "/"))
		root = "";
	return snprintf_bounded(buf, size, "%s%s", root, path) < 0 ? -ENAMETOOLONG : 0;
}

static int check_regular(mode_t mode)
{
	if (S_ISREG(mode))
		return 0;
	if (S_ISDIR(mode))
		return -EISDIR;
	if (S_ISLNK(mode))
		return -ELOOP;
	return -EBADFD;
}

int open_regular(const char *path, int flags, mode_t *ret_mode)
{
	struct stat st;
	int fd, r;

	if (ret_mode)
		*ret_mode = 0;
	if (((flags & O_NOFOLLOW) ? lstat(path, &st) : stat(path, &st)) < 0)
		return -errno;
	if (ret_mode)
		*ret_mode = st.st_mode & S_IFMT;
	r = check_regular(st.st_mode);
	if (r < 0)
		return r;

	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK | flags);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) < 0) {
		r = -errno;
		close(fd);
		return r;
	}
	if (ret_mode)
		*ret_mode = st.st_mode & S_IFMT;
	r = check_regular(st.st_mode);
	if (r < 0) {
		close(fd);
		return r;
	}
	return fd;
}

int fopen_regular(const char *path, FILE **ret, mode_t *ret_mode)
{
	int fd = open_regular(path, 0, ret_mode);
	FILE *f;

	if (fd < 0)
		return fd;
	f = fdopen(fd, "re");
	if (!f) {
		int r = -errno;

		close(fd);
		return r;
	}
	*ret = f;
	return 0;
}

const char *file_type_name(mode_t mode)
{
	switch (mode & S_IFMT) {
	case S_IFREG:
		return "a regular file";
	case S_IFDIR:
		return "a directory";
	case S_IFLNK:
		return "a symbolic link";
	case S_IFIFO:
		return "a FIFO";
	case S_IFSOCK:
		return "a socket";
	case S_IFCHR:
		return "a character device";
	case S_IFBLK:
		return "a block device";
	default:
		return "not a regular file";
	}
}

const char *file_skip_reason(int error, mode_t mode, char *buf, size_t size)
{
	switch (error) {
	case -EISDIR:
	case -EBADFD:
	case -ELOOP:
		if (mode && !S_ISREG(mode))
			(void)snprintf(buf, size, "%s, not a regular file", file_type_name(mode));
		else
			(void)snprintf(buf, size, "not a regular file");
		break;
	case -EFBIG:
		(void)snprintf(buf, size, "larger than 1 MiB, too large for a configuration file");
		break;
	case -ENOENT:
		(void)snprintf(buf, size, "it does not exist (a dangling symbolic link?)");
		break;
	default:
		(void)snprintf(buf, size, "%s", strerror(-error));
		break;
	}
	return buf;
}

char *escape_text(const char *src, size_t len, char *dst, size_t size)
{
	static const char hex[] = "0123456789abcdef";
	size_t o = 0;

	size_t need = 1;
	bool fits;

	if (size == 0)
		return dst;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];

		need += c == '\\' ? 2 : c >= 0x20 && c < 0x7f ? 1 : 4;
	}
	fits = need <= size;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)src[i];
		char e[5];
		size_t n;

		if (c == '\\') {
			e[0] = e[1] = '\\';
			n = 2;
		} else if (c >= 0x20 && c < 0x7f) {
			e[0] = (char)c;
			n = 1;
		} else {
			e[0] = '\\';
			e[1] = 'x';
			e[2] = hex[c >> 4];
			e[3] = hex[c & 15];
			n = 4;
		}
		/* Keep room for "..." while more may follow: every escape
		 * stays whole. */
		if (o + n + (fits || i + 1 == len ? 1 : 4) > size) {
			if (o + 4 <= size) {
				memcpy(dst + o, "...", 3);
				o += 3;
			}
			break;
		}
		memcpy(dst + o, e, n);
		o += n;
	}
	dst[o] = 0;
	return dst;
}

int read_one_line(const char *path, char *buf, size_t size)
{
	_cleanup_close_ int fd = -1;
	ssize_t n;

	if (size == 0)
		return -EINVAL;
	fd = open_regular(path, 0, NULL);
	if (fd < 0)
		return fd;
	n = read(fd, buf, size - 1);
	if (n < 0)
		return -errno;
	buf[n] = 0;
	buf[strcspn(buf, "\n")] = 0;
	return 0;
}
