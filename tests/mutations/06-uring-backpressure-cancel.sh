# io_uring engine, backpressure: a direction keeps receiving whatever it
# holds -- the byte budget (URING_BUF_MARK pending, RELAY_HALF_MAX held)
# that stops a direction's receive until its sink has taken some is gone,
# so a client that stops reading lets the relay buffer everything the
# upstream sends.  (The file's name is from the first engine, whose
# multishot receive was cancelled at the high mark.)
# Caught by the slow-reader case, which measures how much the upstream
# managed to write while the client did not read.  A send linked to the
# next receive also holds that receive back while the client does not
# read, which once let this mutation survive a CI run; sends are linked
# only while a direction holds at most 16 KiB, so a 64 MiB stream soon
# runs unlinked and the gate below is what stops it.
# Re-target: the gate that says whether a direction may arm a receive
# (uring_buf_may_take() in src/relay_uring_buf.c, asked before every
# receive on both the provided-buffer and the basic path).
MUTATION_TESTS="tests/integration/relay-uring.sh"
# The stream is large enough to be spliced, where the pipe's own bound
# applies instead: X410_VSOCK_URING_SPLICE=0 keeps it in the buffers.
MUTATION_ENV="RELAY_TEST_ONLY=^slow RELAY_TEST_SLOW=64M X410_VSOCK_URING_SPLICE=0"
mutate() {
	mutation_edit src/relay_uring_buf.c \
'	if (b->pending >= URING_BUF_MARK)
		return false;
	if (b->tail && b->tail->cap - b->tail->len >= URING_BUF_SPACE_MIN)' \
'	if (1)
		return true;
	if (b->tail && b->tail->cap - b->tail->len >= URING_BUF_SPACE_MIN)'
}
