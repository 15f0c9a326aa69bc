# io_uring engine, buffer pool: the idle-buffer trim (after ~2 s without
# traffic) takes back the buffer ring without keeping the buffers that
# completions still waiting in the CQ name: it frees (and zeroes) a buffer
# the kernel has just filled with a client's bytes.  Undoes commit d44dc6c.
# Caught by the integration case "idle past the buffer trim, then traffic"
# (the relay is stopped across the trim's idle timer so that the timer and
# the client's next receive complete in one batch; the client then reads
# zeros), and by the pool's white-box unit test, which cannot skip in CI
# (X410_TEST_REQUIRE=bufring).
# Re-target: in the pool's "take back the buffer ring" step, the loop over
# CQEs still in the CQ that keeps their buffers as lent.
MUTATION_TESTS="tests/unit/test-relay-uring-pool tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^idle"
mutate() {
	mutation_edit src/relay_uring.c \
'		if ((cqe->flags & IORING_CQE_F_BUFFER) && bid < URING_NBUF && p->where[bid] == BUF_RING)
			p->where[bid] = BUF_LENT;' \
'		(void)bid;'
}
