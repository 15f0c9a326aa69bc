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

# ------------------------------------------------------------------ processes

PIDS=""
stop_all() {
	local p
	for p in $PIDS; do kill -9 "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	PIDS=""
}
trap 'stop_all; test_cleanup' EXIT

# A child that has exited but not been waited for is a zombie: gone for us.
gone() {
	local st
	st=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d' ' -f1) || return 0
	[ -z "$st" ] || [ "$st" = Z ]
}

# start_server DIR: tt-server echoing on DIR/up.sock; sets UP.
start_server() {
	"$TT/tt-server" --listen "unix:$1/up.sock" --ready "$1/up.ready" --in echo >"$1/up.out" 2>"$1/up.err" &
	PIDS="$PIDS $!"
	UP=unix:$1/up.sock
	wait_for 5 test -s "$1/up.ready" || { echo "# tt-server did not start: $(cat "$1/up.err")" >&2; return 1; }
}

# start_relay ENGINE DIR DISPLAY LOG [OPTIONS...]: the relay on display
# DISPLAY, its socket and lock in DIR; waits until it says 'serving'.
# Sets RELAY_PID.
start_relay() {
	local engine=$1 dir=$2 n=$3 log=$4; shift 4
	"$X410_VSOCK" run --engine "$engine" --socket-dir "$dir" --lock-dir "$dir" --connect "$UP" "$@" ":$n" \
		>"$log.out" 2>"$log" &
	RELAY_PID=$!
	PIDS="$PIDS $RELAY_PID"
	wait_for 10 started "$RELAY_PID" "$log"
	grep -q serving "$log" ||
		{ echo "# the relay did not start:" >&2; sed 's/^/#   /' "$log" >&2; return 1; }
}

# started PID LOG: it says 'serving', or it is gone.
started() { grep -q serving "$2" || gone "$1"; }

stop_relay() {
	kill "$RELAY_PID" 2>/dev/null
	wait_for 5 gone "$RELAY_PID" || kill -9 "$RELAY_PID" 2>/dev/null
	wait "$RELAY_PID" 2>/dev/null || true
}

# ------------------------------------------------------------------ 3. --socket-dir spellings

t_socket_dir_spellings() {
	local d=$TEST_TMP/dirs n spelling fails=0
	mkdir -p "$d/real" && chmod 1777 "$d/real" && ln -sfn real "$d/link" || return 1
	n=$(pick_display 1)
	for spelling in "$d/link/" "$d/link//" "$d//link/." "$d/link/./"; do
		run_x 1 run --no-abstract --socket-dir "$spelling" --lock-dir "$d" --connect "unix:$d/up" ":$n" &&
		says "socket directory '$d/link' is a symbolic link, so it cannot hold the socket file, and --no-abstract leaves nothing to serve" &&
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
		says '^\[WARN\] displays: /tmp/link is a symbolic link \(to real\): run serves the abstract socket @/tmp/.X11-unix/XN only' "$OUT" || return 1
	done
	X410_SHIM_UNAME_R=6.1.0-18-amd64 shim_run 2 "$ROOT" doctor --root "$ROOT" --socket-dir /tmp/real/../link &&
	says "Invalid --socket-dir '/tmp/real/\.\./link': '\.\.' is not allowed"
}
check "doctor: --socket-dir LINK/ is reported as the symbolic link run refuses; '..' is a usage error" t_doctor_socket_dir

# ------------------------------------------------------------------ 2. --allow-group, 300 groups

t_many_groups() {
	[ "$(id -u)" = 0 ] || { skip_check "needs root to run a client as another uid with 300 groups (setpriv)"; return 0; }
	command -v setpriv >/dev/null || { skip_check "setpriv (util-linux) is missing"; return 0; }
	local engine d=$TEST_TMP/groups n groups
	groups=$(seq -s, 5001 5300)
	mkdir -p "$d" && chmod 0755 "$TEST_TMP" && chmod 1777 "$d" && cp "$TT/tt-client" "$d/" && chmod 0755 "$d/tt-client" || return 1
	start_server "$d" || return 1
	as_client() {       # GROUPS EXPECT
		timeout 20 setpriv --reuid=65534 --regid=65534 --groups "$1" \
			"$d/tt-client" probe --connect "unix:$d/X$n" --expect "$2" --wait-ms 2000 --timeout 10 \
			>"$d/client.out" 2>"$d/client.err" ||
			{ echo "# uid 65534 with groups ...${1: -20} (expect $2): $(cat "$d/client.out" "$d/client.err")" >&2; return 1; }
	}
	for engine in $ENGINES; do
		n=$(pick_display 2)
		# The allowed group is the 300th: past the first 256.
		start_relay "$engine" "$d" "$n" "$d/relay-$engine.err" --no-abstract --allow-group 5300 || return 1
		as_client "$groups" served || { echo "# engine $engine" >&2; stop_relay; return 1; }
		# Without the allowed group: refused, and the line says what would admit it.
		as_client "$(seq -s, 6001 6300)" closed || { stop_relay; return 1; }
		stop_relay
		says "client #[0-9]+ refused: uid 65534 \(pid [0-9]+, group 65534\) is not allowed to connect; allow it with --allow-user 65534 or --allow-group 65534" "$d/relay-$engine.err" ||
			{ echo "# engine $engine" >&2; return 1; }
	done
}
check "--allow-group admits a client with 300 supplementary groups (SO_PEERGROUPS ERANGE: grown); the refusal names --allow-group" t_many_groups

# ------------------------------------------------------------------ 4. restart after kill -9

t_restart_after_kill() {
	local engine d=$TEST_TMP/restart n i fails=0
	mkdir -p "$d" && chmod 1777 "$d" || return 1
	[ -n "${UP:-}" ] || start_server "$d" || return 1
	for engine in $ENGINES; do
		n=$(pick_display 3)
		start_relay "$engine" "$d" "$n" "$d/relay-$engine-0.err" || return 1
		for i in 1 2 3 4 5; do
			# A client in flight makes the engine's teardown longer.
			"$TT/tt-client" probe --connect "unix:$d/X$n" --expect served --timeout 10 >/dev/null 2>&1 ||
				{ echo "# engine $engine, round $i: the relay does not serve" >&2; fails=$((fails + 1)); }
			kill -9 "$RELAY_PID"
			wait "$RELAY_PID" 2>/dev/null
			# At once: no delay between the death and the restart.
			if ! start_relay "$engine" "$d" "$n" "$d/relay-$engine-$i.err"; then
				echo "# engine $engine, round $i: the restart failed" >&2
				fails=$((fails + 1))
				break
			fi
		done
		stop_relay
	done
	[ "$fails" = 0 ]
}
check "run: a restart right after kill -9 of the relay takes the display over (5 times, every engine)" t_restart_after_kill

# ------------------------------------------------------------------ 8. --no-abstract, documented

t_no_abstract_docs() {
	local man=$top_srcdir/doc/x410-vsock.1 readme=$top_srcdir/README.md
	"$X410_VSOCK" run --help >"$OUT" || return 1
	says 'no-abstract .*any$' "$OUT" && says 'local user may bind it and receive the clients' "$OUT" &&
	says '^- `--no-abstract`: .*any local user can bind the abstract name `@/tmp/\.X11-unix/XN` and receive the X clients that try it first.*only where nobody else can run programs' "$readme" &&
	# The option's entry and CAVEATS both say it.
	[ "$(grep -c 'any local user' "$man")" -ge 2 ] &&
	sed -n '/^\.It Fl -no-abstract/,/^\.It /p' "$man" | grep -q 'receive the X clients that try it first' &&
	sed -n '/^\.Sh CAVEATS/,$p' "$man" | grep -q 'only on a machine where nobody else can run programs'
}
check "--no-abstract: --help, README and the man page warn that any local user can take the abstract name" t_no_abstract_docs

finish
