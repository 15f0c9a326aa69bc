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

finish
