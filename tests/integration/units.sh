#!/bin/bash
# The systemd units: systemd-analyze verify passes on the socket/service
# templates (system and user) with no message at all, and they say what the
# relay needs: both listening names, the configured binary, no PrivateTmp.
. "$top_srcdir/tests/lib.sh"

command -v systemd-analyze >/dev/null || skip "systemd-analyze is not installed (scripts/bootstrap installs systemd)"

units=$TEST_TMP/units
mkdir -p "$units/system" "$units/user" "$TEST_TMP/runtime"
chmod 700 "$TEST_TMP/runtime"

# The generated services must exist and name an absolute binary.
t_generated() {
	local kind f
	for kind in system user; do
		f=$top_builddir/systemd/$kind/x410-vsock@.service
		[ -f "$f" ] || { echo "# $f was not generated" >&2; return 1; }
		grep -q '@bindir@' "$f" && { echo "# $f: @bindir@ left" >&2; return 1; }
		grep -Eqx 'ExecStart=/[^ ]*/x410-vsock run \$X410_VSOCK_OPTIONS :%i' "$f" || { echo "# $f: bad ExecStart" >&2; return 1; }
	done
}
check "the services are generated with the configured bindir" t_generated

# Copy the units, pointing ExecStart at the binary just built: verify checks
# that the command is executable, and the configured bindir is not installed.
for kind in system user; do
	cp "$top_srcdir/systemd/$kind/x410-vsock@.socket" "$top_srcdir/systemd/$kind/x410-vsock-path@.socket" "$units/$kind/"
	sed "s|^ExecStart=[^ ]*/x410-vsock |ExecStart=$X410_VSOCK |" \
		"$top_builddir/systemd/$kind/x410-vsock@.service" >"$units/$kind/x410-vsock@.service"
done

# verify_quiet DIR [--user]: exit 0 and not a single line of output.
verify_quiet() {
	local dir=$1; shift
	local out=$TEST_TMP/verify.out status=0
	(cd "$dir" && XDG_RUNTIME_DIR=$TEST_TMP/runtime SYSTEMD_LOG_COLOR=0 \
		timeout 60 systemd-analyze "$@" verify --man=no --generators=no \
		./x410-vsock@5.socket ./x410-vsock-path@5.socket ./x410-vsock@5.service) >"$out" 2>&1 || status=$?
	[ "$status" = 0 ] && [ ! -s "$out" ] || { echo "# status $status" >&2; sed 's/^/# /' "$out" >&2; return 1; }
}

# Can systemd-analyze verify run at all here?  (It needs no running systemd.)
probe=$TEST_TMP/probe
mkdir -p "$probe"
printf '[Service]\nExecStart=/bin/true\n' >"$probe/x410-probe.service"
if ! (cd "$probe" && timeout 60 systemd-analyze verify --man=no ./x410-probe.service) >"$TEST_TMP/probe.out" 2>&1; then
	sed 's/^/# /' "$TEST_TMP/probe.out"
	skip "systemd-analyze verify cannot run here: $(head -n1 "$TEST_TMP/probe.out")"
fi

check "systemd-analyze verify: system units, instance :5, no message" verify_quiet "$units/system"
check "systemd-analyze --user verify: user units, instance :5, no message" verify_quiet "$units/user" --user

# The check itself must be able to fail: a broken copy is reported.
t_broken() {
	local bad=$TEST_TMP/bad
	mkdir -p "$bad" && cp "$units/user/"* "$bad/" &&
	sed -i 's/^SocketMode=.*/SocketMode=0999/' "$bad/x410-vsock-path@.socket" && grep -q '^SocketMode=0999' "$bad/x410-vsock-path@.socket" &&
	! verify_quiet "$bad" --user 2>/dev/null
}
check "a unit with a bad value fails the verify check" t_broken

# has FILE LINE: FILE has exactly that line.
has() { grep -qxF -- "$2" "$1" || { echo "# $1: no line '$2'" >&2; return 1; }; }
t_content() {
	local kind s v
	for kind in system user; do
		s=$units/$kind/x410-vsock@.socket v=$units/$kind/x410-vsock@.service
		p=$units/$kind/x410-vsock-path@.socket
		# The abstract name alone in the unit that must start; the path
		# in its own unit, pulled in, skipped on WSLg's layouts.
		has "$s" 'ListenStream=@/tmp/.X11-unix/X%i' && ! grep -q '^ListenStream=/' "$s" &&
		has "$s" 'Wants=x410-vsock-path@%i.socket' &&
		has "$p" 'ListenStream=/tmp/.X11-unix/X%i' && has "$p" 'Service=x410-vsock@%i.service' &&
		has "$p" 'ConditionPathIsSymbolicLink=!/tmp/.X11-unix' && has "$p" 'ConditionPathIsReadWrite=/tmp/.X11-unix' &&
		has "$s" 'RemoveOnStop=yes' && has "$p" 'RemoveOnStop=yes' && has "$s" 'WantedBy=sockets.target' &&
		has "$v" 'Sockets=x410-vsock@%i.socket x410-vsock-path@%i.socket' &&
		has "$v" 'Requires=x410-vsock@%i.socket' && has "$v" 'NoNewPrivileges=yes' &&
		has "$v" 'RestrictAddressFamilies=AF_UNIX AF_VSOCK' || return 1
		# A private /tmp would hide the lock file and /tmp/.X11-unix.
		grep -Eq '^(PrivateTmp|DynamicUser)=' "$v" && { echo "# $v: PrivateTmp/DynamicUser set" >&2; return 1; }
	done
	has "$units/user/x410-vsock-path@.socket" 'SocketMode=0600' &&
	has "$units/system/x410-vsock@.service" 'ProtectSystem=strict' &&
	has "$units/system/x410-vsock@.service" 'ReadWritePaths=/tmp' &&
	grep -q '^User=' "$units/system/x410-vsock@.service" &&
	! grep -q '^User=' "$units/user/x410-vsock@.service"
}
check "the units listen on the abstract name and (in their own unit) the path, hardened, without PrivateTmp" t_content

finish
