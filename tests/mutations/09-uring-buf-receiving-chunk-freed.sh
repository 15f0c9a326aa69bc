# io_uring engine, buffer ownership: once every byte of a direction's tail
# chunk has been sent, the chunk is freed even though a receive armed into
# its free space still owns it (the basic path receives straight into the
# direction's chunks).  The kernel then writes a client's bytes into freed
# memory, and uring_buf_received() finds no tail to count them in: bytes
# are lost, and the heap is corrupted.  This replaces the first engine's
# "trim fix undone" mutation: the shared pool and its trim are gone, and
# this is where a buffer's ownership now changes hands (relay_uring_buf.h:
# "a chunk is freed when it is all sent and no receive writes into it").
# Caught by the buffer's unit test (the receiving chunk must stay) and by
# the basic path's bulk and echo cases, every byte checked.
# Re-target: in uring_buf_sent() (src/relay_uring_buf.c), the guard that
# keeps the tail while a receive writes into it.
MUTATION_TESTS="tests/unit/test-relay-uring-buf tests/integration/relay-uring-basic.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^(bulk|[0-9]+.concurrent) RELAY_TEST_BULK=4M"
mutate() {
	mutation_edit src/relay_uring_buf.c \
'		if (c == b->tail && b->receiving)
			return;' \
'		(void)0;'
}
