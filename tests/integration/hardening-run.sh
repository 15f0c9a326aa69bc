#!/bin/bash
# run and doctor against a hostile environment (issue #15): socket
# directories spelt to slip past the checks, clients with hundreds of
# groups, a restart right after kill -9.  Real processes and UNIX sockets
# only (tests/tools stand in for the X server and the clients), each wait
# with a deadline; the relay cases run on every engine this build has.
. "$top_srcdir/tests/lib.sh"
. "$top_srcdir/tests/preload/lib-shim.sh"

TT=${top_builddir:-.}/tests/tools
ENGINES=epoll
"$X410_VSOCK" --version | grep -q '^engines: io_uring' && ENGINES="uring epoll"

says() {
	grep -Eq -- "$1" "${2:-$ERR}" && return 0
	echo "# expected /$1/ in ${2:-stderr}:" >&2
	sed 's/^/#   /' "${2:-$ERR}" | head -n 20 >&2
	return 1
}

# A display number nobody uses (the abstract name is global to the machine).
pick_display() {
	local n=$(( 40000 + ($$ * 11 + ${1:-0} * 17) % 9000 ))
	while grep -q "@/tmp/.X11-unix/X$n\$" /proc/net/unix || [ -e "/tmp/.X11-unix/X$n" ] ||
		[ -e "/tmp/.X$n-lock" ]; do
		n=$((n + 1))
	done
	echo "$n"
}

# ------------------------------------------------------------------ 3. --socket-dir spellings

t_socket_dir_spellings() {
	local d=$TEST_TMP/dirs n spelling fails=0
	mkdir -p "$d/real" && chmod 1777 "$d/real" && ln -sfn real "$d/link" || return 1
	n=$(pick_display 1)
	for spelling in "$d/link/" "$d/link//" "$d//link/." "$d/link/./"; do
		run_x 1 run --no-abstract --socket-dir "$spelling" --lock-dir "$d" --connect "unix:$d/up" ":$n" &&
		says "socket directory '$d/link' is a symbolic link: refusing it" &&
		[ ! -e "$d/real/X$n" ] || { echo "# --socket-dir '$spelling' was not refused" >&2; fails=$((fails + 1)); }
	done
	for spelling in "$d/real/../link" "$d/link/.."; do
		run_x 2 run --no-abstract --socket-dir "$spelling" --lock-dir "$d" --connect "unix:$d/up" ":$n" &&
		says "Invalid --socket-dir '$spelling': '\.\.' is not allowed" ||
		{ echo "# --socket-dir '$spelling' was not refused" >&2; fails=$((fails + 1)); }
	done
	[ "$fails" = 0 ]
}
check "run: --socket-dir LINK/ (and //, /.) is refused as the symbolic link it is; '..' is a usage error" t_socket_dir_spellings

t_doctor_socket_dir() {
	shim_init
	rootfs_make doctor-hyperv-loadable || return 1
	mkdir -p "$ROOT/tmp/real" && chmod 1777 "$ROOT/tmp" "$ROOT/tmp/real" && ln -sfn real "$ROOT/tmp/link" || return 1
	local spelling
	for spelling in /tmp/link/ /tmp//link/.; do
		X410_SHIM_UNAME_R=6.1.0-18-amd64 shim_run 1 "$ROOT" doctor --root "$ROOT" --socket-dir "$spelling" &&
		says '^\[FAIL\] displays: /tmp/link is not a directory \(a symlink\?\)' "$OUT" || return 1
	done
	X410_SHIM_UNAME_R=6.1.0-18-amd64 shim_run 2 "$ROOT" doctor --root "$ROOT" --socket-dir /tmp/real/../link &&
	says "Invalid --socket-dir '/tmp/real/\.\./link': '\.\.' is not allowed"
}
check "doctor: --socket-dir LINK/ is reported as the symbolic link run refuses; '..' is a usage error" t_doctor_socket_dir

finish
