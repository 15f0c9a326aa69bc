#!/bin/bash
# The command line as a user meets it: help, version, usage errors.
. "$top_srcdir/tests/lib.sh"


t_help() {
	run_x 0 --help || return 1
	grep -q '^Usage: x410-vsock \[-v|-q\] COMMAND' "$OUT" &&
	grep -q '^  doctor ' "$OUT" && grep -q '^  setup ' "$OUT" && grep -q '^  run ' "$OUT" &&
	[ ! -s "$ERR" ]
}
check "--help prints usage and every command to stdout, exit 0" t_help

t_help_short() { run_x 0 -h && grep -q '^Usage:' "$OUT"; }
check "-h is --help" t_help_short

t_version() {
	run_x 0 --version || return 1
	grep -Eq '^x410-vsock [0-9]+\.[0-9]+\.[0-9]+$' "$OUT" &&
	grep -Eq '^engines: (io_uring \(liburing [0-9.]+\), epoll|epoll only \(built without liburing\))$' "$OUT" &&
	grep -Eq '^libkmod: [0-9]+ \(loaded when needed\)$' "$OUT"
}
check "--version names the version, the engines and libkmod" t_version

# libkmod (and libcrypto, libzstd, liblzma behind it) is dlopen'ed by doctor
# and setup: linked, it would be mapped into every relay process.
t_no_libkmod_needed() {
	command -v readelf >/dev/null || { echo "# readelf not installed (binutils)" >&2; return 1; }
	LC_ALL=C readelf -d "$X410_VSOCK" >"$OUT" || return 1
	grep -q '(NEEDED)' "$OUT" || { echo "# no NEEDED entries: static?" >&2; return 1; }
	! grep -E '\(NEEDED\).*(libkmod|libcrypto|libzstd|liblzma)' "$OUT" >&2
}
check "the binary does not link libkmod (dlopen'ed when needed)" t_no_libkmod_needed

# usage_case STATUS 'EXPECTED ERROR LINE' 'EXPECTED TRY LINE' ARGS...
usage_case() {
	local status=$1 line=$2 try=$3; shift 3
	run_x "$status" "$@" || return 1
	[ ! -s "$OUT" ] || { echo "# unexpected stdout" >&2; return 1; }
	[ "$(wc -l <"$ERR")" -eq 2 ] || { echo "# expected 2 lines on stderr" >&2; cat "$ERR" >&2; return 1; }
	[ "$(sed -n 1p "$ERR")" = "$line" ] || { echo "# got: $(sed -n 1p "$ERR")" >&2; return 1; }
	[ "$(sed -n 2p "$ERR")" = "$try" ]
}
check "no command is a usage error" \
	usage_case 2 "x410-vsock: ERROR: Missing command (one of: doctor, setup, run, status, stop, regfile)" "Try 'x410-vsock --help'."
check "an unknown command is a usage error" \
	usage_case 2 "x410-vsock: ERROR: Unknown command 'frobnicate'" "Try 'x410-vsock --help'." frobnicate
check "an unknown long option is a usage error" \
	usage_case 2 "x410-vsock: ERROR: Unknown option '--bogus'" "Try 'x410-vsock --help'." --bogus run
check "an unknown short option is a usage error" \
	usage_case 2 "x410-vsock: ERROR: Unknown option '-x'" "Try 'x410-vsock --help'." -x run

# One wording for every command's option errors (issue 15, item 6).
check "setup --undo=x: the option takes no argument" \
	usage_case 2 "x410-vsock: ERROR: Option '--undo' takes no argument" "Try 'x410-vsock setup --help'." setup --undo=x
check "regfile --powershell=x: the option takes no argument" \
	usage_case 2 "x410-vsock: ERROR: Option '--powershell' takes no argument" "Try 'x410-vsock regfile --help'." regfile --powershell=x
check "--help=x: the option takes no argument" \
	usage_case 2 "x410-vsock: ERROR: Option '--help' takes no argument" "Try 'x410-vsock --help'." --help=x
check "doctor --json=x: the option takes no argument" \
	usage_case 2 "x410-vsock: ERROR: Option '--json' takes no argument" "Try 'x410-vsock doctor --help'." doctor --json=x
check "run --no-abstract=x: the option takes no argument" \
	usage_case 2 "x410-vsock: ERROR: Option '--no-abstract' takes no argument" "Try 'x410-vsock run --help'." run --no-abstract=x :5
check "-V with an argument is a usage error" \
	usage_case 2 "x410-vsock: ERROR: Unexpected argument 'extra' after --version" "Try 'x410-vsock --help'." -V extra
check "an unknown short option after a good one in a cluster names the bad one" \
	usage_case 2 "x410-vsock: ERROR: Unknown option '-x'" "Try 'x410-vsock doctor --help'." doctor -vx
check "an unknown long option of a command, with a value, is named without it" \
	usage_case 2 "x410-vsock: ERROR: Unknown option '--bogus'" "Try 'x410-vsock setup --help'." setup --bogus=1
check "a missing option argument names the option" \
	usage_case 2 "x410-vsock: ERROR: Option '--root' needs an argument" "Try 'x410-vsock doctor --help'." doctor --root
check "an ambiguous abbreviation says so" \
	usage_case 2 "x410-vsock: ERROR: Option '--no' is ambiguous" "Try 'x410-vsock run --help'." run --no :5

# A host name that does not resolve: the resolver's answer, whatever it is
# here (NXDOMAIN, or no DNS at all), never the errno it is mapped to.
t_resolve_run() {
	run_x 1 -q run --connect tcp:nosuch.invalid:1 --socket-dir "$TEST_TMP" --lock-dir "$TEST_TMP" :5 || return 1
	local line; line=$(cat "$ERR")
	case $line in
	"x410-vsock: ERROR: Cannot resolve the host 'nosuch.invalid' of --connect: No route to host") return 1 ;;
	"x410-vsock: ERROR: Cannot resolve the host 'nosuch.invalid' of --connect: "?*) return 0 ;;
	*) echo "# got: $line" >&2; return 1 ;;
	esac
}
check "run --connect to a name that does not resolve reports the resolver's answer" t_resolve_run
t_resolve_doctor() {
	run_x 1 doctor --connect tcp:nosuch.invalid:1 || true
	grep -q "cannot resolve 'nosuch.invalid': " "$OUT" && ! grep -q "No route to host" "$OUT"
}
check "doctor --connect to a name that does not resolve reports the resolver's answer" t_resolve_doctor

# -v, -q and -h on either side of the command, as git and systemctl take them.
t_same_both_sides() {
	local status1=0 status2=0
	timeout 20 "$X410_VSOCK" "$1" "$2" "${@:3}" >"$TEST_TMP/a.out" 2>&1 || status1=$?
	timeout 20 "$X410_VSOCK" "$2" "$1" "${@:3}" >"$TEST_TMP/b.out" 2>&1 || status2=$?
	[ "$status1" = "$status2" ] && [ "$status1" != 2 ] && cmp -s "$TEST_TMP/a.out" "$TEST_TMP/b.out" ||
		{ echo "# $1 $2: $status1, $2 $1: $status2" >&2; diff "$TEST_TMP/a.out" "$TEST_TMP/b.out" | sed 's/^/# /' >&2; return 1; }
}
ROOTFS=$(cd "$top_srcdir/tests/rootfs" && pwd)
check "setup -v --dry-run is -v setup --dry-run" \
	t_same_both_sides -v setup --dry-run --root "$ROOTFS/setup-hyperv"
check "doctor -v is -v doctor (debug lines included)" \
	t_same_both_sides -v doctor --root "$ROOTFS/doctor-kvm"
check "regfile -q is -q regfile" t_same_both_sides -q regfile 0-2
t_debug_after() {
	run_x 1 doctor -v --root "$ROOTFS/doctor-kvm" && grep -q '^x410-vsock: DEBUG: ' "$ERR"
}
check "doctor -v logs debug lines" t_debug_after
t_quiet_after() {
	run_x 1 run -q --connect tcp:nosuch.invalid:1 --socket-dir "$TEST_TMP" --lock-dir "$TEST_TMP" :5 || return 1
	[ "$(wc -l <"$ERR")" = 1 ] && grep -q '^x410-vsock: ERROR: ' "$ERR"
}
check "run -q :5 logs only errors" t_quiet_after
t_help_before() { run_x 0 -h run && grep -q '^Usage: x410-vsock run ' "$OUT"; }
check "-h run is run --help" t_help_before
t_help_after() { run_x 0 setup -h && grep -q '^Usage: x410-vsock setup' "$OUT"; }
check "setup -h is setup --help" t_help_after

# Every command of the table, including those added later: -v and -q
# accepted after it, and the same wording for a wrong option.
commands=$("$X410_VSOCK" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ -n "$commands" ] || fatal "x410-vsock --help lists no command"
for cmd in $commands; do
	t_cmd_global() { run_x 0 "$1" -v -q --help && grep -q "^Usage: x410-vsock $1" "$OUT"; }
	check "'$cmd -v -q --help' takes the global options after the command" t_cmd_global "$cmd"
	check "'$cmd --help=x' says the option takes no argument" \
		usage_case 2 "x410-vsock: ERROR: Option '--help' takes no argument" "Try 'x410-vsock $cmd --help'." "$cmd" --help=x
	check "'$cmd --bogus=1' names the unknown option" \
		usage_case 2 "x410-vsock: ERROR: Unknown option '--bogus'" "Try 'x410-vsock $cmd --help'." "$cmd" --bogus=1
	check "'$cmd -Z' names the unknown short option" \
		usage_case 2 "x410-vsock: ERROR: Unknown option '-Z'" "Try 'x410-vsock $cmd --help'." "$cmd" -Z
done

finish
