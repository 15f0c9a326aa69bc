# io_uring engine, half-close: forwarding a source's end to its sink
# (shutdown(SHUT_WR)) does nothing, but the direction is marked as shut.
# Each peer then sees EOF only when the whole connection closes.
# Re-target: the io_uring engine's shutdown(SHUT_WR) of a direction's sink
# once everything before the source's end is written (uring_conn_update()
# in src/relay_uring_ops.c).
MUTATION_TESTS="tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^half-close"
mutate() {
	mutation_edit src/relay_uring_ops.c \
'			if (shutdown(relay_dir_sink(&u->c, d), SHUT_WR) < 0 && errno != ENOTCONN) {' \
'			if (0 && shutdown(relay_dir_sink(&u->c, d), SHUT_WR) < 0 && errno != ENOTCONN) {'
}
