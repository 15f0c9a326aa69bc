#!/bin/bash
# doctor against fake systems: a committed fake root per scenario
# (tests/rootfs/doctor-*), read with --root under the LD_PRELOAD shim that
# fakes uname (tests/preload).  Each scenario's text output must match its
# golden file (tests/golden/doctor-*.txt) byte for byte, and its --json
# output must be valid JSON with the expected status per check and the same
# exit status.  X410_UPDATE_GOLDEN=1 rewrites the golden files instead (never
# under CI=true).
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/preload/lib-shim.sh"

command -v jq >/dev/null || skip "jq is missing (scripts/bootstrap installs it)"
# The golden outputs are those of a build with the io_uring engine; an
# epoll-only build reports check 6 differently (doctor.sh covers that).
"$X410_VSOCK" --version | grep -q '^engines: io_uring' ||
	skip "the golden outputs describe a build with the io_uring engine; this one is epoll only"
shim_init

GOLDEN=$top_srcdir/tests/golden

# scenario NAME ROOT STATUS 'id=status ...' ARGS...: tests/rootfs/doctor-ROOT
# with ARGS must print tests/golden/doctor-NAME.txt and exit with STATUS.
scenario() {
	local name=$1 rootname=$2 status=$3 statuses=$4; shift 4
	local root release golden=$GOLDEN/doctor-$name.txt
	rootfs_make "doctor-$rootname" || return 1
	root=$ROOT
	# git keeps neither empty directories nor modes: the X socket
	# directory is made here, as a system has it (mode X11_UNIX_MODE,
	# 1777 by default), unless the root makes it a symbolic link (WSLg),
	# which is never followed out of the root.
	chmod 1777 "$root/tmp" 2>/dev/null || mkdir -m 1777 "$root/tmp" || return 1
	if [ ! -L "$root/tmp/.X11-unix" ]; then
		mkdir -p "$root/tmp/.X11-unix" && chmod "${X11_UNIX_MODE:-1777}" "$root/tmp/.X11-unix" || return 1
	fi
	release=$(cat "$root/proc/sys/kernel/osrelease") || return 1

	X410_SHIM_UNAME_R=$release shim_run "$status" "$root" doctor --root "$root" "$@" || return 1
	if golden_update; then
		cp "$OUT" "$golden"
		echo "# rewrote the golden file $golden" >&2
	elif ! diff -u "$golden" "$OUT" >"$TEST_TMP/diff"; then
		sed 's/^/# /' "$TEST_TMP/diff" >&2
		return 1
	fi
	[ ! -s "$ERR" ] || { sed 's/^/# stderr: /' "$ERR" >&2; return 1; }

	X410_SHIM_UNAME_R=$release shim_run "$status" "$root" doctor --root "$root" --json "$@" || return 1
	jq -e . "$OUT" >/dev/null || { echo "# --json is not JSON" >&2; sed 's/^/# /' "$OUT" >&2; return 1; }
	local got
	got=$(jq -r '[.checks[] | "\(.id)=\(.status)"] | join(" ")' "$OUT")
	[ "$got" = "$statuses" ] || { echo "# statuses: $got" >&2; echo "# expected: $statuses" >&2; return 1; }
	[ "$(jq -r .exit_status "$OUT")" = "$status" ] || { echo "# exit_status in JSON differs" >&2; return 1; }
	# The text and the JSON say the same: one line per check, in order.
	got=$(jq -r '.checks[] | .status' "$OUT" | tr '\n' ' ')
	local text
	text=$(sed -n 's/^\[ OK \] .*/ok/p;s/^\[WARN\] .*/warn/p;s/^\[FAIL\] .*/fail/p;s/^\[SKIP\] .*/skip/p' "$golden" | tr '\n' ' ')
	[ "$got" = "$text" ] || { echo "# JSON statuses '$got' vs text '$text'" >&2; return 1; }
}

check "Hyper-V, hv_sock loaded and configured: all OK, X410 not probed under --root" \
	scenario hyperv-loaded hyperv-loaded 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=ok x410=skip"

check "--connect unix: to nobody: the hv_sock checks are not needed, the probe fails with the registry key and .reg" \
	scenario hyperv-loaded-connect hyperv-loaded 1 \
	"environment=ok kernel=ok hv_sock=skip boot=skip vsock=skip io_uring=ok display=ok x410=fail" \
	--connect unix:@/x410-vsock-test/nobody-listens-here :3

check "Hyper-V, hv_sock loadable but not loaded: FAIL with 'setup' as the fix" \
	scenario hyperv-loadable hyperv-loadable 1 \
	"environment=ok kernel=ok hv_sock=fail boot=warn vsock=fail io_uring=ok display=ok x410=skip"

check "WSL2: hv_sock built in, no /lib/modules is no crash" \
	scenario wsl2 wsl2 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=ok x410=skip"

# WSLg's two layouts of /tmp/.X11-unix: run serves the abstract socket
# only, doctor says so as OK (never a fix that would break WSLg); the X410
# check names X410's WSL2/VSOCK option instead of the registry key.
wslg_readonly() { X11_UNIX_MODE=0777 scenario "$@"; }
check "WSL2 with WSLg, /tmp/.X11-unix a read-only 0777 mount: OK, the abstract socket only" \
	wslg_readonly wslg-readonly wslg-readonly 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=ok x410=skip" :5

check "WSL2 with older WSLg, /tmp/.X11-unix a link to /mnt/wslg/.X11-unix: OK, the abstract socket only" \
	scenario wslg-symlink wslg-symlink 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=ok x410=skip" :5

# Not WSLg's layout: the same decision, as a warning with the reason.
wslg_not_sticky() { X11_UNIX_MODE=0777 scenario "$@"; }
check "WSL2, /tmp/.X11-unix 0777 and writable: WARN, the abstract socket only, no chmod that WSLg would undo" \
	wslg_not_sticky wsl2-not-sticky wsl2 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=warn x410=skip" :5

check "WSL2 with a custom kernel without hv_sock: FAIL with CONFIG_HYPERV_VSOCKETS=y, not a package" \
	scenario wsl2-custom wsl2-custom 1 \
	"environment=ok kernel=ok hv_sock=fail boot=skip vsock=fail io_uring=ok display=ok x410=skip"

check "hv_sock missing for this kernel: FAIL with the package to install" \
	scenario missing missing 1 \
	"environment=ok kernel=ok hv_sock=fail boot=skip vsock=fail io_uring=ok display=ok x410=skip"

check "kernel 4.9: older than hv_sock, no io_uring" \
	scenario kernel-4.9 kernel-4.9 1 \
	"environment=ok kernel=fail hv_sock=fail boot=skip vsock=fail io_uring=warn display=ok x410=skip"

check "kernel 5.4: one vsock transport only, epoll engine" \
	scenario kernel-5.4 kernel-5.4 0 \
	"environment=ok kernel=warn hv_sock=ok boot=ok vsock=ok io_uring=warn display=ok x410=skip"

check "KVM/QEMU: not Hyper-V, hv_sock checks skipped, X410 not probed" \
	scenario kvm kvm 1 \
	"environment=fail kernel=ok hv_sock=skip boot=skip vsock=skip io_uring=ok display=ok x410=skip"

check "QEMU guest with vsock_loopback as the only transport: 'none, loopback only', not 'unclear'" \
	scenario loopback loopback 1 \
	"environment=fail kernel=ok hv_sock=skip boot=skip vsock=skip io_uring=ok display=ok x410=skip"

check "container on Hyper-V: AF_VSOCK warning, hv_sock to be loaded on the VM" \
	scenario container container 1 \
	"environment=warn kernel=ok hv_sock=fail boot=skip vsock=fail io_uring=ok display=ok x410=skip"

check "io_uring disabled by sysctl (=2): epoll engine" \
	scenario io-uring-disabled io-uring-disabled 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=warn display=ok x410=skip"

check "display :5 taken by a live lock (and :0 by an abstract socket): FAIL, free displays suggested" \
	scenario display-live-lock display-live-lock 1 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=fail x410=skip" :5

check "display :5 with a stale lock: WARN, run takes it over" \
	scenario display-stale-lock display-stale-lock 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=warn x410=skip" :5

# libkmod is dlopen'ed (src/dlkmod.c): without libkmod.so.2 doctor reads
# /sys/module as before, and says what to install only when that is not
# enough.  The shim logs the refused dlopen: the case cannot pass without it.
no_libkmod() {
	local X410_SHIM_DLOPEN_FAIL=libkmod.so.2
	export X410_SHIM_DLOPEN_FAIL
	scenario "$@" &&
	grep -q '^dlopen libkmod.so.2 ENOENT$' "$SHIM_LOG" ||
	{ echo "# libkmod.so.2 was not refused" >&2; return 1; }
}

check "without libkmod, hv_sock loaded: the same report as with it (from /sys/module)" \
	no_libkmod hyperv-loaded hyperv-loaded 0 \
	"environment=ok kernel=ok hv_sock=ok boot=ok vsock=ok io_uring=ok display=ok x410=skip"

check "without libkmod, hv_sock not loaded: FAIL naming the library to install" \
	no_libkmod hyperv-loadable-no-libkmod hyperv-loadable 1 \
	"environment=ok kernel=ok hv_sock=fail boot=skip vsock=fail io_uring=ok display=ok x410=skip"

finish
