#!/bin/bash
# The relay benchmark ('make bench'): in one run, interleaved over several
# rounds, the same workloads go
#   direct   client -> tt-server (no relay)
#   uring    client -> x410-vsock run --engine uring -> tt-server
#   epoll    client -> x410-vsock run --engine epoll -> tt-server
#   socat    client -> socat -b65536 UNIX-LISTEN:...,fork UNIX-CONNECT:... -> tt-server
# over UNIX sockets (the relay's VSOCK side cannot be exercised on a build
# machine; tests/vm does that).  Each measurement gets a fresh relay process.
# The table (medians over the rounds, ratios to direct, the targets of the
# relay issue) replaces the generated part of doc/PERFORMANCE.md.
#
# The case x11perf measures a real X client instead: x11perf (x11-apps)
# against Xvfb, direct and through each configuration above plus
# systemd-socket-proxyd (under systemd-socket-activate), the tests in
# --x11perf-tests, interleaved rounds, medians; its table goes into its own
# section of doc/PERFORMANCE.md.
#
# Usage: tests/bench/bench.sh [--rounds N] [--quick] [--configs "direct uring epoll socat"]
#        [--cases "upload download pingpong mix multi churn idle x11perf"]
#        [--x11perf-tests "-putimage500 -getimage500 -prop -noop"] [--x11perf-time SECONDS]
#        [--x410-vsock PATH] [--tools DIR] [--output FILE] [--configure-flags FLAGS]
# --cases runs only those cases (the other rows show '–'; --output is then
# not written: the table in it stays whole), except that x11perf's own
# section is written whenever x11perf runs.
set -euo pipefail

ROUNDS=5
QUICK=0
CONFIGS="direct uring epoll socat"
ALL_CASES="upload download pingpong mix multi churn idle x11perf"
CASES=$ALL_CASES
X11PERF_TESTS="-putimage500 -getimage500 -prop -noop"
X11PERF_TIME=""
X410=${X410_VSOCK:-./x410-vsock}
TOOLS=./tests/tools
OUTPUT=""
CFLAGS_USED=""
CMDLINE="make bench"

while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--configs) CONFIGS=$2; shift 2 ;;
	--cases) CASES=$2; shift 2 ;;
	--x410-vsock) X410=$2; shift 2 ;;
	--tools) TOOLS=$2; shift 2 ;;
	--output) OUTPUT=$2; shift 2 ;;
	--configure-flags) CFLAGS_USED=$2; shift 2 ;;
	--x11perf-tests) X11PERF_TESTS=$2; shift 2 ;;
	--x11perf-time) X11PERF_TIME=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) echo "bench: ERROR: unknown argument '$1'" >&2; exit 2 ;;
	esac
done
[ "$ROUNDS" -ge 1 ] 2>/dev/null || { echo "bench: ERROR: --rounds needs a number >= 1" >&2; exit 2; }
for c in $CASES; do
	case " $ALL_CASES " in *" $c "*) ;; *) echo "bench: ERROR: unknown case '$c' (one of: $ALL_CASES)" >&2; exit 2 ;; esac
done
[ -n "$CASES" ] || { echo "bench: ERROR: --cases needs at least one case" >&2; exit 2; }
BENCH_ARGS_USED=""
[ "$ROUNDS" = 5 ] || BENCH_ARGS_USED="--rounds $ROUNDS"
[ "$CASES" = "$ALL_CASES" ] || BENCH_ARGS_USED="${BENCH_ARGS_USED:+$BENCH_ARGS_USED }--cases '$CASES'"
[ -z "$BENCH_ARGS_USED" ] || CMDLINE="$CMDLINE BENCH_ARGS=\"$BENCH_ARGS_USED\""

# Workload sizes.
if [ "$QUICK" = 1 ]; then
	BULK=256M PP=5000 MIX=5000 CLIENTS=64 CLIENT_BYTES=1M CHURN=500 IDLE=256
	X11PERF_TIME=${X11PERF_TIME:-1}
	CMDLINE="$CMDLINE (--quick)"
else
	BULK=1G PP=20000 MIX=100000 CLIENTS=256 CLIENT_BYTES=1M CHURN=2000 IDLE=256
	X11PERF_TIME=${X11PERF_TIME:-2}
fi
# the tt-client cases, and whether x11perf runs
X11PERF=0
TT_CASES=""
for c in $CASES; do
	if [ "$c" = x11perf ]; then X11PERF=1; else TT_CASES="$TT_CASES $c"; fi
done
LOAD_START=$(cut -d' ' -f1-3 /proc/loadavg)
CHUNK=64K

. "$(dirname "$0")/bench-lib.sh"

say() { echo "bench: $*" >&2; }
die() { echo "bench: ERROR: $*" >&2; exit 1; }

for t in tt-server tt-client; do
	[ -x "$TOOLS/$t" ] || die "$TOOLS/$t is not built (make tests/tools/$t)"
done

W=$(mktemp -d /tmp/x410-bench.XXXXXX)
PIDS=""
cleanup() {
	local p
	for p in $PIDS; do kill "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$W"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

bytes() { # 1G -> 1073741824
	local v=$1
	case $v in
	*G) echo $(( ${v%G} * 1024 * 1024 * 1024 )) ;;
	*M) echo $(( ${v%M} * 1024 * 1024 )) ;;
	*K) echo $(( ${v%K} * 1024 )) ;;
	*) echo "$v" ;;
	esac
}
BULK_BYTES=$(bytes "$BULK")
HZ=$(getconf CLK_TCK)

wait_until() { # SECONDS COMMAND...
	local end=$(( $(date +%s%N) / 1000000 + $1 * 1000 )); shift
	until "$@" 2>/dev/null; do
		[ $(( $(date +%s%N) / 1000000 )) -lt "$end" ] || return 1
		sleep 0.01
	done
}
alive() { [ -e "/proc/$1" ] && ! grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null; }

# ------------------------------------------------------------------ upstreams

start_upstream() { # NAME ARGS...
	local name=$1; shift
	"$TOOLS/tt-server" --listen "unix:$W/$name.sock" --ready "$W/$name.ready" --chunk "$CHUNK" "$@" \
		2>"$W/$name.log" &
	PIDS="$PIDS $!"
	wait_until 5 test -s "$W/$name.ready" || die "tt-server $name did not start"
}
start_upstream sink --in discard
start_upstream source --in discard --fast --send "$BULK"
start_upstream echo --in echo
start_upstream x11 --in x11

# ------------------------------------------------------------------ configs

NOTES=()
AVAILABLE=()
DISPLAY_N=20

# start_front CONFIG UPSTREAM-NAME: sets FRONT (the address clients use) and
# FRONT_PID (the relay's PID, empty for direct).
start_front() {
	local cfg=$1 up=$W/$2.sock
	FRONT_PID=""
	if [ "$cfg" = direct ]; then
		FRONT=unix:$up
		return 0
	fi
	DISPLAY_N=$((DISPLAY_N + 1))
	local dir=$W/r$DISPLAY_N
	mkdir -p "$dir"
	local sock=$dir/X$DISPLAY_N
	case $cfg in
	socat)
		socat -b65536 "UNIX-LISTEN:$sock,fork" "UNIX-CONNECT:$up" 2>"$dir/log" &
		;;
	uring|epoll)
		"$X410" run --engine "$cfg" --socket-dir "$dir" --lock-dir "$dir" --no-abstract \
			--connect "unix:$up" ":$DISPLAY_N" 2>"$dir/log" &
		;;
	esac
	FRONT_PID=$!
	FRONT=unix:$sock
	FRONT_LOG=$dir/log
	if ! wait_until 10 test -S "$sock" || ! alive "$FRONT_PID"; then
		cat "$dir/log" >&2
		return 1
	fi
	# The relay says 'serving' once it listens; socat listens right after bind.
	[ "$cfg" = socat ] && sleep 0.05 || wait_until 10 grep -q serving "$dir/log" || return 1
}

stop_front() {
	[ -n "$FRONT_PID" ] || return 0
	kill "$FRONT_PID" 2>/dev/null || true
	wait "$FRONT_PID" 2>/dev/null || true
	FRONT_PID=""
}

# CPU seconds (x100 = ticks at HZ 100): own + reaped children (socat forks).
cpu_ticks() { sed 's/.*) //' "/proc/$1/stat" | awk '{ print $12 + $13 + $14 + $15 }'; }

# PSS in kB of a process and (socat) its children: all of it (pss_kb), or
# only the anonymous part (pss_kb PID Pss_Anon), the process's own memory:
# the file-backed rest (libc, the binary) is shared with every other process
# mapping the same files, so it depends on what else runs on the machine.
pss_kb() {
	local total=0 p field=${2:-Pss}
	for p in "$1" $(cat /proc/"$1"/task/*/children 2>/dev/null); do
		total=$((total + $(awk -v f="$field:" '$1 == f { print $2 }' "/proc/$p/smaps_rollup" 2>/dev/null || echo 0)))
	done
	echo "$total"
}

for cfg in $CONFIGS; do
	case $cfg in
	direct) AVAILABLE+=(direct) ;;
	socat)
		if command -v socat >/dev/null; then AVAILABLE+=(socat)
		else NOTES+=("socat: not installed"); fi
		;;
	uring|epoll)
		if ! "$X410" run --help >/dev/null 2>&1; then
			why=$("$X410" run --help 2>&1 | head -n 1 || true)
			NOTES+=("$cfg: 'x410-vsock run' is not available in this build ($why)")
		elif start_front "$cfg" echo; then
			stop_front
			AVAILABLE+=("$cfg")
		else
			why=$(grep -m1 ERROR "$FRONT_LOG" || head -n 1 "$FRONT_LOG" || true)
			NOTES+=("$cfg: the relay does not start with --engine $cfg: $why")
			FRONT_PID=""
		fi
		;;
	*) die "unknown config '$cfg'" ;;
	esac
done
say "configurations: ${AVAILABLE[*]}"
for n in "${NOTES[@]}"; do say "skipped: $n"; done

# ------------------------------------------------------------------ cases

R=$W/results   # lines: case config round value
: >"$R"
record() { echo "$1 $2 $3 $4" >>"$R"; }

client() { # OUTFILE ARGS...
	local out=$1; shift
	timeout 300 "$TOOLS/tt-client" "$@" --timeout 280 >"$out" 2>"$out.err" ||
		{ say "tt-client $* failed: $(cat "$out.err")"; return 1; }
}
field() { sed -n "s/.*\\b$2=\\([0-9.]*\\).*/\\1/p" "$1"; }

measure() { # CASE CONFIG ROUND
	local case=$1 cfg=$2 round=$3 o=$W/out c0 c1
	case $case in
	upload)
		start_front "$cfg" sink || return 1
		c0=$( [ -n "$FRONT_PID" ] && cpu_ticks "$FRONT_PID" || echo 0)
		client "$o" bulk --connect "$FRONT" --send "$BULK" --recv 0 --fast --discard --chunk "$CHUNK" || return 1
		record upload "$cfg" "$round" "$(field "$o" mbps)"
		;;
	download)
		start_front "$cfg" source || return 1
		c0=$( [ -n "$FRONT_PID" ] && cpu_ticks "$FRONT_PID" || echo 0)
		client "$o" bulk --connect "$FRONT" --send 0 --recv "$BULK" --discard --chunk "$CHUNK" || return 1
		record download "$cfg" "$round" "$(field "$o" mbps)"
		;;
	pingpong)
		start_front "$cfg" echo || return 1
		client "$o" pingpong --connect "$FRONT" --count "$PP" --size 32 || return 1
		record pingpong "$cfg" "$round" "$(field "$o" rtps)"
		record p50 "$cfg" "$round" "$(field "$o" p50_us)"
		record p99 "$cfg" "$round" "$(field "$o" p99_us)"
		;;
	mix)
		start_front "$cfg" x11 || return 1
		client "$o" mix --connect "$FRONT" --requests "$MIX" || return 1
		record mix "$cfg" "$round" "$(field "$o" rps)"
		;;
	multi)
		start_front "$cfg" echo || return 1
		client "$o" multi --connect "$FRONT" --clients "$CLIENTS" --bytes "$CLIENT_BYTES" --fast --chunk "$CHUNK" || return 1
		record multi "$cfg" "$round" "$(field "$o" mbps)"
		;;
	churn)
		start_front "$cfg" echo || return 1
		client "$o" churn --connect "$FRONT" --count "$CHURN" || return 1
		record churn "$cfg" "$round" "$(field "$o" cps)"
		;;
	idle)
		[ "$cfg" != direct ] || return 0
		start_front "$cfg" echo || return 1
		"$TOOLS/tt-client" hold --connect "$FRONT" --clients "$IDLE" --ready "$W/hold.ready" --timeout 120 \
			>"$W/hold.out" 2>&1 &
		local hp=$!
		rm -f "$W/hold.ready"
		wait_until 60 test -s "$W/hold.ready" || { kill "$hp"; say "hold failed: $(cat "$W/hold.out")"; return 1; }
		sleep 0.3
		record pss "$cfg" "$round" "$(pss_kb "$FRONT_PID")"
		record pss_anon "$cfg" "$round" "$(pss_kb "$FRONT_PID" Pss_Anon)"
		kill "$hp"
		wait "$hp" 2>/dev/null || true
		;;
	esac
	if [ "$case" = upload ] || [ "$case" = download ]; then
		if [ -n "$FRONT_PID" ]; then
			sleep 0.3   # socat's parent reaps its child (and its CPU time) on SIGCHLD
			c1=$(cpu_ticks "$FRONT_PID")
			record "cpu_$case" "$cfg" "$round" "$((c1 - c0))"
		fi
	fi
	stop_front
}

start_s=$(date +%s)
for round in $(seq 1 "$ROUNDS"); do
	# Rotate the order of the configurations from round to round, so that
	# none always runs first (warm caches, CPU frequency).
	n=${#AVAILABLE[@]}
	for c in $TT_CASES; do
		for i in $(seq 0 $((n - 1))); do
			cfg=${AVAILABLE[$(( (i + round - 1) % n ))]}
			say "round $round/$ROUNDS: $c via $cfg"
			measure "$c" "$cfg" "$round" || { stop_front; die "$c via $cfg failed"; }
		done
	done
done
# shellcheck source=tests/bench/x11perf.sh
. "$(dirname "$0")/x11perf.sh"
[ "$X11PERF" = 0 ] || x11perf_measure
say "took $(( $(date +%s) - start_s )) s"

# ------------------------------------------------------------------ table

spread() { # CASE CONFIG -> "min–max"
	awk -v c="$1" -v k="$2" '$1 == c && $2 == k { print $4 }' "$R" | sort -g |
		awk 'NR == 1 { lo = $1 } { hi = $1 } END { if (NR) printf "%s–%s", lo, hi }'
}
has() { local x; for x in "${AVAILABLE[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }
meets() { # RATIO OP TARGET
	awk -v r="$1" -v op="$2" -v t="$3" 'BEGIN { if (r == "-") exit 1; if (op == ">=") exit !(r + 0 >= t); exit !(r + 0 <= t) }' &&
		echo "✓" || echo "✗"
}

# cpu seconds per GiB over upload + download
cpu_per_gib() { # CONFIG
	local u d
	u=$(median cpu_upload "$1"); d=$(median cpu_download "$1")
	[ -n "$u" ] && [ -n "$d" ] || return 0
	awk -v u="$u" -v d="$d" -v hz="$HZ" -v b="$BULK_BYTES" 'BEGIN { printf "%.3f", (u + d) / hz / (2 * b / 1073741824) }'
}

RELAYS=()
for c in uring epoll socat; do has "$c" && RELAYS+=("$c"); done

table() {
	local header="| case | direct" sep="|---|---:" c
	for c in "${RELAYS[@]}"; do header="$header | $c"; sep="$sep|---:"; done
	has uring && has epoll && { header="$header | epoll ÷ uring"; sep="$sep|---:"; }
	echo "$header | target (relay ÷ direct) |"
	echo "$sep|---|"
	# throughput-like rows: higher is better, ratio to direct
	local row name unit target thr
	while IFS='|' read -r row name unit target thr; do
		local d line
		d=$(median "$row" direct)
		line="| $name ($unit) | $( [ -n "$d" ] && fmt "$d" || echo "–")"
		for c in "${RELAYS[@]}"; do
			local v r mark=""
			v=$(median "$row" "$c")
			if [ -z "$v" ]; then line="$line | –"; continue; fi
			r=$(ratio "$v" "$d")
			[ "$c" = socat ] || [ -z "$thr" ] || mark=" $(meets "$r" '>=' "$thr")"
			line="$line | $(fmt "$v") (${r}×)$mark"
		done
		if has uring && has epoll; then
			local eu
			eu=$(ratio "$(median "$row" epoll)" "$(median "$row" uring)")
			line="$line | ${eu}×$( [ "$eu" = - ] || echo " $(meets "$eu" '>=' 0.85)")"
		fi
		echo "$line | $target |"
	done <<-'EOF'
	upload|bulk upload, client → server|MB/s|≥ 0.6×|0.6
	download|bulk download, server → client|MB/s|≥ 0.6×|0.6
	pingpong|ping-pong, 32 bytes|round trips/s|≥ 0.45×|0.45
	mix|X11-like pipelined mix|requests/s|≥ 0.6×|0.6
	multi|256-client echo|MB/s|≥ 0.85×|0.85
	churn|connection churn (connect, 1-byte round trip, close)|conn/s|≥ 0.5×|0.5
	EOF
	# latency rows: lower is better, no target
	for row in p50 p99; do
		local d line
		d=$(median "$row" direct)
		line="| ping-pong $row (µs) | $( [ -n "$d" ] && fmt "$d" || echo "–")"
		for c in "${RELAYS[@]}"; do
			local v
			v=$(median "$row" "$c")
			[ -n "$v" ] && line="$line | $(fmt "$v") ($(ratio "$v" "$d")×)" || line="$line | –"
		done
		has uring && has epoll && line="$line | $(ratio "$(median "$row" epoll)" "$(median "$row" uring)")×"
		echo "$line | – |"
	done
	# relay cost rows: absolute targets
	local line="| relay CPU per GiB relayed (s) | –"
	for c in "${RELAYS[@]}"; do
		local v
		v=$(cpu_per_gib "$c")
		if [ -z "$v" ]; then line="$line | –"; continue; fi
		line="$line | $v$( [ "$c" = socat ] || echo " $(meets "$v" '<=' 0.15)")"
	done
	has uring && has epoll && line="$line | $(ratio "$(cpu_per_gib epoll)" "$(cpu_per_gib uring)")×"
	echo "$line | ≤ 0.15 s/GiB |"
	line="| relay PSS with $IDLE idle clients (MB) | –"
	for c in "${RELAYS[@]}"; do
		local v
		v=$(median pss "$c")
		if [ -z "$v" ]; then line="$line | –"; continue; fi
		local mb
		mb=$(awk -v k="$v" 'BEGIN { printf "%.2f", k / 1024 }')
		line="$line | $mb$( [ "$c" = socat ] || echo " $(meets "$mb" '<=' 2)")"
	done
	has uring && has epoll && line="$line | $(ratio "$(median pss epoll)" "$(median pss uring)")×"
	echo "$line | ≤ 2 MB |"
	line="| … of which anonymous (Pss_Anon, MB) | –"
	for c in "${RELAYS[@]}"; do
		local v
		v=$(median pss_anon "$c")
		[ -n "$v" ] && line="$line | $(awk -v k="$v" 'BEGIN { printf "%.2f", k / 1024 }')" || line="$line | –"
	done
	has uring && has epoll && line="$line | $(ratio "$(median pss_anon epoll)" "$(median pss_anon uring)")×"
	echo "$line | – (the relay's own memory; the rest is shared files) |"
}

raw() {
	echo "| case | $(printf '%s | ' "${AVAILABLE[@]}" | sed 's/ | $//') |"
	echo "|---|$(printf -- '---:|%.0s' "${AVAILABLE[@]}")"
	local c cfg line
	for c in upload download pingpong p50 p99 mix multi churn cpu_upload cpu_download pss pss_anon; do
		line="| $c"
		for cfg in "${AVAILABLE[@]}"; do
			line="$line | $(rounds "$c" "$cfg")"
		done
		echo "$line |"
	done
}

commit=$(source_commit)

generated() {
	echo "Generated by \`$CMDLINE\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit."
	echo
	machine_line "$X410"
	echo
	case $CFLAGS_USED in
	*sanitize*) echo "**Warning: this build uses sanitizers ($CFLAGS_USED): the figures are not representative.**"; echo ;;
	esac
	echo "Medians of $ROUNDS interleaved rounds; in parentheses the ratio to direct in the same run." \
		"✓/✗: the relay target of issue 3 (epoll ÷ uring: within 15 %, issue 4)." \
		"Every measurement uses a fresh relay process; upstream and client are tests/tools (tt-server, tt-client)," \
		"UNIX sockets on both sides, ${CHUNK}B writes, bulk $BULK each way, ping-pong $PP round trips," \
		"mix $MIX requests, $CLIENTS clients × $CLIENT_BYTES, churn $CHURN connections."
	echo
	table
	echo
	if [ ${#NOTES[@]} -gt 0 ]; then
		echo "Not measured:"
		echo
		for n in "${NOTES[@]}"; do echo "- $n"; done
		echo
	fi
	echo "<details><summary>Every round</summary>"
	echo
	raw
	echo
	echo "(MB/s, round trips/s, µs, requests/s, conn/s; cpu_* in clock ticks at $HZ Hz; pss, pss_anon in kB.)"
	echo
	echo "</details>"
}

TT_ALL="upload download pingpong mix multi churn idle"
if [ -n "$TT_CASES" ]; then
	generated >"$W/generated.md"
	cat "$W/generated.md"
fi
if [ "$X11PERF" = 1 ]; then
	x11perf_generated >"$W/x11perf.md"
	echo
	cat "$W/x11perf.md"
fi

BEGIN_MARK='<!-- BEGIN generated by tests/bench/bench.sh: do not edit by hand -->'
END_MARK='<!-- END generated by tests/bench/bench.sh -->'
if [ -n "$OUTPUT" ] && [ "$(echo $TT_CASES)" != "$TT_ALL" ]; then
	[ -z "$TT_CASES" ] || say "only some cases (--cases): the main table of '$OUTPUT' left as it is"
elif [ -n "$OUTPUT" ]; then
	if [ ! -s "$OUTPUT" ] || ! grep -qF "$BEGIN_MARK" "$OUTPUT"; then
		{
			echo "# Performance"
			echo
			echo "How fast the relay is compared with a direct connection and with socat, on this"
			echo "project's own benchmark (\`make bench\`, tests/bench/bench.sh). The table between"
			echo "the markers is rewritten by every run; notes go outside them."
			echo
			echo "$BEGIN_MARK"
			echo "$END_MARK"
			echo
			echo "## Notes"
			echo
			echo "- The benchmark relays UNIX to UNIX. The real upstream is hv_sock (VSOCK), whose"
			echo "  throughput is bounded by the VMBus ring size (\`--vsock-buffer\`), not measured here."
		} >"$OUTPUT.new"
		[ ! -s "$OUTPUT" ] || { echo; echo "## Previous content"; echo; cat "$OUTPUT"; } >>"$OUTPUT.new"
		mv "$OUTPUT.new" "$OUTPUT"
	fi
	replace_generated "$OUTPUT" "$BEGIN_MARK" "$END_MARK" "$W/generated.md"
	say "wrote $OUTPUT"
fi
if [ -n "$OUTPUT" ] && [ "$X11PERF" = 1 ] && [ -s "$OUTPUT" ]; then
	x11perf_write "$OUTPUT"
	say "wrote the x11perf section of $OUTPUT"
fi
