# doctor prints "[ OK ]" for every check, whatever its real status.
# Re-target: the status tags of doctor's report.
MUTATION_TESTS="tests/integration/doctor-scenarios.sh tests/integration/doctor.sh"
mutate() {
	mutation_edit src/doctor_report.c \
'	[CHECK_WARN] = "[WARN]",
	[CHECK_FAIL] = "[FAIL]",' \
'	[CHECK_WARN] = "[ OK ]",
	[CHECK_FAIL] = "[ OK ]",'
}
