#!/bin/bash
# Build the initramfs of the check-vm guest: busybox as /init's shell, the
# guest's kernel modules, x410-vsock and the host tools the tests run (each
# with its shared libraries, found with ldd), the guest test scripts, and
# the test helpers.  No root needed: /dev is a devtmpfs mounted by /init.
#
# Usage: tests/vm/mkinitramfs.sh [--with PROGRAM]... OUT.cpio KERNEL-ENV SRCDIR X410-VSOCK HELPER...
#   --with      one more host program (a path) for the guest, at its own path
#               with its libraries ('make bench-vm': socat, x11perf)
#   KERNEL-ENV  the file written by tests/vm/prepare.sh
#   HELPER      programs installed in the guest's /tests/vm/bin
set -euo pipefail

die() { echo "vm-initramfs: ERROR: $*" >&2; exit 1; }

extra_progs=()
while [ $# -gt 0 ] && [ "$1" = --with ]; do
	[ $# -ge 2 ] || die "--with needs a program"
	extra_progs+=("$2")
	shift 2
done
[ $# -ge 4 ] || die "usage: $0 [--with PROGRAM]... OUT.cpio KERNEL-ENV SRCDIR X410-VSOCK HELPER..."
out=$1 env_file=$2 srcdir=$3 x410=$4
shift 4

. "$env_file"
[ -d "$VM_MODROOT/lib/modules/$VM_KVER" ] || die "no modules in '$VM_MODROOT' (run tests/vm/prepare.sh)"
[ -x "$x410" ] || die "'$x410' is not built"

stage=$(mktemp -d "${TMPDIR:-/tmp}/x410-vm-initramfs.XXXXXX")
trap 'rm -rf "$stage"' EXIT

# The same layout as the host's (merged /usr or not), so that the copied
# programs find their loader and libraries at the paths they were linked with.
mkdir -p "$stage"/{usr/bin,usr/sbin,usr/lib,etc,proc,sys,dev,tmp,run,root,busybox,tests/vm/bin,tests/vm/guest}
for d in bin sbin lib lib64 lib32; do
	if [ -L "/$d" ]; then
		target=$(readlink "/$d")
		case $target in /*) target=${target#/} ;; esac
		mkdir -p "$stage/$target"
		# Relative: an absolute link would lead the copies below out of
		# the staging tree into the host's own directories.
		ln -s "$target" "$stage/$d"
		case $(readlink -f "$stage/$d") in
		"$(readlink -f "$stage")"/*) ;;
		*) die "'$stage/$d' leads out of the staging tree" ;;
		esac
	elif [ -d "/$d" ]; then
		mkdir -p "$stage/$d"
	fi
done

# copy_file PATH [DEST]: the file's content (symlinks followed) at PATH in the guest.
copy_file() {
	local src=$1 dst=${2:-$1}
	[ -e "$stage$dst" ] && return 0
	mkdir -p "$stage$(dirname "$dst")"
	cp -L "$src" "$stage$dst" || die "cannot copy '$src'"
}

# copy_prog PATH [DEST]: a program and every shared library it needs.
copy_prog() {
	local prog=$1 dst=${2:-$1} lib
	[ -x "$prog" ] || die "'$prog' not found (scripts/bootstrap installs it)"
	copy_file "$prog" "$dst"
	# "libx.so => /path (0x..)" and "/lib64/ld-linux-x86-64.so.2 (0x..)"
	for lib in $(ldd "$prog" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
		copy_file "$lib"
	done
}

# busybox in a directory of its own: its applets must not take the place
# of the real tools (kmod's modprobe above all); PATH puts it last.
[ -x /bin/busybox ] || die "/bin/busybox not found (tests/vm/prepare.sh installs busybox-static)"
if ldd /bin/busybox >/dev/null 2>&1; then die "/bin/busybox is not static (install busybox-static)"; fi
cp /bin/busybox "$stage/busybox/busybox"
for applet in $(/bin/busybox --list); do
	[ "$applet" = busybox ] || ln -s busybox "$stage/busybox/$applet"
done

# Host tools, at their own paths.
for p in /usr/bin/bash /usr/bin/date /usr/bin/timeout /usr/bin/kmod \
	/usr/bin/Xvfb /usr/bin/xkbcomp /usr/bin/xdpyinfo ${extra_progs[@]+"${extra_progs[@]}"}; do
	copy_prog "$p"
done
# kmod's tools, as on the host (/sbin/modprobe is also what the kernel runs
# to autoload modules).
for t in modprobe insmod rmmod lsmod depmod modinfo; do
	ln -s ../bin/kmod "$stage/usr/sbin/$t"
done
# /bin/sh: Xvfb runs xkbcomp through it.
ln -s /busybox/busybox "$stage/usr/bin/sh"
# Xvfb's keyboard data and where its compiled keymaps go.
mkdir -p "$stage/var/lib/xkb" "$stage/var/tmp"
mkdir -p "$stage/usr/share/X11"
cp -a /usr/share/X11/xkb "$stage/usr/share/X11/"
[ -f /usr/lib/xorg/protocol.txt ] && copy_file /usr/lib/xorg/protocol.txt

# The project, its tests and helpers.
copy_prog "$x410" /usr/bin/x410-vsock
# libkmod.so.2 is dlopen'ed by doctor and setup (src/dlkmod.c), so ldd does
# not list it; the guest's kmod tool has libkmod built in.  The library at
# the path the host's loader finds it, and what it needs.
# awk reads all of its input (no 'exit'): leaving early would kill ldconfig
# with SIGPIPE, and pipefail would end this script with status 141.
ldcache=$(ldconfig -p 2>/dev/null) || ldcache=
kmod_lib=$(awk '$1 == "libkmod.so.2" && /x86-64|64bit/ && !found { print $NF; found = 1 }' <<<"$ldcache")
[ -n "$kmod_lib" ] || kmod_lib=$(awk '$1 == "libkmod.so.2" && !found { print $NF; found = 1 }' <<<"$ldcache")
[ -n "$kmod_lib" ] && [ -e "$kmod_lib" ] || die "libkmod.so.2 not found (ldconfig -p): x410-vsock loads it for setup and doctor"
copy_file "$kmod_lib"
for lib in $(ldd "$kmod_lib" 2>/dev/null | awk '{ for (i = 1; i <= NF; i++) if ($i ~ /^\//) print $i }'); do
	copy_file "$lib"
done
for h in "$@"; do
	copy_prog "$h" "/tests/vm/bin/$(basename "$h")"
done
cp "$srcdir/tests/lib.sh" "$stage/tests/lib.sh"
cp "$srcdir"/tests/vm/guest/*.sh "$stage/tests/vm/guest/"
cp "$srcdir/tests/vm/guest/init.sh" "$stage/init"
chmod 755 "$stage/init"

# The guest kernel's modules, depmod'ed by prepare.sh.
mkdir -p "$stage/lib/modules"
cp -a "$VM_MODROOT/lib/modules/$VM_KVER" "$stage/lib/modules/"

cat >"$stage/etc/passwd" <<'EOF'
root:x:0:0:root:/root:/usr/bin/bash
nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin
EOF
cat >"$stage/etc/group" <<'EOF'
root:x:0:
nogroup:x:65534:
EOF
echo "x410-vm" >"$stage/etc/hostname"

tmp_out=$out.tmp.$$
(cd "$stage" && find . -mindepth 1 | LC_ALL=C sort | cpio --quiet -o -H newc -R 0:0) >"$tmp_out" ||
	{ rm -f "$tmp_out"; die "cpio failed"; }
mv "$tmp_out" "$out"
