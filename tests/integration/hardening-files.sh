#!/bin/bash
# Hostile files below --root and in the (faked) live system (issue #15):
# FIFOs where setup and doctor read configuration must not hang them, and
# every file that is not read is named with the reason; libkmod's messages
# about a hostile modprobe.d are debug-level, escaped and bounded; any number
# of modules-load.d files works, and a file that cannot be read is reported.
# Fake roots under the LD_PRELOAD shim (tests/preload), every run under a
# deadline: a hang is a failure (status 124), not a stuck test.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/preload/lib-shim.sh"

command -v mkfifo >/dev/null || skip "mkfifo (coreutils) is missing"
shim_init

export X410_SHIM_EUID=0 X410_SHIM_UNAME_R=6.1.0-18-amd64 X410_SHIM_UNAME_M=x86_64
unset X410_SHIM_INIT_MODULE

# says REGEX [FILE]: stderr (or FILE) has a line matching REGEX.
says() {
	grep -Eq -- "$1" "${2:-$ERR}" && return 0
	echo "# expected /$1/ in ${2:-stderr}:" >&2
	sed 's/^/#   /' "${2:-$ERR}" | head -n 20 >&2
	return 1
}

# doctor_root: a fake root for doctor, with its X socket directory.
doctor_root() {
	rootfs_make doctor-hyperv-loadable || return 1
	mkdir -p "$ROOT/etc/modprobe.d" "$ROOT/tmp/.X11-unix" && chmod 1777 "$ROOT/tmp" "$ROOT/tmp/.X11-unix"
}

# ------------------------------------------------------------------ 1. FIFOs

t_fifo_etc_modules_kmod() {
	rootfs_make setup-sysvinit
	rm -f "$ROOT/etc/modules" && mkfifo "$ROOT/etc/modules" || return 1
	shim_run 0 "$ROOT" setup --root "$ROOT" &&
	says "WARNING: Skipped '$ROOT/etc/modules' .*: a FIFO, not a regular file"
}
check "setup --root: a FIFO /etc/modules (with /etc/init.d/kmod) is skipped and named, no hang" t_fifo_etc_modules_kmod

t_fifo_etc_modules_other() {
	rootfs_make setup-no-systemd
	rm -f "$ROOT/etc/modules" && mkfifo "$ROOT/etc/modules" || return 1
	shim_run 1 "$ROOT" setup --root "$ROOT" &&
	says "WARNING: Skipped '$ROOT/etc/modules' .*: a FIFO, not a regular file"
}
check "setup --root: a FIFO /etc/modules (no systemd, no kmod script) is skipped and named, no hang" t_fifo_etc_modules_other

t_fifo_modules_load_d() {
	rootfs_make setup-hyperv
	mkdir -p "$ROOT/etc/modules-load.d" && mkfifo "$ROOT/etc/modules-load.d/fifo.conf" || return 1
	shim_run 0 "$ROOT" setup --root "$ROOT" &&
	says "WARNING: Skipped '$ROOT/etc/modules-load.d/fifo.conf' \(modules-load.d.*\): a FIFO, not a regular file"
}
check "setup --root: a FIFO in modules-load.d is skipped and named" t_fifo_modules_load_d

t_fifo_modprobe_d_live() {
	rootfs_make setup-hyperv
	mkfifo "$ROOT/etc/modprobe.d/x.conf" || return 1
	# No --root: the "live" system, whose /etc the shim redirects.
	shim_run 0 "$ROOT" setup &&
	says "WARNING: Skipped '/etc/modprobe.d/x.conf' \(libkmod would read it\): a FIFO, not a regular file" &&
	[ "$(shim_inserted)" = "vsock hv_sock" ]
}
check "setup (live): a FIFO in /etc/modprobe.d is not handed to libkmod, named; hv_sock still loads" t_fifo_modprobe_d_live

t_fifo_modprobe_d_doctor() {
	doctor_root || return 1
	mkfifo "$ROOT/etc/modprobe.d/x.conf" || return 1
	shim_run 1 "$ROOT" doctor --root "$ROOT" &&
	says "WARNING: Skipped '$ROOT/etc/modprobe.d/x.conf' \(libkmod would read it\): a FIFO, not a regular file" &&
	says '^\[FAIL\] hv_sock: not loaded \(the module is ' "$OUT"
}
check "doctor --root: a FIFO in modprobe.d is named, doctor completes and still finds hv_sock" t_fifo_modprobe_d_doctor

t_fifo_boot_lists_doctor() {
	doctor_root || return 1
	mkdir -p "$ROOT/etc/modules-load.d" && mkfifo "$ROOT/etc/modules-load.d/fifo.conf" &&
	rm -f "$ROOT/etc/modules" && mkfifo "$ROOT/etc/modules" || return 1
	shim_run 1 "$ROOT" doctor --root "$ROOT" &&
	says "WARNING: Skipped '$ROOT/etc/modules-load.d/fifo.conf' \(a list of modules to load at boot\): a FIFO, not a regular file" &&
	says "WARNING: Skipped '$ROOT/etc/modules' \(a list of modules to load at boot\): a FIFO, not a regular file" &&
	says '^\[WARN\] hv_sock at boot: no modules-load.d file lists hv_sock' "$OUT"
}
check "doctor --root: a FIFO in modules-load.d and a FIFO /etc/modules are named, doctor completes" t_fifo_boot_lists_doctor

t_fifo_modules_dir() {
	local f
	for f in modules.softdep modules.dep.bin; do
		doctor_root || return 1
		rm -f "$ROOT/lib/modules/6.1.0-18-amd64/$f" && mkfifo "$ROOT/lib/modules/6.1.0-18-amd64/$f" || return 1
		shim_run 1 "$ROOT" doctor --root "$ROOT" &&
		says "WARNING: Skipped '$ROOT/lib/modules/6.1.0-18-amd64/$f' \(libkmod would read it\): a FIFO, not a regular file" || return 1
		says '^\[FAIL\] hv_sock: cannot tell' "$OUT" || return 1
	done
	rootfs_make setup-hyperv
	rm -f "$ROOT/lib/modules/6.1.0-18-amd64/modules.softdep" && mkfifo "$ROOT/lib/modules/6.1.0-18-amd64/modules.softdep" || return 1
	shim_run 1 "$ROOT" setup &&
	says "WARNING: Skipped '/lib/modules/6.1.0-18-amd64/modules.softdep' .*: a FIFO, not a regular file" &&
	[ -z "$(shim_inserted)" ]
}
check "doctor --root and setup: a FIFO among libkmod's index files is named, no hang, nothing loaded" t_fifo_modules_dir

t_fifo_os_release() {
	rootfs_make setup-missing
	rm -f "$ROOT/etc/os-release" && mkfifo "$ROOT/etc/os-release" || return 1
	shim_run 1 "$ROOT" setup && says "no 'hv_sock' module"
}
check "setup: a FIFO /etc/os-release does not hang the error message" t_fifo_os_release

# ------------------------------------------------------------------ 5. libkmod's messages

# garbage FILE: 1,500 lines that libkmod rejects, with terminal escapes,
# control characters and bytes that are not ASCII, plus random bytes.
garbage() {
	local i
	for i in $(seq 1500); do
		printf '\033[31mred\033]0;title\007 \001\177\377\351 line %d\n' "$i"
	done >"$1"
	head -c 20000 /dev/urandom >>"$1"
}

# bounded_clean FILE: at most 40 libkmod lines, a "... and N more" line, and
# no byte outside printable ASCII and newline anywhere.
bounded_clean() {
	local n
	n=$(grep -c 'libkmod' "$1")
	[ "$n" -le 40 ] || { echo "# $n libkmod lines" >&2; return 1; }
	grep -Eq 'libkmod: \.\.\. and [0-9]+ more messages' "$1" ||
		{ echo "# no '... and N more' line" >&2; head -n 5 "$1" | cat -v | sed 's/^/#   /' >&2; return 1; }
	if LC_ALL=C grep -q '[^ -~]' "$1"; then
		echo "# bytes outside printable ASCII:" >&2
		LC_ALL=C grep -n '[^ -~]' "$1" | head -n 3 | cat -v | sed 's/^/#   /' >&2
		return 1
	fi
}

t_garbage_doctor() {
	doctor_root || return 1
	garbage "$ROOT/etc/modprobe.d/garbage.conf"
	shim_run 1 "$ROOT" doctor --root "$ROOT" || return 1
	# Not a word of it by default: libkmod's messages are debug-level.
	[ ! -s "$ERR" ] || { echo "# stderr without -v:" >&2; head -n 3 "$ERR" | cat -v | sed 's/^/#   /' >&2; return 1; }
	says '^\[FAIL\] hv_sock: not loaded \(the module is ' "$OUT" || return 1
	shim_run 1 "$ROOT" -v doctor --root "$ROOT" &&
	says 'DEBUG: libkmod: .*garbage.conf line [0-9]+: ignoring bad line starting with .*\\x1b\[31mred' &&
	bounded_clean "$ERR"
}
check "doctor --root on a modprobe.d of binary garbage: silent by default; with -v escaped and bounded" t_garbage_doctor

t_garbage_setup() {
	rootfs_make setup-hyperv
	garbage "$ROOT/etc/modprobe.d/garbage.conf"
	shim_run 0 "$ROOT" setup || return 1
	! grep -q libkmod "$ERR" || { echo "# libkmod on stderr without -v" >&2; return 1; }
	rootfs_make setup-hyperv
	garbage "$ROOT/etc/modprobe.d/garbage.conf"
	shim_run 0 "$ROOT" -v setup && bounded_clean "$ERR" &&
	[ "$(shim_inserted)" = "vsock hv_sock" ]
}
check "setup (live) with a modprobe.d of binary garbage: silent by default; with -v escaped and bounded" t_garbage_setup

# ------------------------------------------------------------------ 7. modules-load.d

t_many_files() {
	rootfs_make setup-hyperv
	local d=$ROOT/etc/modules-load.d i
	mkdir -p "$d" && (cd "$d" && for i in $(seq -w 5000); do echo "# nothing $i" >"f$i.conf"; done) || return 1
	shim_run 0 "$ROOT" setup --root "$ROOT" &&
	says "done: +wrote '$ROOT/etc/modules-load.d/hv_sock.conf'" "$OUT" || return 1
	# ... and one of them, late in the order, loads hv_sock: found, left alone.
	rm -f "$d/hv_sock.conf" && echo hv_sock >"$d/f4999.conf" &&
	shim_run 0 "$ROOT" setup --root "$ROOT" &&
	says "already: '$d/f4999.conf' loads hv_sock at every boot \\(line 1" "$OUT" &&
	[ ! -e "$d/hv_sock.conf" ]
}
check "setup --root with 5,000 modules-load.d files: works, finds the one that loads hv_sock" t_many_files

t_big_file() {
	rootfs_make setup-hyperv
	local d=$ROOT/etc/modules-load.d
	mkdir -p "$d" && { echo hv_sock; head -c 1100000 /dev/zero | tr '\0' '#'; echo; } >"$d/big.conf" || return 1
	shim_run 0 "$ROOT" setup --root "$ROOT" &&
	says "WARNING: Skipped '$d/big.conf' \(modules-load.d; if it loads hv_sock, setup cannot tell\): larger than 1 MiB"
}
check "setup --root: a modules-load.d file over 1 MiB is named with the reason" t_big_file

t_unreadable_file() {
	[ "$(id -u)" = 0 ] || { skip_check "needs root to run setup as another uid (root reads every file)"; return 0; }
	command -v setpriv >/dev/null || { skip_check "setpriv (util-linux) is missing"; return 0; }
	rootfs_make setup-hyperv
	local d=$ROOT/etc/modules-load.d
	mkdir -p "$d" && echo hv_sock >"$d/secret.conf" && chmod 600 "$d/secret.conf" || return 1
	# Everything else must be readable for uid 65534, and the binary reachable.
	chmod -R a+rX "$TEST_TMP" && chmod 600 "$d/secret.conf" && chmod a+w "$d" || return 1
	local bin=$X410_VSOCK
	case $bin in /*) ;; *) bin=$PWD/$bin ;; esac
	local s=0
	: >"$SHIM_LOG" && chmod a+w "$SHIM_LOG"
	timeout 20 setpriv --reuid=65534 --regid=65534 --clear-groups \
		env LD_PRELOAD="$SHIM_PRELOAD" X410_SHIM_ROOT="$ROOT" X410_SHIM_LOG="$SHIM_LOG" \
		"$bin" setup --root "$ROOT" --dry-run >"$OUT" 2>"$ERR" || s=$?
	expect_status 0 "$s" setup --root "$ROOT" --dry-run &&
	says "WARNING: Skipped '$d/secret.conf' \(modules-load.d; if it loads hv_sock, setup cannot tell\): Permission denied"
}
check "setup --root as a user: an unreadable modules-load.d file is named with the reason" t_unreadable_file

finish
