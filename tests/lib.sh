# Shared helpers for the shell tests; sourced, not run.
# They speak TAP (Automake's tap-driver.sh): "ok N - what", "not ok N - what",
# a plan at the end, "1..0 # SKIP why" for a test that cannot run here and
# "Bail out!" for a broken test environment.

set -u

: "${X410_VSOCK:=${top_builddir:-.}/x410-vsock}"
: "${top_srcdir:=.}"

TEST_NAME=$(basename "$0" .sh)
TEST_FAILS=0
TEST_COUNT=0

# A private scratch directory, removed on exit with every process we started.
TEST_TMP=$(mktemp -d "${TMPDIR:-/tmp}/x410-test.XXXXXX")
TEST_PIDS=""
test_cleanup() {
	for p in $TEST_PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $TEST_PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$TEST_TMP"
}
trap test_cleanup EXIT

# Remember a background process so that cleanup ends it.
track() { TEST_PIDS="$TEST_PIDS $1"; }

# fd_count PID: how many files PID has open.  fds_at_least/fds_at_most PID N
# compare it with N; for wait_for, which must re-read it on every try.
fd_count() { ls "/proc/$1/fd" 2>/dev/null | wc -l; }
fds_at_least() { [ "$(fd_count "$1")" -ge "$2" ]; }
fds_at_most() { [ "$(fd_count "$1")" -le "$2" ]; }

skip() { echo "1..0 # SKIP $*"; exit 0; }
fatal() { echo "Bail out! $TEST_NAME: $*"; exit 99; }
# skip_check WHY: one check that cannot run here (the rest still do).
skip_check() { TEST_COUNT=$((TEST_COUNT + 1)); echo "ok $TEST_COUNT # SKIP $*"; }

# Features a test may find missing here (its own probe, never the code
# under test): uring, bufring, seccomp.  X410_TEST_REQUIRE (comma-separated,
# set by CI on machines that have them) turns such a skip into a failure.
feature_required() { case ",${X410_TEST_REQUIRE:-}," in *",$1,"*) return 0 ;; esac; return 1; }
# feature_missing FEATURE WHY: skip the whole test, or fail when required.
feature_missing() {
	feature_required "$1" && fatal "X410_TEST_REQUIRE=$X410_TEST_REQUIRE, but $1 is missing: $2"
	skip "$2"
}
# feature_missing_check FEATURE WHY: the same for one check.
feature_missing_check() {
	if feature_required "$1"; then
		not_ok "X410_TEST_REQUIRE=$X410_TEST_REQUIRE, but $1 is missing: $2"
	else
		skip_check "$2"
	fi
}

# golden_update: should golden files be rewritten (X410_UPDATE_GOLDEN=1, by
# a developer, after checking the change)?  Never under CI=true: a
# rewritten golden compares a file with itself, and CI must compare.
golden_update() {
	[ -n "${X410_UPDATE_GOLDEN:-}" ] || return 1
	case ${CI:-} in true|1|yes) fatal "X410_UPDATE_GOLDEN is set under CI=$CI: golden files are never rewritten in CI" ;; esac
	return 0
}

ok() { TEST_COUNT=$((TEST_COUNT + 1)); echo "ok $TEST_COUNT - $*"; }
not_ok() { TEST_COUNT=$((TEST_COUNT + 1)); TEST_FAILS=$((TEST_FAILS + 1)); echo "not ok $TEST_COUNT - $*"; }

# check DESCRIPTION COMMAND...: run COMMAND, record pass/fail.
check() {
	local what=$1; shift
	if "$@"; then ok "$what"; else not_ok "$what"; fi
}

# run_x EXPECTED_STATUS ARGS...: run the binary with a deadline, keep
# stdout in $OUT and stderr in $ERR, and compare the exit status.
OUT=$TEST_TMP/out
ERR=$TEST_TMP/err
run_x() {
	local expect=$1; shift
	local status=0
	timeout 20 "$X410_VSOCK" "$@" >"$OUT" 2>"$ERR" || status=$?
	expect_status "$expect" "$status" "$@"
}

# expect_status EXPECTED STATUS ARGS...: 'x410-vsock ARGS' (its output in
# $OUT and $ERR) ended with STATUS; when that is not EXPECTED, say so and
# show the output.
expect_status() {
	local expect=$1 status=$2; shift 2
	[ "$status" = "$expect" ] && return 0
	echo "# x410-vsock $*: exit status $status, expected $expect" >&2
	sed 's/^/# stdout: /' "$OUT" >&2
	sed 's/^/# stderr: /' "$ERR" >&2
	return 1
}

# wait_for SECONDS COMMAND...: poll until COMMAND succeeds or time runs out.
wait_for() {
	local deadline=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	while ! "$@" 2>/dev/null; do
		[ $(( $(date +%s%N) / 1000000 )) -lt "$deadline" ] || return 1
		sleep 0.02
	done
}

finish() {
	[ "$TEST_COUNT" -gt 0 ] || fatal "no check ran"
	echo "1..$TEST_COUNT"
	echo "# $TEST_NAME: $TEST_COUNT checks, $TEST_FAILS failed"
	exit 0
}
