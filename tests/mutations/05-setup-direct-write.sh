# setup: /etc/modules-load.d/hv_sock.conf written in place (O_TRUNC,
# following symlinks) instead of a temporary file renamed with
# RENAME_NOREPLACE.  Every visible outcome is the same on a quiet system;
# only the system calls differ: caught by setup.sh's strace check.
# Re-target: setup's atomic write of the modules-load.d file.
MUTATION_TESTS="tests/integration/setup.sh tests/unit/test-modules-load"
mutate() {
	mutation_edit src/setup.c \
'		fd = openat(dir, tmp, O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0644);' \
'		fd = openat(dir, CONF_NAME, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);' &&
	mutation_edit src/setup.c \
'	if (r == 0) {
		if (renameat2(dir, tmp, dir, CONF_NAME, RENAME_NOREPLACE) < 0) {' \
'	if (0) {
		if (renameat2(dir, tmp, dir, CONF_NAME, RENAME_NOREPLACE) < 0) {' &&
	mutation_edit src/setup.c \
'		(void)unlinkat(dir, tmp, 0);
		return r;' \
'		return r;'
}
