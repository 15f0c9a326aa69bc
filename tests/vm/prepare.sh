#!/bin/bash
# Fetch what the qemu guest of 'make check-vm' needs, without installing a
# kernel: qemu, a static busybox and cpio (apt-get, only when missing), and
# the Debian cloud kernel with just the modules the tests use, extracted from
# its .deb into a cache outside the source tree.
#
# Usage: tests/vm/prepare.sh ENV-FILE [PACKAGE...]
# PACKAGEs are more Debian packages the guest image needs, installed when
# missing ('make bench-vm': socat, x11-apps for x11perf).
# Writes ENV-FILE (shell syntax): VM_KVER, VM_KERNEL (the vmlinuz), VM_MODROOT
# (a root whose lib/modules/VM_KVER holds the modules, depmod'ed).
#
# The packages are installed here and not by scripts/bootstrap because they
# are big (~90 MB) and only this target needs them.  The cache is
# ${VMTEST_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/x410-vsock-vm}/<kernel version>;
# it is never part of the source tree.  Whatever cannot be fetched is an
# error with its reason: CI must not skip the guest tests silently.
set -euo pipefail

say() { echo "vm-prepare: $*" >&2; }
die() { echo "vm-prepare: ERROR: $*" >&2; exit 1; }

[ $# -ge 1 ] || die "usage: $0 ENV-FILE [PACKAGE...]"
env_file=$1
shift

cache=${VMTEST_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/x410-vsock-vm}
meta_pkg=linux-image-cloud-amd64

[ "$(uname -m)" = x86_64 ] || die "the guest is an x86_64 Debian cloud kernel; this machine is $(uname -m)"
command -v apt-get >/dev/null || die "needs apt-get (Debian or Ubuntu): the guest kernel is Debian's $meta_pkg"

as_root() {
	if [ "$(id -u)" -eq 0 ]; then
		"$@"
	elif command -v sudo >/dev/null; then
		sudo "$@"
	else
		die "installing $* needs root (or sudo)"
	fi
}

# ---------------------------------------------------------------- packages
apt_updated=no
apt_update() {
	[ $apt_updated = yes ] && return 0
	say "apt-get update"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq || die "apt-get update failed"
	apt_updated=yes
}

missing=()
for p in qemu-system-x86 busybox-static cpio "$@"; do
	dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
	apt_update
	say "installing ${missing[*]} (apt-get --no-install-recommends)"
	as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		die "apt-get install ${missing[*]} failed"
fi
command -v qemu-system-x86_64 >/dev/null || die "qemu-system-x86_64 not found after installing qemu-system-x86"
[ -x /bin/busybox ] || die "/bin/busybox not found after installing busybox-static"

# ---------------------------------------------------------------- kernel
# The package behind the meta package, e.g. linux-image-6.1.0-56-cloud-amd64:
# its name ends with the kernel version (uname -r) by Debian convention.
resolve() {
	apt-cache depends "$meta_pkg" 2>/dev/null | sed -n 's/^ *|\{0,1\}Depends: \(linux-image-[^ ]*\)$/\1/p' | head -n1
}
pkg=$(resolve)
if [ -z "$pkg" ]; then
	apt_update
	pkg=$(resolve)
fi

if [ -z "$pkg" ]; then
	# No package lists at all (offline?): a kernel fetched before still serves.
	newest=$(ls -1d "$cache"/*/.complete 2>/dev/null | sort -V | tail -n1 || true)
	[ -n "$newest" ] || die "cannot resolve '$meta_pkg' with apt-cache depends (no package lists, and nothing in $cache)"
	kver=$(basename "$(dirname "$newest")")
	say "cannot resolve '$meta_pkg': using the cached kernel $kver"
else
	kver=${pkg#linux-image-}
	pkg_version=$(apt-cache policy "$pkg" 2>/dev/null | sed -n 's/^ *Candidate: //p')
	[ -n "$pkg_version" ] && [ "$pkg_version" != "(none)" ] || die "apt knows no candidate version of '$pkg'"
fi

dir=$cache/$kver
if [ -n "$pkg" ] && { [ ! -f "$dir/.complete" ] || [ "$(cat "$dir/.complete")" != "$pkg=$pkg_version" ]; }; then
	mkdir -p "$cache" || die "cannot create the cache directory '$cache'"
	work=$(mktemp -d "$cache/.fetch.XXXXXX")
	trap 'rm -rf "$work"' EXIT
	say "downloading $pkg=$pkg_version (not installed: only extracted into $dir)"
	(cd "$work" && apt-get download -q -o APT::Sandbox::User=root "$pkg=$pkg_version" >&2) ||
		die "apt-get download $pkg=$pkg_version failed"
	deb=$(ls "$work"/*.deb 2>/dev/null | head -n1)
	[ -n "$deb" ] || die "apt-get download left no .deb in $work"
	mkdir "$work/root"
	# Only the kernel image and the modules the guest tests load.
	dpkg-deb --fsys-tarfile "$deb" | tar -x -C "$work/root" --wildcards \
		--no-wildcards-match-slash \
		'./boot/vmlinuz-*' \
		'./lib/modules/*/kernel/net/vmw_vsock/*' \
		'./lib/modules/*/kernel/drivers/hv/*' \
		'./lib/modules/*/modules.builtin*' \
		'./lib/modules/*/modules.order' ||
		die "extracting $deb failed"
	[ -d "$work/root/lib/modules/$kver" ] || die "$pkg has no lib/modules/$kver (kernel version naming changed?)"
	[ -f "$work/root/boot/vmlinuz-$kver" ] || die "$pkg has no boot/vmlinuz-$kver"
	ls "$work/root/lib/modules/$kver/kernel/net/vmw_vsock/"vsock_loopback.ko* >/dev/null 2>&1 ||
		die "$pkg has no vsock_loopback module"
	depmod -b "$work/root" "$kver" || die "depmod -b failed"
	echo "$pkg=$pkg_version" >"$work/root/.complete"
	rm -rf "$dir"
	mv "$work/root" "$dir"
	rm -rf "$work"
	trap - EXIT
	say "kernel $kver ready in $dir ($(du -sh "$dir" | cut -f1))"
fi

cat >"$env_file" <<EOT
VM_KVER='$kver'
VM_KERNEL='$dir/boot/vmlinuz-$kver'
VM_MODROOT='$dir'
EOT
