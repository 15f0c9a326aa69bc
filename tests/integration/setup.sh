#!/bin/bash
# x410-vsock setup against fake systems (tests/rootfs/setup-*), under the
# LD_PRELOAD shim that fakes uname, geteuid, the paths and init_module
# (tests/preload/README).  Every case compares the output with a golden file
# (tests/golden/setup/CASE; X410_UPDATE_GOLDEN=1 rewrites them, except
# under CI=true)
# and checks what really happened to the fake root and the fake kernel.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/preload/lib-shim.sh"

shim_init

GOLDEN=$top_srcdir/tests/golden/setup
CONF=etc/modules-load.d/hv_sock.conf
REPO_CONF=$top_srcdir/modules-load.d/hv_sock.conf

export X410_SHIM_EUID=0 X410_SHIM_UNAME_R=6.1.0-18-amd64 X410_SHIM_UNAME_M=x86_64
unset X410_SHIM_INIT_MODULE

# golden CASE: stdout and stderr of the last run ($ROOT written @ROOT@)
# against the golden file.
golden() {
	local actual=$TEST_TMP/golden-$1
	{
		echo "--- stdout"
		sed "s|$ROOT|@ROOT@|g" "$OUT"
		echo "--- stderr"
		sed "s|$ROOT|@ROOT@|g" "$ERR"
	} >"$actual"
	if golden_update; then
		cp "$actual" "$GOLDEN/$1"
		echo "# rewrote the golden file $1" >&2
	fi
	if ! diff -u "$GOLDEN/$1" "$actual" >"$TEST_TMP/diff"; then
		sed 's/^/# /' "$TEST_TMP/diff" >&2
		return 1
	fi
}

# Everything about a tree but access times: names, types, link targets,
# modes, sizes, modification times, contents.
snapshot() {
	(cd "$1" && find . -printf '%p %y %l %m %s %T@\n' | sort &&
		find . -type f -exec md5sum {} + | sort)
}

inserted_is() {
	local got
	got=$(shim_inserted)
	[ "$got" = "$1" ] || { echo "# inserted '$got', expected '$1'" >&2; return 1; }
}

no_conf() { [ ! -e "$ROOT/$CONF" ] && [ ! -L "$ROOT/$CONF" ]; }
our_conf() { [ -f "$ROOT/$CONF" ] && [ ! -L "$ROOT/$CONF" ] && cmp -s "$ROOT/$CONF" "$REPO_CONF"; }
# No temporary file left behind in modules-load.d.
no_tmp() { ! ls -A "$ROOT/etc/modules-load.d" | grep -q '^\.'; }

t_load() {
	rootfs_make setup-hyperv
	shim_run 0 "$ROOT" setup && golden load &&
	inserted_is "vsock hv_sock" &&
	[ "$(cat "$ROOT/sys/module/hv_sock/initstate")" = live ] &&
	our_conf && no_tmp &&
	[ "$(stat -c %a "$ROOT/$CONF")" = 644 ]
}
check "load succeeds: hv_sock loaded with its dependency, hv_sock.conf written (same bytes as the repository's)" t_load

# The write itself, seen from the system calls (strace): a temporary file
# in modules-load.d created with O_EXCL|O_NOFOLLOW, fsync'ed, renamed onto
# hv_sock.conf with RENAME_NOREPLACE, then the directory fsync'ed; never an
# open of hv_sock.conf itself for writing.  The outcome alone cannot tell an
# atomic write from a direct one.
t_atomic_write() {
	local tr=$TEST_TMP/strace status=0
	rootfs_make setup-hyperv
	: >"$SHIM_LOG"
	# LeakSanitizer cannot run under ptrace: an ASan build leaves it off here.
	timeout 30 strace -f -qq -y -o "$tr" -e trace=open,openat,openat2,creat,rename,renameat,renameat2,fsync,fdatasync \
		env ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0" LD_PRELOAD="$SHIM_PRELOAD" X410_SHIM_ROOT="$ROOT" X410_SHIM_LOG="$SHIM_LOG" \
		"$X410_VSOCK" setup >"$OUT" 2>"$ERR" || status=$?
	expect_status 0 "$status" setup || return 1
	our_conf && no_tmp || { echo "# no hv_sock.conf, or a temporary file left" >&2; return 1; }
	local dir=$ROOT/etc/modules-load.d
	# The calls on modules-load.d's entries, in order, with their line numbers.
	grep -n -F "$dir" "$tr" | grep -E 'open|rename|fsync' >"$TEST_TMP/calls"
	local create fsync_tmp rename fsync_dir tmp
	create=$(grep -E "openat\([0-9]+<$dir>, \"\.hv_sock\.conf\.[^\"]+\", O_WRONLY\|O_CREAT\|O_EXCL\|O_NOFOLLOW\|O_CLOEXEC, 0644\) = [0-9]+" "$TEST_TMP/calls" | head -n1)
	[ -n "$create" ] || { echo "# no temporary file created with O_CREAT|O_EXCL|O_NOFOLLOW in $dir:" >&2; sed 's/^/#   /' "$TEST_TMP/calls" >&2; return 1; }
	tmp=$(echo "$create" | sed -n 's/.*"\(\.hv_sock\.conf\.[^"]*\)".*/\1/p')
	fsync_tmp=$(grep -E "fsync\([0-9]+<$dir/$tmp>\) = 0" "$TEST_TMP/calls" | cut -d: -f1 | head -n1)
	rename=$(grep -E "renameat2\([0-9]+<$dir>, \"$tmp\", [0-9]+<$dir>, \"hv_sock\.conf\", RENAME_NOREPLACE\) = 0" "$TEST_TMP/calls" | cut -d: -f1 | head -n1)
	fsync_dir=$(grep -E "fsync\([0-9]+<$dir>\) = 0" "$TEST_TMP/calls" | cut -d: -f1 | tail -n1)
	[ -n "$fsync_tmp" ] && [ -n "$rename" ] && [ -n "$fsync_dir" ] &&
		[ "${create%%:*}" -lt "$fsync_tmp" ] && [ "$fsync_tmp" -lt "$rename" ] && [ "$rename" -lt "$fsync_dir" ] ||
		{ echo "# expected: create $tmp, fsync it, renameat2 RENAME_NOREPLACE onto hv_sock.conf, fsync the directory; got:" >&2
		  sed 's/^/#   /' "$TEST_TMP/calls" >&2; return 1; }
	if grep -E "\"hv_sock\.conf\", O_[A-Z|]*(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)" "$TEST_TMP/calls" >&2 ||
		grep -E "open(at)?\(.*<?$dir/hv_sock\.conf>?\"?, O_[A-Z|]*(O_WRONLY|O_RDWR|O_CREAT|O_TRUNC)" "$TEST_TMP/calls" >&2; then
		echo "# hv_sock.conf itself was opened for writing" >&2
		return 1
	fi
}
if command -v strace >/dev/null && strace -f -qq -o /dev/null true 2>/dev/null; then
	check "the write is atomic: temporary file (O_EXCL|O_NOFOLLOW), fsync, renameat2(RENAME_NOREPLACE), fsync of the directory" t_atomic_write
else
	skip_check "the atomic write is checked with strace, which is missing or cannot trace here (scripts/bootstrap installs it)"
fi

t_second_run() {
	rootfs_make setup-hyperv
	shim_run 0 "$ROOT" setup || return 1
	local before
	before=$(snapshot "$ROOT")
	shim_run 0 "$ROOT" setup && golden second-run &&
	inserted_is "" && [ "$(snapshot "$ROOT")" = "$before" ]
}
check "a second run changes nothing and says 'Already set up'" t_second_run

t_loaded() {
	rootfs_make setup-loaded
	shim_run 0 "$ROOT" setup && golden loaded &&
	inserted_is "" && our_conf
}
check "already loaded: nothing inserted, hv_sock.conf written" t_loaded

t_builtin_index() {
	rootfs_make setup-builtin
	local before
	before=$(snapshot "$ROOT")
	shim_run 0 "$ROOT" setup && golden builtin &&
	inserted_is "" && [ "$(snapshot "$ROOT")" = "$before" ]
}
check "built in (modules.builtin): nothing loaded, nothing written" t_builtin_index

t_wsl2() {
	rootfs_make setup-wsl2
	local before
	before=$(snapshot "$ROOT")
	X410_SHIM_UNAME_R=5.15.153.1-microsoft-standard-WSL2 shim_run 0 "$ROOT" setup && golden wsl2 &&
	inserted_is "" && [ "$(snapshot "$ROOT")" = "$before" ]
}
check "WSL2 (built in, no /lib/modules): says so and changes nothing; X410's WSL2/VSOCK option, no registry key" t_wsl2

# A custom WSL2 kernel without hv_sock, and no /lib/modules: the fix is the
# kernel option (or WSL's own kernel), never a distribution package.
t_wsl2_custom() {
	rootfs_make setup-wsl2-custom
	local before
	before=$(snapshot "$ROOT")
	X410_SHIM_UNAME_R=6.6.36.3-microsoft-standard-WSL2+ shim_run 1 "$ROOT" setup && golden wsl2-custom &&
	inserted_is "" && [ "$(snapshot "$ROOT")" = "$before" ] &&
	grep -q CONFIG_HYPERV_VSOCKETS=y "$ERR" && ! grep -q 'apt\|linux-image\|linux-modules' "$ERR"
}
check "WSL2 with a custom kernel without hv_sock: CONFIG_HYPERV_VSOCKETS=y, not a package" t_wsl2_custom

# A Hyper-V VM with kernel 5.4 (only one vsock transport may load): hv_sock
# is loaded and the closing lines keep the registry key of Hyper-V VMs.
t_load_54() {
	rootfs_make setup-old-kernel
	rm -r "$ROOT/sys/module/vmw_vsock_vmci_transport"
	X410_SHIM_UNAME_R=5.4.0-150-generic shim_run 0 "$ROOT" setup && golden load-5.4 &&
	inserted_is "hv_sock" && our_conf &&
	grep -q 'GuestCommunicationServices' "$OUT"
}
check "Hyper-V VM, kernel 5.4: loads hv_sock; the registry key of Hyper-V VMs in the closing lines" t_load_54

t_blacklisted() {
	rootfs_make setup-blacklisted
	local before
	before=$(snapshot "$ROOT")
	shim_run 1 "$ROOT" setup && golden blacklisted &&
	inserted_is "" && [ "$(snapshot "$ROOT")" = "$before" ]
}
check "blacklisted: refused, says where, nothing changed" t_blacklisted

t_blacklisted_dependency() {
	rootfs_make setup-hyperv
	echo "BOOT_IMAGE=/boot/vmlinuz ro modprobe.blacklist=nouveau,vsock" >"$ROOT/proc/cmdline"
	shim_run 1 "$ROOT" setup && golden blacklisted-dependency &&
	inserted_is "" && no_conf
}
check "a blacklisted dependency (kernel command line) is refused too" t_blacklisted_dependency

t_install_false() {
	rootfs_make setup-install-false
	shim_run 1 "$ROOT" setup && golden install-false && inserted_is "" && no_conf
}
check "'install hv_sock /bin/false' is honoured, and no command is run" t_install_false

t_missing() {
	rootfs_make setup-missing
	shim_run 1 "$ROOT" setup && golden missing && inserted_is "" && no_conf
}
check "ENOENT: no module for this kernel, the package named" t_missing

t_not_hyperv() {
	rootfs_make setup-not-hyperv
	X410_SHIM_INIT_MODULE="hv_vmbus=ENODEV" shim_run 1 "$ROOT" setup && golden not-hyperv &&
	grep -q '^finit_module hv_vmbus ENODEV$' "$SHIM_LOG" &&
	! grep -q 'hv_sock' "$SHIM_LOG" && no_conf
}
check "ENODEV without VMBus: 'not a Hyper-V guest', nothing written" t_not_hyperv

t_old_host() {
	rootfs_make setup-hyperv
	X410_SHIM_INIT_MODULE="hv_sock=ENODEV" shim_run 1 "$ROOT" setup && golden old-host &&
	grep -q '^finit_module hv_sock ENODEV$' "$SHIM_LOG" && no_conf
}
check "ENODEV with VMBus: 'host older than Windows 10 / Server 2016'" t_old_host

t_modules_disabled() {
	rootfs_make setup-modules-disabled
	X410_SHIM_INIT_MODULE="*=EPERM" shim_run 1 "$ROOT" setup && golden modules-disabled &&
	inserted_is "" && no_conf
}
check "EPERM with kernel.modules_disabled=1" t_modules_disabled

t_lockdown() {
	rootfs_make setup-hyperv
	echo "none [integrity] confidentiality" >"$ROOT/sys/kernel/security/lockdown"
	X410_SHIM_INIT_MODULE="*=EPERM" shim_run 1 "$ROOT" setup && golden lockdown && no_conf
}
check "EPERM under kernel lockdown" t_lockdown

t_eperm() {
	rootfs_make setup-hyperv
	X410_SHIM_INIT_MODULE="*=EPERM" shim_run 1 "$ROOT" setup && golden eperm && no_conf
}
check "EPERM otherwise: module loading restricted" t_eperm

t_ebusy() {
	rootfs_make setup-old-kernel
	X410_SHIM_UNAME_R=5.4.0-150-generic X410_SHIM_INIT_MODULE="hv_sock=EBUSY" \
		shim_run 1 "$ROOT" setup && golden ebusy && no_conf
}
check "EBUSY before 5.5: another transport named, how to blacklist it" t_ebusy

# From 5.5 on only one guest-to-host transport registers: hv_sock's EBUSY
# names the one that did (virtio here; vsock_loopback, also loaded, is no
# rival), with its blacklist line.
t_ebusy_new() {
	rootfs_make setup-virtio
	X410_SHIM_INIT_MODULE="hv_sock=EBUSY" shim_run 1 "$ROOT" setup && golden ebusy-6.1 && no_conf &&
	grep -q "^f\{0,1\}init_module hv_sock EBUSY" "$SHIM_LOG"
}
check "EBUSY on 6.1: the other guest-to-host transport (virtio) named, how to blacklist it" t_ebusy_new

# Only vsock_loopback besides: it is not the cause, and is not named.
t_ebusy_loopback() {
	rootfs_make setup-virtio
	rm -r "$ROOT/sys/module/vmw_vsock_virtio_transport"
	X410_SHIM_INIT_MODULE="hv_sock=EBUSY" shim_run 1 "$ROOT" setup && golden ebusy-loopback && no_conf
}
check "EBUSY on 6.1 with only vsock_loopback: no transport blamed" t_ebusy_loopback

t_not_root() {
	rootfs_make setup-hyperv
	local before
	before=$(snapshot "$ROOT")
	X410_SHIM_EUID=1000 shim_run 1 "$ROOT" setup && golden not-root &&
	inserted_is "" && [ "$(snapshot "$ROOT")" = "$before" ] &&
	X410_SHIM_EUID=1000 shim_run 1 "$ROOT" setup --undo &&
	grep -qx "x410-vsock: ERROR: setup --undo must run as root: sudo x410-vsock setup --undo" "$ERR"
}
check "not root: one clear error, nothing changed" t_not_root

t_usrlib_config() {
	rootfs_make setup-usrlib-config
	shim_run 0 "$ROOT" setup && golden usrlib-config &&
	inserted_is "vsock hv_sock" && no_conf &&
	[ "$(cat "$ROOT/usr/lib/modules-load.d/hyperv-guest.conf")" = "$(cat "$top_srcdir/tests/rootfs/setup-usrlib-config/usr/lib/modules-load.d/hyperv-guest.conf")" ]
}
check "an equivalent configuration in /usr/lib/modules-load.d is left alone" t_usrlib_config

t_commented() {
	rootfs_make setup-commented
	local before
	before=$(md5sum <"$ROOT/$CONF")
	shim_run 0 "$ROOT" setup && golden commented &&
	[ "$(md5sum <"$ROOT/$CONF")" = "$before" ]
}
check "an existing hv_sock.conf with comments counts, and is untouched" t_commented

t_foreign_conf() {
	rootfs_make setup-hyperv
	printf '# hv_sock\n' >"$ROOT/$CONF"
	shim_run 1 "$ROOT" setup && golden foreign-conf &&
	[ "$(cat "$ROOT/$CONF")" = "# hv_sock" ]
}
check "an hv_sock.conf that loads nothing is not overwritten" t_foreign_conf

t_symlink() {
	rootfs_make setup-hyperv
	echo "precious" >"$ROOT/etc/victim"
	ln -s ../victim "$ROOT/$CONF"
	shim_run 1 "$ROOT" setup && golden symlink &&
	[ -L "$ROOT/$CONF" ] && [ "$(readlink "$ROOT/$CONF")" = ../victim ] &&
	[ "$(cat "$ROOT/etc/victim")" = precious ] && no_tmp
}
check "a symbolic link planted at the target is refused, its target untouched" t_symlink

t_symlink_masked() {
	rootfs_make setup-hyperv
	ln -s /dev/null "$ROOT/$CONF"
	shim_run 1 "$ROOT" setup && golden symlink-masked &&
	[ "$(readlink "$ROOT/$CONF")" = /dev/null ]
}
check "a mask (link to /dev/null) is refused too, and named" t_symlink_masked

t_symlink_dir() {
	rootfs_make setup-hyperv
	mkdir -p "$ROOT/elsewhere"
	mv "$ROOT/etc/modules-load.d" "$ROOT/etc/modules-load.d.real"
	ln -s ../elsewhere "$ROOT/etc/modules-load.d"
	shim_run 1 "$ROOT" setup && golden symlink-dir &&
	[ -z "$(ls -A "$ROOT/elsewhere")" ]
}
check "a symbolic link in place of /etc/modules-load.d is refused" t_symlink_dir

t_no_conf_dir() {
	rootfs_make setup-hyperv
	rm -rf "$ROOT/etc/modules-load.d"
	shim_run 0 "$ROOT" setup && our_conf &&
	[ "$(stat -c %a "$ROOT/etc/modules-load.d")" = 755 ]
}
check "/etc/modules-load.d is created when missing" t_no_conf_dir

t_dry_run() {
	rootfs_make setup-hyperv
	local before
	before=$(snapshot "$ROOT")
	X410_SHIM_EUID=1000 shim_run 0 "$ROOT" setup --dry-run && golden dry-run &&
	inserted_is "" && ! grep -q 'init_module' "$SHIM_LOG" &&
	[ "$(snapshot "$ROOT")" = "$before" ]
}
check "--dry-run prints the plan, writes nothing, loads nothing, needs no root" t_dry_run

t_dry_run_blacklisted() {
	rootfs_make setup-blacklisted
	X410_SHIM_EUID=1000 shim_run 1 "$ROOT" setup -n && golden dry-run-blacklisted && no_conf
}
check "--dry-run says what a real run would refuse, exit 1" t_dry_run_blacklisted

t_undo() {
	rootfs_make setup-usrlib-config
	shim_run 0 "$ROOT" setup || return 1
	# Something else that loads it, and our file written by an earlier run.
	printf '# ours\nhv_sock\n' >"$ROOT/etc/modules-load.d/other.conf"
	cp "$REPO_CONF" "$ROOT/$CONF"
	local before
	before=$(snapshot "$ROOT/usr")
	shim_run 0 "$ROOT" setup --undo && golden undo &&
	no_conf && [ -f "$ROOT/etc/modules-load.d/other.conf" ] &&
	[ -L "$ROOT/etc/modules-load.d/modules.conf" ] &&
	[ "$(snapshot "$ROOT/usr")" = "$before" ] &&
	[ "$(cat "$ROOT/sys/module/hv_sock/initstate")" = live ] &&
	! grep -q delete_module "$SHIM_LOG" &&
	shim_run 0 "$ROOT" setup --undo && golden undo-again
}
check "--undo removes only our file and leaves the kernel alone" t_undo

t_undo_changed() {
	rootfs_make setup-commented
	shim_run 1 "$ROOT" setup --undo && golden undo-changed &&
	cmp -s "$ROOT/$CONF" "$top_srcdir/tests/rootfs/setup-commented/$CONF"
}
check "--undo refuses a file that is not exactly ours" t_undo_changed

t_undo_symlink() {
	rootfs_make setup-hyperv
	cp "$REPO_CONF" "$ROOT/etc/ours"
	ln -s ../ours "$ROOT/$CONF"
	shim_run 1 "$ROOT" setup --undo && [ -L "$ROOT/$CONF" ] && [ -f "$ROOT/etc/ours" ] &&
	grep -q "is a symbolic link (to '../ours'), which x410-vsock never writes: left alone" "$ERR"
}
check "--undo refuses a symbolic link" t_undo_symlink

t_undo_dry_run() {
	rootfs_make setup-hyperv
	shim_run 0 "$ROOT" setup || return 1
	X410_SHIM_EUID=1000 shim_run 0 "$ROOT" setup --undo --dry-run && golden undo-dry-run && our_conf
}
check "--undo --dry-run removes nothing" t_undo_dry_run

t_no_systemd() {
	rootfs_make setup-no-systemd
	shim_run 1 "$ROOT" setup && golden no-systemd &&
	inserted_is "vsock hv_sock" && no_conf &&
	echo hv_sock >>"$ROOT/etc/modules" &&
	shim_run 0 "$ROOT" setup && golden no-systemd-etc-modules && no_conf
}
check "no systemd: names /etc/modules instead of pretending; counts it once it lists hv_sock" t_no_systemd

t_sysvinit() {
	rootfs_make setup-sysvinit
	shim_run 0 "$ROOT" setup && golden sysvinit && our_conf
}
check "sysvinit with Debian's kmod script: modules-load.d is read, written" t_sysvinit

t_root() {
	rootfs_make setup-hyperv
	local kernel=$ROOT image=$TEST_TMP/image
	mkdir -p "$image/etc" "$image/usr/lib/systemd"
	: >"$image/usr/lib/systemd/systemd-modules-load"
	# The image is not redirected: --root names it.
	X410_SHIM_EUID=1000 shim_run 0 "$kernel" setup --root "$image/" || return 1
	ROOT=$image golden root &&
	inserted_is "" && [ ! -e "$kernel/$CONF" ] &&
	cmp -s "$image/$CONF" "$REPO_CONF" &&
	X410_SHIM_EUID=1000 shim_run 0 "$kernel" setup --root="$image" --undo && [ ! -e "$image/$CONF" ]
}
check "--root DIR writes under DIR, leaves the kernel alone, needs no root" t_root

t_root_missing() {
	run_x 1 setup --root "$TEST_TMP/nowhere" &&
	grep -qx "x410-vsock: ERROR: Cannot use '$TEST_TMP/nowhere' as the root directory: No such file or directory" "$ERR"
}
check "--root with a missing directory fails with the reason" t_root_missing

# usage_case 'EXPECTED ERROR LINE' ARGS...
usage_case() {
	local line=$1; shift
	run_x 2 "$@" || return 1
	[ ! -s "$OUT" ] && [ "$(wc -l <"$ERR")" -eq 2 ] &&
	[ "$(sed -n 1p "$ERR")" = "$line" ] &&
	[ "$(sed -n 2p "$ERR")" = "Try 'x410-vsock setup --help'." ]
}
check "an unknown option is a usage error" \
	usage_case "x410-vsock: ERROR: Unknown option '--bogus'" setup --bogus
check "an unknown short option is a usage error" \
	usage_case "x410-vsock: ERROR: Unknown option '-x'" setup -x
check "--root without a directory is a usage error" \
	usage_case "x410-vsock: ERROR: Option '--root' needs an argument" setup --root
check "an empty --root is a usage error" \
	usage_case "x410-vsock: ERROR: '--root' needs a directory" setup --root=
check "an argument is a usage error" \
	usage_case "x410-vsock: ERROR: Unexpected argument 'now'" setup now

# libkmod is dlopen'ed (src/dlkmod.c): without it setup still works when
# /sys/module says hv_sock is loaded, and otherwise says what to install.
t_no_libkmod_loadable() {
	rootfs_make setup-hyperv
	X410_SHIM_DLOPEN_FAIL=libkmod.so.2 shim_run 1 "$ROOT" setup && golden no-libkmod &&
	grep -q '^dlopen libkmod.so.2 ENOENT$' "$SHIM_LOG" &&
	inserted_is "" && no_conf
}
check "without libkmod.so.2, a loadable hv_sock is an error that says what to install; nothing changed" t_no_libkmod_loadable

t_no_libkmod_loaded() {
	rootfs_make setup-loaded
	X410_SHIM_DLOPEN_FAIL=libkmod.so.2 shim_run 0 "$ROOT" setup && golden loaded &&
	grep -q '^dlopen libkmod.so.2 ENOENT$' "$SHIM_LOG" &&
	inserted_is "" && our_conf
}
check "without libkmod.so.2, a loaded hv_sock is set up as usual (from /sys/module)" t_no_libkmod_loaded

t_help() {
	run_x 0 setup --help && [ ! -s "$ERR" ] &&
	grep -q '^Usage: x410-vsock setup \[OPTIONS\]' "$OUT" &&
	for o in -n, --dry-run --root=DIR --undo -h, --help; do
		grep -q -- "$o" "$OUT" || { echo "# --help lacks $o" >&2; return 1; }
	done
}
check "setup --help lists every option, to stdout" t_help

t_docs() {
	# Every option of --help is in the man page and the README.
	local o
	for o in dry-run root undo; do
		grep -q "^\.It Fl \(n , Fl \)\?-$o" "$top_srcdir/doc/x410-vsock.1" ||
			{ echo "# man page lacks --$o" >&2; return 1; }
		grep -q -- "--$o" "$top_srcdir/README.md" || { echo "# README lacks --$o" >&2; return 1; }
	done
}
check "the man page and the README document every setup option" t_docs

finish
