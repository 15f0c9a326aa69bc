/* SPDX-License-Identifier: MIT */
/*
 * doctor's report: the findings the checks fill in (their message, fixes,
 * further lines and data), and their output as one line per check with
 * indented "fix:" lines, or as one JSON document.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "doctor_report.h"

static const char *const status_tag[] = {
	[CHECK_OK] = "[ OK ]",
	[CHECK_WARN] = "[WARN]",
	[CHECK_FAIL] = "[FAIL]",
	[CHECK_SKIP] = "[SKIP]",
};

static const char *const status_json[] = {
	[CHECK_OK] = "ok",
	[CHECK_WARN] = "warn",
	[CHECK_FAIL] = "fail",
	[CHECK_SKIP] = "skip",
};

/* ---------------------------------------------------------------- findings */

static void vformat(char *buf, size_t size, const char *format, va_list ap)
{
	int n = vsnprintf(buf, size, format, ap);

	/* A message too long for its buffer is cut with an ellipsis rather
	 * than silently. */
	if (n >= 0 && (size_t)n >= size && size > 4)
		memcpy(buf + size - 4, "...", 4);
}

void report_strf(char *buf, size_t size, const char *format, ...)
{
	va_list ap;

	va_start(ap, format);
	vformat(buf, size, format, ap);
	va_end(ap);
}

void report_append(char *buf, size_t size, const char *format, ...)
{
	size_t n = strlen(buf);
	va_list ap;

	if (n + 1 >= size)
		return;
	va_start(ap, format);
	vformat(buf + n, size - n, format, ap);
	va_end(ap);
}

void finding_set(struct finding *f, enum check_status status, const char *format, ...)
{
	va_list ap;

	f->status = status;
	va_start(ap, format);
	vformat(f->message, sizeof(f->message), format, ap);
	va_end(ap);
}

void finding_fix(struct finding *f, const char *format, ...)
{
	va_list ap;

	if (f->n_fix >= FIX_MAX)
		return;
	va_start(ap, format);
	vformat(f->fix[f->n_fix++], TEXT_MAX, format, ap);
	va_end(ap);
}

void finding_line(struct finding *f, const char *format, ...)
{
	va_list ap;

	if (f->n_line >= LINE_MAX_)
		return;
	va_start(ap, format);
	vformat(f->line[f->n_line++], TEXT_MAX, format, ap);
	va_end(ap);
}

struct data *finding_data_add(struct finding *f, const char *key, enum data_type type)
{
	struct data *d;

	if (f->n_data >= DATA_MAX)
		return NULL;
	d = &f->data[f->n_data++];
	d->key = key;
	d->type = type;
	return d;
}

void finding_data_str(struct finding *f, const char *key, const char *value)
{
	struct data *d = finding_data_add(f, key, DATA_STR);

	if (d)
		report_strf(d->str, sizeof(d->str), "%s", value);
}

void finding_data_int(struct finding *f, const char *key, long long value)
{
	struct data *d = finding_data_add(f, key, DATA_INT);

	if (d)
		d->num = value;
}

void finding_data_bool(struct finding *f, const char *key, bool value)
{
	struct data *d = finding_data_add(f, key, DATA_BOOL);

	if (d)
		d->num = value;
}

const char *report_errno_name(int error)
{
	switch (abs(error)) {
	case EPERM: return "EPERM";
	case EACCES: return "EACCES";
	case ENOENT: return "ENOENT";
	case ENOSYS: return "ENOSYS";
	case EINVAL: return "EINVAL";
	case ENOMEM: return "ENOMEM";
	case EAFNOSUPPORT: return "EAFNOSUPPORT";
	case EPROTONOSUPPORT: return "EPROTONOSUPPORT";
	case ENODEV: return "ENODEV";
	case ETIMEDOUT: return "ETIMEDOUT";
	case ECONNREFUSED: return "ECONNREFUSED";
	case ECONNRESET: return "ECONNRESET";
	case ENETUNREACH: return "ENETUNREACH";
	case EHOSTUNREACH: return "EHOSTUNREACH";
	case EMFILE: return "EMFILE";
	default: return NULL;
	}
}

/* "Permission denied (EACCES)", or just the sentence for rarer errors. */
const char *report_error_text(int error, char *buf, size_t size)
{
	const char *name = report_errno_name(error);

	if (name)
		report_strf(buf, size, "%s (%s)", strerror(abs(error)), name);
	else
		report_strf(buf, size, "%s", strerror(abs(error)));
	return buf;
}

/* ---------------------------------------------------------------- output */

/* JSON strings are UTF-8: valid sequences pass, anything else is U+FFFD. */
static size_t utf8_sequence(const unsigned char *s)
{
	size_t n;
	unsigned c;

	if (s[0] < 0x80)
		return 1;
	if (s[0] >= 0xc2 && s[0] <= 0xdf)
		n = 2, c = s[0] & 0x1f;
	else if (s[0] >= 0xe0 && s[0] <= 0xef)
		n = 3, c = s[0] & 0x0f;
	else if (s[0] >= 0xf0 && s[0] <= 0xf4)
		n = 4, c = s[0] & 0x07;
	else
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		c = c << 6 | (s[i] & 0x3f);
	}
	if ((n == 3 && (c < 0x800 || (c >= 0xd800 && c <= 0xdfff))) || (n == 4 && (c < 0x10000 || c > 0x10ffff)))
		return 0;
	return n;
}

static void json_string(FILE *out, const char *s)
{
	const unsigned char *p = (const unsigned char *)s;

	fputc('"', out);
	while (*p) {
		size_t n;

		switch (*p) {
		case '"':
			fputs("\\\"", out);
			p++;
			continue;
		case '\\':
			fputs("\\\\", out);
			p++;
			continue;
		case '\n':
			fputs("\\n", out);
			p++;
			continue;
		case '\t':
			fputs("\\t", out);
			p++;
			continue;
		}
		if (*p < 0x20 || *p == 0x7f) {
			fprintf(out, "\\u%04x", *p);
			p++;
			continue;
		}
		n = utf8_sequence(p);
		if (n == 0) {
			fputs("\\ufffd", out);
			p++;
			continue;
		}
		fwrite(p, 1, n, out);
		p += n;
	}
	fputc('"', out);
}

void report_print_json(FILE *out, const char *root, const struct finding *findings, size_t n, int status)
{
	unsigned count[4] = {};

	fputs("{\n  \"version\": ", out);
	json_string(out, PACKAGE_VERSION);
	fputs(",\n  \"root\": ", out);
	json_string(out, root);
	fputs(",\n  \"checks\": [", out);
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = &findings[i];

		count[f->status]++;
		fprintf(out, "%s\n    {\n      \"id\": ", i ? "," : "");
		json_string(out, f->id);
		fputs(",\n      \"subject\": ", out);
		json_string(out, f->subject);
		fputs(",\n      \"status\": ", out);
		json_string(out, status_json[f->status]);
		fputs(",\n      \"message\": ", out);
		json_string(out, f->message);
		fputs(",\n      \"fix\": [", out);
		for (unsigned j = 0; j < f->n_fix; j++) {
			fputs(j ? ", " : "", out);
			json_string(out, f->fix[j]);
		}
		fputs("],\n      \"details\": [", out);
		for (unsigned j = 0; j < f->n_line; j++) {
			fputs(j ? ", " : "", out);
			json_string(out, f->line[j]);
		}
		fputs("],\n      \"data\": {", out);
		for (unsigned j = 0; j < f->n_data; j++) {
			const struct data *x = &f->data[j];

			fputs(j ? ", " : "", out);
			json_string(out, x->key);
			fputs(": ", out);
			if (x->type == DATA_STR)
				json_string(out, x->str);
			else if (x->type == DATA_INT)
				fprintf(out, "%lld", x->num);
			else
				fputs(x->num ? "true" : "false", out);
		}
		fputs("}\n    }", out);
	}
	fprintf(out, "\n  ],\n  \"summary\": {\"ok\": %u, \"warn\": %u, \"fail\": %u, \"skip\": %u},\n"
		"  \"exit_status\": %d\n}\n",
		count[CHECK_OK], count[CHECK_WARN], count[CHECK_FAIL], count[CHECK_SKIP], status);
}

void report_print_text(FILE *out, const struct finding *findings, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		const struct finding *f = &findings[i];

		fprintf(out, "%s %s: %s\n", status_tag[f->status], f->subject, f->message);
		/* Fixes are for what is wrong; a skipped check has none. */
		if (f->status == CHECK_WARN || f->status == CHECK_FAIL)
			for (unsigned j = 0; j < f->n_fix; j++)
				fprintf(out, "       fix: %s\n", f->fix[j]);
		for (unsigned j = 0; j < f->n_line; j++)
			fprintf(out, "       %s\n", f->line[j]);
	}
}
