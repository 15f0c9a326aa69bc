# io_uring engine, probe: the engine's "can it run here?" check always says
# no, so '--engine auto' falls back to epoll everywhere and '--engine uring'
# refuses to start.  The product's main engine is dead; the suite must not
# turn that into skips.  The relay tests probe io_uring themselves
# (tests/tools/tt-probe) and demand the engine where the kernel has it.
# Re-target: make the engine's probe function (struct relay_engine .probe of
# the io_uring engine) return an error with a plausible reason.
MUTATION_TESTS="tests/integration/relay-uring.sh tests/integration/relay-uring-basic.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^(bulk|SIGUSR1) RELAY_TEST_BULK=4M"
mutate() {
	mutation_edit src/relay_uring_setup.c \
'	r = 0;
	if (!(p.features & IORING_FEAT_FAST_POLL)) {' \
'	r = -EOPNOTSUPP;
	(void)snprintf(why, why_size, "the kernel'"'"'s io_uring lacks IORING_OP_SEND (mutated)");
	if (0) {'
}
