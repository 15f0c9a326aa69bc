#!/bin/bash
# The relay over real AF_VSOCK with its production default upstream
# (vsock:host:6000, X410 display 0), on each engine: a real X client through
# it gives the same answers as direct, 64 MiB each way arrive intact,
# half-closes are forwarded in both directions without cutting the other
# one, and an upstream that does not listen closes the client at once with
# the message that says why.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/vm/guest/relay-lib.sh"

relay_built || fatal "$NOT_BUILT"
load_loopback

# X410's screen: an Xvfb, reached through a VSOCK listener (vsock-peer forward).
Xvfb :0 -nolisten tcp -noreset -screen 0 800x600x24 >"$TEST_TMP/xvfb.log" 2>&1 &
track $!
wait_for 30 xdpyinfo -display :0 >/dev/null 2>&1 || fatal "Xvfb did not start: $(tail -n3 "$TEST_TMP/xvfb.log")"
xdpyinfo -display :0 | grep -v '^name of display:' >"$TEST_TMP/direct"

t_banner() {
	grep -q 'X410 display 0' "$RELAY_LOG" && grep -Eq 'vsock[^0-9]*2:6000' "$RELAY_LOG" ||
		{ show_relay_log; return 1; }
}

t_xdpyinfo() {
	listen_6000 forward /tmp/.X11-unix/X0 || return 1
	timeout 60 xdpyinfo -display :5 2>"$TEST_TMP/xd.err" | grep -v '^name of display:' >"$TEST_TMP/relayed"
	wait_listener || return 1
	[ -s "$TEST_TMP/relayed" ] && cmp -s "$TEST_TMP/direct" "$TEST_TMP/relayed" || {
		sed 's/^/# xdpyinfo: /' "$TEST_TMP/xd.err" >&2
		diff "$TEST_TMP/direct" "$TEST_TMP/relayed" | head -n 20 | sed 's/^/# /' >&2
		show_relay_log
		return 1
	}
}

# stream_field FILE sent|recv: "BYTES HASH"
stream_field() { sed -n "s/^$2 \([0-9]* hash [0-9a-f]*\)$/\1/p" "$1"; }

t_bulk() {
	local size=$((64 * 1024 * 1024)) c s
	listen_6000 stream $size 2 || return 1
	c=$TEST_TMP/bulk.client
	timeout 90 "$peer" connect -t 80 "unix:$X5" stream $size 1 >"$c" 2>&1 || { sed 's/^/# /' "$c" >&2; show_relay_log; return 1; }
	wait_listener || return 1
	s=$LISTENER_OUT
	echo "# client sent $(stream_field "$c" sent), X410 stand-in received $(stream_field "$s" recv) ($(sed -n 's/^seconds //p' "$c") s)"
	echo "# X410 stand-in sent $(stream_field "$s" sent), client received $(stream_field "$c" recv)"
	[ "$(stream_field "$c" sent)" = "$(stream_field "$s" recv)" ] &&
	[ "$(stream_field "$s" sent)" = "$(stream_field "$c" recv)" ] &&
	[ "$(stream_field "$c" sent | cut -d' ' -f1)" = $size ] &&
	[ "$(stream_field "$s" sent | cut -d' ' -f1)" = $size ]
}

# note_order FILE FIRST SECOND: FIRST was noted before SECOND.
note_order() {
	local a b
	a=$(grep -n -m1 "^note: $2" "$1" | cut -d: -f1)
	b=$(grep -n -m1 "^note: $3" "$1" | cut -d: -f1)
	[ -n "$a" ] && [ -n "$b" ] && [ "$a" -lt "$b" ] || { sed 's/^/# client: /' "$1" >&2; return 1; }
}

# The client ends its side first; X410 answers 1 s after that EOF (longer
# than socat's 0.5 s teardown): the answer must still arrive.
t_half_close_up() {
	local out
	listen_6000 reply-after 1000 || return 1
	out=$(printf ping | timeout 30 "$peer" connect -t 20 "unix:$X5" cat 2>"$TEST_TMP/hcu.err")
	wait_listener || return 1
	[ "$out" = "got 4 bytes: ping" ] || { echo "# client got: '$out'" >&2; show_relay_log; return 1; }
	note_order "$TEST_TMP/hcu.err" "input ended" "peer ended"
}

# X410 ends its side first; the client keeps sending for 1 s more, and
# X410 must still receive it.
t_half_close_down() {
	local out
	listen_6000 speak-first || return 1
	out=$( { sleep 1; printf late; } | timeout 30 "$peer" connect -t 20 "unix:$X5" cat 2>"$TEST_TMP/hcd.err")
	wait_listener || return 1
	[ "$out" = "hello from server" ] || { echo "# client got: '$out'" >&2; show_relay_log; return 1; }
	grep -qx "got 4 bytes after own shutdown: late" "$LISTENER_OUT" || { sed 's/^/# X410 stand-in: /' "$LISTENER_OUT" >&2; return 1; }
	note_order "$TEST_TMP/hcd.err" "peer ended" "input ended"
}

# Nobody on port 6000 (loopback answers with a reset at once).
t_not_listening() {
	local t0 t1
	t0=$(ms_now)
	timeout 20 "$peer" connect -t 15 "unix:$X5" hold </dev/null >"$TEST_TMP/nl.out" 2>&1
	t1=$(ms_now)
	echo "# the client was closed after $((t1 - t0)) ms"
	if grep -q "connect to" "$TEST_TMP/nl.out"; then cat "$TEST_TMP/nl.out" >&2; return 1; fi
	[ $((t1 - t0)) -lt 1000 ] || return 1
	wait_for 5 grep -q "X410 is not listening on vsock port 6000 (display 0)" "$RELAY_LOG" || { show_relay_log; return 1; }
	grep -m1 "X410 is not listening" "$RELAY_LOG" | sed 's/^/# relay: /'
}

t_still_serving() {
	local out
	listen_6000 echo || return 1
	out=$(printf 'still here' | timeout 20 "$peer" connect -t 15 "unix:$X5" cat 2>/dev/null)
	wait_listener || return 1
	[ "$out" = "still here" ]
}

CHECKS=(
	"t_banner|starts serving :5 with the default upstream X410 display 0 = vsock 2:6000"
	"t_xdpyinfo|xdpyinfo through the relay and VSOCK equals xdpyinfo direct (Xvfb behind a VSOCK listener)"
	"t_bulk|64 MiB each way at once arrive intact (hash of what was sent = hash of what arrived)"
	"t_half_close_up|the client's half-close reaches X410, whose answer 1 s later still arrives"
	"t_half_close_down|X410's half-close reaches the client, whose data 1 s later still arrives"
	"t_not_listening|X410 not listening: the client is closed within 1 s, and the log says 'X410 is not listening on vsock port 6000 (display 0)'"
	"t_still_serving|the relay still serves after that"
)

for engine in $ENGINES; do
	if start_relay "$engine"; then
		for c in "${CHECKS[@]}"; do
			check "[$engine] ${c#*|}" "${c%%|*}"
		done
		stop_relay
	elif engine_not_built "$engine"; then
		for c in "${CHECKS[@]}"; do
			skip_check "[$engine] ${c#*|}: $NOT_BUILT"
		done
	else
		not_ok "[$engine] the relay starts: $RELAY_FAIL"
	fi
done

finish
