#!/bin/bash
# The project's module code (src/module.c, through tests/vm/module-probe) on
# a real kernel with real modules: vsock_loopback goes from loadable to live
# with its dependencies, a second load is "already", a built-in module and a
# missing one are told apart, and hv_sock, which needs Hyper-V, fails with
# ENODEV from hv_vmbus and leaves nothing loaded.
# First in its boot: no AF_VSOCK socket may exist yet (it would autoload
# net-pf-40, vsock_loopback among them).
. "$top_srcdir/tests/lib.sh"

probe=$VM_BIN/module-probe
[ -x "$probe" ] || fatal "no module-probe in the guest ($probe): the initramfs is incomplete"

# state NAME: what module_state() says.
state() { "$probe" state "$1" | awk '{ print $2 }'; }
# field FILE KEY: the rest of the line "KEY ..." of module-probe's output.
field() { sed -n "s/^$2 *//p" "$1" | head -n1; }
show() { sed 's/^/# module-probe: /' "$1"; }

t_before() {
	[ ! -e /sys/module/vsock_loopback ] && [ ! -e /sys/module/vsock ] &&
	[ "$(state vsock_loopback)" = loadable ] && [ "$(state vsock)" = loadable ]
}
check "before: vsock and vsock_loopback are loadable, not loaded" t_before

t_load() {
	local out=$TEST_TMP/load
	"$probe" load vsock_loopback >"$out" || return 1
	show "$out"
	[ "$(field "$out" result)" = done ] &&
	[ "$(field "$out" inserted)" = "vsock vmw_vsock_virtio_transport_common vsock_loopback" ]
}
check "module_load(vsock_loopback) inserts vsock, the virtio common part, then vsock_loopback" t_load

t_live() {
	[ "$(state vsock_loopback)" = live ] && [ "$(cat /sys/module/vsock_loopback/initstate)" = live ] &&
	[ "$(state vsock)" = live ]
}
check "after: vsock_loopback and vsock are live (module_state and /sys/module agree)" t_live

t_again() {
	local out=$TEST_TMP/again
	"$probe" load vsock_loopback >"$out" || return 1
	[ "$(field "$out" result)" = already ] && [ -z "$(field "$out" inserted)" ]
}
check "a second module_load(vsock_loopback) is 'already', inserting nothing" t_again

t_builtin() { [ "$(state unix)" = built-in ]; }
check "a built-in module (unix, in modules.builtin) is built-in" t_builtin

t_missing() { [ "$(state x410_no_such_module)" = missing ]; }
check "a module without a file for this kernel is missing" t_missing

t_dry_run() {
	local out=$TEST_TMP/dry
	"$probe" load --dry-run hv_sock >"$out" || return 1
	show "$out"
	[ "$(field "$out" result)" = done ] && [ "$(field "$out" inserted)" = "hv_vmbus hv_sock" ] &&
	[ ! -e /sys/module/hv_vmbus ] && [ ! -e /sys/module/hv_sock ]
}
check "a dry run for hv_sock plans hv_vmbus then hv_sock and loads nothing" t_dry_run

t_enodev() {
	local out=$TEST_TMP/hv
	"$probe" load hv_sock >"$out" || return 1
	show "$out"
	[ "$(field "$out" result)" = ENODEV ] && [ "$(field "$out" culprit)" = hv_vmbus ] &&
	[ ! -e /sys/module/hv_vmbus ] && [ ! -e /sys/module/hv_sock ] &&
	[ "$(state hv_sock)" = loadable ]
}
check "module_load(hv_sock) fails with ENODEV from hv_vmbus (not Hyper-V); hv_sock stays loadable" t_enodev

finish
