/* SPDX-License-Identifier: MIT */
#pragma once

/*
 * doctor's checks, in the order of the report: each judges the facts
 * (struct doctor_system, doctor.h) and the options of one run into one
 * finding (doctor_report.h).  The checks never read the system themselves
 * except where only a try can tell (the X410 probe, the display sockets);
 * the facts never call back into them.
 *
 *   doctor_check_system.c   environment, kernel, hv_sock, boot, vsock, io_uring
 *   doctor_check_display.c  the local display :N and its socket directory
 *   doctor_check_x410.c     X410 itself (the X11 connection setup)
 */

#include <stdbool.h>
#include <stdint.h>

#include "addr.h"
#include "doctor.h"
#include "doctor_report.h"

struct doctor {
	struct doctor_system sys;
	/* options */
	bool json;
	uint32_t x410_display;
	bool have_connect;
	struct addr upstream;
	char upstream_text[ADDR_FORMAT_MAX];
	const char *socket_dir;
	const char *lock_dir;
	bool have_display;
	unsigned display;
	uint64_t timeout_ms;
	/* derived */
	bool hv_needed;         /* the upstream is vsock CID 2: the hv_sock chain matters */
	bool hyperv;            /* a Hyper-V guest (VMBus, or WSL2) */
};

/* doctor_check_system.c */
void check_environment(struct doctor *d, struct finding *f);
void check_kernel(struct doctor *d, struct finding *f);
void check_hv_sock(struct doctor *d, struct finding *f);
void check_boot(struct doctor *d, struct finding *f);
void check_vsock(struct doctor *d, struct finding *f);
void check_io_uring(struct doctor *d, struct finding *f);
/* doctor_check_display.c */
void check_display(struct doctor *d, struct finding *f);
/* doctor_check_x410.c */
void check_x410(struct doctor *d, struct finding *f);
