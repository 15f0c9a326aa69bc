# io_uring engine, half-close: forwarding a source's end to its sink
# (shutdown(SHUT_WR)) does nothing, but the direction is marked as shut.
# Each peer then sees EOF only when the whole connection closes.
# Re-target: the io_uring engine's shutdown(SHUT_WR) of a direction's sink
# once everything before the source's end is written.
MUTATION_TESTS="tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^half-close"
mutate() {
	mutation_edit src/relay_uring.c \
'			if (shutdown(half_sink(u, d), SHUT_WR) < 0 && errno != ENOTCONN) {' \
'			if (0 && shutdown(half_sink(u, d), SHUT_WR) < 0 && errno != ENOTCONN) {'
}
