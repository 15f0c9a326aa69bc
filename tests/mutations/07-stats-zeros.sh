# SIGUSR1: the stats line prints zeros for every counter.  Caught by the
# per-engine SIGUSR1 case, which checks every value of the line.
# Re-target: the arguments of the stats log line (relay_log_stats).
MUTATION_TESTS="tests/integration/relay-epoll.sh tests/integration/relay-uring.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^SIGUSR1"
mutate() {
	mutation_edit src/relay.c \
'		 s->clients_now, s->clients_total, s->refused, s->connect_failed, s->errors,
		 s->bytes_up, s->bytes_down);' \
'		 (uint64_t)0, (uint64_t)0, (uint64_t)0, (uint64_t)0, (uint64_t)0,
		 (uint64_t)0, (uint64_t)0);'
}
