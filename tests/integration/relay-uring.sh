#!/bin/bash
# Every relay case (tests/integration/relay-cases.sh) on the uring engine,
# and what only this engine does.
RELAY_ENGINE=uring
. "$top_srcdir/tests/integration/relay-cases.sh"

c_splice() {
	# Bulk data from a UNIX source goes through a pipe by splice(2)
	# (src/relay_uring_splice.c), each direction on its own.  The bytes
	# must all arrive, in order, both ways at once, and the pipes must be
	# closed with the connection.
	start_server up --in verify --expect 16M --send 16M || return 1
	RELAY_GLOBAL=-v start_relay "$UP" || return 1
	local base
	base=$(fd_count "$RELAY_PID")
	client bulk bulk --connect "$RELAY_ADDR" --send 16M --recv 16M --timeout 60 || return 1
	relay_fds_back "$base" || return 1
	local d
	for d in "client to upstream" "upstream to client"; do
		grep -q "client #1: $d by splice" "$RELAY_LOG" ||
			{ diag "no '$d by splice' in the log (-v):"; grep 'client #1' "$RELAY_LOG" | head -n 5 | sed 's/^/#   /' >&2; return 1; }
	done
	stop_relay && stop_server "$SRV_PID" up || return 1

	# X410_VSOCK_URING_SPLICE=0: the same bytes, copied.
	start_server up2 --in verify --expect 16M --send 16M || return 1
	RELAY_PREFIX="env X410_VSOCK_URING_SPLICE=0" RELAY_GLOBAL=-v start_relay "$UP" || return 1
	client bulk2 bulk --connect "$RELAY_ADDR" --send 16M --recv 16M --timeout 60 || return 1
	! grep 'by splice' "$RELAY_LOG" || { diag "X410_VSOCK_URING_SPLICE=0 still spliced"; return 1; }
	stop_relay && stop_server "$SRV_PID" up2 || return 1

	# A 4-entry ring: splicing directions whose polls (POLLIN on the
	# source and POLLOUT on the sink, both at once) often find no SQE
	# must still move every byte and end.
	start_server up3 --in echo || return 1
	RELAY_PREFIX="env X410_VSOCK_URING_ENTRIES=4" RELAY_GLOBAL=-v start_relay "$UP" || return 1
	base=$(fd_count "$RELAY_PID")
	client multi3 multi --connect "$RELAY_ADDR" --clients 8 --bytes 8M --timeout 60 || return 1
	relay_fds_back "$base" || return 1
	grep -q 'by splice' "$RELAY_LOG" || { diag "nothing spliced with a 4-entry ring"; return 1; }
	stop_relay && stop_server "$SRV_PID" up3
}

c_no_sqe_run() {
	c_fd_wedge || return 1
	stop_relay || return 1
	# One in 2 for the data: a splicing direction whose POLLOUT finds no
	# SQE while its POLLIN is in flight must still move its pipe on.
	X410_VSOCK_URING_SQE_FAIL=2
	RELAY_PREFIX="" RELAY_GLOBAL=-v start_relay "$UP" || return 1
	grep -q 'X410_VSOCK_URING_SQE_FAIL' "$RELAY_LOG" ||
		{ diag "the relay did not take X410_VSOCK_URING_SQE_FAIL"; return 1; }
	local base
	base=$(fd_count "$RELAY_PID")
	# --keep-open: no EOF comes to move a direction whose poll found no
	# SQE; only the engine's own redo can.
	client multi multi --connect "$RELAY_ADDR" --clients 32 --bytes 4M --keep-open --timeout 30 || return 1
	relay_fds_back "$base" || return 1
	grep -q 'by splice' "$RELAY_LOG" || { diag "nothing spliced"; return 1; }
	stop_relay && stop_server "$SRV_PID" up || return 1
	start_server upx --in x11 || return 1
	start_relay "$UP" || return 1
	client mix mix --connect "$RELAY_ADDR" --requests 5000 --timeout 60 || return 1
	stop_relay
}

c_no_sqe() {
	# About one SQE in 3 refused (X410_VSOCK_URING_SQE_FAIL=3), as when
	# the queue is full and cannot be submitted: every piece of work that
	# found none (an accept, a timer, a poll, a send, a cancel) must be
	# redone, not forgotten until something else completes.  A refused
	# accept pause timer used to leave a client that waits for a
	# descriptor hanging for good.
	local r=0
	export X410_VSOCK_URING_SQE_FAIL=3
	c_no_sqe_run || r=1
	unset X410_VSOCK_URING_SQE_FAIL
	return $r
}

relay_preflight
relay_cases
run_case relay "bulk: 16 MiB each way moves by splice(2) through a pipe per direction (logged), every byte checked, pipes closed after; X410_VSOCK_URING_SPLICE=0 copies; 8 clients echo 8M through a 4-entry ring" c_splice
run_case relay "no SQE: about one in 3 refused (X410_VSOCK_URING_SQE_FAIL=3): the fd-wait wedge answered; one in 2: 32 clients echo 4M (spliced) and keep their sockets open, the X11 mix, every fd back, SIGTERM clean" c_no_sqe
finish
