#!/bin/bash
# doctor on this machine as it is: its command line, its report, and above
# all that it never connects anywhere over AF_VSOCK unless told to (strace);
# AF_VSOCK and io_uring blocked for real by a seccomp filter.
. "$top_srcdir/tests/lib.sh"

DENY=${top_builddir:-.}/tests/integration/deny-syscalls
IDS="environment kernel hv_sock boot vsock io_uring display x410"

# ---------------------------------------------------------------- command line

t_help() {
	run_x 0 doctor --help || return 1
	grep -q "^Usage: x410-vsock doctor \[OPTIONS\] \[:N\]$" "$OUT" || return 1
	for opt in --x410-display --connect --timeout --socket-dir --lock-dir --root --json --help; do
		grep -q -- "$opt" "$OUT" || { echo "# --help lacks $opt" >&2; return 1; }
	done
	[ ! -s "$ERR" ]
}
check "doctor --help prints every option to stdout, exit 0" t_help

# (That the man page and the README list the same options: tests/integration/docs.sh.)

# usage_case 'EXPECTED ERROR LINE' ARGS...
usage_case() {
	local line=$1; shift
	run_x 2 doctor "$@" || return 1
	[ ! -s "$OUT" ] || { echo "# unexpected stdout" >&2; return 1; }
	[ "$(sed -n 1p "$ERR")" = "x410-vsock: ERROR: $line" ] || { echo "# got: $(sed -n 1p "$ERR")" >&2; return 1; }
	[ "$(sed -n 2p "$ERR")" = "Try 'x410-vsock doctor --help'." ] && [ "$(wc -l <"$ERR")" -eq 2 ]
}
check "an unknown option is a usage error" usage_case "Unknown option '--bogus'" --bogus
check "an unknown short option is a usage error" usage_case "Unknown option '-z'" -z
check "a missing option argument is a usage error" usage_case "Option '--connect' needs an argument" --connect
check "a bad display is a usage error" \
	usage_case "Invalid display 'foo': the display number is not a number (expected :N, e.g. :5)" foo
check "a remote display is a usage error" \
	usage_case "Invalid display 'host:1': only local displays can be served (expected :N, e.g. :5)" host:1
check "a second display is a usage error" usage_case "Unexpected argument ':2'" :1 :2
check "a bad X410 display is a usage error" \
	usage_case "Invalid X410 display '-1': the X410 display number is not a number" --x410-display -1
check "a bad address is a usage error" \
	usage_case "Invalid address 'vsock:2': expected vsock:CID:PORT" --connect vsock:2
check "a bad timeout is a usage error" \
	usage_case "Invalid timeout '0': expected seconds from 0.1 to 60" --timeout 0
check "a relative --socket-dir is a usage error" \
	usage_case "Option '--socket-dir' needs an absolute path, not 'tmp'" --socket-dir tmp

t_bad_root() {
	run_x 1 doctor --root "$TEST_TMP/no-such-root" || return 1
	[ ! -s "$OUT" ] &&
	[ "$(cat "$ERR")" = "x410-vsock: ERROR: Failed to read the system below '$TEST_TMP/no-such-root': No such file or directory" ]
}
check "--root of a directory that is not there: one error line, exit 1" t_bad_root

# report_status STATUS: doctor's exit status follows its report: 1 when a
# check failed ([FAIL], or "fail" in --json), else 0, and never anything else.
report_status() {
	local fails=0
	if jq -e . "$OUT" >/dev/null 2>&1; then
		[ "$(jq -r '[.checks[] | select(.status == "fail")] | length' "$OUT")" = 0 ] || fails=1
	else
		! grep -q '^\[FAIL\]' "$OUT" || fails=1
	fi
	[ "$1" = "$fails" ] && return 0
	echo "# doctor exited with status $1, but its report has $([ $fails = 1 ] && echo a || echo no) failed check" >&2
	return 1
}

t_socket_dir_not_dir() {
	: >"$TEST_TMP/file"
	local status=0
	timeout 20 "$X410_VSOCK" doctor --socket-dir "$TEST_TMP/file" --lock-dir "$TEST_TMP/file" :7 >"$OUT" 2>"$ERR" || status=$?
	[ "$status" = 1 ] && report_status "$status" || return 1
	# Not a directory: refused, and the fix never removes what is there.
	grep -q "^\[FAIL\] display :7: free; $TEST_TMP/file is not a directory" "$OUT" &&
	grep -q '^       fix: give --socket-dir a directory$' "$OUT" && ! grep -q 'rm ' "$OUT"
}
check "a --socket-dir that is a file: FAIL, and no 'rm' in the fix" t_socket_dir_not_dir

# ---------------------------------------------------------------- this machine

hyperv_here() { [ -n "$(ls -A /sys/bus/vmbus/devices 2>/dev/null)" ] || grep -qi microsoft /proc/sys/kernel/osrelease; }

t_report() {
	local status=0
	timeout 20 "$X410_VSOCK" doctor >"$OUT" 2>"$ERR" || status=$?
	[ "$status" = 0 ] || [ "$status" = 1 ] || { echo "# exit status $status" >&2; return 1; }
	[ ! -s "$ERR" ] || { sed 's/^/# stderr: /' "$ERR" >&2; return 1; }
	# One line per check, in order, then only indented lines.
	[ "$(grep -c -E '^\[( OK |WARN|FAIL|SKIP)\] ' "$OUT")" -eq 8 ] || { cat "$OUT" >&2; return 1; }
	! grep -v -E '^\[( OK |WARN|FAIL|SKIP)\] |^       ' "$OUT" || return 1
	# A failure's status is 1, no failure is 0.
	if grep -q '^\[FAIL\]' "$OUT"; then [ "$status" = 1 ]; else [ "$status" = 0 ]; fi || return 1
	# Every WARN/FAIL has its fix.
	awk '/^\[(WARN|FAIL)\]/ { if (pending) exit 1; pending = 1; next }
	     /^       fix: / { pending = 0 } /^\[/ { if (pending) exit 1 } END { exit pending }' "$OUT" ||
		{ echo "# a WARN or FAIL without fix:" >&2; return 1; }
}
check "doctor completes here: 8 checks, exit status by [FAIL], a fix under every WARN/FAIL" t_report

t_not_hyperv() {
	timeout 20 "$X410_VSOCK" doctor >"$OUT" 2>"$ERR"
	[ $? = 1 ] || return 1
	grep -q '^\[FAIL\] environment: not a Hyper-V guest' "$OUT" &&
	grep -q '^\[SKIP\] hv_sock: .*not a Hyper-V guest$' "$OUT" &&
	grep -q '^\[SKIP\] X410 display 0 (vsock:2:6000): not probed: hv_sock is not the guest-to-host transport' "$OUT" &&
	grep -q '^       key: HKLM\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\00001770-facb-11e6-bd58-64006a7986d3' "$OUT" &&
	grep -q '^       \.reg: "ElementName"="X410 Display 0"$' "$OUT"
}
if hyperv_here; then
	skip_check "this machine is a Hyper-V guest: the off-Hyper-V report does not apply"
else
	check "off Hyper-V: 'not a Hyper-V guest', X410 skipped with the registry key and .reg" t_not_hyperv
fi

t_reg_for_display() {
	local status=0
	timeout 20 "$X410_VSOCK" doctor --x410-display 5 >"$OUT" 2>"$ERR" || status=$?
	report_status "$status" || return 1
	grep -q '^\[SKIP\] X410 display 5 (vsock:2:6005): ' "$OUT" &&
	grep -q '^       \.reg: \[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\00001775-facb-11e6-bd58-64006a7986d3\]$' "$OUT" &&
	grep -q '^       \.reg: "ElementName"="X410 Display 5"$' "$OUT"
}
if hyperv_here; then
	skip_check "this machine is a Hyper-V guest: X410 would be probed"
else
	check "--x410-display 5: the key and .reg of port 6005 (00001775)" t_reg_for_display
fi

t_json() {
	local status=0 got
	timeout 20 "$X410_VSOCK" doctor --json >"$OUT" 2>"$ERR" || status=$?
	jq -e . "$OUT" >/dev/null || { echo "# not JSON" >&2; return 1; }
	got=$(jq -r '[.checks[].id] | join(" ")' "$OUT")
	[ "$got" = "$IDS" ] || { echo "# ids: $got" >&2; return 1; }
	[ "$(jq -r .exit_status "$OUT")" = "$status" ] || return 1
	[ "$(jq -r '[.checks[] | select(.status == "fail")] | length > 0' "$OUT")" = "$([ $status = 1 ] && echo true || echo false)" ] || return 1
	jq -e '.checks[] | select(.id == "x410") | .data.registry_key | test("00001770-facb-11e6-bd58-64006a7986d3$")' "$OUT" >/dev/null
}
if command -v jq >/dev/null; then
	check "--json: valid JSON, every check by id, exit_status as the exit status" t_json
else
	skip_check "jq is missing"
fi

# ---------------------------------------------------------------- no AF_VSOCK connect

strace_works() { timeout 10 strace -f -o /dev/null true 2>/dev/null; }

# The fds of AF_VSOCK sockets, and any connect/bind/listen on one of them.
vsock_used() {
	awk '
		{ pid = ($1 ~ /^[0-9]+$/) ? $1 : 0 }
		/socket\(AF_VSOCK/ && match($0, /= [0-9]+$/) { fd[pid " " substr($0, RSTART + 2)] = 1; next }
		match($0, /(connect|bind|listen)\([0-9]+/) {
			s = substr($0, RSTART, RLENGTH); sub(/^[a-z]+\(/, "", s)
			if ((pid " " s) in fd || $0 ~ /AF_VSOCK/) { print; bad = 1 }
		}
		/close\([0-9]+\)/ && match($0, /close\([0-9]+/) { s = substr($0, RSTART + 6, RLENGTH - 6); delete fd[pid " " s] }
		END { exit bad ? 0 : 1 }' "$1"
}

t_strace_sees_connects() {
	# The control: strace records our connects (here to an abstract name
	# nobody listens on).
	timeout 30 strace -f -o "$TEST_TMP/strace" -e trace=socket,connect,bind,listen,close \
		"$X410_VSOCK" doctor --connect unix:@/x410-vsock-test/nobody >/dev/null 2>&1
	grep -q 'connect(.*sa_family=AF_UNIX.*x410-vsock-test/nobody' "$TEST_TMP/strace" ||
		{ sed 's/^/# /' "$TEST_TMP/strace" | tail -n 20 >&2; return 1; }
}

t_no_vsock_connect() {
	timeout 30 strace -f -o "$TEST_TMP/strace" -e trace=socket,connect,bind,listen,close \
		"$X410_VSOCK" doctor >"$OUT" 2>/dev/null
	grep -q '^\[SKIP\] X410 display 0 (vsock:2:6000): not probed' "$OUT" || return 1
	if vsock_used "$TEST_TMP/strace"; then
		echo "# an AF_VSOCK socket was connected, bound or listened on" >&2
		return 1
	fi
	return 0
}

t_root_no_vsock_socket() {
	# Below --root, even a Hyper-V system with hv_sock loaded is only read:
	# not even socket(AF_VSOCK).
	local root=$TEST_TMP/hv
	cp -R "$top_srcdir/tests/rootfs/doctor-hyperv-loaded" "$root" && chmod -R u+w "$root" || return 1
	timeout 30 strace -f -o "$TEST_TMP/strace" -e trace=socket,connect,bind,listen \
		"$X410_VSOCK" doctor --root "$root" >"$OUT" 2>/dev/null
	grep -q '^\[ OK \] AF_VSOCK: socket() not tried (--root); guest-to-host transport: hv_sock$' "$OUT" || return 1
	! grep -q 'AF_VSOCK' "$TEST_TMP/strace"
}

if ! command -v strace >/dev/null; then
	skip_check "strace is missing"
elif ! strace_works; then
	skip_check "strace cannot trace here (ptrace not allowed)"
elif hyperv_here; then
	skip_check "this machine is a Hyper-V guest: doctor probes X410 here, by design"
else
	check "strace sees doctor's connects (control)" t_strace_sees_connects
	check "doctor here makes no AF_VSOCK connect, bind or listen (strace)" t_no_vsock_connect
	check "doctor --root on a Hyper-V fake root makes no AF_VSOCK socket at all (strace)" t_root_no_vsock_socket
fi

# ---------------------------------------------------------------- blocked by seccomp

# deny ARGS -- doctor...: under the seccomp filter; 77 when it cannot be set.
# Its exit status must follow its report (report_status).
deny() {
	local status=0
	timeout 20 "$DENY" "$@" >"$OUT" 2>"$ERR" || status=$?
	report_status "$status"
}

t_vsock_eperm() {
	deny --vsock 1 -- "$X410_VSOCK" doctor --json || return 1
	jq -e '.checks[] | select(.id == "vsock") | (.data.socket == false) and (.message | test("socket\\(\\) fails: Operation not permitted \\(EPERM\\)"))' "$OUT" >/dev/null
}
t_vsock_eafnosupport() {
	deny --vsock 97 -- "$X410_VSOCK" doctor || return 1
	grep -q '^\[.*\] AF_VSOCK: .*socket() fails: Address family not supported by protocol (EAFNOSUPPORT)' "$OUT"
}
t_uring_eperm() {
	deny --io-uring 1 -- "$X410_VSOCK" doctor || return 1
	grep -q '^\[WARN\] io_uring: io_uring_setup() fails: Operation not permitted (EPERM): blocked by a seccomp profile' "$OUT" &&
	grep -A1 '^\[WARN\] io_uring' "$OUT" | grep -q '^       fix: '
}
t_uring_enosys() {
	deny --io-uring 38 -- "$X410_VSOCK" doctor --json || return 1
	jq -e '.checks[] | select(.id == "io_uring") | (.status == "warn") and (.data.engine == "epoll") and (.message | test("ENOSYS"))' "$OUT" >/dev/null
}
# ENOMEM is no reason to fall back: run stops, and doctor says so (the same
# choice, made by the same function).
t_uring_enomem() {
	deny --io-uring 12 -- "$X410_VSOCK" doctor || return 1
	grep -q '^\[FAIL\] io_uring: .*Cannot allocate memory (ENOMEM): run (--engine auto) would not start$' "$OUT" &&
	grep -A1 '^\[FAIL\] io_uring' "$OUT" | grep -q '^       fix: .*--engine epoll' || return 1
	timeout 20 "$DENY" --io-uring 12 -- "$X410_VSOCK" run --listen "unix:$TEST_TMP/enomem" \
		--connect "unix:$TEST_TMP/nobody" >"$OUT" 2>"$ERR"
	[ $? = 1 ] && grep -q 'ERROR: Cannot set up io_uring: ' "$ERR"
}

# io_uring's own state here decides whether blocking it shows.
uring_here=$(timeout 20 "$X410_VSOCK" doctor 2>/dev/null | grep '^\[.*\] io_uring: ' || true)

if [ ! -x "$DENY" ]; then
	fatal "'$DENY' is not built"
elif ! command -v jq >/dev/null; then
	skip_check "jq is missing"
elif ! "$DENY" --vsock 1 -- true 2>/dev/null; then
	skip_check "seccomp filters cannot be set here"
elif [ ! -d /sys/module/vsock ]; then
	skip_check "no vsock core here: doctor does not create AF_VSOCK sockets without it"
else
	check "socket(AF_VSOCK) blocked with EPERM is reported (JSON)" t_vsock_eperm
	check "socket(AF_VSOCK) failing with EAFNOSUPPORT is reported" t_vsock_eafnosupport
fi
t_uring_not_built() {
	run_x 1 doctor --json || run_x 0 doctor --json || return 1
	jq -e '.checks[] | select(.id == "io_uring") | (.status == "warn") and (.data.engine == "epoll")' "$OUT" >/dev/null
}
case $uring_here in
"[WARN] io_uring: x410-vsock is built without liburing"*)
	check "an epoll-only build says so and names the epoll engine (JSON)" t_uring_not_built
	skip_check "built without liburing: nothing to block"
	;;
"[ OK ] io_uring: io_uring_setup() works"*)
	check "io_uring_setup() blocked with EPERM: WARN, epoll engine, with a fix" t_uring_eperm
	check "io_uring_setup() blocked with ENOSYS: WARN, epoll engine" t_uring_enosys
	check "io_uring_setup() failing with ENOMEM: FAIL, as run stops (run exits 1 too)" t_uring_enomem
	;;
*)
	skip_check "io_uring is not usable here to begin with: ${uring_here:-no io_uring line}"
	;;
esac

finish
