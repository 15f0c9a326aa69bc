#!/bin/bash
# The relay's VSOCK socket options, read from the relay's own socket
# (vsock-peer sockopt: pidfd_getfd + getsockopt): SO_SNDBUF/SO_RCVBUF are
# already set while the connect is still in progress (hv_sock sizes its
# VMBus rings when the host answers, so later is too late; connect-trace.sh
# checks that they are set before connect() and again after), the relay's
# -v log reports the same effective sizes, SO_VM_SOCKETS_CONNECT_TIMEOUT is
# the --connect-timeout, and the connect timeout is honoured.
#
# To catch a connect in progress on vsock_loopback, which answers at once,
# its kworker is held back: RT throttling off, a SCHED_FIFO busy loop on the
# only CPU (vsock-peer spin), the relay and the clients above it.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/vm/guest/relay-lib.sh"

relay_built || fatal "$NOT_BUILT"
load_loopback
[ "$(nproc)" = 1 ] || fatal "the hold-back of kworkers needs exactly one CPU"

RT_RUNTIME=$(cat /proc/sys/kernel/sched_rt_runtime_us)
restore_rt() { echo "$RT_RUNTIME" >/proc/sys/kernel/sched_rt_runtime_us; }
trap 'restore_rt; test_cleanup' EXIT

# hold_back SECONDS CMD...: CMD runs (real-time) while no kworker may.
hold_back() {
	local status=0
	echo -1 >/proc/sys/kernel/sched_rt_runtime_us
	timeout 30 "$peer" spin "$@" || status=$?
	restore_rt
	return $status
}

# sockopt_field FILE NAME: the value of NAME on the one vsock socket listed.
sockopt_field() { awk -v k="$2" '{ for (i = 1; i < NF; i++) if ($i == k) print $(i + 1) }' "$1"; }

# The options on the relay's socket while the connect is held back, with
# --vsock-buffer 64K --connect-timeout 5: the kernel doubles SO_SNDBUF and
# SO_RCVBUF values (below net.core.[wr]mem_max) for its bookkeeping.
t_during_connect() {
	local so=$TEST_TMP/so.during
	listen_6000 reply || return 1
	hold_back 2 10 bash -c "\"$peer\" connect -t 20 unix:$X5 cat </dev/null >$TEST_TMP/so.client 2>&1 &
		sleep 0.5; \"$peer\" sockopt $RELAY_PID >$so 2>&1; wait"
	wait_listener || return 1
	sed 's/^/# relay socket while connecting: /' "$so"
	[ "$(grep -c '^fd ' "$so")" = 1 ] || { echo "# expected exactly one vsock socket" >&2; return 1; }
	SO_DURING=$so
	[ "$(sockopt_field "$so" peer)" = - ] || { echo "# the connect was not held back" >&2; return 1; }
}

t_buffers() {
	[ -n "${SO_DURING:-}" ] || return 1
	[ "$(sockopt_field "$SO_DURING" sndbuf)" = 131072 ] && [ "$(sockopt_field "$SO_DURING" rcvbuf)" = 131072 ]
}

t_timeout_opt() {
	[ -n "${SO_DURING:-}" ] || return 1
	[ "$(sockopt_field "$SO_DURING" connect_timeout_ms)" = 5000 ]
}

t_connected_after() {
	grep -qx 'got 0 bytes: ' "$TEST_TMP/so.client" || { sed 's/^/# client: /' "$TEST_TMP/so.client" >&2; show_relay_log; return 1; }
}

t_logged_sizes() {
	wait_for 5 grep -q 131072 "$RELAY_LOG" || { show_relay_log; return 1; }
	grep -m1 131072 "$RELAY_LOG" | sed 's/^/# relay: /'
}

# The default --vsock-buffer (256 KiB): what the kernel grants is
# 2 * min(256 KiB, net.core.wmem_max / rmem_max), or 2 * 256 KiB with
# SO_SNDBUFFORCE/SO_RCVBUFFORCE (root).
t_default_buffers() {
	local so=$TEST_TMP/so.default w r snd rcv
	w=$(cat /proc/sys/net/core/wmem_max) r=$(cat /proc/sys/net/core/rmem_max)
	listen_6000 hold || return 1
	timeout 20 "$peer" connect -t 15 "unix:$X5" hold </dev/null >/dev/null 2>&1 &
	local client=$!
	wait_for 10 sh -c "\"$peer\" sockopt $RELAY_PID 2>/dev/null | grep -q 'peer 2:6000'" || { show_relay_log; kill $client; return 1; }
	"$peer" sockopt "$RELAY_PID" >"$so" 2>&1
	kill "$client" "$LISTENER_PID" 2>/dev/null; wait "$client" "$LISTENER_PID" 2>/dev/null; LISTENER_PID=
	sed "s/^/# relay socket (net.core.wmem_max=$w rmem_max=$r): /" "$so"
	snd=$(sockopt_field "$so" sndbuf) rcv=$(sockopt_field "$so" rcvbuf)
	{ [ "$snd" = $((2 * (w < 262144 ? w : 262144))) ] || [ "$snd" = 524288 ]; } &&
	{ [ "$rcv" = $((2 * (r < 262144 ? r : 262144))) ] || [ "$rcv" = 524288 ]; }
}

# With the worker held back for 2.5 s and --connect-timeout 0.5, the relay
# gives up after about 0.5 s, on its own: not when the hold-back ends.
t_connect_timeout() {
	local out=$TEST_TMP/ct.client ms
	listen_6000 hold || return 1
	hold_back 3 10 bash -c "t0=\$(date +%s%N); \"$peer\" connect -t 20 unix:$X5 hold </dev/null >$out 2>&1;
		echo elapsed_ms \$(( (\$(date +%s%N) - t0) / 1000000 )) >>$out"
	kill "$LISTENER_PID" 2>/dev/null; wait "$LISTENER_PID" 2>/dev/null; LISTENER_PID=
	ms=$(sed -n 's/^elapsed_ms //p' "$out")
	echo "# the client was closed after $ms ms"
	[ -n "$ms" ] && [ "$ms" -ge 400 ] && [ "$ms" -lt 2000 ] || { sed 's/^/# client: /' "$out" >&2; show_relay_log; return 1; }
	wait_for 5 grep -Eqi 'timed? ?out' "$RELAY_LOG" || { show_relay_log; return 1; }
	grep -m1 -Ei 'timed? ?out' "$RELAY_LOG" | sed 's/^/# relay: /'
}

for engine in $ENGINES; do
	SO_DURING=
	if RELAY_PREFIX="$peer rt 30" start_relay "$engine" --vsock-buffer 65536 --connect-timeout 5; then
		check "[$engine] the relay's VSOCK socket exists while its connect is held back" t_during_connect
		check "[$engine] --vsock-buffer 64K: SO_SNDBUF/SO_RCVBUF are 128 KiB (doubled by the kernel) before the connect completes" t_buffers
		check "[$engine] SO_VM_SOCKETS_CONNECT_TIMEOUT is --connect-timeout 5 (5000 ms)" t_timeout_opt
		check "[$engine] the held-back connect completes afterwards and the connection works" t_connected_after
		check "[$engine] the -v log reports the effective buffer size (131072)" t_logged_sizes
		stop_relay
		if start_relay "$engine"; then
			check "[$engine] the default --vsock-buffer 256K gives what the kernel grants for 256 KiB" t_default_buffers
			stop_relay
		else
			not_ok "[$engine] the relay starts: $RELAY_FAIL"
		fi
		if RELAY_PREFIX="$peer rt 30" start_relay "$engine" --connect-timeout 0.5; then
			check "[$engine] --connect-timeout 0.5 is honoured: the client is closed after ~0.5 s with a log line" t_connect_timeout
			stop_relay
		else
			not_ok "[$engine] the relay starts with --connect-timeout 0.5: $RELAY_FAIL"
		fi
	elif engine_not_built "$engine"; then
		for what in "VSOCK socket while connecting" "buffers before connect" "SO_VM_SOCKETS_CONNECT_TIMEOUT" \
			"connect completes" "logged buffer size" "default buffer" "connect timeout honoured"; do
			skip_check "[$engine] $what: $NOT_BUILT"
		done
	else
		not_ok "[$engine] the relay starts: $RELAY_FAIL"
	fi
done

finish
