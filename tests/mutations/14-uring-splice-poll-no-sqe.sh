# io_uring engine, splicing: a direction's poll that finds no SQE does
# not mark the direction due, so while its other poll is in flight the
# next update returns at once.  A pipe holding the last bytes of a
# client that keeps its socket open and waits for the echo is then never
# moved on (POLLIN on the idle source never comes).
# Caught by the no-SQE case: 32 clients echo 4 MiB through spliced
# directions with about one SQE in 2 refused, and keep their sockets open.
# Re-target: uring_splice_poll() in src/relay_uring_splice.c.
MUTATION_TESTS="tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^no.SQE"
mutate() {
	mutation_edit src/relay_uring_splice.c \
'		ud->poll_due = true;
		res->no_sqe = true;' \
'		res->no_sqe = true;'
}
