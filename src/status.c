/* SPDX-License-Identifier: MIT */
/*
 * `x410-vsock status [:N]`: the displays whose lock files are held, which
 * of them x410-vsock relays serve, and what each relay says about itself
 * (control.h).  Exit 0 when a relay of the caller's serves (:N, when
 * given).
 */
#include <dirent.h>
#include <errno.h>
#include <getopt.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "addr.h"
#include "commands.h"
#include "control.h"
#include "log.h"
#include "options.h"
#include "util.h"

/* Lock files looked at, at most. */
#define STATUS_MAX_DISPLAYS 1024u

static void help(void)
{
	printf("Usage: x410-vsock status [OPTIONS] [:N]\n"
	       "\n"
	       "One line per display whose X lock file (/tmp/.XN-lock) is held: for an\n"
	       "x410-vsock relay its PID, user, upstream, engine, clients now/total, bytes\n"
	       "relayed up/down and uptime (asked from the relay itself); displays of other\n"
	       "X servers and stale lock files are listed as such.  Exit status 0 when a relay\n"
	       "of yours serves (display :N, when given), 1 otherwise.\n"
	       "\n"
	       "Options:\n"
	       "      --json            Print one JSON array instead\n"
	       "      --lock-dir DIR    Directory of the lock files (default %s)\n"
	       "  -h, --help            Show this help and exit\n",
	       X11_LOCK_DIR);
}

struct entry {
	struct control_display d;
	bool yours;
	int query;              /* control_query()'s result: 0 when st is filled */
	struct control_status st;
};

static int cmp_unsigned(const void *x, const void *y)
{
	unsigned a = *(const unsigned *)x, b = *(const unsigned *)y;

	return a < b ? -1 : a > b;
}

/* The display numbers of the lock files ".XN-lock" in dir, sorted. */
static int list_locks(const char *dir, unsigned *found, size_t max, size_t *ret_n)
{
	DIR *d = opendir(dir);
	struct dirent *de;
	size_t n = 0;

	if (!d)
		return -errno;
	while ((de = readdir(d)) && n < max) {
		char num[16];
		const char *s = de->d_name, *end;
		uint32_t v;

		if (!startswith(s, ".X") || !(end = strstr(s, "-lock")) || !streq(end, "-lock"))
			continue;
		if ((size_t)(end - s - 2) >= sizeof(num))
			continue;
		memcpy(num, s + 2, (size_t)(end - s - 2));
		num[end - s - 2] = 0;
		if (parse_uint32(num, false, 0, DISPLAY_MAX, &v) == 0)
			found[n++] = v;
	}
	(void)closedir(d);
	qsort(found, n, sizeof(found[0]), cmp_unsigned);
	*ret_n = n;
	return 0;
}

static void json_text(const char *s)
{
	putchar('"');
	for (; *s; s++) {
		unsigned char c = (unsigned char)*s;

		if (c == '"' || c == '\\')
			printf("\\%c", c);
		else if (c < 0x20 || c >= 0x7f)
			printf("\\u%04x", c);
		else
			putchar(c);
	}
	putchar('"');
}

static const char *query_error(int r)
{
	switch (r) {
	case -EPERM:
		return "not yours: no details";
	case -ETIMEDOUT:
		return "no status answer";
	case -ESRCH:
		return "ended just now";
	default:
		return "no valid status answer";
	}
}

static void print_line(const struct entry *e)
{
	const struct control_display *d = &e->d;
	char uptime[32];

	switch (d->holder) {
	case CONTROL_RELAY:
		printf(":%u x410-vsock pid=%d user=%s", d->display, (int)d->lock.pid, d->have_uid ? d->user : "?");
		if (e->query < 0) {
			printf(" (%s)\n", query_error(e->query));
			return;
		}
		control_format_duration(e->st.uptime_ms, uptime, sizeof(uptime));
		printf(" upstream=%s engine=%s clients=%" PRIu64 "/%" PRIu64 " bytes_up=%" PRIu64
		       " bytes_down=%" PRIu64 " uptime=%s\n", e->st.upstream, e->st.engine, e->st.clients_now,
		       e->st.clients_total, e->st.bytes_up, e->st.bytes_down, uptime);
		return;
	case CONTROL_OTHER:
		printf(":%u other pid=%d user=%s command=%s (not x410-vsock)\n", d->display, (int)d->lock.pid,
		       d->have_uid ? d->user : "?", d->comm[0] ? d->comm : "?");
		return;
	case CONTROL_STALE:
		if (d->lock.pid > 0)
			printf(":%u stale pid=%d (the lock file's process is gone)\n", d->display, (int)d->lock.pid);
		else
			printf(":%u stale (no PID in the lock file)\n", d->display);
		return;
	case CONTROL_UNKNOWN:
		printf(":%u unknown (the lock file cannot be read)\n", d->display);
		return;
	case CONTROL_FREE:
		printf(":%u free\n", d->display);
		return;
	}
}

static const char *holder_json[] = {
	[CONTROL_FREE] = "free",
	[CONTROL_RELAY] = "x410-vsock",
	[CONTROL_OTHER] = "other",
	[CONTROL_STALE] = "stale",
	[CONTROL_UNKNOWN] = "unknown",
};

static void print_json(const struct entry *e, bool first)
{
	const struct control_display *d = &e->d;

	printf("%s\n  {\"display\": %u, \"state\": \"%s\"", first ? "" : ",", d->display, holder_json[d->holder]);
	if (d->holder == CONTROL_RELAY || d->holder == CONTROL_OTHER || (d->holder == CONTROL_STALE && d->lock.pid > 0))
		printf(", \"pid\": %d", (int)d->lock.pid);
	if ((d->holder == CONTROL_RELAY || d->holder == CONTROL_OTHER) && d->have_uid) {
		printf(", \"uid\": %u, \"user\": ", (unsigned)d->uid);
		json_text(d->user);
		printf(", \"yours\": %s", e->yours ? "true" : "false");
	}
	if (d->holder == CONTROL_OTHER) {
		printf(", \"command\": ");
		json_text(d->comm);
	}
	if (d->holder == CONTROL_RELAY && e->query == 0) {
		printf(", \"upstream\": ");
		json_text(e->st.upstream);
		printf(", \"engine\": ");
		json_text(e->st.engine);
		printf(", \"clients_now\": %" PRIu64 ", \"clients_total\": %" PRIu64 ", \"refused\": %" PRIu64
		       ", \"bytes_up\": %" PRIu64 ", \"bytes_down\": %" PRIu64 ", \"uptime_s\": %" PRIu64,
		       e->st.clients_now, e->st.clients_total, e->st.refused, e->st.bytes_up, e->st.bytes_down,
		       e->st.uptime_ms / 1000u);
	} else if (d->holder == CONTROL_RELAY) {
		printf(", \"error\": ");
		json_text(query_error(e->query));
	}
	putchar('}');
}

int cmd_status(int argc, char *argv[])
{
	enum { OPT_JSON = 0x100, OPT_LOCK_DIR };
	static const struct option options[] = {
		{ "help", no_argument, NULL, 'h' },
		OPTIONS_GLOBAL,
		{ "json", no_argument, NULL, OPT_JSON },
		{ "lock-dir", required_argument, NULL, OPT_LOCK_DIR },
		{}
	};
	unsigned displays[STATUS_MAX_DISPLAYS], one = 0;
	const char *lock_dir = X11_LOCK_DIR, *error = NULL;
	bool json = false, have_one = false, serving = false;
	size_t n = 0;
	int c, r;

	opterr = 0;
	while ((c = getopt_long(argc, argv, ":" OPTIONS_GLOBAL_SHORT "h", options, NULL)) >= 0) {
		if (options_global(c))
			continue;
		switch (c) {
		case 'h':
			help();
			return EXIT_OK;
		case OPT_JSON:
			json = true;
			break;
		case OPT_LOCK_DIR:
			if (!*optarg)
				return usage_error("status", "Invalid --lock-dir '': the directory is empty");
			lock_dir = optarg;
			break;
		default:
			return options_error("status", options, c, argv);
		}
	}
	if (optind < argc) {
		if (addr_parse_display(argv[optind], &one, &error) < 0)
			return usage_error("status", "Invalid display '%s': %s", argv[optind], error);
		have_one = true;
		if (optind + 1 < argc)
			return usage_error("status", "Unexpected argument '%s' (one display at a time)", argv[optind + 1]);
	}

	if (have_one) {
		displays[0] = one;
		n = 1;
	} else {
		r = list_locks(lock_dir, displays, ELEMENTSOF(displays), &n);
		if (r < 0) {
			log_error_errno(r, "Cannot read the lock directory '%s': %m", lock_dir);
			return EXIT_FAILED;
		}
	}

	if (json)
		putchar('[');
	for (size_t i = 0, shown = 0; i < n; i++) {
		struct entry e = { .query = -ESRCH };

		r = control_lookup(lock_dir, displays[i], &e.d);
		if (r < 0) {
			log_error_errno(r, "Cannot look at display :%u in '%s': %m", displays[i], lock_dir);
			continue;
		}
		if (e.d.holder == CONTROL_FREE && !have_one)
			continue;   /* removed since the directory was read */
		e.yours = e.d.have_uid && e.d.uid == geteuid();
		if (e.d.holder == CONTROL_RELAY) {
			e.query = control_query(e.d.lock.pid, CONTROL_QUERY_TIMEOUT_MS, &e.st);
			if (e.query == 0 && e.yours)
				serving = true;
		}
		if (json)
			print_json(&e, shown == 0);
		else
			print_line(&e);
		shown++;
	}
	if (json)
		printf("%s]\n", n ? "\n" : "");
	else if (n == 0)
		log_info("no display is held (no lock file in '%s')", lock_dir);
	return serving ? EXIT_OK : EXIT_FAILED;
}
