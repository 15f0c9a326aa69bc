#!/bin/bash
# The chaos soak: tests/tools/tt-chaos through the relay, on each engine.
# tt-chaos keeps 32 clients doing random things (random write and read sizes,
# half-closes either way, resets, aborts, pauses, read stalls on both sides)
# against its own upstream, which it kills (SIGKILL) and restarts every few
# seconds; every byte is checked at its offset, connections without a
# deliberate cut or an upstream kill must complete, none may hang.  It runs
# in two halves on the same relay: after the first (the warm-up) the relay's
# fds and VmRSS are taken; after the second the fds must be back where they
# were before the first client and the RSS must not have grown by more than
# RELAY_CHAOS_RSS_GROWTH_KB.  The relay must then stop cleanly (exit 0, no
# sanitizer report).
#
#   RELAY_CHAOS_SECONDS=60          per engine (both halves)
#   RELAY_CHAOS_SEED=N              replay a run's plans (default: the clock; printed)
#   RELAY_CHAOS_ENGINES="uring epoll"  (uring-basic: the io_uring engine's basic path)
#   RELAY_CHAOS_RSS_GROWTH_KB       4096, or 32768 in a sanitizer build
RELAY_ENGINE=epoll
. "$top_srcdir/tests/integration/relay-cases.sh"

CHAOS_SECONDS=${RELAY_CHAOS_SECONDS:-60}
CHAOS_SEED=${RELAY_CHAOS_SEED:-$(date +%s)}
CHAOS_ENGINES=${RELAY_CHAOS_ENGINES:-uring epoll}
[ -x "$TT/tt-chaos" ] || fatal "tests/tools/tt-chaos is not built"
SANITIZED=0
grep -qa '__asan_init\|__ubsan_handle' "$X410_VSOCK" && SANITIZED=1
if [ "$SANITIZED" = 1 ]; then
	CHAOS_RSS_KB=${RELAY_CHAOS_RSS_GROWTH_KB:-32768}
	# ASan keeps freed memory in quarantine (256 MiB by default): keep it
	# small, or the RSS check would measure the quarantine.
	export ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}quarantine_size_mb=8"
else
	CHAOS_RSS_KB=${RELAY_CHAOS_RSS_GROWTH_KB:-4096}
fi
diag "chaos seed $CHAOS_SEED (RELAY_CHAOS_SEED=$CHAOS_SEED replays the plans), $CHAOS_SECONDS s per engine"

# chaos_half N SEED SECONDS: one run of tt-chaos; its summary line in the log.
chaos_half() {
	local n=$1 seed=$2 secs=$3 s=0
	timeout $((secs + 120)) "$TT/tt-chaos" --connect "$RELAY_ADDR" --upstream "unix:$CASE_DIR/up.sock" \
		--seconds "$secs" --seed "$seed" --relay-pid "$RELAY_PID" \
		>"$CASE_DIR/chaos$n.out" 2>"$CASE_DIR/chaos$n.err" || s=$?
	diag "half $n: $(tail -n 1 "$CASE_DIR/chaos$n.out")"
	if [ "$s" != 0 ]; then
		diag "tt-chaos (half $n, seed $seed) failed with status $s:"
		grep -v '^[lsd-][rwx-]\{9\}' "$CASE_DIR/chaos$n.err" | head -n 30 | sed 's/^/#   /' >&2
		grep '^[lsd-][rwx-]\{9\}' "$CASE_DIR/chaos$n.err" | head -n 20 | sed 's/^/#   /' >&2
		return 1
	fi
}

c_chaos() {
	local half=$(( (CHAOS_SECONDS + 1) / 2 ))
	start_relay "unix:$CASE_DIR/up.sock" || return 1
	local fds0 rss0 fds1 rss1 fds2 rss2
	fds0=$(fd_count "$RELAY_PID")
	rss0=$(rss_kb "$RELAY_PID")
	chaos_half 1 "$CHAOS_SEED" "$half" || return 1
	fds1=$(fd_count "$RELAY_PID")
	rss1=$(rss_kb "$RELAY_PID")
	chaos_half 2 "$((CHAOS_SEED + 1))" "$half" || return 1
	fds2=$(fd_count "$RELAY_PID")
	rss2=$(rss_kb "$RELAY_PID")
	diag "relay fds $fds0 -> $fds1 -> $fds2, VmRSS $rss0 -> $rss1 -> $rss2 kB (growth bound after the warm-up: $CHAOS_RSS_KB kB)"
	[ "$fds2" -le "$fds0" ] || { diag "the relay's fds grew"; ls -l "/proc/$RELAY_PID/fd" | sed 's/^/#   /' >&2; return 1; }
	[ $((rss2 - rss1)) -le "$CHAOS_RSS_KB" ] || { diag "the relay's RSS grew by $((rss2 - rss1)) kB in the second half"; return 1; }
	diag "errors logged by the relay: $(grep -c 'ERROR' "$RELAY_LOG"), e.g. $(grep -m1 ERROR "$RELAY_LOG")"
}

# engine_usable ENGINE: the reason it is not, or nothing.
uring_unusable() {
	"$X410_VSOCK" --version | grep -q '^engines: io_uring' || { echo "built without liburing"; return; }
	[ "$(cat /proc/sys/kernel/io_uring_disabled 2>/dev/null || echo 0)" != 2 ] ||
		echo "io_uring is disabled here (kernel.io_uring_disabled=2)"
}

relay_preflight
for eng in $CHAOS_ENGINES; do
	unset X410_VSOCK_URING_BASIC
	case $eng in
	epoll) ENGINE=epoll ;;
	uring) ENGINE=uring ;;
	uring-basic) ENGINE=uring; export X410_VSOCK_URING_BASIC=1 ;;
	*) fatal "RELAY_CHAOS_ENGINES: unknown engine '$eng'" ;;
	esac
	LABEL=$eng
	why=""
	[ "$ENGINE" = epoll ] || why=$(uring_unusable)
	if [ -n "$why" ]; then
		feature_missing_check uring "[$eng] chaos soak: $why"
		continue
	fi
	run_case relay "chaos soak, $CHAOS_SECONDS s (seed $CHAOS_SEED): every byte checked, no hang, no fd or RSS growth" c_chaos
done
finish
