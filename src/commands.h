/* SPDX-License-Identifier: MIT */
#pragma once

/* Exit statuses shared by every command. */
#define EXIT_OK 0
#define EXIT_FAILED 1
#define EXIT_USAGE 2

/* Each command parses its own options with getopt_long and returns an exit
 * status.  argv[0] is the command's name. */
int cmd_doctor(int argc, char *argv[]);
int cmd_setup(int argc, char *argv[]);
int cmd_run(int argc, char *argv[]);
int cmd_regfile(int argc, char *argv[]);
int cmd_status(int argc, char *argv[]);
int cmd_stop(int argc, char *argv[]);

/* Print "x410-vsock: ERROR: <message>" and "Try 'x410-vsock <command> --help'."
 * to stderr; returns EXIT_USAGE. */
int usage_error(const char *command, const char *format, ...) __attribute__((__format__(printf, 2, 3)));
