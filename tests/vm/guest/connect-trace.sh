#!/bin/bash
# The order of the relay's system calls on its VSOCK upstream socket, on
# each engine, seen by strace: SO_SNDBUF and SO_RCVBUF set before
# connect(), connect() = -1 EINPROGRESS, both set again at once, and
# getsockopt(SO_ERROR) once the connect has ended.  From Linux 5.5 on,
# connect() assigns the transport and hv_sock's init resets both sizes to
# its 24 KiB, so the second setsockopt() is the one hv_sock sizes its rings
# from; vsock_loopback, the transport here, resets nothing, so this checks
# the order, not hv_sock.  The io_uring engine waits for the connect with
# an IORING_OP_POLL_ADD, which is no system call of its own: strace sees
# its io_uring_enter(), not traced here.  The -v line says the sizes
# requested and those in force after the second setsockopt().
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/vm/guest/relay-lib.sh"

STRACE=/usr/bin/strace
relay_built || fatal "$NOT_BUILT"
[ -x "$STRACE" ] || fatal "strace is not in the guest image ('make check-vm' adds it: mkinitramfs.sh --with $STRACE)"
load_loopback

# vsock_calls TRACE: the calls on the relay's first VSOCK socket that
# connects, from its socket() to its getsockopt(SO_ERROR), as
#   SEQ <word> <word> ...      (set-SO_SNDBUF, connect=EINPROGRESS, ...)
#   LINE <the strace line>     every call on that socket, in order
# strace -f prefixes each line with the caller's pid.
vsock_calls() {
	awk '
	function arg1(s) { s = substr(s, index(s, "(") + 1); return substr(s, 1, index(s, ",") - 1) }
	{ sub(/^[0-9]+ +/, "") }
	/^socket\(AF_VSOCK,/ && $NF ~ /^[0-9]+$/ { fd = $NF; seq[fd] = ""; lines[fd] = ""; next }
	/^(setsockopt|getsockopt|connect)\(/ {
		f = arg1($0)
		if (!(f in seq)) next
		lines[f] = lines[f] "LINE " $0 "\n"
		w = ""
		if ($0 ~ /^setsockopt\(.*SO_SNDBUF/) w = "set-SO_SNDBUF"
		else if ($0 ~ /^setsockopt\(.*SO_RCVBUF/) w = "set-SO_RCVBUF"
		else if ($0 ~ /^connect\(.*= -1 EINPROGRESS/) w = "connect=EINPROGRESS"
		else if ($0 ~ /^connect\(/) w = "connect=other"
		else if ($0 ~ /^getsockopt\(.*SO_ERROR/) w = "get-SO_ERROR"
		if (w != "") seq[f] = seq[f] " " w
		if (w == "get-SO_ERROR") { print "SEQ" seq[f]; printf "%s", lines[f]; exit }
	}'
}

WANT="SEQ set-SO_SNDBUF set-SO_RCVBUF connect=EINPROGRESS set-SO_SNDBUF set-SO_RCVBUF get-SO_ERROR"

# stop_traced_relay: SIGTERM to the relay itself (strace, on a SIGTERM of
# its own, would detach and leave it running), then strace's end.
stop_traced_relay() {
	local child i
	child=$(cat /proc/"$RELAY_PID"/task/*/children 2>/dev/null | awk '{ print $1 }')
	[ -n "$child" ] && kill -TERM "$child" 2>/dev/null
	for i in $(seq 50); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
	stop_relay
}

# One connection through the relay to a stand-in for X410 (vsock-peer).
t_connection() {
	local out
	listen_6000 reply || return 1
	out=$(printf ping | timeout 30 "$peer" connect -t 20 "unix:$X5" cat 2>"$TEST_TMP/trace-client.err")
	wait_listener || return 1
	[ "$out" = "got 4 bytes: ping" ] || { echo "# client got: '$out'" >&2; show_relay_log; return 1; }
}

t_order() {
	local calls
	calls=$(vsock_calls <"$TRACE")
	sed -n 's/^LINE /# strace: /p' <<<"$calls"
	[ "$(head -n1 <<<"$calls")" = "$WANT" ] || {
		echo "# expected: $WANT" >&2
		echo "# got:      $(head -n1 <<<"$calls")" >&2
		grep -E 'AF_VSOCK|SO_(SNDBUF|RCVBUF|ERROR)' "$TRACE" | head -n 30 | sed 's/^/# trace: /' >&2
		return 1
	}
}

t_logged() {
	local want='vsock buffers: 65536 requested, in force SO_SNDBUF=131072 SO_RCVBUF=131072 (set before connect() and again after it started)'
	grep -qF "$want" "$RELAY_LOG" || { echo "# no line with: $want" >&2; show_relay_log; return 1; }
	grep -m1 -F "$want" "$RELAY_LOG" | sed 's/^/# relay: /'
}

for engine in $ENGINES; do
	TRACE=$TEST_TMP/strace.$engine
	if RELAY_PREFIX="$STRACE -f -o $TRACE -e trace=socket,connect,setsockopt,getsockopt" \
		start_relay "$engine" --vsock-buffer 65536; then
		check "[$engine] a connection through the relay under strace works" t_connection
		check "[$engine] vsock upstream: setsockopt(SO_SNDBUF/SO_RCVBUF), connect() = -1 EINPROGRESS, setsockopt(SO_SNDBUF/SO_RCVBUF) again, getsockopt(SO_ERROR)" t_order
		check "[$engine] -v logs the sizes requested and in force after the second setsockopt()" t_logged
		stop_traced_relay
	elif engine_not_built "$engine"; then
		for what in "connection under strace" "order of the calls" "logged sizes"; do
			skip_check "[$engine] $what: $NOT_BUILT"
		done
	else
		not_ok "[$engine] the relay starts under strace: $RELAY_FAIL"
	fi
done

finish
