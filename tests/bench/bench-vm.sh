#!/bin/bash
# 'make bench-vm': the relay on the path users run, UNIX -> relay ->
# AF_VSOCK, measured in the qemu guest of 'make check-vm' (Debian's cloud
# kernel, vsock_loopback as the transport, one TCG CPU).  The guest half,
# tests/vm/guest/bench.sh, runs in one boot, interleaved over rounds: a
# client straight over AF_VSOCK (direct), the relay on each engine, and
# socat as the seed recipe runs it, for bulk each way, 32-byte ping-pong,
# the pipelined X11-like mix and x11perf against Xvfb behind a VSOCK
# stand-in for X410; and it counts the transport's packets with the
# kernel's tracepoint vsock:virtio_transport_alloc_pkt.  This half boots
# the guest, collects its figures and writes the table (medians, ratios to
# direct from the same boot) into doc/PERFORMANCE.md.
#
# Usage: tests/bench/bench-vm.sh [--rounds N] [--quick] [--cases "upload ..."]
#        [--output FILE] [--x410-vsock PATH] [--configure-flags FLAGS]
# Environment (set by 'make bench-vm'): VM_ENV, VM_INITRAMFS (tests/vm/lib-vm.sh).
# --quick: tiny workloads, one round, to check the harness (about a minute);
# it and --cases print the table but do not write --output.
set -euo pipefail

ROUNDS=
QUICK=0
X410_BIN=./x410-vsock
ALL_CASES="upload download pingpong mix putimage500 getimage500 prop noop"
CASES=$ALL_CASES
OUTPUT=""
CFLAGS_USED=""
here=$(cd "$(dirname "$0")" && pwd)

say() { echo "bench-vm: $*" >&2; }
die() { echo "bench-vm: ERROR: $*" >&2; exit 1; }

while [ $# -gt 0 ]; do
	case $1 in
	--rounds) ROUNDS=$2; shift 2 ;;
	--quick) QUICK=1; shift ;;
	--cases) CASES=$2; shift 2 ;;
	--output) OUTPUT=$2; shift 2 ;;
	--x410-vsock) X410_BIN=$2; shift 2 ;;
	--configure-flags) CFLAGS_USED=$2; shift 2 ;;
	-h|--help) sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
	*) die "unknown argument '$1'" ;;
	esac
done
if [ "$QUICK" = 1 ]; then default_rounds=1; else default_rounds=5; fi
ROUNDS=${ROUNDS:-$default_rounds}
[ "$ROUNDS" -ge 1 ] 2>/dev/null || die "--rounds needs a number >= 1"
for c in $CASES; do
	case " $ALL_CASES " in *" $c "*) ;; *) die "unknown case '$c' (one of: $ALL_CASES)" ;; esac
done
[ -n "$CASES" ] || die "--cases needs at least one case"
CMDLINE="make bench-vm"
ARGS_USED=""
[ "$QUICK" = 0 ] || ARGS_USED="--quick"
[ "$ROUNDS" = "$default_rounds" ] || ARGS_USED="${ARGS_USED:+$ARGS_USED }--rounds $ROUNDS"
[ "$CASES" = "$ALL_CASES" ] || ARGS_USED="${ARGS_USED:+$ARGS_USED }--cases '$CASES'"
[ -z "$ARGS_USED" ] || CMDLINE="$CMDLINE BENCH_VM_ARGS=\"$ARGS_USED\""

. "$here/bench-lib.sh"
. "$here/../vm/lib-vm.sh"

W=$(mktemp -d /tmp/x410-bench-vm.XXXXXX)
trap 'rm -rf "$W"' EXIT

# ------------------------------------------------------------------ the boot
# The whole run must stay under 10 minutes, building included: the guest
# starts no round that would end after BUDGET seconds (a full round takes
# about a minute on a lightly loaded 2-core machine; the report then says
# how many rounds ran), and the deadlines behind it end a guest that hangs.
if [ "$QUICK" = 1 ]; then BUDGET=${BENCH_VM_BUDGET:-90}; else BUDGET=${BENCH_VM_BUDGET:-420}; fi
export VMTEST_SCRIPT_TIMEOUT=$((BUDGET + 60)) VMTEST_TIMEOUT=$((BUDGET + 90))
export VM_APPEND="x410_bench=$ROUNDS:$QUICK:$(echo $CASES | tr ' ' ,):$BUDGET"
VM_NAME=bench-vm
say "booting the guest: $ROUNDS round(s) of: $CASES"
t0=$(date +%s)
vm_boot bench.sh | tee "$W/tap" | grep -Ev '^(ok |# bench.sh: @bench)' >&2 || true
took=$(( $(date +%s) - t0 ))
results=$VM_LOGDIR/$VM_NAME.results.log
[ -f "$results" ] || die "the guest left no report ($results)"
fails=$(grep -c '^not ok' "$W/tap" || true)
[ "$fails" = 0 ] || die "$fails measurement(s) or boot check(s) failed; see above and $VM_LOGDIR/$VM_NAME.*.log"

tr -d '\r' <"$results" >"$W/report"
R=$W/results
# "@bench CASE CONFIG ROUND METRIC VALUE" -> "CASE:METRIC CONFIG ROUND VALUE"
awk '$1 == "@bench" && NF == 6 { print $2 ":" $5, $3, $4, $6 }' "$W/report" >"$R"
[ -s "$R" ] || die "the guest reported no figures (see $results)"
param() { sed -n "s/^@bench-param $1 //p" "$W/report" | head -n1; }
pval() { param rounds | awk -v k="$1" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }'; }
TRACE=$(sed -n 's/^@bench-trace //p' "$W/report" | head -n1)
# A tracepoint whose output format changed would count nothing: say so
# rather than print a table of zeros.
case $TRACE in
none*|"") ;;
*) awk '$1 ~ /_pkts$/ { n += $4 } END { exit !(n > 0) }' "$R" ||
	die "the guest traced '$TRACE' but counted no packet: has its output format changed? (see $results)" ;;
esac

# ------------------------------------------------------------------ tables
CONFIGS="direct uring epoll socat"
RELAYS="uring epoll socat"
has_case() { case " $CASES " in *" $1 "*) return 0 ;; esac; return 1; }

# One row per case and figure: value (ratio to direct) per config.
speed_table() {
	echo "| case | direct | uring | epoll | socat | epoll ÷ uring |"
	echo "|---|---:|---:|---:|---:|---:|"
	local row name d line k v
	while IFS='|' read -r row name; do
		has_case "${row%%:*}" || continue
		d=$(median "$row" direct)
		line="| $name | $( [ -n "$d" ] && fmt "$d" || echo "–")"
		for k in $RELAYS; do
			v=$(median "$row" "$k")
			[ -n "$v" ] && line="$line | $(fmt "$v") ($(ratio "$v" "$d")×)" || line="$line | –"
		done
		echo "$line | $(ratio "$(median "$row" epoll)" "$(median "$row" uring)")× |"
	done <<-'EOF'
	upload:mbps|bulk upload, client → X410 (MB/s)
	download:mbps|bulk download, X410 → client (MB/s)
	pingpong:rtps|ping-pong, 32 bytes (round trips/s)
	pingpong:p50|ping-pong p50 (µs, lower is better)
	mix:rps|X11-like pipelined mix (requests/s)
	putimage500:ops|x11perf -putimage500 (PutImage 500×500/s)
	getimage500:ops|x11perf -getimage500 (GetImage 500×500/s)
	prop:ops|x11perf -prop (GetProperty/s)
	noop:ops|x11perf -noop (NoOperation/s)
	EOF
}

# per_msg CASE CONFIG METRIC: the median over the rounds of METRIC / msgs.
per_msg() {
	awk -v c="$1" -v k="$2" -v m="$3" '
		$2 == k && $1 == c ":msgs" { msgs[$3] = $4 }
		$2 == k && $1 == c ":" m { val[$3] = $4 }
		END { for (r in val) if (msgs[r] > 0) print val[r] / msgs[r] }' "$R" | sort -g |
		awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# bytes_per_pkt CASE CONFIG up|down
bytes_per_pkt() {
	local b p
	b=$(median "$1:$3_bytes" "$2"); p=$(median "$1:$3_pkts" "$2")
	[ -n "$p" ] && [ "$p" != 0 ] || return 0
	awk -v b="$b" -v p="$p" 'BEGIN { printf "%.0f", b / p }'
}
pfmt() { [ -n "$1" ] && awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 1) printf "%.2f", v; else if (v >= 0.01 || v == 0) printf "%.3f", v; else printf "%.5f", v }' || echo "–"; }

# packet_table up|down: data packets per message and bytes per packet, control
# packets per message, each config, each case.
packet_table() {
	local dir=$1 c k line
	echo "| case (message) | direct | uring | epoll | socat |"
	echo "|---|---:|---:|---:|---:|"
	for c in $CASES; do
		case $c in
		upload|download) line="| $c (64 KiB write)" ;;
		pingpong) line="| ping-pong (32-byte message)" ;;
		mix) line="| mix (request)" ;;
		*) line="| x11perf -$c (operation)" ;;
		esac
		for k in $CONFIGS; do
			local p b ctl
			p=$(per_msg "$c" "$k" "${dir}_pkts")
			if [ -z "$p" ]; then line="$line | –"; continue; fi
			b=$(bytes_per_pkt "$c" "$k" "$dir")
			ctl=$(per_msg "$c" "$k" "${dir}_ctl")
			if [ -z "$b" ]; then
				line="$line | no data, ctl $(pfmt "$ctl")"
			else
				line="$line | $(pfmt "$p") × $b B, ctl $(pfmt "$ctl")"
			fi
		done
		echo "$line |"
	done
}

raw_table() {
	local rows row k line
	rows=$(awk '{ print $1 }' "$R" | awk '!seen[$0]++')
	echo "| case:figure | direct | uring | epoll | socat |"
	echo "|---|---:|---:|---:|---:|"
	for row in $rows; do
		line="| $row"
		for k in $CONFIGS; do line="$line | $(rounds "$row" "$k")"; done
		echo "$line |"
	done
}

generated() {
	echo "Generated by \`$CMDLINE\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $(source_commit); the boot took $took s."
	echo
	echo "Host: $(machine_line "$X410_BIN" | sed 's/^Machine: //')"
	echo "Guest: Debian's cloud kernel $(param kernel) under qemu TCG, one CPU, 512 MB," \
		"vsock_loopback as the only transport; socat $(param socat)."
	echo
	case $CFLAGS_USED in
	*sanitize*) echo "**Warning: this build uses sanitizers ($CFLAGS_USED): the figures are not representative.**"; echo ;;
	esac
	echo "**The guest is one emulated CPU (TCG): absolute numbers mean nothing; compare the ratios" \
		"to direct, which come from the same boot.** Medians of $(param done_rounds) interleaved rounds$(
		[ "$(param done_rounds)" = "$ROUNDS" ] || echo " (of $ROUNDS asked: the time budget of $BUDGET s ran out)")." \
		"direct: tt-client over AF_VSOCK to tt-server on port 6000 (x11perf: straight to Xvfb's UNIX socket)." \
		"uring, epoll: \`x410-vsock run --engine E :5\` with its default upstream vsock:host:6000." \
		"socat: \`socat UNIX-LISTEN:/tmp/.X11-unix/X5,fork VSOCK-CONNECT:2:6000\` (the seed recipe, socat's default 8 KiB buffer)." \
		"Workloads: 64 KiB writes, bulk $(( $(pval bulk) / 1048576 )) MiB each way, ping-pong $(pval pingpong) round trips," \
		"mix $(pval mix) requests; x11perf \`-repeat 1 -reps N\` (N: putimage500 $(pval putimage500)," \
		"getimage500 $(pval getimage500), prop $(pval prop), noop $(pval noop)) against Xvfb 1024×768×24" \
		"behind \`vsock-peer listen 6000 forward /tmp/.X11-unix/X0\` as X410."
	echo
	speed_table
	echo
	case $TRACE in
	none*)
		echo "No packet counts: ${TRACE#none: }."
		;;
	"")
		echo "No packet counts: the guest did not say whether it could trace."
		;;
	*)
		echo "AF_VSOCK packets per message, counted by the guest kernel (tracepoint \`$TRACE\`," \
			"every packet vsock_loopback sends, with its length): \"p × B B, ctl c\" is p data packets" \
			"(RW) of B bytes on average, and c control packets (credit updates, connection set-up" \
			"and shutdown). A message is what the client writes at once: a 64 KiB write, one ping," \
			"one request of the mix, one operation as x11perf counts them (4 per rep of -putimage500 and -getimage500; its set-up included)."
		echo
		echo "Toward X410 (the relay's own sends on its AF_VSOCK socket; direct: the client's):"
		echo
		packet_table up
		echo
		echo "From X410 (the stand-in's sends; the relay only reads them, its reads show in the control packets it causes):"
		echo
		packet_table down
		;;
	esac
	echo
	echo "<details><summary>Every round</summary>"
	echo
	raw_table
	echo
	echo "(mbps MB/s, rtps round trips/s, p50 µs, rps requests/s, ops x11perf's rate; msgs, *_pkts, *_ctl counts, *_bytes bytes.)"
	echo
	echo "</details>"
}

generated >"$W/generated.md"
cat "$W/generated.md"

BEGIN_MARK='<!-- BEGIN generated by tests/bench/bench-vm.sh: do not edit by hand -->'
END_MARK='<!-- END generated by tests/bench/bench-vm.sh -->'
if [ -z "$OUTPUT" ]; then
	:
elif [ "$QUICK" = 1 ] || [ "$CASES" != "$ALL_CASES" ]; then
	say "--quick or --cases: '$OUTPUT' left as it is"
else
	[ -f "$OUTPUT" ] || die "'$OUTPUT' does not exist"
	if ! grep -qF "$BEGIN_MARK" "$OUTPUT"; then
		{
			echo
			echo "## Over AF_VSOCK, in the qemu guest"
			echo
			echo "\`make bench-vm\` (tests/bench/bench-vm.sh, tests/vm/guest/bench.sh) measures the path"
			echo "users run, UNIX → relay → AF_VSOCK, in the guest of \`make check-vm\`. The guest is"
			echo "one TCG CPU: absolute numbers mean nothing, only the ratios to direct from the same"
			echo "boot do. The table between the markers is rewritten by every run; notes go outside them."
			echo
			echo "$BEGIN_MARK"
			echo "$END_MARK"
		} >>"$OUTPUT"
	fi
	replace_generated "$OUTPUT" "$BEGIN_MARK" "$END_MARK" "$W/generated.md"
	say "wrote $OUTPUT"
fi
say "took $took s in the guest"
