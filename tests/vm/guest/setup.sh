#!/bin/bash
# 'x410-vsock setup' as root on a real kernel that is not Hyper-V: loading
# hv_sock fails with ENODEV in hv_vmbus, which setup must call "not a
# Hyper-V guest", exit 1, and leave the system as it was: no module loaded,
# nothing written under /etc.  Runs after module.sh in the same boot.
. "$top_srcdir/tests/lib.sh"

out=$(timeout 10 "$X410_VSOCK" setup --help 2>&1) ||
	fatal "'x410-vsock setup --help' fails: $(echo "$out" | head -n1)"

# Every path under /etc with its type, mode, size and content hash.
snapshot() {
	find /etc -xdev | LC_ALL=C sort | while read -r p; do
		if [ -f "$p" ] && [ ! -L "$p" ]; then
			echo "$p $(stat -c '%F %a %s' "$p") $(md5sum <"$p" | cut -d' ' -f1)"
		else
			echo "$p $(stat -c '%F %a' "$p")"
		fi
	done
}
snapshot >"$TEST_TMP/etc.before"

t_enodev() {
	run_x 1 setup || return 1
	sed 's/^/# setup stdout: /' "$OUT"
	sed 's/^/# setup stderr: /' "$ERR"
	grep -qi 'not a Hyper-V guest' "$ERR"
}
check "setup: exit status 1, 'not a Hyper-V guest' (ENODEV from the real kernel)" t_enodev

t_one_error() { [ "$(grep -c '^x410-vsock: ERROR: ' "$ERR")" = 1 ]; }
check "setup: one error line, in the house form" t_one_error

t_nothing_loaded() { [ ! -e /sys/module/hv_sock ] && [ ! -e /sys/module/hv_vmbus ]; }
check "setup: hv_sock and hv_vmbus are not loaded afterwards" t_nothing_loaded

t_nothing_written() {
	snapshot >"$TEST_TMP/etc.after"
	diff "$TEST_TMP/etc.before" "$TEST_TMP/etc.after" | sed 's/^/# \/etc changed: /' >&2
	cmp -s "$TEST_TMP/etc.before" "$TEST_TMP/etc.after"
}
check "setup: nothing was written under /etc (no modules-load.d/hv_sock.conf)" t_nothing_written

finish
