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

relay_preflight
relay_cases
run_case relay "bulk: 16 MiB each way moves by splice(2) through a pipe per direction (logged), every byte checked, pipes closed after; X410_VSOCK_URING_SPLICE=0 copies; 8 clients echo 8M through a 4-entry ring" c_splice
finish
