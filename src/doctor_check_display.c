/* SPDX-License-Identifier: MIT */
/*
 * doctor's check of the local display: the X socket directory by run's
 * rule, the display :N (lock file, socket, abstract socket) and the free
 * displays run would suggest, all judged by display.c as run judges them.
 */
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "addr.h"
#include "display.h"
#include "doctor_checks.h"

/* ---------------------------------------------------------------- display */

/* ":1 :2 :3": the free displays run would suggest too. */
static unsigned suggest_free(struct doctor *d, const struct display_where *w, char *buf, size_t size,
			     unsigned found[static DISPLAY_SUGGEST_COUNT])
{
	unsigned n = display_suggest_free(w, d->have_display ? d->display : 0, d->have_display,
					  found, DISPLAY_SUGGEST_COUNT);

	buf[0] = 0;
	for (unsigned i = 0; i < n; i++)
		report_append(buf, size, "%s:%u", i ? " " : "", found[i]);
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
			report_append(buf, size, "lock %s held by '%s' (PID %d)", lock, dd->lock.comm, (int)dd->lock.pid);
		else
			report_append(buf, size, "lock %s held by PID %d", lock, (int)dd->lock.pid);
		*ret_live = any = true;
		break;
	case DISPLAY_LOCK_STARTING:
		report_append(buf, size, "lock %s just written, without a PID yet (an X server starting?)", lock);
		*ret_live = any = true;
		break;
	case DISPLAY_LOCK_STALE:
		report_append(buf, size, "stale lock %s (PID %d is gone)", lock, (int)dd->lock.pid);
		*ret_stale = any = true;
		break;
	case DISPLAY_LOCK_GARBLED:
		report_append(buf, size, "lock %s without a PID in it", lock);
		*ret_stale = any = true;
		break;
	case DISPLAY_LOCK_NOT_REGULAR:
		report_append(buf, size, "lock %s is not a regular file (a symbolic link?): run does not touch it", lock);
		*ret_live = any = true;
		break;
	case DISPLAY_LOCK_UNREADABLE:
		report_append(buf, size, "lock %s cannot be read", lock);
		*ret_live = any = true;
		break;
	}
	switch (dd->path) {
	case DISPLAY_SOCK_NONE:
		break;
	case DISPLAY_SOCK_LIVE:
		report_append(buf, size, "%ssocket %s is served", any ? ", " : "", path);
		*ret_live = any = true;
		break;
	case DISPLAY_SOCK_STALE:
		report_append(buf, size, "%sstale socket %s (nobody listens)", any ? ", " : "", path);
		*ret_stale = any = true;
		break;
	case DISPLAY_SOCK_NOT_SOCKET:
		report_append(buf, size, "%s%s is not a socket", any ? ", " : "", path);
		*ret_live = any = true;
		break;
	case DISPLAY_SOCK_UNKNOWN:
		report_append(buf, size, "%s%s exists (cannot tell whether it is served)", any ? ", " : "", path);
		*ret_live = any = true;
		break;
	}
	if (dd->abstract) {
		report_append(buf, size, "%sabstract socket @%s/X%u is served", any ? ", " : "", X11_UNIX_DIR, dd->display);
		*ret_live = any = true;
	}
	return any;
}

void check_display(struct doctor *d, struct finding *f)
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
		report_strf(f->subject, sizeof(f->subject), "display :%u", d->display);
		finding_data_int(f, "display", d->display);
	} else
		report_strf(f->subject, sizeof(f->subject), "displays");

	/* Below --root, sockets are not asked but looked up in the root's
	 * /proc/net/unix; without it abstract sockets cannot be seen, and
	 * whether a socket file is served cannot be told. */
	if (!d->sys.facts.live && display_unix_table_read(d->sys.facts.root, &t) == 0)
		w.table = &t;

	r = doctor_dir_check(&d->sys, d->socket_dir, &dir);
	if (r < 0) {
		finding_set(f, CHECK_FAIL, "cannot check '%s': %s", d->socket_dir, strerror(-r));
		goto finish;
	}
	switch (dir.state) {
	case DIR_MISSING:
		report_strf(dirtext, sizeof(dirtext), "%s does not exist yet (run creates it)", d->socket_dir);
		break;
	case DIR_OK:
		report_strf(dirtext, sizeof(dirtext), "%s has mode %04o", d->socket_dir, (unsigned)dir.mode);
		break;
	case DIR_ABSTRACT_ONLY: {
		/* run's decision: the abstract socket only, which X clients
		 * try first.  Never a fix that would break WSLg's own display. */
		char abstract[32];

		if (d->have_display)
			report_strf(abstract, sizeof(abstract), "@%s/X%u", X11_UNIX_DIR, d->display);
		else
			report_strf(abstract, sizeof(abstract), "@%s/XN", X11_UNIX_DIR);
		finding_data_bool(f, "abstract_only", true);
		finding_data_bool(f, "wslg", dir.wslg);
		if (dir.wslg && dir.symlink)
			report_strf(dirtext, sizeof(dirtext), "%s is WSLg's symbolic link to %s: run serves the abstract socket %s only, which X clients try first",
				    d->socket_dir, dir.link_target, abstract);
		else if (dir.wslg)
			report_strf(dirtext, sizeof(dirtext), "%s is WSLg's read-only mount (mode %04o): run serves the abstract socket %s only, which X clients try first",
				    d->socket_dir, (unsigned)dir.mode, abstract);
		else {
			status = CHECK_WARN;
			if (dir.symlink)
				report_strf(dirtext, sizeof(dirtext), "%s is a symbolic link (to %s): run serves the abstract socket %s only, which X clients try first",
					    d->socket_dir, dir.link_target, abstract);
			else
				report_strf(dirtext, sizeof(dirtext), "%s (mode %04o) %s: run serves the abstract socket %s only, which X clients try first",
					    d->socket_dir, (unsigned)dir.mode, display_dir_reason(dir.judged), abstract);
			if (dir.judged == DISPLAY_DIR_NOT_STICKY && d->sys.facts.wsl == WSL_NONE)
				finding_fix(f, "optional: %schmod +t %s (run then serves the socket file too)",
					    dir.uid == geteuid() ? "" : "sudo ", d->socket_dir);
		}
		break;
	}
	case DIR_NOT_DIR:
		status = CHECK_FAIL;
		if (dir.symlink)
			report_strf(dirtext, sizeof(dirtext), "%s is a symbolic link of UID %u, neither root nor you: run refuses it", d->socket_dir, (unsigned)dir.uid);
		else
			report_strf(dirtext, sizeof(dirtext), "%s is not a directory: run refuses it", d->socket_dir);
		/* Never suggest removing what is there: it may be anything. */
		if (is_default_dir)
			finding_fix(f, "sudo mv %s %s.bad && sudo install -d -m 1777 -o root -g root %s",
			    d->socket_dir, d->socket_dir, d->socket_dir);
		else
			finding_fix(f, "give --socket-dir a directory");
		break;
	case DIR_FOREIGN_OWNER:
		status = CHECK_FAIL;
		report_strf(dirtext, sizeof(dirtext), "%s belongs to UID %u, neither root nor you: run refuses it",
		     d->socket_dir, (unsigned)dir.uid);
		if (is_default_dir)
			finding_fix(f, "sudo chown root:root %s && sudo chmod 1777 %s", d->socket_dir, d->socket_dir);
		else
			finding_fix(f, "give --socket-dir a directory of yours or root's");
		break;
	case DIR_NOT_WRITABLE:
		status = CHECK_WARN;
		report_strf(dirtext, sizeof(dirtext), "%s (mode %04o) is not writable for you: run can serve the abstract socket only",
		     d->socket_dir, (unsigned)dir.mode);
		finding_fix(f, "%s", is_default_dir ? "sudo chmod 1777 " X11_UNIX_DIR : "give --socket-dir a directory you may write to");
		break;
	case DIR_ERROR:
	default:
		status = CHECK_FAIL;
		report_strf(dirtext, sizeof(dirtext), "cannot look at %s: %s", d->socket_dir, strerror(-dir.error));
		finding_fix(f, "check the permissions of the directories above %s", d->socket_dir);
		break;
	}
	finding_data_str(f, "socket_dir", d->socket_dir);

	n_free = suggest_free(d, &w, suggest, sizeof(suggest), free_list);

	if (d->have_display) {
		struct display_state dd;
		bool live, stale;

		display_check(&w, d->display, &dd);
		if (!describe_display(d, &dd, state, sizeof(state), &live, &stale)) {
			finding_data_bool(f, "free", true);
			finding_set(f, status, "free; %s", dirtext);
		} else if (live) {
			finding_data_bool(f, "free", false);
			finding_set(f, CHECK_FAIL, "taken: %s; %s", state, dirtext);
			if (n_free > 0)
				finding_fix(f, "use a free display: %s (e.g. x410-vsock run :%u)", suggest, free_list[0]);
			else
				finding_fix(f, "use another display number");
		} else if (stale) {
			char lock[PATH_MAX], path[PATH_MAX];

			finding_data_bool(f, "free", true);
			finding_set(f, status == CHECK_FAIL ? CHECK_FAIL : CHECK_WARN, "left over by a server that is gone: %s; run takes %s over; %s",
			    state, dd.lock.state != DISPLAY_LOCK_NONE && dd.path == DISPLAY_SOCK_STALE ? "them" : "it", dirtext);
			(void)addr_display_lock_path(d->display, d->lock_dir, lock, sizeof(lock));
			(void)addr_display_socket_path(d->display, d->socket_dir, path, sizeof(path));
			finding_fix(f, "optional, run does it by itself: rm -f%s%s%s%s",
			    dd.lock.state != DISPLAY_LOCK_NONE ? " " : "", dd.lock.state != DISPLAY_LOCK_NONE ? lock : "",
			    dd.path == DISPLAY_SOCK_STALE ? " " : "", dd.path == DISPLAY_SOCK_STALE ? path : "");
		}
	} else
		finding_set(f, status, "%s", dirtext);

	if (n_free > 0 && !(d->have_display && f->status == CHECK_FAIL && f->n_fix > 0 && strstr(f->fix[0], "free display")))
		report_append(f->message, sizeof(f->message), "; free: %s", suggest);
	if (n_free > 0) {
		struct data *x = finding_data_add(f, "free_displays", DATA_STR);

		if (x)
			report_strf(x->str, sizeof(x->str), "%s", suggest);
	}
finish:
	display_unix_table_free(&t);
}
