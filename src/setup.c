/* SPDX-License-Identifier: MIT */
#include "commands.h"
#include "log.h"

int cmd_setup(int argc, char *argv[])
{
	log_error("'setup' is not implemented yet");
	return EXIT_USAGE;
}
