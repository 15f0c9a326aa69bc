#!/bin/bash
# Under systemd, stderr lines carry their syslog priority ("<3>...") exactly
# when JOURNAL_STREAM names the stream stderr is; everywhere else they are
# plain.  The binary's stderr here is a file whose device:inode we know.
. "$top_srcdir/tests/lib.sh"

log=$TEST_TMP/stderr
: >"$log"
self=$(stat -c %d:%i "$log")

# errors_with VALUE: a usage error and a write failure, stderr into $log.
errors_with() {
	: >"$log"
	JOURNAL_STREAM=$1 timeout 10 "$X410_VSOCK" regfile -- 5-0 >/dev/null 2>"$log"
	JOURNAL_STREAM=$1 timeout 10 "$X410_VSOCK" regfile 0 >/dev/full 2>>"$log"
	return 0
}

t_prefixed() {
	errors_with "$self"
	local want="<3>x410-vsock: ERROR: Invalid X410 display range '5-0': a range ends before it starts (expected N-M with N <= M)
<3>Try 'x410-vsock regfile --help'.
<3>x410-vsock: ERROR: Failed to write the registry file to standard output: No space left on device"
	[ "$(cat "$log")" = "$want" ] || { sed 's/^/# got: /' "$log" >&2; return 1; }
}
check "JOURNAL_STREAM = stderr's device:inode: lines carry <3>" t_prefixed

# plain_with VALUE: no line has a priority prefix, and the error is there.
plain_with() {
	errors_with "$1"
	grep -qx "x410-vsock: ERROR: Invalid X410 display range '5-0': a range ends before it starts (expected N-M with N <= M)" "$log" &&
	grep -qx "x410-vsock: ERROR: Failed to write the registry file to standard output: No space left on device" "$log" &&
	! grep -q '^<' "$log" || { sed 's/^/# got: /' "$log" >&2; return 1; }
}
dev=${self%%:*} ino=${self##*:}
check "JOURNAL_STREAM naming another inode: plain lines" plain_with "$dev:$((ino + 1))"
check "JOURNAL_STREAM naming another device: plain lines" plain_with "$((dev + 1)):$ino"
check "JOURNAL_STREAM that is not DEV:INO: plain lines" plain_with "journal"
t_unset() {
	: >"$log"
	env -u JOURNAL_STREAM timeout 10 "$X410_VSOCK" regfile -- 5-0 >/dev/null 2>"$log"
	grep -q "^x410-vsock: ERROR: Invalid X410 display range" "$log" && ! grep -q '^<' "$log"
}
check "no JOURNAL_STREAM: plain lines" t_unset

finish
