# The Hyper-V socket service GUID template has a wrong digit: the registry
# entries and every VSOCK port name the wrong service.
# Re-target: the GUID template (addr_service_guid).
MUTATION_TESTS="tests/unit/test-addr tests/unit/test-regfile tests/integration/regfile.sh"
mutate() {
	mutation_edit src/addr.c \
'"%08X-FACB-11E6-BD58-64006A7986D3"' \
'"%08X-FACB-11E6-BD58-64006A7986D4"'
}
