# epoll engine, half-close: the upstream's end of stream (upstream -> client)
# is forwarded only once the client's direction has ended too, i.e. the
# client sees EOF only when it has finished sending.  X clients that wait for
# the server's EOF while still writing would hang.  Caught by the half-close
# case that requires the client to see EOF while it is still sending.
# Re-target: the epoll engine's "forward the end" (shutdown(SHUT_WR) of the
# sink) for the down direction, made to wait for the up direction's end.
MUTATION_TESTS="tests/integration/relay-epoll.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^half-close"
mutate() {
	mutation_edit src/relay_epoll.c \
'		if (half_should_shutdown(h)) {
			if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)' \
'		if (half_should_shutdown(h) && (dir == DIR_UP || ec->c.up.shut)) {
			if (shutdown(dst->fd, SHUT_WR) < 0 && errno != ENOTCONN)'
}
