/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * Local X displays as `run` and `doctor` both see them: the lock file
 * (LOCK_DIR/.XN-lock) and whether its process runs, the socket file
 * (SOCKET_DIR/XN), the abstract socket (@/tmp/.X11-unix/XN), whether a
 * display is free, and which free ones to suggest.  One answer for both
 * commands: the display that run refuses is the one doctor calls taken, and
 * the numbers run suggests are the ones doctor lists.
 *
 * Where to look is a struct display_where: the running system (live: a PID
 * is asked with kill(pid, 0), a socket with a connect), or the files below a
 * root directory (doctor --root: a PID is looked up in the root's /proc, a
 * socket in the root's /proc/net/unix; nothing is signalled or connected
 * to).  Never logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "addr.h"

/* How many free displays are suggested, and how far past the display
 * asked for (or :0) they are looked for. */
#define DISPLAY_SUGGEST_COUNT 3u
#define DISPLAY_SUGGEST_SCAN 64u

/* /proc/net/unix, read once. */
struct display_unix_table {
	char *data;
	size_t size;
};

struct display_where {
	const char *root;       /* "" for the running system, else a directory */
	bool live;              /* the running system: kill(pid, 0), connect() */
	const char *socket_dir;
	const char *lock_dir;
	/* Not live: the root's /proc/net/unix, or NULL when it has none. */
	const struct display_unix_table *table;
};

/* ---- parsers (pure) ---- */

/* An X lock file's content ("%10d\n", as X servers write it; also without
 * the padding or the newline): the PID.  -EINVAL for anything else. */
int display_lock_parse(const char *buf, size_t len, pid_t *ret_pid);

/* One line of /proc/net/unix.  Returns 1 with *ret_listening and the path
 * ("@name" for an abstract socket) when the line has a path, 0 when it has
 * none (or is the header), -EINVAL when it is malformed. */
int display_unix_line_parse(const char *line, bool *ret_listening, char *path, size_t size);

/* ---- sockets ---- */

/* /proc/net/unix below root ("" for the running system). */
int display_unix_table_read(const char *root, struct display_unix_table *ret);
void display_unix_table_free(struct display_unix_table *t);
/* Is path (or "@name") listed as a listening socket? */
bool display_unix_table_listening(const struct display_unix_table *t, const char *path);

/* Does something accept connections on the UNIX address a (of the running
 * system)?  1 yes (a full listen queue included), 0 no (absent, or a socket
 * file nobody listens on), -errno when it cannot be told. */
int display_unix_live(const struct addr *a);

/* The same, for a socket whose server is known to be dead (its lock file's
 * PID is gone): the kernel may keep it accepting for a moment (an io_uring
 * relay's listening socket lives until the ring is torn down, 4-15 ms after
 * kill -9, longer on a loaded machine), so a socket that still accepts is
 * probed again every 10 ms for up to wait_ms before it counts as live. */
int display_unix_live_settle(const struct addr *a, unsigned wait_ms);

/* ---- the socket directory ---- */

/*
 * What run makes of an existing socket directory, and doctor reports:
 *  - OK: the socket file goes there;
 *  - SYMLINK (root's or euid's), READONLY, NOT_STICKY: it cannot safely
 *    hold our socket file (it points elsewhere, it cannot be written, or
 *    another user could replace the file), so run serves the abstract
 *    socket @/tmp/.X11-unix/XN only (which libxcb and Xlib try first),
 *    with one warning; with --no-abstract that is an error.  WSLg has the
 *    first two (display_dir_is_wslg());
 *  - FOREIGN_SYMLINK, NOT_DIR, FOREIGN_OWNER: refused (another user
 *    controls it, or it is not a directory), unless --no-path-socket.
 */
enum display_dir_state {
	DISPLAY_DIR_OK,
	DISPLAY_DIR_SYMLINK,            /* a symbolic link of root's or euid's */
	DISPLAY_DIR_FOREIGN_SYMLINK,    /* a symbolic link of another user's */
	DISPLAY_DIR_NOT_DIR,
	DISPLAY_DIR_FOREIGN_OWNER,      /* neither root's nor euid's */
	DISPLAY_DIR_READONLY,           /* on a read-only mount */
	DISPLAY_DIR_NOT_STICKY,         /* writable by others, without the sticky bit */
};

/* The state of an existing socket directory from its lstat() and whether
 * it is on a read-only mount (display_dir_readonly()). */
enum display_dir_state display_dir_judge(const struct stat *st, uid_t euid, bool readonly);

/* SYMLINK, READONLY, NOT_STICKY: the abstract socket only. */
bool display_dir_abstract_only(enum display_dir_state state);

/* Why the directory cannot hold the socket file, as the end of a sentence
 * that starts with its name ("is read-only"); "" for OK. */
const char *display_dir_reason(enum display_dir_state state);

/* WSLg's own layouts of /tmp/.X11-unix: a read-only mount of a mode 0777
 * directory, or a symbolic link to /mnt/wslg/.X11-unix (older WSLg), each
 * of root's (or euid's).  link_target: readlink() of a symbolic link. */
#define WSLG_X11_DIR "/mnt/wslg/.X11-unix"
bool display_dir_is_wslg(enum display_dir_state state, const struct stat *st, uid_t euid, const char *link_target);

/* Is dir on a read-only mount?  Live: statvfs(); below a root: the root's
 * /proc/mounts (the longest mount point that holds dir).  false when it
 * cannot be told. */
bool display_dir_readonly(const char *root, bool live, const char *dir);

/*
 * The one spelling of a --socket-dir/--lock-dir that run and doctor check
 * and use: "//" collapsed, "." components and trailing slashes removed
 * ("/tmp/link/" names the directory the link points to for lstat(), and
 * "/tmp/link" the link itself, so the checks must see the second).  A ".."
 * component is refused (-EINVAL): it can climb out of a symbolic link.
 * "" is -EINVAL, too long -ENAMETOOLONG; "/" stays "/".  Returns 0.
 */
int display_dir_normalize(const char *dir, char *buf, size_t size);

/* ---- one display ---- */

enum display_lock_state {
	DISPLAY_LOCK_NONE,
	DISPLAY_LOCK_LIVE,              /* its PID runs */
	DISPLAY_LOCK_STARTING,          /* no PID yet, written seconds ago: a server starting (live only) */
	DISPLAY_LOCK_STALE,             /* its PID is gone */
	DISPLAY_LOCK_GARBLED,           /* no PID in it, and not new: stale too */
	DISPLAY_LOCK_NOT_REGULAR,       /* a symbolic link or other non-file: nobody may remove it */
	DISPLAY_LOCK_UNREADABLE,
};

struct display_lock {
	enum display_lock_state state;
	pid_t pid;              /* LIVE, STALE */
	char comm[32];          /* LIVE: the holder's name (printable, no quotes), "" when unknown */
	int error;              /* UNREADABLE: -errno */
};

/* The lock file of display.  -errno only when its path is too long. */
int display_lock_check(const struct display_where *w, unsigned display, struct display_lock *ret);

enum display_sock_state {
	DISPLAY_SOCK_NONE,
	DISPLAY_SOCK_LIVE,              /* something listens on it */
	DISPLAY_SOCK_STALE,             /* a socket file nobody listens on */
	DISPLAY_SOCK_NOT_SOCKET,        /* something else is in the way */
	DISPLAY_SOCK_UNKNOWN,           /* cannot tell (path too long, EACCES, no /proc/net/unix) */
};

struct display_state {
	unsigned display;
	struct display_lock lock;
	enum display_sock_state path;   /* SOCKET_DIR/XN */
	bool abstract;                  /* @/tmp/.X11-unix/XN is served */
};

/* Everything about one display. */
void display_check(const struct display_where *w, unsigned display, struct display_state *ret);

/* Nothing of the display is there: no lock, no socket file, no abstract
 * socket. */
bool display_state_free(const struct display_state *s);

/* For suggestions: is the display free, and its socket in the default
 * directory (where X clients look) absent too?  Stops at the first sign
 * of use. */
bool display_is_free(const struct display_where *w, unsigned display);

/* Up to max free displays (display_is_free()), lowest first, from :0 to
 * DISPLAY_SUGGEST_SCAN past `near`, leaving out `near` itself when
 * skip_near.  Returns how many were found. */
unsigned display_suggest_free(const struct display_where *w, unsigned near, bool skip_near,
			      unsigned *found, unsigned max);
