/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * doctor's report: one finding per check (its status, message, fixes,
 * further lines and data), built by the checks with the finding_*()
 * functions and printed by report_print_text() (one line per check and
 * indented "fix:" lines) or report_print_json() (one JSON document).
 * Every text is bounded: one too long for its buffer is cut with "...".
 * Nothing here reads the system or logs.
 */

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "addr.h"
#include "macro.h"

#define FIX_MAX 4
#define LINE_MAX_ 8
#define DATA_MAX 12
#define TEXT_MAX 768

enum check_status {
	CHECK_OK,
	CHECK_WARN,
	CHECK_FAIL,
	CHECK_SKIP,
};

enum data_type {
	DATA_STR,
	DATA_INT,
	DATA_BOOL,
};

struct data {
	const char *key;
	enum data_type type;
	char str[TEXT_MAX];
	long long num;
};

struct finding {
	const char *id;
	char subject[ADDR_FORMAT_MAX + 64];
	enum check_status status;
	char message[TEXT_MAX];
	char fix[FIX_MAX][TEXT_MAX];
	unsigned n_fix;
	/* Further indented lines, printed as they are ("key: ...", ".reg: ..."). */
	char line[LINE_MAX_][TEXT_MAX];
	unsigned n_line;
	struct data data[DATA_MAX];
	unsigned n_data;
};

/* ---- building a finding ---- */

/* The status and the message. */
void finding_set(struct finding *f, enum check_status status, const char *format, ...) _printf_(3, 4);
/* A command or step that fixes it (printed for WARN and FAIL only). */
void finding_fix(struct finding *f, const char *format, ...) _printf_(2, 3);
/* A further line, printed as it is. */
void finding_line(struct finding *f, const char *format, ...) _printf_(2, 3);
/* A key of the JSON "data" object; NULL when there are DATA_MAX already. */
struct data *finding_data_add(struct finding *f, const char *key, enum data_type type);
void finding_data_str(struct finding *f, const char *key, const char *value);
void finding_data_int(struct finding *f, const char *key, long long value);
void finding_data_bool(struct finding *f, const char *key, bool value);

/* ---- text ---- */

/* snprintf that marks a cut with "..." (and keeps -Wformat-truncation
 * quiet: every message here is bounded on purpose). */
void report_strf(char *buf, size_t size, const char *format, ...) _printf_(3, 4);
/* The same, after what buf holds already. */
void report_append(char *buf, size_t size, const char *format, ...) _printf_(3, 4);
/* "EACCES" for the errors users meet, else NULL. */
const char *report_errno_name(int error);
/* "Permission denied (EACCES)", or just the sentence for rarer errors. */
const char *report_error_text(int error, char *buf, size_t size);

/* ---- output ---- */

void report_print_text(FILE *out, const struct finding *findings, size_t n);
/* root: "/" for the running system, else the --root directory. */
void report_print_json(FILE *out, const char *root, const struct finding *findings, size_t n, int status);
