# io_uring engine, a full queue: the loop clears its "some work found no
# SQE" flag after arming the accepts, the signal poll and an accept
# pause's timer instead of before, so arming that found no SQE is not
# redone until some other completion wakes the loop.  A client waiting
# for a descriptor that no connection can free then hangs for good.
# Caught by the no-SQE case (X410_VSOCK_URING_SQE_FAIL), whose fd-wait
# wedge part expects each client closed within 5 s.
# Re-target: where uring_run() (src/relay_uring.c) resets e.sqe_short.
MUTATION_TESTS="tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^no.SQE"
mutate() {
	mutation_edit src/relay_uring.c \
'		e.sqe_short = false;
		uring_fds_freed(&e);' \
'		uring_fds_freed(&e);' &&
	mutation_edit src/relay_uring.c \
'		uring_arm(&e);
		uring_conn_flush(&e);' \
'		uring_arm(&e);
		e.sqe_short = false;
		uring_conn_flush(&e);'
}
