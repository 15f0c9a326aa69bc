/* SPDX-License-Identifier: MIT */
/*
 * Placeholder for the io_uring engine, which is written on its own branch
 * and replaces this file entirely.  Nothing else depends on what is in
 * here: run.c only uses relay_engine_uring through struct relay_engine.
 * Its probe fails with ENOSYS, which `--engine auto` takes as a reason to
 * fall back to the epoll engine.
 */
#include <errno.h>
#include <stdio.h>

#include "relay.h"

static int uring_probe(char *why, size_t why_size)
{
	(void)snprintf(why, why_size, "the io_uring engine is not built yet");
	return -ENOSYS;
}

static int uring_run(struct relay *r)
{
	return -ENOSYS;
}

const struct relay_engine relay_engine_uring = {
	.name = "uring",
	.probe = uring_probe,
	.run = uring_run,
};
