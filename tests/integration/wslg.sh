#!/bin/bash
# WSLg's socket directory, reproduced in a private mount namespace (root
# only): /tmp/.X11-unix a read-only bind mount of a mode 0777 directory, or
# (older WSLg) a tmpfs on /tmp holding a root-owned symbolic link
# /tmp/.X11-unix -> /mnt/wslg/.X11-unix.  In each, `run :N` must serve a
# working display through the abstract socket only (one warning line, the
# lock file taken and released), `run --no-abstract` must refuse, doctor
# must call the layout WSLg's ([ OK ]), and a real X client (xdpyinfo) must
# reach a real X server (Xvfb, started outside and reached by its abstract
# name, since abstract sockets cross mount namespaces).  The read-only
# layout also runs the relay socket-activated with the abstract socket
# alone (systemd-socket-activate), as the user units do there.
. "$top_srcdir/tests/lib.sh"

[ "$(id -u)" = 0 ] || skip "not root: a private mount namespace needs CAP_SYS_ADMIN"
for tool in unshare Xvfb xdpyinfo mount; do
	command -v "$tool" >/dev/null || skip "$tool is not installed (scripts/bootstrap installs it)"
done
unshare -m --propagation private true 2>/dev/null || skip "unshare -m does not work here (no CAP_SYS_ADMIN in this container?)"

pick_display() {
	local n=$(( 41000 + ($$ * 13 + ${1:-0} * 17) % 9000 ))
	while grep -q "@/tmp/.X11-unix/X$n\$" /proc/net/unix || [ -e "/tmp/.X11-unix/X$n" ] ||
		[ -e "/tmp/.X$n-lock" ]; do
		n=$((n + 1))
	done
	echo "$n"
}

# The real X server, outside the namespaces.
exec 5>"$TEST_TMP/xvfb.display"
Xvfb -displayfd 5 -nolisten tcp -noreset -screen 0 640x480x24 >"$TEST_TMP/xvfb.log" 2>&1 &
XVFB=$!
exec 5>&-
track "$XVFB"
wait_for 20 test -s "$TEST_TMP/xvfb.display" || fatal "Xvfb did not start: $(cat "$TEST_TMP/xvfb.log")"
M=$(head -n1 "$TEST_TMP/xvfb.display")
UP="unix:@/tmp/.X11-unix/X$M"
wait_for 10 grep -q "@/tmp/.X11-unix/X$M\$" /proc/net/unix || fatal "Xvfb :$M has no abstract socket"

# The script run inside the namespace: LAYOUT (readonly|symlink), N, UP,
# X410_VSOCK, TEST_TMP, ACTIVATE (1: also the socket-activated relay on display A).
# It prints "key=value" lines on stdout; the relay's stderr goes to fd 3.
INNER='
set -u
case $LAYOUT in
readonly)
	ro=$TEST_TMP/ro && mkdir -p "$ro" && chmod 0777 "$ro" &&
	mount --bind "$ro" /tmp/.X11-unix && mount -o remount,bind,ro /tmp/.X11-unix || exit 90 ;;
symlink)
	# The tree under test may itself live below /tmp, which the tmpfs hides:
	# the binary goes to the tmpfs on /mnt first (it needs nothing else of
	# the tree).
	mount -t tmpfs tmpfs /mnt && mkdir -p /mnt/bin && cp "$X410_VSOCK" /mnt/bin/x410-vsock &&
	X410_VSOCK=/mnt/bin/x410-vsock && mount -t tmpfs -o mode=1777 tmpfs /tmp &&
	mkdir -p /mnt/wslg/.X11-unix && chmod 0777 /mnt/wslg/.X11-unix &&
	ln -s /mnt/wslg/.X11-unix /tmp/.X11-unix || exit 90 ;;
esac
echo "layout=$(stat -c "%F %a %U" /tmp/.X11-unix)"
touch /tmp/.X11-unix/.x410-probe 2>/dev/null && rm -f /tmp/.X11-unix/.x410-probe && echo "writable=yes" || echo "writable=no"

# doctor, before anything serves :N: the layout is WSLg'"'"'s, [ OK ].
"$X410_VSOCK" doctor ":$N" --connect "$UP" 2>/dev/null | sed -n "s/^\(\[....\] display .*\)/doctor=\1/p; s/^\(\[....\] X410 .*\)/doctor_x410=\1/p"

"$X410_VSOCK" run ":$N" --no-abstract --connect "$UP" 2>&3
echo "noabstract_status=$?"
[ -e "/tmp/.X$N-lock" ] && echo "noabstract_lock=left" || echo "noabstract_lock=none"

"$X410_VSOCK" run ":$N" --connect "$UP" 2>&3 &
relay=$!
ok=no
for i in $(seq 1 200); do
	if DISPLAY=":$N" timeout 10 xdpyinfo >/tmp/x410-wslg-xdpyinfo.$$ 2>&1; then ok=yes; break; fi
	kill -0 "$relay" 2>/dev/null || break
	sleep 0.05
done
echo "xdpyinfo=$ok"
sed -n "s/^name of display: *\(.*\)/xdpyinfo_name=\1/p; s/^vendor string: *\(.*\)/xdpyinfo_vendor=\1/p" /tmp/x410-wslg-xdpyinfo.$$
rm -f /tmp/x410-wslg-xdpyinfo.$$
echo "lock=$(tr -d " \n" <"/tmp/.X$N-lock" 2>/dev/null) relay=$relay"
[ -e "/tmp/.X11-unix/X$N" ] && echo "path_socket=yes" || echo "path_socket=no"
kill -TERM "$relay"
wait "$relay"
echo "relay_status=$?"
[ -e "/tmp/.X$N-lock" ] && echo "lock_after=left" || echo "lock_after=none"

if [ "$ACTIVATE" = 1 ] && command -v systemd-socket-activate >/dev/null; then
	systemd-socket-activate -l "@/tmp/.X11-unix/X$A" "$X410_VSOCK" run ":$A" --connect "$UP" 2>&3 &
	sa=$!
	ok=no
	for i in $(seq 1 200); do
		if DISPLAY=":$A" timeout 10 xdpyinfo >/dev/null 2>&1; then ok=yes; break; fi
		sleep 0.05
	done
	echo "activated_xdpyinfo=$ok"
	[ -e "/tmp/.X$A-lock" ] && echo "activated_lock=yes" || echo "activated_lock=no"
	kill -TERM "$sa"
	wait "$sa"
	echo "activated_status=$?"
fi
'

# layout NAME: run INNER in a fresh private mount namespace.
layout() {
	local name=$1
	N=$(pick_display 1) A=$(pick_display 2)
	[ "$A" != "$N" ] || A=$((N + 1))
	LAYOUT=$name N=$N A=$A UP=$UP X410_VSOCK=$X410_VSOCK TEST_TMP=$TEST_TMP ACTIVATE=$([ "$name" = readonly ] && echo 1 || echo 0) \
		timeout 120 unshare -m --propagation private bash -c "$INNER" \
		>"$TEST_TMP/$name.out" 3>"$TEST_TMP/$name.relay" 2>"$TEST_TMP/$name.err"
	echo "# $name: exit status $?" >&2
	sed "s/^/# $name: /" "$TEST_TMP/$name.out" >&2
}

# got NAME KEY VALUE: the inner script said KEY=VALUE.
got() {
	grep -qxF -- "$2=$3" "$TEST_TMP/$1.out" || { echo "# $1: no line '$2=$3'" >&2; return 1; }
}
# said NAME PATTERN: the relay's stderr has a line matching PATTERN (grep -E).
said() {
	grep -qE -- "$2" "$TEST_TMP/$1.relay" || { echo "# $1: the relay did not say '$2'" >&2; sed "s/^/# relay: /" "$TEST_TMP/$1.relay" >&2; return 1; }
}

t_layout() {
	local name=$1 what=$2 writable=$4
	got "$name" writable "$writable" &&
	grep -q "^doctor=\[ OK \] display :$N: free; /tmp/.X11-unix is WSLg's $what" "$TEST_TMP/$name.out" &&
	grep -q "^doctor_x410=\[ OK \] X410 display 0 ($UP): 'The X.Org Foundation'" "$TEST_TMP/$name.out" &&
	got "$name" noabstract_status 1 && got "$name" noabstract_lock none &&
	said "$name" "ERROR: The socket directory '/tmp/.X11-unix' is .*, so it cannot hold the socket file, and --no-abstract leaves nothing to serve" &&
	got "$name" xdpyinfo yes && got "$name" xdpyinfo_name ":$N" &&
	got "$name" xdpyinfo_vendor "The X.Org Foundation" &&
	grep -Eq "^lock=[0-9]+ relay=[0-9]+$" "$TEST_TMP/$name.out" &&
	[ "$(sed -n 's/^lock=\([0-9]*\) relay=.*/\1/p' "$TEST_TMP/$name.out")" = "$(sed -n 's/^lock=[0-9]* relay=\([0-9]*\)/\1/p' "$TEST_TMP/$name.out")" ] &&
	got "$name" path_socket no && got "$name" relay_status 0 && got "$name" lock_after none &&
	[ "$(grep -c "WARNING: The socket directory '/tmp/.X11-unix'" "$TEST_TMP/$name.relay")" = 1 ] &&
	said "$name" "WARNING: The socket directory '/tmp/.X11-unix' $3: serving only the abstract socket @/tmp/.X11-unix/X$N, which X clients \(libxcb, Xlib\) try first"
}

layout readonly
check "WSLg read-only 0777 mount: doctor OK, --no-abstract refused, run serves :N over the abstract socket (xdpyinfo to Xvfb), lock taken and released" \
	t_layout readonly "read-only mount (mode 0777)" "is read-only" no
if command -v systemd-socket-activate >/dev/null; then
	t_activated() {
		got readonly activated_xdpyinfo yes && got readonly activated_lock yes && got readonly activated_status 0
	}
	check "WSLg read-only mount: the relay socket-activated with the abstract socket alone serves xdpyinfo" t_activated
else
	skip_check "systemd-socket-activate is not installed"
fi

layout symlink
check "older WSLg, /tmp/.X11-unix a root-owned link to /mnt/wslg/.X11-unix: doctor OK, run serves :N over the abstract socket" \
	t_layout symlink "symbolic link to /mnt/wslg/.X11-unix" "is a symbolic link \(to /mnt/wslg/.X11-unix\)" yes

finish
