#!/bin/bash
# relay-cost.sh: what the relay costs per relayed message, and its peak
# memory, on one engine (issue 11's figures):
#   - syscalls and sends per request of the pipelined X11-like mix
#     (tt-client mix against tt-server --in x11), counted with perf stat on
#     the relay process: raw_syscalls:sys_enter, io_uring:io_uring_submit_req
#     and the send syscalls (sendto/sendmsg);
#   - VmHWM of a fresh relay after a bulk transfer and a 256-client echo.
# Usage: tests/bench/relay-cost.sh ENGINE [REQUESTS]   (from the build dir)
#        tests/bench/relay-cost.sh compare [ROUNDS] [REQUESTS]
# UNIX sockets only.  Prints one key=value line; compare runs both engines
# ROUNDS times (default 5), alternating, and prints each run and then each
# engine's median and range: the peak memory of either engine moves by
# several MB from run to run with the scheduling of the 256 clients.
set -euo pipefail
if [ "${1:-}" = compare ]; then
	rounds=${2:-5}
	out=$(mktemp /tmp/relay-cost-compare.XXXXXX)
	trap 'rm -f "$out"' EXIT
	for _ in $(seq "$rounds"); do
		for e in uring epoll; do
			"$0" "$e" ${3:+"$3"} | tee -a "$out"
		done
	done
	for e in uring epoll; do
		grep "^engine=$e " "$out" | tr ' ' '\n' | awk -F= -v e="$e" '
			$1 == "syscalls_per_req" { s[++n] = $2 }
			$1 == "vmhwm_kb" { h[++m] = $2 }
			function med(a, k,   i, j, t) {
				for (i = 2; i <= k; i++) for (j = i; j > 1 && a[j - 1] > a[j]; j--) { t = a[j]; a[j] = a[j - 1]; a[j - 1] = t }
				return k % 2 ? a[(k + 1) / 2] : (a[k / 2] + a[k / 2 + 1]) / 2
			}
			END {
				sm = med(s, n); hm = med(h, m)
				printf "median engine=%s runs=%d syscalls_per_req=%.3f vmhwm_kb=%d vmhwm_kb_range=%d-%d\n", e, m, sm, hm, h[1], h[m]
			}'
	done
	exit 0
fi
ENGINE=$1
REQ=${2:-20000}
X410=${X410_VSOCK:-./x410-vsock}
TT=${TOOLS:-./tests/tools}
D=$(mktemp -d /tmp/relay-cost.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done; wait 2>/dev/null || true; rm -rf "$D"; }
trap cleanup EXIT

wait_file() { for _ in $(seq 500); do [ -s "$1" ] && return 0; sleep 0.02; done; echo "relay-cost: ERROR: $1 never appeared" >&2; exit 1; }

server() { rm -f "$D/up.ready" "$D/up"; "$TT/tt-server" --listen "unix:$D/up" --ready "$D/up.ready" "$@" >"$D/srv.out" 2>&1 & PIDS+=($!); wait_file "$D/up.ready"; }
relay() {
	rm -f "$D/relay.sock"
	"$X410" run --engine "$ENGINE" --listen "unix:$D/relay.sock" --connect "unix:$D/up" --max-clients 512 \
		>"$D/relay.out" 2>"$D/relay.err" & RELAY=$!; PIDS+=($RELAY)
	for _ in $(seq 500); do grep -q serving "$D/relay.err" 2>/dev/null && return 0; sleep 0.02; done
	echo "relay-cost: ERROR: relay did not start" >&2; cat "$D/relay.err" >&2; exit 1
}
stop() { kill "$1"; wait "$1" 2>/dev/null || true; }

# 1. syscalls per request on the mix
server --in x11
relay
# IORING_OP_SENDMSG 9, SEND 26: the ring's sends, by a filtered second count.
perf stat -x, -e raw_syscalls:sys_enter,io_uring:io_uring_submit_req,syscalls:sys_enter_sendto,syscalls:sys_enter_sendmsg \
	-e io_uring:io_uring_submit_req --filter 'opcode == 9 || opcode == 26' \
	-p "$RELAY" -o "$D/perf" & PERF=$!
sleep 0.3
"$TT/tt-client" mix --connect "unix:$D/relay.sock" --requests "$REQ" >"$D/mix.out" || { cat "$D/relay.err" "$D/srv.out" >&2; exit 1; }
kill -INT $PERF; wait $PERF 2>/dev/null || true
get() { awk -F, -v e="$1" '$3 == e { print $1 }' "$D/perf" | sed -n "${2:-1}p"; }
sys=$(get raw_syscalls:sys_enter); sqe=$(get io_uring:io_uring_submit_req)
sends=$(( $(get syscalls:sys_enter_sendto) + $(get syscalls:sys_enter_sendmsg) + $(get io_uring:io_uring_submit_req 2) ))
stop "$RELAY"; stop "${PIDS[0]}"; PIDS=()

# 2. peak memory after bulk + 256-client echo
server --in echo
relay
"$TT/tt-client" bulk --connect "unix:$D/relay.sock" --send 64M --echo >/dev/null
"$TT/tt-client" multi --connect "unix:$D/relay.sock" --clients 256 --bytes 1M >/dev/null
hwm=$(awk '/VmHWM/ { print $2 }' "/proc/$RELAY/status")
stop "$RELAY"

awk -v e="$ENGINE" -v r="$REQ" -v s="$sys" -v q="$sqe" -v n="$sends" -v h="$hwm" -v rps="$(sed -n 's/.*rps=\([0-9.]*\).*/\1/p' "$D/mix.out")" 'BEGIN {
	printf "engine=%s requests=%d syscalls=%d syscalls_per_req=%.3f sqes=%d sqes_per_req=%.3f sends_per_req=%.3f mix_rps=%s vmhwm_kb=%d\n",
	       e, r, s, s / r, q, q / r, n / r, rps, h }'
