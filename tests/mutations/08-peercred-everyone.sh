# The SO_PEERCRED check lets every uid in: the abstract socket (which has no
# file permissions) serves every user of the machine.  Caught as root by the
# unit test (a peer forked as uid 65534) and the integration case (setpriv),
# as non-root by the unit test (a policy that excludes our own uid).
# Re-target: the policy check of an accepted client's credentials.
MUTATION_TESTS="tests/unit/test-relay tests/integration/relay-epoll.sh"
MUTATION_ENV="RELAY_TEST_ONLY=^another.uid"
mutate() {
	mutation_edit src/relay.c \
'	if (!relay_policy_allows(&cfg->policy, cred.uid, NULL, 0)) {' \
'	if (0 && !relay_policy_allows(&cfg->policy, cred.uid, NULL, 0)) {'
}
