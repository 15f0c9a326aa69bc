#!/bin/bash
# 'x410-vsock doctor' on a real kernel with real modules, in a guest that is
# not Hyper-V (qemu): it says so and fails, finds hv_sock loadable but
# unusable, names the loopback transport, skips the X410 probe without
# --connect (nobody on VSOCK port 6000 sees a connection), and with
# --connect vsock:host:6000 does a real X11 handshake over AF_VSOCK.
# Runs after module.sh and setup.sh in the same boot.
. "$top_srcdir/tests/lib.sh"

peer=$VM_BIN/vsock-peer

out=$(timeout 10 "$X410_VSOCK" doctor --help 2>&1) ||
	fatal "'x410-vsock doctor --help' fails: $(echo "$out" | head -n1)"

# vsock_loopback as the only transport (module.sh loaded it; alone, load it).
[ -e /sys/module/vsock_loopback ] || /usr/sbin/modprobe vsock_loopback || fatal "cannot load vsock_loopback"

# A stand-in for X410 on port 6000 that counts connections: doctor without
# --connect must not make one.
ready=$TEST_TMP/ready
timeout 60 "$peer" listen -n 1 -t 50 -r "$ready" 6000 reply >"$TEST_TMP/listener.out" 2>&1 &
listener=$!
track $listener
wait_for 10 test -e "$ready" || fatal "the vsock listener did not start"

status=0
timeout 30 "$X410_VSOCK" doctor >"$OUT" 2>"$ERR" || status=$?
sed 's/^/# doctor: /' "$OUT"
sed 's/^/# doctor stderr: /' "$ERR"

# line SUBJECT: doctor's line for SUBJECT ("[STATUS] SUBJECT: ...").
line() { grep -E "^\[( OK |WARN|FAIL|SKIP)\] $1:" "$OUT" | head -n1; }

t_exit() { [ $status = 1 ] && grep -q '^\[FAIL\]' "$OUT"; }
check "exit status 1, with a [FAIL] line" t_exit

t_env() { line environment | grep -q '^\[FAIL\] environment: not a Hyper-V guest' && line environment | grep -qi qemu; }
check "environment: [FAIL] not a Hyper-V guest, naming QEMU" t_env

t_kernel() { line kernel | grep -q "^\[ OK \] kernel: Linux 6\.1 ('$(uname -r)')"; }
check "kernel: [ OK ] with the guest's release" t_kernel

hv=$(line hv_sock)
if echo "$hv" | grep -Eqi 'loadable|loaded|live|built.?in|missing'; then
	# Loadable: "loadable", or the module file of this kernel named.
	t_hv() {
		echo "$hv" | grep -Eqi "loadable|/lib/modules/$(uname -r)/kernel/net/vmw_vsock/hv_sock\.ko" &&
		echo "$hv" | grep -Eqi 'not a Hyper-V|no VMBus|unusable|cannot'
	}
	check "hv_sock: loadable (a module file for this kernel) but unusable here" t_hv
else
	not_ok "hv_sock: loadable but unusable: doctor reports no module state for hv_sock here ('$hv')"
fi

# vsock_loopback alone: the local CID is VMADDR_CID_LOCAL (1), and there is
# no guest-to-host transport.
t_loopback() {
	local vs
	vs=$(line AF_VSOCK)
	echo "$vs" | grep -q 'socket() works; guest-to-host transport: none, loopback only (vsock_loopback, local CID 1)' &&
		! echo "$vs" | grep -q unclear || { echo "# got: $vs" >&2; return 1; }
}
check "AF_VSOCK: socket() works, and the transport is 'none, loopback only (vsock_loopback, local CID 1)'" t_loopback

t_x410_skipped() {
	line 'X410 display 0[^:]*' | grep -q '^\[SKIP\]' || return 1
	# The listener is still waiting for its one connection.
	kill -0 "$listener" 2>/dev/null && [ ! -s "$TEST_TMP/listener.out" ]
}
check "X410: [SKIP] without --connect, and no connection reached VSOCK port 6000" t_x410_skipped
kill "$listener" 2>/dev/null
wait "$listener" 2>/dev/null

# X410 stand-in: Xvfb behind a VSOCK listener on port 6000.
Xvfb :0 -nolisten tcp -noreset -screen 0 800x600x24 >"$TEST_TMP/xvfb.log" 2>&1 &
track $!
if wait_for 30 xdpyinfo -display :0 >/dev/null 2>&1; then
	rm -f "$ready"
	timeout 60 "$peer" listen -n 1 -t 50 -r "$ready" 6000 forward /tmp/.X11-unix/X0 >"$TEST_TMP/fwd.out" 2>&1 &
	track $!
	wait_for 10 test -e "$ready" || fatal "the vsock listener did not start"
	status=0
	timeout 30 "$X410_VSOCK" doctor --connect vsock:host:6000 >"$OUT" 2>"$ERR" || status=$?
	grep -E 'X410|vsock' "$OUT" | sed 's/^/# doctor --connect: /'
	t_probe() { grep -Eq '^\[ OK \] X410.*X\.Org Foundation' "$OUT"; }
	check "doctor --connect vsock:host:6000: an X11 handshake over AF_VSOCK reports the server's vendor" t_probe
else
	not_ok "Xvfb starts: $(tail -n3 "$TEST_TMP/xvfb.log")"
fi

finish
