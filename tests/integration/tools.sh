#!/bin/bash
# The relay tests' own tools, end to end without a relay: each one works on a
# direct connection, and each one fails (exit 1, one clear line) when the
# bytes, the timing or the peer's behaviour are wrong.  If these did not
# fail, the relay tests could not either.
. "$top_srcdir/tests/lib.sh"

TT=${top_builddir:-.}/tests/tools
[ -x "$TT/tt-server" ] && [ -x "$TT/tt-client" ] || fatal "tools not built: run 'make check'"

# server NAME ARGS...: start tt-server on $TEST_TMP/NAME.sock, wait until it listens.
server() {
	local name=$1; shift
	"$TT/tt-server" --listen "unix:$TEST_TMP/$name.sock" --ready "$TEST_TMP/$name.ready" "$@" \
		2>"$TEST_TMP/$name.log" &
	SRV_PID=$!
	track "$SRV_PID"
	wait_for 5 test -s "$TEST_TMP/$name.ready" || { echo "# tt-server $name did not start" >&2; return 1; }
}

# stop_server PID: SIGTERM; its exit status says whether it saw wrong data.
stop_server() {
	kill "$1" 2>/dev/null
	local s=0 i
	for i in $(seq 1 250); do
		grep -q '^[0-9]* (.*) Z' "/proc/$1/stat" 2>/dev/null || [ ! -e "/proc/$1" ] && break
		sleep 0.02
	done
	kill -9 "$1" 2>/dev/null
	wait "$1" || s=$?
	return "$s"
}

client() { timeout 60 "$TT/tt-client" "$@" >"$TEST_TMP/client.out" 2>"$TEST_TMP/client.err"; }
# fails MESSAGE-REGEX: the last client run failed with exit 1 and that message.
fails() {
	local s=$?
	[ "$s" = 1 ] || { echo "# expected exit 1, got $s" >&2; return 1; }
	grep -Eq "^tt-client: ERROR: .*$1" "$TEST_TMP/client.err" ||
		{ echo "# stderr: $(cat "$TEST_TMP/client.err")" >&2; return 1; }
}

server echo
ECHO=$SRV_PID
server verify --in verify --expect 64M --send 64M
VERIFY=$SRV_PID

t_bulk_both_ways() {
	client bulk --connect "unix:$TEST_TMP/verify.sock" --send 64M --recv 64M &&
	grep -q '^sent=67108864 received=67108864 ' "$TEST_TMP/client.out"
}
check "bulk: 64 MiB each way at once, checked at both ends" t_bulk_both_ways

t_bulk_echo() {
	client bulk --connect "unix:$TEST_TMP/echo.sock" --send 16M --echo &&
	grep -Eq '^sent=16777216 received=16777216 .*digest_sent=([0-9a-f]+) digest_received=\1' "$TEST_TMP/client.out"
}
check "bulk: 16 MiB echo, same digest both ways" t_bulk_echo

t_client_detects_wrong_bytes() {
	# The echo server sends our own stream back; --recv expects the server's.
	client bulk --connect "unix:$TEST_TMP/echo.sock" --send 1M --recv 1M
	fails "received byte 0 is 0x[0-9a-f]+, expected 0x"
}
check "bulk: the client names the first wrong byte" t_client_detects_wrong_bytes

t_server_detects_wrong_bytes() {
	server wrongseed --in verify --seed 7 --expect 1M || return 1
	local pid=$SRV_PID
	client bulk --connect "unix:$TEST_TMP/wrongseed.sock" --send 1M --recv 0
	fails "peer closed|EOF after|reset|send after" || return 1
	! stop_server "$pid" && grep -q "ERROR: conn 1: byte 0 is" "$TEST_TMP/wrongseed.log"
}
check "bulk: the server names the first wrong byte and exits 1" t_server_detects_wrong_bytes

t_short_stream() {
	server short --in discard --send 100K || return 1
	client bulk --connect "unix:$TEST_TMP/short.sock" --send 0 --recv 1M
	fails "EOF after 102400 bytes, expected 1048576"
}
check "bulk: a stream that ends early is an error" t_short_stream

t_halfclose_ok() {
	server delayed --reply-delay-ms 500 || return 1
	client bulk --connect "unix:$TEST_TMP/delayed.sock" --send 256K --echo --min-reply-delay-ms 500 &&
	grep -Eq 'reply_after_eof_ms=(4[5-9][0-9]|[5-9][0-9][0-9]|[0-9]{4})$' "$TEST_TMP/client.out"
}
check "half-close: a reply 500 ms after our EOF arrives in full" t_halfclose_ok

t_halfclose_too_early() {
	client bulk --connect "unix:$TEST_TMP/echo.sock" --send 256K --echo --min-reply-delay-ms 500
	fails "the reply came [0-9]+ ms after our EOF, expected at least 500 ms"
}
check "half-close: a reply that is not delayed is detected" t_halfclose_too_early

t_cut_detected() {
	server stall --in discard --send 1G --stall-after 1M || return 1
	local pid=$SRV_PID
	client bulk --connect "unix:$TEST_TMP/stall.sock" --send 1G --recv 1G --expect-cut &
	local cpid=$!
	sleep 0.3
	kill -9 "$pid"
	wait "$pid" 2>/dev/null
	wait "$cpid" && grep -q '^cut=1 .*received=1048576 ' "$TEST_TMP/client.out"
}
check "bulk --expect-cut: a server killed midway ends the transfer with a correct prefix" t_cut_detected

t_cut_not_cut() {
	client bulk --connect "unix:$TEST_TMP/echo.sock" --send 1M --echo --expect-cut
	fails "the transfer completed .*: it was not cut"
}
check "bulk --expect-cut: a complete transfer is an error" t_cut_not_cut

t_pingpong() {
	client pingpong --connect "unix:$TEST_TMP/echo.sock" --count 2000 &&
	grep -Eq '^count=2000 size=32 seconds=[0-9.]+ rtps=[0-9]+ p50_us=[0-9.]+ p99_us=[0-9.]+$' "$TEST_TMP/client.out"
}
check "pingpong: 2000 round trips of 32 bytes, p50/p99" t_pingpong

t_pingpong_detects() {
	server x11 --in x11 || return 1
	client pingpong --connect "unix:$TEST_TMP/x11.sock" --count 10 --timeout 5
	fails "round trip|EOF after|read after"
}
check "pingpong: no echo is an error" t_pingpong_detects

t_mix() {
	client mix --connect "unix:$TEST_TMP/x11.sock" --requests 20000 &&
	grep -Eq '^requests=20000 syncs=[0-9]+ bytes=[0-9]+ seconds=' "$TEST_TMP/client.out"
}
check "mix: 20000 X11-like requests, replies checked" t_mix

t_mix_detects() {
	server x11b --in x11 --seed 9 || return 1
	local pid=$SRV_PID
	client mix --connect "unix:$TEST_TMP/x11b.sock" --requests 2000
	fails "reply byte [0-9]+ is 0x" || return 1
	! stop_server "$pid" && grep -q "request body byte 0 is" "$TEST_TMP/x11b.log"
}
check "mix: wrong request bodies and replies are detected at both ends" t_mix_detects

t_multi() {
	client multi --connect "unix:$TEST_TMP/echo.sock" --clients 64 --bytes 256K &&
	grep -q '^clients=64 bytes=262144 ' "$TEST_TMP/client.out"
}
check "multi: 64 clients echo 256 KiB each, checked" t_multi

t_multi_detects() {
	server cut --in echo --close-at-once || return 1
	client multi --connect "unix:$TEST_TMP/cut.sock" --clients 4 --bytes 64K
	fails "client [0-9]+: (EOF after 0 of 65536 bytes|send after|recv after)"
}
check "multi: a dropped client is an error" t_multi_detects

t_churn() {
	local before after
	before=$(fd_count "$ECHO")
	client churn --connect "unix:$TEST_TMP/echo.sock" --count 500 &&
	grep -Eq '^count=500 seconds=[0-9.]+ cps=[0-9]+$' "$TEST_TMP/client.out" || return 1
	wait_for 2 fds_at_most "$ECHO" "$before"
}
check "churn: 500 cycles, the server's fds come back" t_churn

t_probe() {
	client probe --connect "unix:$TEST_TMP/echo.sock" --expect served || return 1
	client probe --connect "unix:$TEST_TMP/cut.sock" --expect closed --within-ms 100 || return 1
	client probe --connect "unix:$TEST_TMP/missing.sock" --expect closed --within-ms 100 || return 1
	client probe --connect "unix:$TEST_TMP/cut.sock" --expect served
	fails "expected the connection to be served, it was closed"
}
check "probe: served, closed at once, missing, and the wrong expectation fails" t_probe

t_probe_hanging() {
	server mute --in none || return 1
	client probe --connect "unix:$TEST_TMP/mute.sock" --expect closed --timeout 2 --wait-ms 300
	fails "expected the connection to be closed, it was hanging" || return 1
	client probe --connect "unix:$TEST_TMP/mute.sock" --expect unserved --timeout 2 --wait-ms 300
}
check "probe: a server that never answers is 'hanging', which 'unserved' accepts" t_probe_hanging

t_slow() {
	server source --in none --send 64M || return 1
	client slow --connect "unix:$TEST_TMP/source.sock" --recv 64M --pause-ms 300 --ready "$TEST_TMP/slow.ready" &&
	test -s "$TEST_TMP/slow.ready" && grep -q '^received=67108864 ' "$TEST_TMP/client.out"
}
check "slow: a reader that pauses 300 ms and then checks 64 MiB" t_slow

# The clients that end on SIGTERM are bounded by their own --timeout, not by
# timeout(1): timeout forwards the signal and adds SIGCONTs, and a SIGCONT
# that lands while LeakSanitizer attaches to the exiting client (ASan
# builds) cancels its SIGSTOP and hangs the exit.
t_hold() {
	"$TT/tt-client" hold --connect "unix:$TEST_TMP/echo.sock" --clients 32 --timeout 20 \
		--ready "$TEST_TMP/hold.ready" >"$TEST_TMP/hold.out" 2>&1 &
	local pid=$!
	wait_for 5 test -s "$TEST_TMP/hold.ready" || return 1
	# A UNIX connect() completes in the listener's backlog: the server
	# accepts the 32 a little later (much later under ASan).
	wait_for 5 fds_at_least "$ECHO" 32 || { echo "# the server holds $(fd_count "$ECHO") fds" >&2; return 1; }
	kill "$pid"
	local s=0
	wait "$pid" || s=$?
	[ $s = 0 ] && grep -q '^clients=32 closed_by_peer=0$' "$TEST_TMP/hold.out" ||
		{ echo "# tt-client hold: exit status $s, said:" >&2; sed 's/^/#   /' "$TEST_TMP/hold.out" >&2; return 1; }
}
check "hold: 32 idle clients until SIGTERM" t_hold

t_hold_expect_close() {
	server holdsrv || return 1
	local spid=$SRV_PID
	"$TT/tt-client" hold --connect "unix:$TEST_TMP/holdsrv.sock" --clients 8 --expect-close --timeout 20 \
		--ready "$TEST_TMP/hold2.ready" >"$TEST_TMP/hold2.out" 2>&1 &
	local pid=$!
	wait_for 5 test -s "$TEST_TMP/hold2.ready" || return 1
	kill -9 "$spid"
	wait "$spid" 2>/dev/null
	wait "$pid" && grep -q '^clients=8 closed_by_peer=8$' "$TEST_TMP/hold2.out"
}
check "hold --expect-close: every held client sees its peer go" t_hold_expect_close

t_exhaust_unlimited() {
	# Without an fd limit every client is served at once: the tool must say
	# that the limit was never reached rather than pass.
	client exhaust --connect "unix:$TEST_TMP/echo.sock" --clients 20 --stall-ms 200
	fails "all 20 clients were served in phase 1: the fd limit was never reached"
}
check "exhaust: a run that never hits the fd limit is an error" t_exhaust_unlimited

t_exhaust_limited() {
	# tt-server itself under a low fd limit: it dies on EMFILE, so here the
	# point is only that phase 1 counts partial service and phase 2 waits.
	server slowaccept --in echo --accept-pause-ms 400 --accept-batch 5 || return 1
	client exhaust --connect "unix:$TEST_TMP/slowaccept.sock" --clients 20 --stall-ms 200 &&
	grep -Eq '^phase1_served=([0-9]|1[0-9]) clients=20 dropped=0$' "$TEST_TMP/client.out" &&
	grep -q '^phase2_served=' "$TEST_TMP/client.out"
}
check "exhaust: partial service in phase 1, the rest in phase 2" t_exhaust_limited

t_timeout() {
	server mute2 --in none || return 1
	client pingpong --connect "unix:$TEST_TMP/mute2.sock" --count 1 --timeout 1
	local s=$?
	[ "$s" = 1 ] && grep -q "ERROR: timeout: still ping-pong after 1 s" "$TEST_TMP/client.err"
}
check "every wait has a deadline: a silent peer is a timeout, exit 1" t_timeout

t_no_vsock() {
	client probe --connect vsock:2:6000 --expect closed
	fails "refusing 'vsock:2:6000': the test tools never use AF_VSOCK"
}
check "the tools refuse vsock addresses" t_no_vsock

t_tcp() {
	"$TT/tt-server" --listen tcp:127.0.0.1:0 --ready "$TEST_TMP/tcp.ready" 2>"$TEST_TMP/tcp.log" &
	local pid=$!
	track "$pid"
	wait_for 5 test -s "$TEST_TMP/tcp.ready" || return 1
	local port
	port=$(cut -d' ' -f2 "$TEST_TMP/tcp.ready")
	client bulk --connect "tcp:127.0.0.1:$port" --send 8M --echo
}
check "tcp loopback: a server on port 0 reports its port, 8 MiB echo" t_tcp

t_no_uring() {
	[ -x "$TT/no-uring" ] || { skip_check "no-uring not built (libseccomp missing)"; return 0; }
	command -v perl >/dev/null || { skip_check "perl missing"; return 0; }
	case $(uname -m) in x86_64|aarch64|riscv64|ppc64le|s390x) ;; *) skip_check "io_uring_setup number unknown here"; return 0;; esac
	# io_uring_setup(1, NULL): EFAULT when allowed, EPERM under the filter.
	local free blocked
	free=$(perl -e 'syscall(425, 1, 0); print $!+0')
	blocked=$("$TT/no-uring" perl -e 'syscall(425, 1, 0); print $!+0')
	[ "$blocked" = 1 ] && [ "$free" != 1 ] && ok "no-uring: io_uring_setup fails with EPERM under the filter (and only there)" ||
		not_ok "no-uring: io_uring_setup gave errno $blocked under the filter, $free without"
}
t_no_uring

# ---- the tools of the robustness cases and the chaos soak (issue 11)

t_stuck_request() {
	server flood --in x11 --flood || return 1
	local fpid=$SRV_PID
	"$TT/tt-client" stuck --connect "unix:$TEST_TMP/flood.sock" --clients 10 --timeout 20 \
		--ready "$TEST_TMP/stuck.ready" >"$TEST_TMP/stuck.out" 2>&1 &
	local pid=$!
	wait_for 5 test -s "$TEST_TMP/stuck.ready" || return 1
	client request --connect "unix:$TEST_TMP/flood.sock" --count 3 --wait-ms 2000 &&
	grep -Eq '^count=3 ms=[0-9.,]+ median_ms=[0-9.]+ max_ms=[0-9.]+$' "$TEST_TMP/client.out" || return 1
	# the floods are endless: the server is still writing to the stuck ones
	wait_for 5 fds_at_least "$fpid" 10 || { echo "# the flood server holds $(fd_count "$fpid") fds" >&2; return 1; }
	kill "$pid"
	local s=0
	wait "$pid" || s=$?
	[ $s = 0 ] && grep -q '^clients=10$' "$TEST_TMP/stuck.out" ||
		{ echo "# tt-client stuck: exit status $s, said:" >&2; sed 's/^/#   /' "$TEST_TMP/stuck.out" >&2; return 1; }
}
check "stuck + request: 10 clients flooded without reading, new requests answered" t_stuck_request

t_request_detects() {
	client request --connect "unix:$TEST_TMP/echo.sock" --count 1 --wait-ms 1000
	fails "request 0: reply byte 0 is" || return 1
	server mute2 --in none || return 1
	client request --connect "unix:$TEST_TMP/mute2.sock" --count 1 --wait-ms 300 --timeout 5
	fails "request 0: no reply after"
}
check "request: a wrong reply and no reply are errors" t_request_detects

t_reset() {
	server silent --in discard --send 64K --hold-open || return 1
	local spid=$SRV_PID before
	before=$(fd_count "$spid")
	client reset --connect "unix:$TEST_TMP/silent.sock" --send 1K &&
	grep -Eq '^sent=1024 unread_at_close=[1-9][0-9]*$' "$TEST_TMP/client.out" || return 1
	# the server sees the reset (its bytes were unread) and closes
	wait_for 2 fds_at_most "$spid" "$before"
}
check "reset: closes with unread bytes; a --hold-open server sees the reset" t_reset

t_hold_open() {
	server quiet --in echo --hold-open || return 1
	# the echo arrives, but no EOF follows ours: the client waits for it
	client bulk --connect "unix:$TEST_TMP/quiet.sock" --send 1K --echo --timeout 2
	[ $? = 1 ] && grep -q 'timeout\|deadline\|seconds' "$TEST_TMP/client.err" ||
		{ echo "# $(cat "$TEST_TMP/client.err")" >&2; return 1; }
}
check "--hold-open: the server never ends a connection after the client's EOF" t_hold_open

t_full_backlog() {
	server full --backlog 1 --no-accept --fill-backlog || return 1
	# a non-blocking connect says EAGAIN: bulk retries until its deadline
	client bulk --connect "unix:$TEST_TMP/full.sock" --send 1 --echo --timeout 2
	[ $? = 1 ] && grep -q 'connecting' "$TEST_TMP/client.err" ||
		{ echo "# $(cat "$TEST_TMP/client.err")" >&2; return 1; }
}
check "--fill-backlog: the listen queue is full, connects wait" t_full_backlog

t_chaos_direct() {
	[ -x "$TT/tt-chaos" ] || { echo "# tt-chaos not built" >&2; return 1; }
	# the clients straight to its own upstream, killed every ~1 s
	timeout 60 "$TT/tt-chaos" --connect "unix:$TEST_TMP/chaos.sock" --upstream "unix:$TEST_TMP/chaos.sock" \
		--seconds 3 --seed 7 --kill-every-ms 1000 >"$TEST_TMP/chaos.out" 2>"$TEST_TMP/chaos.err" ||
		{ echo "# $(head -n 5 "$TEST_TMP/chaos.err")" >&2; return 1; }
	echo "# $(tail -n 1 "$TEST_TMP/chaos.out")" >&2
	head -n 1 "$TEST_TMP/chaos.out" | grep -qx 'seed=7' &&
	tail -n 1 "$TEST_TMP/chaos.out" | grep -Eq ' complete=[1-9][0-9]* .* upstream_kills=[1-9][0-9]* .*errors=0$'
}
check "tt-chaos: direct to its own upstream, killed and restarted: no error, seed printed" t_chaos_direct

t_chaos_detects() {
	command -v socat >/dev/null || { skip_check "socat missing"; return 0; }
	# a relay that never passes a half-close on (and socat then closes
	# after its 0.5 s): echo connections hang or end early
	socat "UNIX-LISTEN:$TEST_TMP/noshut.sock,fork" "UNIX-CONNECT:$TEST_TMP/chaos2.sock,shut-none" 2>/dev/null &
	track $!
	wait_for 5 test -S "$TEST_TMP/noshut.sock" || return 1
	timeout 60 "$TT/tt-chaos" --connect "unix:$TEST_TMP/noshut.sock" --upstream "unix:$TEST_TMP/chaos2.sock" \
		--seconds 1 --seed 7 --kill-every-ms 0 --conn-timeout 3 >"$TEST_TMP/chaos.out" 2>"$TEST_TMP/chaos.err"
	[ $? = 1 ] && grep -Eq '^tt-chaos: ERROR: connection .*(still open after 3 s|ended early)' "$TEST_TMP/chaos.err" ||
		{ echo "# $(head -n 3 "$TEST_TMP/chaos.err")" >&2; return 1; }
}
check "tt-chaos: a relay that drops half-closes is caught" t_chaos_detects

stop_server "$VERIFY" || not_ok "the verify server saw wrong data"
stop_server "$ECHO" || not_ok "the echo server failed"
finish
