# Helpers of the guest's relay tests (relay.sh, sockopt.sh); sourced after
# tests/lib.sh.  The relay serves display :5 with its production default
# upstream, vsock:host:6000 = X410 display 0; with vsock_loopback as the only
# transport, CID 2 is this guest, where vsock-peer stands in for X410.

peer=$VM_BIN/vsock-peer
ENGINES="uring epoll"
X5=/tmp/.X11-unix/X5

# 'x410-vsock run --help' must work: when it does not, the callers fail
# (with the reason in $NOT_BUILT), they never skip.
relay_built() {
	local out
	out=$(timeout 10 "$X410_VSOCK" run --help 2>&1) && return 0
	NOT_BUILT="'x410-vsock run --help' fails: $(echo "$out" | head -n1)"
	return 1
}

load_loopback() {
	[ -e /sys/module/vsock_loopback ] || /usr/sbin/modprobe vsock_loopback ||
		fatal "cannot load vsock_loopback"
}

# start_relay ENGINE [RUN-OPTIONS...]: x410-vsock -v run --engine ENGINE
# OPTIONS :5 in the background ($RELAY_PID, log in $RELAY_LOG), and wait for
# its socket.  Returns 1 (and keeps the reason in $RELAY_FAIL) when it did
# not start.  RELAY_PREFIX may hold a command to run it under (vsock-peer rt).
RELAY_PID=
start_relay() {
	local engine=$1; shift
	RELAY_LOG=$TEST_TMP/relay.$engine.$(date +%s%N).log
	rm -f "$X5"
	${RELAY_PREFIX:-} "$X410_VSOCK" -v run --engine "$engine" "$@" :5 >"$RELAY_LOG" 2>&1 &
	RELAY_PID=$!
	track $RELAY_PID
	if ! wait_for 10 test -S "$X5"; then
		RELAY_FAIL=$(grep -m1 -E 'ERROR|error' "$RELAY_LOG" || head -n1 "$RELAY_LOG")
		stop_relay
		return 1
	fi
	return 0
}

# engine_not_built ENGINE: after start_relay failed, is this engine absent
# from the build (io_uring in a build without liburing: a skip), rather than
# broken (a failure)?  Decided by the build's own statement of its engines,
# never by the failed start's message: a broken engine's EINVAL is a failure.
engine_not_built() {
	if [ "$1" = uring ] && "$X410_VSOCK" --version | grep -q '^engines: epoll only'; then
		NOT_BUILT="built without liburing: no io_uring engine"
		return 0
	fi
	return 1
}

stop_relay() {
	[ -n "$RELAY_PID" ] || return 0
	kill -TERM "$RELAY_PID" 2>/dev/null
	local i
	for i in $(seq 50); do kill -0 "$RELAY_PID" 2>/dev/null || break; sleep 0.1; done
	kill -KILL "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null
	RELAY_PID=
}

# The relay's log on stderr as TAP comments, for a failed check.
show_relay_log() { sed 's/^/# relay: /' "$RELAY_LOG" >&2; }

# listen_6000 MODE...: a stand-in for X410 on VSOCK port 6000 serving one
# connection ($LISTENER_PID, stdout in $LISTENER_OUT).
LISTENER_PID=
listen_6000() {
	local ready=$TEST_TMP/ready.$(date +%s%N)
	LISTENER_OUT=$TEST_TMP/listener.$(date +%s%N).out
	timeout 60 "$peer" listen -n 1 -t 50 -r "$ready" 6000 "$@" >"$LISTENER_OUT" 2>&1 &
	LISTENER_PID=$!
	track $LISTENER_PID
	wait_for 10 test -e "$ready" || { echo "# the vsock listener did not start" >&2; cat "$LISTENER_OUT" >&2; return 1; }
}

# wait_listener: the stand-in has served its connection and exited.
wait_listener() {
	local status=0
	wait "$LISTENER_PID" || status=$?
	LISTENER_PID=
	[ $status -eq 0 ] || { echo "# the vsock listener failed ($status):" >&2; sed 's/^/# listener: /' "$LISTENER_OUT" >&2; }
	return $status
}

ms_now() { echo $(( $(date +%s%N) / 1000000 )); }
