/* SPDX-License-Identifier: MIT */
/*
 * libkmod wrapper: a module's state and loading it with its dependencies.
 * Never logs; libkmod's own messages are kept in the context.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <syslog.h>
#include <unistd.h>

#include "dlkmod.h"
#include "macro.h"
#include "module.h"
#include "util.h"

struct module_ctx {
	struct kmod_ctx *kmod;          /* NULL when libkmod cannot be loaded */
	int kmod_error;                 /* then -EOPNOTSUPP */
	char root[PATH_MAX];            /* "" for the running system */
	char release[sizeof(((struct utsname *)NULL)->release)];
	char modules_dir[PATH_MAX];
	char log[MODULE_LOG_LINES][MODULE_LOG_LINE_MAX];
	size_t log_count;        /* kept, at most MODULE_LOG_LINES */
	size_t log_dropped;      /* not kept */
	struct module_skipped skipped[MODULE_SKIPPED_MAX];
	size_t n_skipped;       /* all of them; the first MODULE_SKIPPED_MAX are kept */
};

static const char *const state_names[_MODULE_STATE_MAX] = {
	[MODULE_STATE_BUILTIN] = "built-in",
	[MODULE_STATE_LIVE] = "live",
	[MODULE_STATE_COMING] = "coming",
	[MODULE_STATE_GOING] = "going",
	[MODULE_STATE_LOADABLE] = "loadable",
	[MODULE_STATE_MISSING] = "missing",
	[MODULE_STATE_NO_MODULES_DIR] = "no-modules-dir",
};

const char *module_state_to_string(enum module_state state)
{
	return (unsigned)state < _MODULE_STATE_MAX ? state_names[state] : NULL;
}

int module_name_normalize(const char *name, char *buf, size_t size)
{
	size_t n = strlen(name);

	if (n == 0)
		return -EINVAL;
	if (n >= size)
		return -ENAMETOOLONG;
	for (size_t i = 0; i <= n; i++)
		buf[i] = name[i] == '-' ? '_' : name[i];
	return 0;
}

/* libkmod's messages are collected, never printed: only commands log.  They
 * may quote a hostile file (binary garbage, escape sequences), so they are
 * kept escaped, and only the first MODULE_LOG_LINES: the others are counted. */
static void collect_line(struct module_ctx *ctx, const char *msg, size_t len)
{
	while (len > 0 && (msg[len - 1] == '\n' || msg[len - 1] == '\r'))
		len--;
	if (len == 0)
		return;
	if (ctx->log_count >= MODULE_LOG_LINES) {
		ctx->log_dropped++;
		return;
	}
	(void)escape_text(msg, len, ctx->log[ctx->log_count++], MODULE_LOG_LINE_MAX);
}

static void collect_log(void *data, int priority, const char *file, int line, const char *fn,
			const char *format, va_list args)
{
	struct module_ctx *ctx = data;
	char msg[1024];
	int n;

	if (ctx->log_count >= MODULE_LOG_LINES) {
		ctx->log_dropped++;
		return;
	}
	n = vsnprintf(msg, sizeof(msg), format, args);
	if (n < 0)
		return;
	collect_line(ctx, msg, MIN((size_t)n, sizeof(msg) - 1));
}

/*
 * kmod_new() parses modprobe.d before a log function can be set, and
 * libkmod's default logger writes what it finds to stderr as is: a
 * modprobe.d of binary garbage printed a thousand lines of it, escape
 * sequences included.  For that one call stderr is a memory file, whose
 * lines then join the collected messages.
 */
static int stderr_capture_begin(int *ret_saved)
{
	int mfd, saved;

	(void)fflush(stderr);
	mfd = memfd_create("x410-vsock-libkmod", MFD_CLOEXEC);
	if (mfd < 0)
		return -errno;
	saved = fcntl(STDERR_FILENO, F_DUPFD_CLOEXEC, 3);
	if (saved < 0 || dup2(mfd, STDERR_FILENO) < 0) {
		int r = -errno;

		safe_close(saved);
		safe_close(mfd);
		return r;
	}
	*ret_saved = saved;
	return mfd;
}

static void stderr_capture_end(struct module_ctx *ctx, int mfd, int saved)
{
	_cleanup_free_ char *line = NULL;
	size_t size = 0;
	ssize_t n;
	FILE *f;

	if (mfd < 0)
		return;
	(void)fflush(stderr);
	(void)dup2(saved, STDERR_FILENO);
	safe_close(saved);
	if (lseek(mfd, 0, SEEK_SET) < 0 || !(f = fdopen(mfd, "re"))) {
		safe_close(mfd);
		return;
	}
	while ((n = getline(&line, &size, f)) > 0) {
		const char *m = line;

		if (startswith(m, "libkmod: "))
			m += strlen("libkmod: ");
		collect_line(ctx, m, (size_t)n - (size_t)(m - line));
	}
	fclose(f);
}

size_t module_ctx_log_count(const struct module_ctx *ctx)
{
	return ctx->log_count;
}

size_t module_ctx_log_dropped(const struct module_ctx *ctx)
{
	return ctx->log_dropped;
}

const char *module_ctx_log_line(const struct module_ctx *ctx, size_t i)
{
	if (i >= ctx->log_count)
		return NULL;
	return ctx->log[i];
}

size_t module_ctx_skipped_count(const struct module_ctx *ctx)
{
	return ctx->n_skipped;
}

const struct module_skipped *module_ctx_skipped(const struct module_ctx *ctx, size_t i)
{
	if (i >= ctx->n_skipped || i >= MODULE_SKIPPED_MAX)
		return NULL;
	return &ctx->skipped[i];
}

const char *module_ctx_root(const struct module_ctx *ctx)
{
	return ctx->root;
}

const char *module_ctx_release(const struct module_ctx *ctx)
{
	return ctx->release;
}

const char *module_ctx_modules_dir(const struct module_ctx *ctx)
{
	return ctx->modules_dir;
}

const char *module_ctx_kmod_error(const struct module_ctx *ctx)
{
	return ctx->kmod || ctx->kmod_error == -EBADFD ? NULL : dlkmod_error();
}

/* The files libkmod opens in the modules directory (kmod_new() reads
 * modules.softdep at once; lookups open the indexes).  One that is not a
 * regular file (a FIFO blocks libkmod's open() for ever) makes the whole
 * directory unusable: libkmod is not started, and the file is reported. */
static const char *const modules_dir_files[] = {
	"modules.softdep", "modules.weakdep",
	"modules.dep", "modules.dep.bin", "modules.alias", "modules.alias.bin",
	"modules.symbols", "modules.symbols.bin", "modules.builtin", "modules.builtin.bin",
	"modules.builtin.alias.bin", "modules.builtin.modinfo", "modules.devname", "modules.order",
};

static void skipped_add(struct module_ctx *ctx, const char *path, int error, mode_t mode)
{
	if (ctx->n_skipped < MODULE_SKIPPED_MAX) {
		struct module_skipped *k = &ctx->skipped[ctx->n_skipped];

		(void)snprintf(k->path, sizeof(k->path), "%s", path);
		k->error = error;
		k->mode = mode;
	}
	ctx->n_skipped++;
}

static bool modules_dir_sane(struct module_ctx *ctx, const char *dir)
{
	bool sane = true;

	for (size_t i = 0; i < ELEMENTSOF(modules_dir_files); i++) {
		char path[PATH_MAX];
		struct stat st;

		if (snprintf_bounded(path, sizeof(path), "%s/%s", dir, modules_dir_files[i]) < 0 ||
		    stat(path, &st) < 0 || S_ISREG(st.st_mode))
			continue;
		skipped_add(ctx, path, S_ISDIR(st.st_mode) ? -EISDIR : -EBADFD, st.st_mode & S_IFMT);
		sane = false;
	}
	return sane;
}

static int set_root(struct module_ctx *ctx, const char *root)
{
	size_t n;

	if (!root)
		root = "";
	n = strlen(root);
	while (n > 0 && root[n - 1] == '/')
		n--;
	if (n >= sizeof(ctx->root))
		return -ENAMETOOLONG;
	memcpy(ctx->root, root, n);
	ctx->root[n] = 0;
	return 0;
}

struct config_list {
	struct module_ctx *ctx;
	char **paths;           /* NULL-terminated, for kmod_new() */
	size_t n, allocated;
};

static void config_list_done(struct config_list *l)
{
	for (size_t i = 0; i < l->n; i++)
		free(l->paths[i]);
	free(l->paths);
}

/* Every modprobe.d file libkmod may read, looked at first: libkmod opens
 * each entry of a directory it is given, and open() of a FIFO blocks for
 * ever.  It gets the regular files one by one instead, and the others are
 * kept in ctx->skipped for the caller to report. */
static int config_add(const struct modules_load_file *f, void *userdata)
{
	struct config_list *l = userdata;
	struct module_ctx *ctx = l->ctx;

	if (f->masked)
		return 0;
	if (f->error < 0) {
		skipped_add(ctx, f->path, f->error, f->mode);
		return 0;
	}
	if (l->n + 1 >= l->allocated) {
		size_t m = l->allocated ? l->allocated * 2 : 16;
		char **bigger = reallocarray(l->paths, m, sizeof(*bigger));

		if (!bigger)
			return -ENOMEM;
		l->paths = bigger;
		l->allocated = m;
	}
	l->paths[l->n] = strdup(f->read_path);
	if (!l->paths[l->n])
		return -ENOMEM;
	l->paths[++l->n] = NULL;
	return 0;
}

int module_ctx_new(const char *root, struct module_ctx **ret)
{
	struct config_list config = {};
	_cleanup_free_ struct module_ctx *ctx = NULL;
	char dirname[PATH_MAX];
	struct utsname u;
	int r, mfd, saved = -1;

	ctx = calloc(1, sizeof(*ctx));
	if (!ctx)
		return -ENOMEM;
	r = set_root(ctx, root);
	if (r < 0)
		return r;
	if (uname(&u) < 0)
		return -errno;
	r = strcpy_bounded(ctx->release, sizeof(ctx->release), u.release);
	if (r < 0)
		return r;

	/* Without libkmod, /sys/module still answers for built-in and
	 * loaded modules (the common case, and all doctor needs there);
	 * what needs libkmod's indexes fails with ctx->kmod_error. */
	r = dlkmod_open();
	if (r < 0) {
		ctx->kmod_error = r;
		*ret = ctx;
		ctx = NULL;
		return 0;
	}

	config.ctx = ctx;
	r = modules_load_conf_files(ctx->root, modprobe_d_dirs, config_add, &config);
	if (r == 0 && !config.paths) {
		/* No file at all: an empty list (NULL would mean libkmod's
		 * default directories). */
		config.paths = calloc(1, sizeof(char *));
		if (!config.paths)
			r = -ENOMEM;
	}
	if (r < 0) {
		config_list_done(&config);
		return r;
	}
	r = snprintf_bounded(dirname, sizeof(dirname), "%s/lib/modules/%s", ctx->root, ctx->release);
	if (r < 0) {
		config_list_done(&config);
		return r;
	}
	if (!modules_dir_sane(ctx, dirname)) {
		config_list_done(&config);
		(void)strcpy_bounded(ctx->modules_dir, sizeof(ctx->modules_dir), dirname);
		ctx->kmod_error = -EBADFD;
		*ret = ctx;
		ctx = NULL;
		return 0;
	}
	/* On the running system NULL: the distribution's module directory
	 * (kmod may be built with another one than /lib/modules). */
	mfd = stderr_capture_begin(&saved);
	ctx->kmod = sym_kmod_new(ctx->root[0] ? dirname : NULL, (const char *const *)config.paths);
	stderr_capture_end(ctx, mfd, saved);
	config_list_done(&config);
	if (!ctx->kmod)
		return -ENOMEM;
	sym_kmod_set_log_fn(ctx->kmod, collect_log, ctx);
	sym_kmod_set_log_priority(ctx->kmod, LOG_INFO);

	r = strcpy_bounded(ctx->modules_dir, sizeof(ctx->modules_dir), sym_kmod_get_dirname(ctx->kmod));
	if (r < 0) {
		sym_kmod_unref(ctx->kmod);
		return r;
	}

	*ret = ctx;
	ctx = NULL;
	return 0;
}

struct module_ctx *module_ctx_free(struct module_ctx *ctx)
{
	if (!ctx)
		return NULL;
	if (ctx->kmod)
		sym_kmod_unref(ctx->kmod);
	free(ctx);
	return NULL;
}

/* <root>/sys/module/NAME: initstate for a loaded module; a directory
 * without initstate is a built-in module (it has parameters or a version).
 * Returns 1 with *ret set, 0 when sysfs knows nothing, or -errno. */
static int sysfs_state(struct module_ctx *ctx, const char *name, enum module_state *ret)
{
	char path[PATH_MAX], state[32];
	struct stat st;
	int r;

	r = snprintf_bounded(path, sizeof(path), "%s/sys/module/%s/initstate", ctx->root, name);
	if (r < 0)
		return r;
	r = read_one_line(path, state, sizeof(state));
	if (r == 0) {
		if (streq(state, "coming"))
			*ret = MODULE_STATE_COMING;
		else if (streq(state, "going"))
			*ret = MODULE_STATE_GOING;
		else
			*ret = MODULE_STATE_LIVE;
		return 1;
	}
	if (r != -ENOENT)
		return r;

	/* Without modules.builtin, libkmod reports this case as "coming". */
	path[strlen(path) - strlen("/initstate")] = 0;
	if (stat(path, &st) == 0 && S_ISDIR(st.st_mode)) {
		*ret = MODULE_STATE_BUILTIN;
		return 1;
	}
	return 0;
}

/* The libkmod module of that exact name from a lookup (which may also
 * return the targets of a modprobe.d alias). */
static struct kmod_module *lookup_module(struct module_ctx *ctx, const char *name, int *ret_error)
{
	struct kmod_list *list = NULL, *l;
	struct kmod_module *found = NULL;
	int r;

	r = sym_kmod_module_new_from_lookup(ctx->kmod, name, &list);
	if (r < 0) {
		*ret_error = r;
		return NULL;
	}
	dlkmod_list_foreach(l, list) {
		struct kmod_module *m = sym_kmod_module_get_module(l);

		if (!found && streq(sym_kmod_module_get_name(m), name))
			found = m;
		else
			sym_kmod_module_unref(m);
	}
	sym_kmod_module_unref_list(list);
	*ret_error = 0;
	return found;
}

int module_state(struct module_ctx *ctx, const char *name, struct module_info *ret)
{
	struct kmod_module *mod;
	struct stat st;
	enum module_state state;
	int r;

	memset(ret, 0, sizeof(*ret));
	r = module_name_normalize(name, ret->name, sizeof(ret->name));
	if (r < 0)
		return r;

	r = sysfs_state(ctx, ret->name, &state);
	if (r < 0)
		return r;
	if (r > 0) {
		ret->state = state;
		return 0;
	}
	if (!ctx->kmod)
		return ctx->kmod_error;

	if (stat(ctx->modules_dir, &st) < 0) {
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		ret->state = MODULE_STATE_NO_MODULES_DIR;
		return 0;
	}

	mod = lookup_module(ctx, ret->name, &r);
	if (r < 0)
		return r;
	ret->state = MODULE_STATE_MISSING;
	if (mod) {
		const char *path = sym_kmod_module_get_path(mod);

		if (path) {
			if (stat(path, &st) == 0) {
				ret->state = MODULE_STATE_LOADABLE;
				r = strcpy_bounded(ret->path, sizeof(ret->path), path);
			}
		} else if (sym_kmod_module_get_initstate(mod) == KMOD_MODULE_BUILTIN)
			/* Listed in modules.builtin: asked before libkmod looks at
			 * /sys/module, so the root is respected. */
			ret->state = MODULE_STATE_BUILTIN;
		sym_kmod_module_unref(mod);
	}
	return r < 0 ? r : 0;
}

/* print_action has no user data: the report being filled.  module_load()
 * is not reentrant (nor is anything that calls it). */
static struct module_load_report *probe_report;

static void record_action(struct kmod_module *m, bool install, const char *options)
{
	struct module_load_report *rep = probe_report;

	if (!rep)
		return;
	(void)strcpy_bounded(rep->culprit, sizeof(rep->culprit), sym_kmod_module_get_name(m));
	if (rep->n_inserted < MODULE_INSERTED_MAX &&
	    strcpy_bounded(rep->inserted[rep->n_inserted], MODULE_NAME_MAX, sym_kmod_module_get_name(m)) == 0)
		rep->n_inserted++;
}

/* Is any of the list blacklisted?  Its name goes to ret_name. */
static int find_blacklisted(struct module_ctx *ctx, const struct kmod_list *list, char *ret_name, size_t size)
{
	struct kmod_list *filtered = NULL;
	const struct kmod_list *l;
	int r;

	r = sym_kmod_module_apply_filter(ctx->kmod, KMOD_FILTER_BLACKLIST, list, &filtered);
	if (r < 0)
		return r;
	r = 0;
	dlkmod_list_foreach(l, list) {
		struct kmod_module *m = sym_kmod_module_get_module(l);
		const struct kmod_list *f;
		bool kept = false;

		dlkmod_list_foreach(f, filtered) {
			struct kmod_module *k = sym_kmod_module_get_module(f);

			kept = kept || k == m;
			sym_kmod_module_unref(k);
		}
		if (!kept) {
			(void)strcpy_bounded(ret_name, size, sym_kmod_module_get_name(m));
			r = 1;
		}
		sym_kmod_module_unref(m);
		if (r)
			break;
	}
	sym_kmod_module_unref_list(filtered);
	return r;
}

static int find_install_command(const struct kmod_list *list, struct module_load_report *rep)
{
	const struct kmod_list *l;

	dlkmod_list_foreach(l, list) {
		struct kmod_module *m = sym_kmod_module_get_module(l);
		const char *cmd = sym_kmod_module_get_install_commands(m);

		if (cmd) {
			(void)strcpy_bounded(rep->culprit, sizeof(rep->culprit), sym_kmod_module_get_name(m));
			(void)snprintf(rep->command, sizeof(rep->command), "%s", cmd);
		}
		sym_kmod_module_unref(m);
		if (cmd)
			return 1;
	}
	return 0;
}

int module_load(struct module_ctx *ctx, const char *name, unsigned flags, struct module_load_report *report)
{
	struct module_info info;
	struct kmod_module *mod;
	struct kmod_list *deps, *self = NULL;
	unsigned probe_flags;
	int r;

	memset(report, 0, sizeof(*report));
	r = module_state(ctx, name, &info);
	if (r < 0)
		return r;
	(void)strcpy_bounded(report->culprit, sizeof(report->culprit), info.name);
	switch (info.state) {
	case MODULE_STATE_BUILTIN:
	case MODULE_STATE_LIVE:
	case MODULE_STATE_COMING:
		return MODULE_LOAD_ALREADY;
	case MODULE_STATE_MISSING:
	case MODULE_STATE_NO_MODULES_DIR:
		return -ENOENT;
	default:
		break;
	}

	if (!ctx->kmod)
		return ctx->kmod_error;
	mod = lookup_module(ctx, info.name, &r);
	if (r < 0)
		return r;
	if (!mod)
		return -ENOENT;

	/* The blacklist and install commands are checked for the module and
	 * every dependency here: libkmod's own blacklist check covers only the
	 * module asked for, and would run install commands through a shell. */
	r = sym_kmod_module_new_from_lookup(ctx->kmod, info.name, &self);
	if (r < 0)
		goto out;
	deps = sym_kmod_module_get_dependencies(mod);
	r = find_blacklisted(ctx, self, report->culprit, sizeof(report->culprit));
	if (r == 0)
		r = find_blacklisted(ctx, deps, report->culprit, sizeof(report->culprit));
	if (r > 0)
		r = MODULE_LOAD_BLACKLISTED;
	else if (r == 0 && (find_install_command(deps, report) > 0 || find_install_command(self, report) > 0))
		r = MODULE_LOAD_INSTALL_COMMAND;
	sym_kmod_module_unref_list(deps);
	sym_kmod_module_unref_list(self);
	if (r != 0)
		goto out;

	probe_flags = KMOD_PROBE_APPLY_BLACKLIST | KMOD_PROBE_IGNORE_COMMAND;
	if (flags & MODULE_LOAD_FLAG_DRY_RUN)
		probe_flags |= KMOD_PROBE_DRY_RUN;
	report->culprit[0] = 0;
	probe_report = report;
	r = sym_kmod_module_probe_insert_module(mod, probe_flags, NULL, NULL, NULL, record_action);
	probe_report = NULL;

	if (r == KMOD_PROBE_APPLY_BLACKLIST) {
		(void)strcpy_bounded(report->culprit, sizeof(report->culprit), info.name);
		report->n_inserted = 0;
		r = MODULE_LOAD_BLACKLISTED;
	} else if (r == -EEXIST) {
		r = MODULE_LOAD_ALREADY;
	} else if (r < 0) {
		/* The last module announced is the one that failed. */
		if (report->n_inserted > 0)
			report->n_inserted--;
		if (!report->culprit[0])
			(void)strcpy_bounded(report->culprit, sizeof(report->culprit), info.name);
	} else if (r > 0) {
		r = -EINVAL;
	} else {
		r = report->n_inserted > 0 ? MODULE_LOAD_DONE : MODULE_LOAD_ALREADY;
		if (!report->culprit[0] || r == MODULE_LOAD_DONE)
			(void)strcpy_bounded(report->culprit, sizeof(report->culprit), info.name);
	}
out:
	sym_kmod_module_unref(mod);
	return r;
}

/* "KEYWORD NAME ..." lines of modprobe.d. */
struct modprobe_find {
	const char *root;
	const char *keyword;
	const char *name;
	struct modules_load_hit *hit;
};

static int modprobe_find_one(const struct modules_load_file *file, void *userdata)
{
	struct modprobe_find *s = userdata;
	const char *path = file->path;
	FILE *f;
	char line[1024];
	unsigned lineno = 0;
	int found = 0;

	if (file->masked || file->error < 0)
		return 0;
	if (fopen_regular(file->read_path, &f, NULL) < 0)
		return 0;
	while (!found && fgets(line, sizeof(line), f)) {
		char *save = NULL, *kw, *mod;
		char norm[MODULE_NAME_MAX];

		lineno++;
		line[strcspn(line, "\r\n")] = 0;
		kw = strtok_r(line, " \t", &save);
		if (!kw || kw[0] == '#' || !streq(kw, s->keyword))
			continue;
		mod = strtok_r(NULL, " \t", &save);
		if (!mod || module_name_normalize(mod, norm, sizeof(norm)) < 0 || !streq(norm, s->name))
			continue;
		memset(s->hit, 0, sizeof(*s->hit));
		(void)strcpy_bounded(s->hit->path, sizeof(s->hit->path), path);
		s->hit->line = lineno;
		/* The whole line, as written (strtok_r cut it at the name). */
		if (save && *save)
			save[-1] = ' ';
		(void)snprintf(s->hit->text, sizeof(s->hit->text), "%s %s", kw, mod);
		found = 1;
	}
	fclose(f);
	return found;
}

int module_find_modprobe_line(const char *root, const char *keyword, const char *name, struct modules_load_hit *ret)
{
	char norm[MODULE_NAME_MAX];
	struct modprobe_find s = { root, keyword, norm, ret };
	int r;

	r = module_name_normalize(name, norm, sizeof(norm));
	if (r < 0)
		return r;
	return modules_load_conf_files(root, modprobe_d_dirs, modprobe_find_one, &s);
}

int module_find_blacklist(const char *root, const char *name, struct modules_load_hit *ret)
{
	char norm[MODULE_NAME_MAX], path[PATH_MAX], cmdline[4096];
	char *save = NULL;
	int r;

	r = module_name_normalize(name, norm, sizeof(norm));
	if (r < 0)
		return r;
	r = module_find_modprobe_line(root, "blacklist", norm, ret);
	if (r != 0)
		return r;

	/* kmod also honours modprobe.blacklist=A,B on the kernel command line. */
	r = path_below_root(root, "/proc/cmdline", path, sizeof(path));
	if (r < 0)
		return r;
	if (read_one_line(path, cmdline, sizeof(cmdline)) < 0)
		return 0;
	for (char *w = strtok_r(cmdline, " \t", &save); w; w = strtok_r(NULL, " \t", &save)) {
		char list[sizeof(cmdline)], *save2 = NULL;

		if (!startswith(w, "modprobe.blacklist="))
			continue;
		(void)strcpy_bounded(list, sizeof(list), w + strlen("modprobe.blacklist="));
		for (char *m = strtok_r(list, ",", &save2); m; m = strtok_r(NULL, ",", &save2)) {
			char mnorm[MODULE_NAME_MAX];

			if (module_name_normalize(m, mnorm, sizeof(mnorm)) < 0 || !streq(mnorm, norm))
				continue;
			memset(ret, 0, sizeof(*ret));
			(void)strcpy_bounded(ret->path, sizeof(ret->path), path);
			(void)snprintf(ret->text, sizeof(ret->text), "%s", w);
			return 1;
		}
	}
	return 0;
}
