#!/bin/bash
# The guest half of 'make bench-vm' (tests/bench/bench-vm.sh is the host
# half): the path users run, UNIX -> relay -> AF_VSOCK, with vsock_loopback
# as the transport.  In one boot, interleaved over rounds, the same
# workloads go
#   direct   tt-client -> AF_VSOCK 2:6000 -> tt-server (x11perf: -> Xvfb :0)
#   uring    client -> :5 -> x410-vsock run --engine uring -> vsock:host:6000
#   epoll    client -> :5 -> x410-vsock run --engine epoll -> vsock:host:6000
#   socat    client -> :5 -> socat UNIX-LISTEN:X5,fork VSOCK-CONNECT:2:6000
# The relay runs with its production default upstream (vsock:host:6000 = X410
# display 0); on port 6000 listens tt-server (tests/tools) or, for x11perf,
# vsock-peer forwarding to Xvfb :0 as the stand-in for X410.
#
# The transport's packets are counted by the kernel, not by the relay: the
# tracepoint vsock:virtio_transport_alloc_pkt fires once for every packet
# vsock_loopback sends (data, RW, and control: credit updates, requests,
# shutdowns), with its ports and payload length.
#
# Every measurement is one TAP check; its figures are lines
#   @bench CASE CONFIG ROUND METRIC VALUE
# which the host collects from the guest's report.  Parameters come from the
# kernel command line: x410_bench=ROUNDS:QUICK:CASES:BUDGET (CASES
# comma-separated; BUDGET in seconds: no round starts that would not end
# within it, judged by the longest round so far, and the report says how
# many rounds ran).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/vm/guest/relay-lib.sh"

relay_built || skip "$NOT_BUILT"
load_loopback

ROUNDS=5 QUICK=0 BUDGET=400 CASES="upload download pingpong mix putimage500 getimage500 prop noop"
for word in $(cat /proc/cmdline); do
	case $word in
	x410_bench=*)
		IFS=: read -r ROUNDS QUICK cases budget <<<"${word#*=}"
		[ -z "$cases" ] || CASES=$(echo "$cases" | tr , ' ')
		[ -z "$budget" ] || BUDGET=$budget
		;;
	esac
done
CONFIGS="direct uring epoll socat"
TT=$VM_BIN
CHUNK=65536
# Sizes for one TCG CPU (about 100 MB/s through a relay, 30 MB/s through
# socat): a measurement takes 0.3-2 s, a round about a minute.  x11perf
# counts 4 operations per rep of -putimage500 and -getimage500.
if [ "$QUICK" = 1 ]; then
	BULK=$((4 * 1024 * 1024)) PP=200 MIX=2000
	declare -A REPS=([putimage500]=4 [getimage500]=4 [prop]=100 [noop]=50000)
else
	BULK=$((64 * 1024 * 1024)) PP=2000 MIX=40000
	declare -A REPS=([putimage500]=10 [getimage500]=10 [prop]=1000 [noop]=500000)
fi
echo "@bench-param rounds $ROUNDS quick $QUICK bulk $BULK chunk $CHUNK pingpong $PP mix $MIX" \
	"putimage500 ${REPS[putimage500]} getimage500 ${REPS[getimage500]} prop ${REPS[prop]} noop ${REPS[noop]}"
echo "@bench-param kernel $(uname -r)"
echo "@bench-param version $("$X410_VSOCK" --version 2>/dev/null | tr '\n' ';' | sed 's/;$//; s/;/; /g')"
echo "@bench-param socat $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p' | head -n1)"

# ------------------------------------------------------------------ tracing
T=/sys/kernel/tracing
EV=$T/events/vsock/virtio_transport_alloc_pkt
TRACE=0
[ -d "$T/events" ] || mount -t tracefs nodev "$T" 2>/dev/null
if [ ! -d "$T/events" ]; then
	echo "@bench-trace none: tracefs cannot be mounted on $T"
elif [ ! -d "$EV" ]; then
	echo "@bench-trace none: the kernel has no tracepoint vsock:virtio_transport_alloc_pkt ($(ls -d "$T"/events/vsock* 2>/dev/null | tr '\n' ' '))"
else
	echo 16384 >"$T/buffer_size_kb"
	echo 1 >"$EV/enable"
	echo 1 >"$T/tracing_on"
	TRACE=1
	echo "@bench-trace vsock:virtio_transport_alloc_pkt"
fi

overruns() { sed -n 's/^overrun: //p' "$T/per_cpu/cpu0/stats"; }
trace_start() {
	[ $TRACE = 1 ] || return 0
	: >"$T/trace"
	TRACE_OVERRUN=$(overruns)
}
# trace_stop CASE CONFIG ROUND MESSAGES: the packets since trace_start.
# Toward X410 is everything sent to port 6000, from X410 everything sent
# from it; RW packets carry data, the others are control.
trace_stop() {
	[ $TRACE = 1 ] || return 0
	local lost
	lost=$(( $(overruns) - TRACE_OVERRUN ))
	if [ "$lost" -ne 0 ]; then
		echo "# $1 via $2: the trace buffer lost $lost events; no packet counts"
		return 0
	fi
	awk -v c="$1" -v k="$2" -v r="$3" -v msgs="$4" '
		/virtio_transport_alloc_pkt:/ {
			for (i = 1; i <= NF; i++) {
				if ($i == "->") { src = $(i - 1); dst = $(i + 1) }
				else if ($i ~ /^len=/) len = substr($i, 5) + 0
				else if ($i ~ /^op=/) op = substr($i, 4)
			}
			dir = dst ~ /:6000$/ ? "up" : src ~ /:6000$/ ? "down" : ""
			if (dir == "") next
			if (op == "RW") { pkts[dir]++; bytes[dir] += len } else ctl[dir]++
		}
		END {
			printf "@bench %s %s %s msgs %d\n", c, k, r, msgs
			printf "@bench %s %s %s up_pkts %d\n", c, k, r, pkts["up"]
			printf "@bench %s %s %s up_bytes %d\n", c, k, r, bytes["up"]
			printf "@bench %s %s %s down_pkts %d\n", c, k, r, pkts["down"]
			printf "@bench %s %s %s down_bytes %d\n", c, k, r, bytes["down"]
			printf "@bench %s %s %s up_ctl %d\n", c, k, r, ctl["up"]
			printf "@bench %s %s %s down_ctl %d\n", c, k, r, ctl["down"]
		}' "$T/trace"
}

# ------------------------------------------------------------------ X410's screen
Xvfb :0 -nolisten tcp -noreset -screen 0 1024x768x24 >"$TEST_TMP/xvfb.log" 2>&1 &
track $!
wait_for 30 xdpyinfo -display :0 >/dev/null 2>&1 || fatal "Xvfb did not start: $(tail -n3 "$TEST_TMP/xvfb.log")"

# ------------------------------------------------------------------ upstreams on vsock port 6000
UP_PID=
# start_upstream CASE: the stand-in for X410 that CASE needs.
start_upstream() {
	local ready=$TEST_TMP/up.ready cmd
	local tts=("$TT/tt-server" --listen vsock:2:6000 --ready "$ready")
	rm -f "$ready"
	case $1 in
	upload) cmd=("${tts[@]}" --chunk $CHUNK --in discard) ;;
	download) cmd=("${tts[@]}" --chunk $CHUNK --in discard --fast --send $BULK) ;;
	pingpong) cmd=("${tts[@]}" --in echo) ;;
	mix) cmd=("${tts[@]}" --in x11) ;;
	*) cmd=("$peer" listen -n 100000 -t 3600 -r "$ready" 6000 forward /tmp/.X11-unix/X0) ;;
	esac
	"${cmd[@]}" >"$TEST_TMP/up.log" 2>&1 &
	UP_PID=$!
	track $UP_PID
	wait_for 10 test -e "$ready" || { cat "$TEST_TMP/up.log"; return 1; }
}
stop_upstream() {
	[ -n "$UP_PID" ] || return 0
	kill "$UP_PID" 2>/dev/null
	wait "$UP_PID" 2>/dev/null
	UP_PID=
}

# ------------------------------------------------------------------ fronts
FRONT_PID=
# start_front CONFIG: FRONT is the address tt-client uses, XDISPLAY x11perf's.
start_front() {
	FRONT=unix:$X5 XDISPLAY=:5
	case $1 in
	direct) FRONT=vsock:2:6000 XDISPLAY=:0 ;;
	uring|epoll) start_relay "$1" || { echo "# relay: $RELAY_FAIL"; return 1; }; FRONT_PID=$RELAY_PID ;;
	socat)
		rm -f "$X5"
		socat "UNIX-LISTEN:$X5,fork" VSOCK-CONNECT:2:6000 2>"$TEST_TMP/socat.log" &
		FRONT_PID=$!
		track $FRONT_PID
		wait_for 10 test -S "$X5" || { cat "$TEST_TMP/socat.log"; return 1; }
		;;
	esac
}
stop_front() {
	case $1 in
	uring|epoll) stop_relay ;;
	socat) kill "$FRONT_PID" 2>/dev/null; wait "$FRONT_PID" 2>/dev/null ;;
	esac
	FRONT_PID=
}

# ------------------------------------------------------------------ cases
field() { sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" "$1"; }
emit() { echo "@bench $1 $2 $3 $4 $5"; }

client() { # OUT ARGS...
	timeout 120 "$TT/tt-client" "$@" --timeout 100 >"$OUT" 2>"$OUT.err" ||
		{ sed 's/^/# tt-client: /' "$OUT.err"; return 1; }
}

# x11perf TEST: one run of -TEST with a fixed repetition count; the rate is
# what it prints ("N reps @ T msec (R/sec): ...").
run_x11perf() {
	timeout 120 x11perf -display "$XDISPLAY" -repeat 1 -reps "${REPS[$1]}" "-$1" >"$OUT" 2>"$OUT.err" ||
		{ sed 's/^/# x11perf: /' "$OUT" "$OUT.err"; return 1; }
	X11_REPS=$(sed -n 's/^ *\([0-9]*\) reps @.*/\1/p' "$OUT" | tail -n1)
	X11_RATE=$(sed -n 's/.*(\([0-9. ]*\)\/sec).*/\1/p' "$OUT" | tail -n1 | tr -d ' ')
	[ -n "$X11_REPS" ] && [ -n "$X11_RATE" ] || { sed 's/^/# x11perf: /' "$OUT" "$OUT.err"; return 1; }
}

OUT=$TEST_TMP/out
measure() { # CASE CONFIG ROUND
	local c=$1 k=$2 r=$3 msgs
	start_front "$k" || return 1
	trace_start
	case $c in
	upload)
		client bulk --connect "$FRONT" --send $BULK --recv 0 --fast --discard --chunk $CHUNK || return 1
		emit $c $k $r mbps "$(field "$OUT" mbps)"; msgs=$((BULK / CHUNK)) ;;
	download)
		client bulk --connect "$FRONT" --send 0 --recv $BULK --discard --chunk $CHUNK || return 1
		emit $c $k $r mbps "$(field "$OUT" mbps)"; msgs=$((BULK / CHUNK)) ;;
	pingpong)
		client pingpong --connect "$FRONT" --count $PP --size 32 || return 1
		emit $c $k $r rtps "$(field "$OUT" rtps)"
		# tt-client's 100 warm-up round trips go over the wire too.
		emit $c $k $r p50 "$(field "$OUT" p50_us)"; msgs=$((PP + 100)) ;;
	mix)
		client mix --connect "$FRONT" --requests $MIX || return 1
		emit $c $k $r rps "$(field "$OUT" rps)"; msgs=$MIX ;;
	*)
		run_x11perf "$c" || return 1
		emit $c $k $r ops "$X11_RATE"; msgs=$X11_REPS ;;
	esac
	# Let the last packets (shutdown, socat's child) pass before counting.
	sleep 0.2
	# x11perf's direct run does not touch vsock: nothing to count.
	if [ "$k" != direct ] || [ -z "${REPS[$c]:-}" ]; then
		trace_stop "$c" "$k" "$r" "$msgs"
	fi
}
measure_one() { # CASE CONFIG ROUND; the front stops even when it failed
	local s=0
	measure "$@" || s=$?
	stop_front "$2"
	return $s
}

configs=($CONFIGS)
n=${#configs[@]}
start_s=$(date +%s)
longest=0 done_rounds=0
for round in $(seq 1 "$ROUNDS"); do
	round_s=$(date +%s)
	if [ $((round_s - start_s + longest)) -gt "$BUDGET" ]; then
		echo "# stopping after $done_rounds round(s): another one ($longest s) would end after the budget of $BUDGET s"
		break
	fi
	for c in $CASES; do
		start_upstream "$c" || fatal "the stand-in for X410 ($c) did not start"
		# Rotate the order from round to round: none always runs first.
		for i in $(seq 0 $((n - 1))); do
			k=${configs[$(( (i + round - 1) % n ))]}
			t0=$(date +%s%N)
			check "round $round: $c via $k" measure_one "$c" "$k" "$round"
			echo "# $c via $k: $(( ($(date +%s%N) - t0) / 1000000 )) ms"
		done
		stop_upstream
	done
	done_rounds=$round
	[ $(($(date +%s) - round_s)) -le $longest ] || longest=$(($(date +%s) - round_s))
done
echo "@bench-param done_rounds $done_rounds"
echo "@bench-param seconds $(( $(date +%s) - start_s ))"
finish
