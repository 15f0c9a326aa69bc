/* SPDX-License-Identifier: MIT */
#include "commands.h"
#include "log.h"

int cmd_run(int argc, char *argv[])
{
	log_error("'run' is not implemented yet");
	return EXIT_USAGE;
}
