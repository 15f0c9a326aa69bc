# io_uring engine, backpressure: the multishot receive is no longer cancelled
# when a direction holds more than its limit (256 KiB), so a client that
# stops reading lets the relay buffer everything the upstream sends.  The
# re-arm's low-mark gate goes too: alone, the missing cancel is sometimes
# harmless (a multishot receive that ends on ENOBUFS is not re-armed above
# the mark), and a mutation must break the behaviour every time.
# Caught by the slow-reader case, which measures how much the upstream
# managed to write while the client did not read.
# Re-target: the io_uring engine's "stop receiving at the high mark" for a
# direction (the cancel of its armed receive) and "receive again below the
# low mark" (the re-arm condition), on the buffer-ring path.
MUTATION_TESTS="tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^slow RELAY_TEST_SLOW=64M"
mutate() {
	mutation_edit src/relay_uring.c \
'		if (uh->recv == RECV_ARMED && e->buf_ring && uring_half_over(h->pending, uh->q.count)) {' \
'		if (0 && uh->recv == RECV_ARMED && e->buf_ring && uring_half_over(h->pending, uh->q.count)) {' &&
	mutation_edit src/relay_uring.c \
'(e->buf_ring ? uring_half_under(h->pending, uh->q.count) : uh->len == 0))' \
'(e->buf_ring ? true : uh->len == 0))'
}
