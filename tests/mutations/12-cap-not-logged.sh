# A client refused because of --max-clients is closed without the warning
# that says why (and how to raise the limit).  Caught by the --max-clients
# case, which checks the exact refusal line.
# Re-target: the log line of the client-cap refusal.
MUTATION_TESTS="tests/integration/relay-epoll.sh"
MUTATION_ENV="RELAY_TEST_ONLY=max-clients"
mutate() {
	mutation_edit src/relay.c \
'		if (ratelimit_pass(&rl_cap, &suppressed))
			log_warning(' \
'		if (0 && ratelimit_pass(&rl_cap, &suppressed))
			log_warning('
}
