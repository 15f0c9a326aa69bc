#!/bin/bash
# io_uring blocked by seccomp, as Docker's and containerd's default profiles
# do (tests/tools/no-uring): '--engine auto' falls back to epoll and says
# why, '--engine uring' fails with the reason, and every relay case
# (tests/integration/relay-cases.sh) still passes under 'auto'.
RELAY_ENGINE=auto
RELAY_WRAP=${top_builddir:-.}/tests/tools/no-uring
. "$top_srcdir/tests/integration/relay-cases.sh"

relay_preflight

c_fallback_auto() {
	start_server up --in echo || return 1
	start_relay "$UP" || return 1
	grep -i 'io_uring' "$RELAY_LOG" | grep -qi 'epoll' ||
		{ diag "no line says that io_uring is unusable and epoll is used:"; sed 's/^/#   /' "$RELAY_LOG" >&2; return 1; }
	diag "fallback: $(grep -i 'io_uring' "$RELAY_LOG" | grep -i -m1 'epoll')"
	probe "$RELAY_ADDR" --expect served
}

c_fallback_forced() {
	local s=0 err=$CASE_DIR/forced.err
	mkdir -p "$RELAY_DIR"
	timeout 10 "$RELAY_WRAP" "$X410_VSOCK" run --engine uring --socket-dir "$RELAY_DIR" --lock-dir "$RELAY_DIR" \
		--no-abstract --connect "unix:$CASE_DIR/up.sock" :7 >"$CASE_DIR/forced.out" 2>"$err" || s=$?
	diag "--engine uring under the filter: status $s: $(tr '\n' ' ' <"$err")"
	[ "$s" = 1 ] || { diag "expected exit status 1"; return 1; }
	grep '^x410-vsock: ERROR: ' "$err" | grep -qi 'io_uring' || { diag "the error does not mention io_uring"; return 1; }
	[ -z "$(ls -A "$RELAY_DIR")" ] || { diag "left behind: $(ls -A "$RELAY_DIR")"; return 1; }
	sanitizer_clean "$err"
}

run_case relay "--engine auto with io_uring blocked: falls back to epoll and says why" c_fallback_auto
run_case relay "--engine uring with io_uring blocked: exit 1 with the reason" c_fallback_forced
relay_cases
finish
