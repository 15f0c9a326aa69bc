#!/bin/bash
# The guest itself, before any product code: the guest's real kmod loads
# vsock_loopback, a VSOCK listener on port 6000 is reached through CID 2 (the
# host's CID) when vsock_loopback is the only transport, nobody listening
# means ECONNRESET, the kernel honours SO_VM_SOCKETS_CONNECT_TIMEOUT, and
# hv_sock cannot load on a machine that is not a Hyper-V guest (ENODEV).
. "$top_srcdir/tests/lib.sh"

peer=$VM_BIN/vsock-peer

# Nothing has created an AF_VSOCK socket yet in this boot (that would
# autoload net-pf-40): the modules are loaded here by kmod, not by the kernel.
t_fresh() { [ ! -e /sys/module/vsock ] && [ ! -e /sys/module/vsock_loopback ]; }
check "no vsock module is loaded at boot" t_fresh

t_load() {
	/usr/sbin/modprobe vsock_loopback || return 1
	[ "$(cat /sys/module/vsock_loopback/initstate)" = live ] &&
	[ "$(cat /sys/module/vsock/initstate)" = live ] &&
	[ "$(cat /sys/module/vmw_vsock_virtio_transport_common/initstate)" = live ]
}
check "kmod's modprobe loads vsock_loopback with its dependencies (live)" t_load

t_hv_sock() {
	local status=0
	/usr/sbin/modprobe hv_sock 2>"$TEST_TMP/hv.err" || status=$?
	sed 's/^/# modprobe: /' "$TEST_TMP/hv.err"
	[ $status -ne 0 ] && grep -q 'No such device' "$TEST_TMP/hv.err" &&
	[ ! -e /sys/module/hv_sock ] && [ ! -e /sys/module/hv_vmbus ]
}
check "hv_sock fails to load with ENODEV (hv_vmbus: not a Hyper-V guest)" t_hv_sock

t_only_loopback() {
	local m
	for m in hv_sock vmw_vsock_virtio_transport vmw_vsock_vmci_transport; do
		[ ! -e /sys/module/$m ] || { echo "# $m is loaded" >&2; return 1; }
	done
}
check "vsock_loopback is the only transport loaded" t_only_loopback

t_cid2() {
	local ready=$TEST_TMP/ready6000 out
	timeout 20 "$peer" listen -t 15 -r "$ready" 6000 reply >"$TEST_TMP/l.out" 2>"$TEST_TMP/l.err" &
	track $!
	wait_for 10 test -e "$ready" || { cat "$TEST_TMP/l.err" >&2; return 1; }
	out=$(printf ping | timeout 10 "$peer" connect -t 8 vsock:host:6000 cat 2>"$TEST_TMP/c.err")
	[ "$out" = "got 4 bytes: ping" ] || { echo "# got: $out" >&2; cat "$TEST_TMP/c.err" >&2; return 1; }
}
check "a listener on VSOCK port 6000 is reached by a connect to CID 2" t_cid2

t_reset() {
	local out
	out=$(timeout 10 "$peer" connect -t 8 vsock:host:6999 cat </dev/null 2>&1)
	case $out in *"Connection reset by peer"*) return 0 ;; esac
	echo "# got: $out" >&2
	return 1
}
check "a connect to a VSOCK port where nobody listens fails with ECONNRESET" t_reset

# The loopback transport answers a connect at once (accept or reset), so a
# timeout can only happen when its worker does not run: a SCHED_FIFO busy
# loop on the only CPU, with RT throttling off, holds the kworkers back
# while a blocking connect above it waits for its 300 ms timeout.
t_connect_timeout() {
	local ready=$TEST_TMP/ready6001 rt out secs
	[ "$(nproc)" = 1 ] || { echo "# needs exactly one CPU" >&2; return 1; }
	timeout 20 "$peer" listen -t 15 -r "$ready" 6001 hold >/dev/null 2>"$TEST_TMP/l2.err" &
	track $!
	wait_for 10 test -e "$ready" || return 1
	rt=$(cat /proc/sys/kernel/sched_rt_runtime_us)
	echo -1 >/proc/sys/kernel/sched_rt_runtime_us
	out=$(timeout 20 "$peer" spin 1 10 "$peer" connect-timeout 300 6001 2>&1)
	echo "$rt" >/proc/sys/kernel/sched_rt_runtime_us
	echo "# $out"
	secs=$(echo "$out" | sed -n 's/^connect ETIMEDOUT after \([0-9.]*\) s$/\1/p')
	[ -n "$secs" ] && awk -v s="$secs" 'BEGIN { exit !(s >= 0.28 && s < 0.9) }'
}
check "the kernel honours SO_VM_SOCKETS_CONNECT_TIMEOUT (300 ms, ETIMEDOUT)" t_connect_timeout

t_connect_fast() {
	local ready=$TEST_TMP/ready6002 out
	timeout 20 "$peer" listen -t 15 -r "$ready" 6002 hold >/dev/null 2>&1 &
	track $!
	wait_for 10 test -e "$ready" || return 1
	out=$(timeout 10 "$peer" connect-timeout 300 6002 2>&1)
	echo "# $out"
	case $out in "connect ok after "*) return 0 ;; esac
	return 1
}
check "the same connect succeeds when the loopback worker runs" t_connect_fast

finish
