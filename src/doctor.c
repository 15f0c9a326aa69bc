/* SPDX-License-Identifier: MIT */
#include "commands.h"
#include "log.h"

int cmd_doctor(int argc, char *argv[])
{
	log_error("'doctor' is not implemented yet");
	return EXIT_USAGE;
}
