/* SPDX-License-Identifier: MIT */
/*
 * doctor's check of X410 itself: the X11 connection setup over the
 * upstream (vsock CID 2 port 6000+M, or --connect), with the sentence the
 * relay logs for the same connect error and the registry lines that make
 * X410 listen there.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "addr.h"
#include "doctor_checks.h"
#include "regfile.h"
#include "run.h"
#include "upstream.h"
#include "util.h"
#include "x11probe.h"

/* ---------------------------------------------------------------- x410 */

/* What makes X410 accept this VM: on WSL2 its own WSL2/VSOCK option (the
 * utility VM's id changes at every start, no registry key names it), else
 * the GuestCommunicationServices registry key. */
static void registry_lines(struct doctor *d, struct finding *f)
{
	char guid[ADDR_GUID_MAX];

	if (d->sys.facts.wsl == WSL_2) {
		finding_line(f, "WSL2: X410 must itself accept VSOCK connections from WSL2 (its WSL2/VSOCK option); no registry key applies");
		if (d->sys.facts.wsl_vm_id[0]) {
			finding_line(f, "WSL2 VM id: %s (wslinfo --vm-id; it changes at every WSL start)", d->sys.facts.wsl_vm_id);
			finding_data_str(f, "wsl_vm_id", d->sys.facts.wsl_vm_id);
		}
		return;
	}
	/* The key name 'x410-vsock regfile' writes (lower case, as X410's
	 * guide has it). */
	regfile_service_key(d->x410_display, guid);
	finding_line(f, "key: HKLM\\%s\\%s, string value ElementName = \"X410 Display %u\"", REGFILE_GCS_KEY, guid, d->x410_display);
	finding_line(f, ".reg: Windows Registry Editor Version 5.00");
	finding_line(f, ".reg: [HKEY_LOCAL_MACHINE\\%s\\%s]", REGFILE_GCS_KEY, guid);
	finding_line(f, ".reg: \"ElementName\"=\"X410 Display %u\"", d->x410_display);
	{
		char key[TEXT_MAX];

		report_strf(key, sizeof(key), "HKLM\\%s\\%s", REGFILE_GCS_KEY, guid);
		finding_data_str(f, "registry_key", key);
	}
}

/* Why a connect to the upstream failed, in the user's terms: the sentence
 * the relay logs for the same error. */
static void connect_failed(struct doctor *d, struct finding *f, int error)
{
	char hint[TEXT_MAX];
	const char *name = report_errno_name(error);

	upstream_hint_set_wsl2(d->sys.facts.wsl == WSL_2, d->sys.facts.wsl_vm_id);
	upstream_error_hint(&d->upstream, !d->have_connect, d->x410_display, d->timeout_ms, error, hint, sizeof(hint));
	finding_set(f, CHECK_FAIL, "%s", hint);
	finding_data_str(f, "connect_error", name ? name : strerror(abs(error)));
	if (d->upstream.kind == ADDR_VSOCK) {
		if (d->upstream.sa.vm.svm_cid == VMADDR_CID_HOST && d->sys.facts.wsl == WSL_2) {
			finding_fix(f, "on Windows: turn on X410's WSL2/VSOCK option, so that X410 accepts VSOCK connections from WSL2 (port %u for X410 display %u)",
			    d->upstream.sa.vm.svm_port, d->x410_display);
			if (error == -ENODEV || error == -EAFNOSUPPORT || error == -EPROTONOSUPPORT)
				finding_fix(f, "sudo x410-vsock setup");
		} else if (d->upstream.sa.vm.svm_cid == VMADDR_CID_HOST) {
			finding_fix(f, "on Windows, as an administrator: import the .reg lines below (save them as x410-display-%u.reg), then start X410 with: x410 /listen hyperv",
			    d->x410_display);
			if (error == -ENODEV || error == -EAFNOSUPPORT || error == -EPROTONOSUPPORT)
				finding_fix(f, "sudo x410-vsock setup");
		}
		return;
	}
	finding_fix(f, "start the X server at '%s', or give the right address with --connect", d->upstream_text);
}

void check_x410(struct doctor *d, struct finding *f)
{
	const struct doctor_system *s = &d->sys;
	struct x11probe_reply reply;
	uint64_t start, deadline, took;
	char err[96];
	const char *why = NULL;
	int fd, r;

	f->id = "x410";
	report_strf(f->subject, sizeof(f->subject), "X410 display %u (%s)", d->x410_display, d->upstream_text);
	finding_data_int(f, "x410_display", d->x410_display);
	finding_data_str(f, "address", d->upstream_text);

	/* Off Hyper-V, CID 2 is some other host: never knock on it unless
	 * asked to with --connect. */
	if (!d->have_connect) {
		if (!s->facts.live) {
			finding_set(f, CHECK_SKIP, "not probed: --root describes another system (give --connect ADDR to probe anyway)");
			registry_lines(d, f);
			return;
		}
		if (s->transport != TRANSPORT_HVSOCK) {
			if (s->transport == TRANSPORT_NONE)
				finding_set(f, CHECK_SKIP, "not probed: hv_sock is not the guest-to-host transport (there is none); give --connect ADDR to probe anyway");
			else if (s->transport == TRANSPORT_LOOPBACK)
				finding_set(f, CHECK_SKIP, "not probed: hv_sock is not the guest-to-host transport (there is none, only loopback); give --connect ADDR to probe anyway");
			else
				finding_set(f, CHECK_SKIP, "not probed: hv_sock is not the guest-to-host transport (%s is), so CID 2 is not Windows; give --connect ADDR to probe anyway",
				    doctor_transport_name(s->transport));
			registry_lines(d, f);
			return;
		}
	}

	start = upstream_now_ms();
	deadline = start + d->timeout_ms;
	r = addr_resolve_why(&d->upstream, &why);
	if (r < 0) {
		if (why)
			finding_set(f, CHECK_FAIL, "cannot resolve '%s': %s", d->upstream.host, why);
		else if (r == -EHOSTUNREACH)
			finding_set(f, CHECK_FAIL, "cannot resolve '%s'", d->upstream.host);
		else
			finding_set(f, CHECK_FAIL, "cannot resolve '%s': %s", d->upstream.host, report_error_text(r, err, sizeof(err)));
		finding_fix(f, "give an address that resolves, e.g. --connect tcp:127.0.0.1:6000");
		registry_lines(d, f);
		return;
	}
	fd = upstream_connect(&d->upstream, RUN_DEFAULT_VSOCK_BUFFER, deadline);
	if (fd < 0) {
		connect_failed(d, f, fd);
		registry_lines(d, f);
		return;
	}
	r = x11probe_handshake(fd, deadline, &reply);
	safe_close(fd);
	took = upstream_now_ms() - start;

	if (r == -ETIMEDOUT) {
		finding_set(f, CHECK_FAIL, "connected, but no answer to the X11 connection setup within %llu.%03llu s: not an X server, or a hung one",
		    (unsigned long long)(d->timeout_ms / 1000), (unsigned long long)(d->timeout_ms % 1000));
		finding_fix(f, "restart X410%s; check that the address is X410's", d->sys.facts.wsl == WSL_2 ? "" : " (x410 /listen hyperv)");
	} else if (r == -ENODATA || r == -ECONNRESET || r == -EPIPE) {
		finding_set(f, CHECK_FAIL, "connected, but the server closed the connection without answering the X11 connection setup");
		finding_fix(f, "check that X410 accepts this client (its access settings), or that the address is an X server's");
	} else if (r == -EBADMSG) {
		finding_set(f, CHECK_FAIL, "connected, but the answer is not an X11 connection setup reply: not an X server");
		finding_fix(f, "give the address of an X server with --connect, or stop what listens there");
	} else if (r < 0) {
		finding_set(f, CHECK_FAIL, "X11 connection setup: %s", report_error_text(r, err, sizeof(err)));
		finding_fix(f, "restart X410%s", d->sys.facts.wsl == WSL_2 ? "" : " (x410 /listen hyperv)");
	} else {
		char version[16];

		report_strf(version, sizeof(version), "%u.%u", reply.major, reply.minor);
		finding_data_str(f, "protocol", version);
		finding_data_int(f, "milliseconds", (long long)took);
		switch (reply.status) {
		case X11PROBE_SUCCESS:
			finding_data_str(f, "vendor", reply.vendor);
			finding_data_int(f, "release", reply.release);
			if (reply.screens > 0)
				finding_set(f, CHECK_OK, "'%s' release %u, X11 protocol %s, %u screen%s (%ux%u), answered in %llu ms",
				    reply.vendor, reply.release, version, reply.screens, reply.screens == 1 ? "" : "s",
				    reply.width, reply.height, (unsigned long long)took);
			else
				finding_set(f, CHECK_OK, "'%s' release %u, X11 protocol %s, answered in %llu ms",
				    reply.vendor, reply.release, version, (unsigned long long)took);
			return;
		case X11PROBE_AUTHENTICATE:
			finding_data_str(f, "reason", reply.reason);
			finding_set(f, CHECK_WARN, "the X server is there but asks for authentication: '%s'", reply.reason);
			finding_fix(f, "allow clients without a cookie in X410's access settings, or give them its cookie (xauth)");
			break;
		case X11PROBE_FAILED:
			finding_data_str(f, "reason", reply.reason);
			finding_set(f, CHECK_FAIL, "the X server refused the connection (X11 protocol %s): '%s'", version, reply.reason);
			finding_fix(f, "allow this client in the X server's access control (X410's settings; xhost on other servers)");
			break;
		}
	}
	registry_lines(d, f);
}
