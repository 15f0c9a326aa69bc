# epoll engine: its run() fails at once with -EINVAL.  The relay tests must
# report that as a failure, not as "the engine is not usable here" (the
# epoll engine is usable on every Linux).
# Re-target: the first statement of the epoll engine's run function.
MUTATION_TESTS="tests/integration/relay-epoll.sh tests/integration/relay-fallback.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^(bulk|--engine) RELAY_TEST_BULK=4M"
mutate() {
	mutation_edit src/relay_epoll.c \
'	struct epoll_engine *e;
	int ret = 0;

	e = calloc(1, sizeof(*e));' \
'	struct epoll_engine *e;
	int ret = 0;

	if (r)
		return log_error_errno(EINVAL, "Failed to start the epoll engine: %m");
	e = calloc(1, sizeof(*e));'
}
