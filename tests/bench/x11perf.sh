# Sourced by tests/bench/bench.sh: the x11perf case.  A real X client
# (x11perf, from x11-apps) against Xvfb, in one run and interleaved over the
# rounds: direct, through 'x410-vsock run' on each engine, socat
# (UNIX-LISTEN,fork -> UNIX-CONNECT) and systemd-socket-proxyd (started by
# systemd-socket-activate, as a socket unit would).  Every relay gets a fresh
# process per round and serves a display of its own on the abstract socket,
# which is where libxcb looks first.  Uses bench.sh's W, PIDS, HZ, record,
# say, cpu_ticks.

PROXYD=""
for p in /lib/systemd/systemd-socket-proxyd /usr/lib/systemd/systemd-socket-proxyd; do
	[ -x "$p" ] && { PROXYD=$p; break; }
done
X11PERF_CONFIGS=()
X11PERF_NOTES=()
X11PERF_LABELS=()   # x11perf's own names of the tests, in the order run
X11PERF_VERSION=

# x_free_display: a display number nobody uses (socket, abstract name, lock).
X_NEXT=$(( 40000 + $$ % 10000 ))
x_free_display() {
	while grep -q "@/tmp/.X11-unix/X$X_NEXT\$" /proc/net/unix || [ -e "/tmp/.X11-unix/X$X_NEXT" ] ||
		[ -e "/tmp/.X$X_NEXT-lock" ]; do
		X_NEXT=$((X_NEXT + 1))
	done
	echo "$X_NEXT"
	X_NEXT=$((X_NEXT + 1))
}
x_listening() { grep -q "@/tmp/.X11-unix/X$1\$" /proc/net/unix; }
# x_no_children PID: no process has PID as its parent (field 4 of stat).
# Not from /proc/PID/task/*/children, which kernels without
# CONFIG_PROC_CHILDREN (this machine's) do not have.
x_no_children() {
	local f line rest
	for f in /proc/[0-9]*/stat; do
		read -r line 2>/dev/null <"$f" || continue
		rest=${line##*) }
		rest=${rest#* }
		[ "${rest%% *}" != "$1" ] || return 1
	done
}

# x_start_front CONFIG: sets XD (the display x11perf uses) and XF_PID.
x_start_front() {
	local cfg=$1 up=/tmp/.X11-unix/X$XVFB_N dir
	XF_PID=""
	if [ "$cfg" = direct ]; then
		XD=$XVFB_N
		return 0
	fi
	XD=$(x_free_display)
	dir=$W/x$XD
	mkdir -p "$dir"
	case $cfg in
	uring|epoll)
		"$X410" run --engine "$cfg" --socket-dir "$dir" --lock-dir "$dir" --connect "unix:$up" ":$XD" \
			2>"$dir/log" &
		;;
	socat)
		socat -b65536 "ABSTRACT-LISTEN:/tmp/.X11-unix/X$XD,fork" "UNIX-CONNECT:$up" 2>"$dir/log" &
		;;
	proxyd)
		systemd-socket-activate -l "@/tmp/.X11-unix/X$XD" "$PROXYD" "$up" 2>"$dir/log" &
		;;
	esac
	XF_PID=$!
	PIDS="$PIDS $XF_PID"
	wait_until 10 x_listening "$XD" || { cat "$dir/log" >&2; return 1; }
	case $cfg in
	uring|epoll) wait_until 10 grep -q serving "$dir/log" || return 1 ;;
	esac
}

x_stop_front() {
	[ -n "$XF_PID" ] || return 0
	kill "$XF_PID" 2>/dev/null || true
	wait "$XF_PID" 2>/dev/null || true
	XF_PID=""
}

# x_times_children FILE: user + system seconds of this shell's waited-for
# children, from the output of the builtin 'times' (which must run in this
# shell, not in a command substitution).
x_times_children() {
	awk 'NR == 2 { for (i = 1; i <= 2; i++) { split($i, t, "m"); s += t[1] * 60 + t[2] } print s }' "$1"
}

# x11perf_run CONFIG ROUND: one x11perf process, every test; records
# "x11:LABEL CONFIG ROUND RATE" (LABEL with _ for spaces), and what the run
# cost: "cpu:wall", "cpu:x11perf", "cpu:Xvfb", "cpu:relay" in seconds.
x11perf_run() {
	local cfg=$1 round=$2 out=$W/x11perf.out
	local c0 c1 t0 t1 x0 x1 r0 r1
	x_start_front "$cfg" || return 1
	x0=$(cpu_ticks "$XVFB_PID")
	[ -z "$XF_PID" ] || r0=$(cpu_ticks "$XF_PID")
	times >"$W/times.0"
	t0=$(date +%s%N)
	# shellcheck disable=SC2086
	if ! DISPLAY=:$XD timeout 900 x11perf -repeat 1 -time "$X11PERF_TIME" $X11PERF_TESTS >"$out" 2>&1; then
		say "x11perf via $cfg failed: $(tail -n 3 "$out")"
		x_stop_front
		return 1
	fi
	t1=$(date +%s%N)
	times >"$W/times.1"
	c0=$(x_times_children "$W/times.0")
	c1=$(x_times_children "$W/times.1")
	if [ -n "$XF_PID" ]; then
		# socat's child for the connection is counted once it is reaped
		wait_until 5 x_no_children "$XF_PID" || say "$cfg still has a child after x11perf: its CPU time is not counted"
		r1=$(cpu_ticks "$XF_PID")
		record cpu:relay "$cfg" "$round" "$(awk -v a="$r0" -v b="$r1" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) / hz }')"
	fi
	x1=$(cpu_ticks "$XVFB_PID")
	x_stop_front
	record cpu:wall "$cfg" "$round" "$(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", (b - a) / 1e9 }')"
	record cpu:x11perf "$cfg" "$round" "$(awk -v a="$c0" -v b="$c1" 'BEGIN { printf "%.3f", b - a }')"
	record cpu:Xvfb "$cfg" "$round" "$(awk -v a="$x0" -v b="$x1" -v hz="$HZ" 'BEGIN { printf "%.3f", (b - a) / hz }')"
	[ -n "$X11PERF_VERSION" ] || X11PERF_VERSION="x11perf $(sed -n 's/.*version \([0-9.]*\)$/\1/p' "$out" | head -n 1), $(sed -n 's/^The \(.*server version [0-9]*\) on .*/\1/p' "$out" | head -n 1) (Xvfb)"
	local line label rate
	while IFS= read -r line; do
		rate=$(echo "$line" | sed -n 's/.*( *\([0-9.]*\)\/sec): .*/\1/p')
		label=$(echo "$line" | sed -n 's/.*\/sec): *//p' | tr ' ' '_')
		[ -n "$rate" ] && [ -n "$label" ] || continue
		record "x11:$label" "$cfg" "$round" "$rate"
		case " ${X11PERF_LABELS[*]} " in *" $label "*) ;; *) X11PERF_LABELS+=("$label") ;; esac
	done <"$out"
	grep -q '/sec):' "$out" || { say "x11perf via $cfg printed no result: $(head -n 5 "$out")"; return 1; }
}

x11perf_measure() {
	local t
	for t in x11perf Xvfb; do
		command -v "$t" >/dev/null ||
			{ X11PERF_NOTES+=("x11perf: $t is not installed (apt-get install x11-apps xvfb)"); return 0; }
	done
	local cfg
	for cfg in "${AVAILABLE[@]}"; do X11PERF_CONFIGS+=("$cfg"); done
	if [ -z "$PROXYD" ]; then
		X11PERF_NOTES+=("proxyd: systemd-socket-proxyd is not installed (package systemd)")
	elif ! command -v systemd-socket-activate >/dev/null; then
		X11PERF_NOTES+=("proxyd: systemd-socket-activate is not installed (package systemd)")
	else
		X11PERF_CONFIGS+=(proxyd)
	fi
	Xvfb -displayfd 3 -nolisten tcp -noreset -screen 0 1024x768x24 3>"$W/xvfb.display" 2>"$W/xvfb.log" &
	XVFB_PID=$!
	PIDS="$PIDS $XVFB_PID"
	wait_until 10 test -s "$W/xvfb.display" || die "Xvfb did not start: $(cat "$W/xvfb.log")"
	XVFB_N=$(cat "$W/xvfb.display")
	[ -S "/tmp/.X11-unix/X$XVFB_N" ] || die "Xvfb :$XVFB_N has no socket /tmp/.X11-unix/X$XVFB_N"
	say "x11perf: Xvfb on :$XVFB_N, configurations ${X11PERF_CONFIGS[*]}, tests $X11PERF_TESTS"
	local round i n=${#X11PERF_CONFIGS[@]}
	for round in $(seq 1 "$ROUNDS"); do
		for i in $(seq 0 $((n - 1))); do
			cfg=${X11PERF_CONFIGS[$(( (i + round - 1) % n ))]}
			say "round $round/$ROUNDS: x11perf via $cfg"
			x11perf_run "$cfg" "$round" || die "x11perf via $cfg failed"
		done
	done
	kill "$XVFB_PID" 2>/dev/null || true
	wait "$XVFB_PID" 2>/dev/null || true
}

x11perf_has() { local x; for x in "${X11PERF_CONFIGS[@]}"; do [ "$x" = "$1" ] && return 0; done; return 1; }

# The targets of issue 11, ratio to direct, for the uring engine.
x11perf_target() {
	case $1 in
	PutImage_500x500*) echo 0.75 ;;
	GetImage_500x500*) echo 0.5 ;;
	esac
}

x11perf_table() {
	local header="| x11perf test (per second) | direct" sep="|---|---:" c
	for c in "${X11PERF_CONFIGS[@]}"; do
		[ "$c" = direct ] && continue
		header="$header | $c"; sep="$sep|---:"
	done
	local best_of=""
	x11perf_has socat && best_of="socat"
	x11perf_has proxyd && best_of="${best_of:+$best_of, }proxyd"
	if x11perf_has uring && [ -n "$best_of" ]; then header="$header | uring ÷ best of $best_of"; sep="$sep|---:"; fi
	echo "$header | target (uring ÷ direct) |"
	echo "$sep|---|"
	local label
	for label in "${X11PERF_LABELS[@]}"; do
		local d line t
		d=$(median "x11:$label" direct)
		t=$(x11perf_target "$label")
		line="| $(echo "$label" | tr '_' ' ') | $( [ -n "$d" ] && fmt "$d" || echo "–")"
		for c in "${X11PERF_CONFIGS[@]}"; do
			[ "$c" = direct ] && continue
			local v r mark=""
			v=$(median "x11:$label" "$c")
			if [ -z "$v" ]; then line="$line | –"; continue; fi
			r=$(ratio "$v" "$d")
			[ "$c" != uring ] || [ -z "$t" ] || mark=" $(meets "$r" '>=' "$t")"
			line="$line | $(fmt "$v") (${r}×)$mark"
		done
		if x11perf_has uring && [ -n "$best_of" ]; then
			local best=0 v
			for c in socat proxyd; do
				x11perf_has "$c" || continue
				v=$(median "x11:$label" "$c")
				best=$(awk -v a="$best" -v b="${v:-0}" 'BEGIN { print (b > a ? b : a) }')
			done
			local u
			u=$(ratio "$(median "x11:$label" uring)" "$best")
			line="$line | ${u}×$( [ "$u" = - ] || echo " $(meets "$u" '>=' 1)")"
		fi
		echo "$line | $( [ -n "$t" ] && echo "≥ ${t}×" || echo "–") |"
	done
}

# x11perf_busy PROCESS CONFIG: the median over the rounds of PROCESS's CPU
# seconds divided by the run's wall seconds (how many cores it kept busy);
# PROCESS "all" sums x11perf, Xvfb and the relay.
x11perf_busy() {
	awk -v p="$1" -v k="$2" '
		$2 != k { next }
		$1 == "cpu:wall" { wall[$3] = $4 }
		$1 == "cpu:" p || (p == "all" && ($1 == "cpu:x11perf" || $1 == "cpu:Xvfb" || $1 == "cpu:relay")) { cpu[$3] += $4; seen[$3] = 1 }
		END { for (r in seen) if (wall[r] > 0) printf "%.3f\n", cpu[r] / wall[r] }' "$R" | median_of_lines
}

# x11perf_cpu_table: the cores each process kept busy in each configuration;
# with a single test also the CPU time per operation of all three together,
# as a ratio to direct's (busy cores ÷ rate, so x11perf's set-up cancels).
x11perf_cpu_table() {
	local one="" d_per_op="" cfg
	[ ${#X11PERF_LABELS[@]} -eq 1 ] && one=${X11PERF_LABELS[0]}
	if [ -n "$one" ] && x11perf_has direct; then
		d_per_op=$(awk -v b="$(x11perf_busy all direct)" -v r="$(median "x11:$one" direct)" 'BEGIN { if (r > 0) print b / r }')
	fi
	echo "| configuration | x11perf | Xvfb | relay | all three$( [ -z "$d_per_op" ] || echo " | rate ÷ direct | CPU per operation ÷ direct") |"
	echo "|---|---:|---:|---:|---:$( [ -z "$d_per_op" ] || echo "|---:|---:")|"
	for cfg in "${X11PERF_CONFIGS[@]}"; do
		local line="| $cfg" p v
		for p in x11perf Xvfb relay all; do
			v=$(x11perf_busy "$p" "$cfg")
			line="$line | $( [ -n "$v" ] && printf '%.2f' "$v" || echo –)"
		done
		if [ -n "$d_per_op" ]; then
			local rate
			rate=$(median "x11:$one" "$cfg")
			line="$line | $(ratio "$rate" "$(median "x11:$one" direct)")×"
			line="$line | $(awk -v b="$(x11perf_busy all "$cfg")" -v r="$rate" -v d="$d_per_op" 'BEGIN { if (r > 0 && d > 0) printf "%.2f", b / r / d; else printf "-" }')×"
		fi
		echo "$line |"
	done
}

x11perf_raw() {
	echo "| test | $(printf '%s | ' "${X11PERF_CONFIGS[@]}" | sed 's/ | $//') |"
	echo "|---|$(printf -- '---:|%.0s' "${X11PERF_CONFIGS[@]}")"
	local label cfg line
	for label in "${X11PERF_LABELS[@]}"; do
		line="| $(echo "$label" | tr '_' ' ')"
		for cfg in "${X11PERF_CONFIGS[@]}"; do
			line="$line | $(awk -v c="x11:$label" -v k="$cfg" '$1 == c && $2 == k { printf "%s%s", s, $4; s = ", " }' "$R")"
		done
		echo "$line |"
	done
}

x11perf_generated() {
	echo "Generated by \`$CMDLINE\` on $(date -u '+%Y-%m-%d %H:%M UTC'), commit $commit."
	echo
	echo "$(machine_line "$X410" | sed 's/\.$/;/')" \
		"$X11PERF_VERSION," \
		"socat $(socat -V 2>/dev/null | sed -n 's/^socat version \([^ ]*\).*/\1/p')," \
		"systemd $(systemd-socket-activate --version 2>/dev/null | sed -n 's/^systemd \([0-9]*\).*/\1/p')."
	echo
	case $CFLAGS_USED in
	*sanitize*) echo "**Warning: this build uses sanitizers ($CFLAGS_USED): the figures are not representative.**"; echo ;;
	esac
	echo "\`x11perf -repeat 1 -time $X11PERF_TIME $X11PERF_TESTS\` against Xvfb (1024x768x24), one x11perf" \
		"process per configuration and round, $ROUNDS interleaved rounds (the order rotates), medians;" \
		"in parentheses the ratio to direct in the same run. uring and epoll are \`x410-vsock run --engine ...\`," \
		"socat is \`socat -b65536 ABSTRACT-LISTEN:...,fork UNIX-CONNECT:...\`, proxyd is" \
		"\`systemd-socket-activate -l @... systemd-socket-proxyd PATH\`; each a fresh process per round." \
		"Load average (1, 5, 15 min) at the start: $LOAD_START; at the end: $(cut -d' ' -f1-3 /proc/loadavg);" \
		"nice $(nice)."
	echo
	x11perf_table
	echo
	echo "Cores kept busy during the x11perf runs (CPU seconds ÷ wall seconds, medians over the rounds):" \
		"x11perf with \`timeout\`, Xvfb, and the relay with its threads and reaped children (socat's forks)." \
		"The machine has $(nproc) cores."
	echo
	x11perf_cpu_table
	echo
	if [ ${#X11PERF_NOTES[@]} -gt 0 ]; then
		echo "Not measured:"
		echo
		for n in "${X11PERF_NOTES[@]}"; do echo "- $n"; done
		echo
	fi
	echo "<details><summary>Every round (x11perf)</summary>"
	echo
	x11perf_raw
	echo
	echo "</details>"
}

# x11perf_write FILE: replace (or add) the x11perf section of FILE.
X11_BEGIN='<!-- BEGIN x11perf generated by tests/bench/bench.sh: do not edit by hand -->'
X11_END='<!-- END x11perf generated by tests/bench/bench.sh -->'
x11perf_write() {
	local f=$1
	if ! grep -qF "$X11_BEGIN" "$f"; then
		local section=$W/x11-section.md
		{
			echo "## x11perf: a real X client, direct and through each relay"
			echo
			echo "\`make bench\` (or \`tests/bench/bench.sh --cases x11perf\`) rewrites the part between"
			echo "the markers."
			echo
			echo "$X11_BEGIN"
			echo "$X11_END"
			echo
		} >"$section"
		# before the notes if there are any, else at the end
		if grep -q '^## Notes' "$f"; then
			awk -v s="$section" '/^## Notes/ && !done { while ((getline l < s) > 0) print l; done = 1 } { print }' \
				"$f" >"$f.new"
		else
			{ cat "$f"; echo; cat "$section"; } >"$f.new"
		fi
		mv "$f.new" "$f"
	fi
	awk -v b="$X11_BEGIN" -v e="$X11_END" -v g="$W/x11perf.md" '
		$0 == b { print; while ((getline l < g) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' "$f" >"$f.new"
	mv "$f.new" "$f"
}
