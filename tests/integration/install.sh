#!/bin/bash
# make install DESTDIR=... installs exactly the binary, the man page, the bash
# completion, the systemd units and the modules-load.d template (as data, not
# into a modules-load.d directory); make uninstall removes every one of them.
. "$top_srcdir/tests/lib.sh"

make=${MAKE:-make}
command -v "$make" >/dev/null || skip "no make"
# A make started from a test must not inherit the outer make's jobserver.
submake() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL -u MAKEOVERRIDES timeout 300 "$make" -s -C "$top_builddir" "$@"; }

# The directories, worked out here from configure's arguments (config.status
# --config) and pkg-config, the way configure is documented to choose them,
# not read from the Makefile under test: a Makefile that drops a directory
# must not shrink the expected list.
[ -x "$top_builddir/config.status" ] || fatal "no config.status in $top_builddir"
eval "set -- $("$top_builddir/config.status" --config)"
prefix=/usr/local bindir="" mandir="" datarootdir=""
with_systemdsystemunitdir=auto with_systemduserunitdir=auto with_bash_completion_dir=auto
for a in "$@"; do
	case $a in
	--prefix=*) prefix=${a#*=} ;;
	--bindir=*) bindir=${a#*=} ;;
	--mandir=*) mandir=${a#*=} ;;
	--datarootdir=*) datarootdir=${a#*=} ;;
	--with-systemdsystemunitdir=*) with_systemdsystemunitdir=${a#*=} ;;
	--without-systemdsystemunitdir) with_systemdsystemunitdir=no ;;
	--with-systemduserunitdir=*) with_systemduserunitdir=${a#*=} ;;
	--without-systemduserunitdir) with_systemduserunitdir=no ;;
	--with-bash-completion-dir=*) with_bash_completion_dir=${a#*=} ;;
	--without-bash-completion-dir) with_bash_completion_dir=no ;;
	esac
done
: "${bindir:=$prefix/bin}" "${datarootdir:=$prefix/share}"
: "${mandir:=$datarootdir/man}"
pkgdatadir=$datarootdir/x410-vsock
# pkg_dir WITH-VALUE PACKAGE VARIABLE: configure's X410_PKG_DIR rule.
pkg_dir() {
	case $1 in
	no) echo "" ;;
	auto|yes) pkg-config --variable="$3" "$2" 2>/dev/null || true ;;
	*) echo "$1" ;;
	esac
}
systemdsystemunitdir=$(pkg_dir "$with_systemdsystemunitdir" systemd systemdsystemunitdir)
systemduserunitdir=$(pkg_dir "$with_systemduserunitdir" systemd systemduserunitdir)
bashcompletiondir=$(pkg_dir "$with_bash_completion_dir" bash-completion completionsdir)

dest=$TEST_TMP/dest
expected=$TEST_TMP/expected
{
	echo "$bindir/x410-vsock"
	echo "$mandir/man1/x410-vsock.1"
	echo "$pkgdatadir/hv_sock.conf"
	[ -z "$systemdsystemunitdir" ] || printf '%s\n' "$systemdsystemunitdir/x410-vsock@.service" "$systemdsystemunitdir/x410-vsock@.socket" "$systemdsystemunitdir/x410-vsock-path@.socket"
	[ -z "$systemduserunitdir" ] || printf '%s\n' "$systemduserunitdir/x410-vsock@.service" "$systemduserunitdir/x410-vsock@.socket" "$systemduserunitdir/x410-vsock-path@.socket"
	[ -z "$bashcompletiondir" ] || echo "$bashcompletiondir/x410-vsock"
} | sed 's|//*|/|g' | sort >"$expected"
echo "# expected: $(tr '\n' ' ' <"$expected")"
[ -n "$systemdsystemunitdir" ] && [ -n "$systemduserunitdir" ] && [ -n "$bashcompletiondir" ] ||
	echo "# some directories are not configured here (no .pc file): their files are expected absent"

installed() { (cd "$dest" && find . \( -type f -o -type l \) | sed 's|^\.||' | sort); }

t_install() {
	submake install DESTDIR="$dest" >"$TEST_TMP/install.log" 2>&1 || { sed 's/^/# /' "$TEST_TMP/install.log" >&2; return 1; }
	installed >"$TEST_TMP/got"
	diff -u "$expected" "$TEST_TMP/got" | sed 's/^/# /' >&2
	cmp -s "$expected" "$TEST_TMP/got"
}
check "make install DESTDIR installs exactly the expected files" t_install

t_modes() {
	local f
	[ -x "$dest$bindir/x410-vsock" ] || return 1
	while read -r f; do
		[ "$f" = "$bindir/x410-vsock" ] && continue
		[ "$(stat -c %a "$dest$f")" = 644 ] || { echo "# $f: mode $(stat -c %a "$dest$f")" >&2; return 1; }
	done <"$expected"
}
check "the binary is executable, everything else 0644" t_modes

t_not_modules_load() {
	! grep -q 'modules-load\.d' "$expected" && ! installed | grep -q 'modules-load\.d' &&
	grep -qx hv_sock "$dest$pkgdatadir/hv_sock.conf"
}
check "hv_sock.conf is installed as data, never into a modules-load.d directory" t_not_modules_load

t_installed_runs() {
	"$dest$bindir/x410-vsock" --version | grep -q '^x410-vsock ' &&
	"$dest$bindir/x410-vsock" regfile | cmp -s - "$top_srcdir/tests/golden/regfile-0.reg"
}
check "the installed binary runs" t_installed_runs

t_units_bindir() {
	local f
	for f in "$systemdsystemunitdir" "$systemduserunitdir"; do
		[ -n "$f" ] || continue
		grep -qx "ExecStart=$bindir/x410-vsock run \$X410_VSOCK_OPTIONS :%i" "$dest$f/x410-vsock@.service" || return 1
	done
}
if [ -n "$systemdsystemunitdir$systemduserunitdir" ]; then
	check "the installed services run the installed binary" t_units_bindir
else
	skip_check "no systemd unit directory configured (pkg-config systemd not found)"
fi

t_uninstall() {
	submake uninstall DESTDIR="$dest" >"$TEST_TMP/uninstall.log" 2>&1 || { sed 's/^/# /' "$TEST_TMP/uninstall.log" >&2; return 1; }
	local left
	left=$(installed)
	[ -z "$left" ] || { echo "# left behind: $left" >&2; return 1; }
}
check "make uninstall DESTDIR removes every installed file" t_uninstall

finish
