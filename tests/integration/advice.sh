#!/bin/bash
# doctor and setup give the same advice on the same system (src/advice.c):
# both run on the same fake roots (tests/rootfs/setup-*, under the LD_PRELOAD
# shim of tests/preload), once per distribution that os-release can name, and
# doctor's "fix:" line must be the advice in setup's error sentence.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/preload/lib-shim.sh"

shim_init

export X410_SHIM_EUID=0 X410_SHIM_UNAME_R=6.1.0-18-amd64 X410_SHIM_UNAME_M=x86_64
unset X410_SHIM_INIT_MODULE X410_SHIM_DLOPEN_FAIL

# distro ROOT ID: os-release says ID (none: there is no os-release).
distro() {
	rm -f "$1/etc/os-release" "$1/usr/lib/os-release"
	[ "$2" = none ] || printf 'NAME=test\nID=%s\n' "$2" >"$1/etc/os-release"
}

# compare ROOTFS ID SETUP-FRAME: setup (as root, on the live fake system) and
# doctor --root on the same tree; doctor's fix line for hv_sock, without
# what DOCTOR-SUFFIX adds, must appear in setup's error as ": ADVICE, then
# run setup again.".
compare() {
	local rootfs=$1 id=$2 suffix=$3 advice
	rootfs_make "$rootfs" && distro "$ROOT" "$id" || return 1
	shim_run 1 "$ROOT" setup || return 1
	cp "$ERR" "$TEST_TMP/setup.err"
	shim_run 1 "$ROOT" doctor --root "$ROOT" || return 1
	advice=$(sed -n '/^\[FAIL\] hv_sock:/{n;s/^ *fix: //p;q}' "$OUT")
	advice=${advice%"$suffix"}
	[ -n "$advice" ] || { echo "# doctor gives no fix for hv_sock:" >&2; sed 's/^/# /' "$OUT" >&2; return 1; }
	grep -qF ": $advice, then run setup again." "$TEST_TMP/setup.err" || {
		echo "# doctor: $advice" >&2
		sed 's/^/# setup: /' "$TEST_TMP/setup.err" >&2
		return 1
	}
}

missing() { compare setup-missing "$1" ""; }
no_libkmod() {
	local X410_SHIM_DLOPEN_FAIL=libkmod.so.2
	export X410_SHIM_DLOPEN_FAIL
	compare setup-hyperv "$1" ", then run setup" &&
	grep -q '^dlopen libkmod.so.2 ENOENT$' "$SHIM_LOG" ||
	{ echo "# libkmod.so.2 was not refused" >&2; return 1; }
}

for id in ubuntu debian none; do
	check "no hv_sock module, os-release ID=$id: doctor and setup name the same package" missing "$id"
done
# A custom WSL2 kernel without hv_sock and without /lib/modules: the kernel
# option for both, whatever the distribution.
wsl2_custom() {
	local X410_SHIM_UNAME_R=6.6.36.3-microsoft-standard-WSL2+
	export X410_SHIM_UNAME_R
	compare setup-wsl2-custom "$1" "" &&
	grep -q 'CONFIG_HYPERV_VSOCKETS=y' "$TEST_TMP/setup.err" && ! grep -q 'apt install' "$TEST_TMP/setup.err"
}
for id in ubuntu none; do
	check "WSL2 custom kernel without hv_sock, os-release ID=$id: doctor and setup say CONFIG_HYPERV_VSOCKETS=y" wsl2_custom "$id"
done
for id in debian fedora arch none; do
	check "no libkmod.so.2, os-release ID=$id: doctor and setup name the same package" no_libkmod "$id"
done

finish
