#!/bin/bash
# `x410-vsock run` end to end, quickly: a relay in front of a socat upstream
# on a UNIX socket (never AF_VSOCK here), in a private socket and lock
# directory.  Bytes both ways, half-close, an unreachable upstream, the lock
# and socket lifecycle, signals.  The thorough suite is relay*.sh.
. "$top_srcdir/tests/lib.sh"

command -v socat >/dev/null || skip "socat is not installed (scripts/bootstrap installs it)"

SOCK=$TEST_TMP/sock
mkdir -m 700 "$SOCK"
# A display number of our own: the directories are private, but the
# abstract name is shared by the whole machine.
DISP=$(( 20000 + $$ % 20000 ))
UP=$TEST_TMP/up

# An echo upstream for the whole test.
timeout 120 socat UNIX-LISTEN:"$UP",fork EXEC:cat 2>/dev/null &
track $!
wait_for 5 test -S "$UP" || fatal "the socat upstream did not start"

RELAY_PID=
RELAY_LOG=
# start_relay LOG ARGS...: start a relay in the background and wait for its
# start line.
start_relay() {
	RELAY_LOG=$1; shift
	"$X410_VSOCK" run "$@" 2>"$RELAY_LOG" &
	RELAY_PID=$!
	track "$RELAY_PID"
	wait_for 5 grep -q 'serving ' "$RELAY_LOG" || { sed 's/^/# relay: /' "$RELAY_LOG" >&2; return 1; }
}

# stop_relay: SIGTERM, and the exit status must be 0 within 5 s.
stop_relay() {
	local status=0
	kill -TERM "$RELAY_PID" 2>/dev/null || return 1
	timeout 5 tail --pid="$RELAY_PID" -f /dev/null || return 1
	wait "$RELAY_PID" || status=$?
	[ "$status" = 0 ] || { echo "# relay exit status $status" >&2; sed 's/^/# relay: /' "$RELAY_LOG" >&2; return 1; }
}

t_usage() {
	run_x 2 run --max-clients 0 ":$DISP" || return 1
	[ "$(wc -l <"$ERR")" -eq 2 ] &&
	[ "$(sed -n 1p "$ERR")" = "x410-vsock: ERROR: Invalid --max-clients '0': expected a number from 1 to 65536" ] &&
	[ "$(sed -n 2p "$ERR")" = "Try 'x410-vsock run --help'." ] && [ ! -s "$OUT" ]
}
check "a bad option is one line, a Try line and exit status 2" t_usage

t_help() { run_x 0 run --help && grep -q '^Usage: x410-vsock run ' "$OUT" && grep -q -- '--allow-any-user' "$OUT"; }
check "run --help prints the usage to stdout" t_help

for engine in epoll auto; do
	log=$TEST_TMP/relay-$engine.log
	common=(--socket-dir "$SOCK" --lock-dir "$TEST_TMP" --connect "unix:$UP" --engine "$engine")

	if ! start_relay "$log" "${common[@]}" ":$DISP"; then
		not_ok "[$engine] the relay starts"
		continue
	fi
	t_start_line() {
		grep -qx "x410-vsock: serving :$DISP -> unix:$UP; export DISPLAY=:$DISP" "$log" &&
		[ -S "$SOCK/X$DISP" ] &&
		[ "$(cat "$TEST_TMP/.X$DISP-lock")" = "$(printf '%10d' "$RELAY_PID")" ] &&
		[ "$(stat -c %s "$TEST_TMP/.X$DISP-lock")" = 11 ]
	}
	check "[$engine] start line, socket, and the lock file holds the PID as %10d\\n" t_start_line

	t_echo() {
		head -c 3000000 /dev/urandom >"$TEST_TMP/in"
		timeout 10 socat -t5 - UNIX-CONNECT:"$SOCK/X$DISP" <"$TEST_TMP/in" >"$TEST_TMP/out" &&
		cmp -s "$TEST_TMP/in" "$TEST_TMP/out"
	}
	check "[$engine] 3 MB echo through the path socket, byte for byte" t_echo

	t_abstract() {
		[ "$(echo hello | timeout 5 socat -t5 - ABSTRACT-CONNECT:/tmp/.X11-unix/X$DISP)" = hello ]
	}
	check "[$engine] the abstract socket @/tmp/.X11-unix/X$DISP serves too" t_abstract

	t_in_use() {
		run_x 1 run "${common[@]}" ":$DISP" || return 1
		grep -q "ERROR: Display :$DISP is in use: the lock file '$TEST_TMP/.X$DISP-lock' belongs to the running process $RELAY_PID (x410-vsock); free displays: :" "$ERR" &&
		[ -S "$SOCK/X$DISP" ] && [ -f "$TEST_TMP/.X$DISP-lock" ]
	}
	check "[$engine] a second relay on the display names the live one and leaves its files alone" t_in_use

	t_usr1() {
		kill -USR1 "$RELAY_PID" &&
		wait_for 5 grep -q 'x410-vsock: stats: clients 0 now, 2 total, 0 refused; 0 upstream connects failed, 0 errors; bytes 3000006 up, 3000006 down' "$log"
	}
	check "[$engine] SIGUSR1 logs the stats line" t_usr1

	t_term() {
		stop_relay && [ ! -e "$SOCK/X$DISP" ] && [ ! -e "$TEST_TMP/.X$DISP-lock" ] &&
		! ls -A "$TEST_TMP" | grep -q '^\.tX'
	}
	check "[$engine] SIGTERM: exit 0, socket and lock file removed" t_term

	# Half-close: the upstream answers only after the client's end.
	reply=$TEST_TMP/reply.sh
	printf '#!/bin/sh\nn=$(wc -c)\nsleep 1\necho "got $n"\n' >"$reply"
	chmod +x "$reply"
	timeout 30 socat -t5 UNIX-LISTEN:"$TEST_TMP/up-half" EXEC:"$reply" 2>/dev/null &
	track $!
	wait_for 5 test -S "$TEST_TMP/up-half"
	t_half_close() {
		start_relay "$log.half" --listen "unix:$TEST_TMP/half" --connect "unix:$TEST_TMP/up-half" --engine "$engine" || return 1
		local got
		got=$(head -c 100000 /dev/zero | timeout 10 socat -t5 - UNIX-CONNECT:"$TEST_TMP/half") &&
		stop_relay && [ "$got" = "got 100000" ] && [ ! -e "$TEST_TMP/half" ]
	}
	check "[$engine] half-close: the reply sent 1 s after the client's end arrives" t_half_close

	t_unreachable() {
		start_relay "$log.missing" --listen "unix:$TEST_TMP/miss" --connect "unix:$TEST_TMP/nobody" --engine "$engine" || return 1
		local t0 t1
		# Only reading: the client must see the end, not a write error.
		t0=$(date +%s%N)
		timeout 5 socat -u UNIX-CONNECT:"$TEST_TMP/miss" - >/dev/null 2>&1 || return 1
		t1=$(date +%s%N)
		# The client is closed at once, with one line that says why,
		# and the relay goes on serving.
		[ $(( (t1 - t0) / 1000000 )) -lt 1000 ] &&
		grep -q "ERROR: client #1: nobody is listening on unix:$TEST_TMP/nobody (No such file or directory)" "$log.missing" &&
		timeout 5 socat -u UNIX-CONNECT:"$TEST_TMP/miss" - >/dev/null 2>&1 &&
		grep -q "ERROR: client #2: nobody is listening" "$log.missing" &&
		kill -0 "$RELAY_PID" && stop_relay
	}
	check "[$engine] an unreachable upstream closes the client at once with a reason" t_unreachable
done

# Stale leftovers of a crashed server are taken over.
t_stale() {
	sleep 0 & local dead=$!
	wait "$dead"
	printf '%10d\n' "$dead" >"$TEST_TMP/.X$DISP-lock"
	# Not under timeout: it is this very process that is SIGKILLed.
	socat UNIX-LISTEN:"$SOCK/X$DISP",unlink-close=0 /dev/null 2>/dev/null &
	local s=$!
	track $s
	wait_for 5 test -S "$SOCK/X$DISP" || return 1
	kill -KILL "$s"; wait "$s" 2>/dev/null
	[ -S "$SOCK/X$DISP" ] || return 1
	start_relay "$TEST_TMP/stale.log" --socket-dir "$SOCK" --lock-dir "$TEST_TMP" --connect "unix:$UP" \
		--no-abstract --engine epoll ":$DISP" || return 1
	grep -q "removed the stale lock file '$TEST_TMP/.X$DISP-lock'" "$TEST_TMP/stale.log" &&
	grep -q "removed the stale socket '$SOCK/X$DISP'" "$TEST_TMP/stale.log" &&
	[ "$(echo stale | timeout 5 socat -t5 - UNIX-CONNECT:"$SOCK/X$DISP")" = stale ] &&
	stop_relay
}
check "a stale lock (dead PID) and a stale socket are taken over" t_stale

# A live server on the socket, without any lock, is never touched.
t_live_socket() {
	socat UNIX-LISTEN:"$SOCK/X$DISP",fork /dev/null 2>/dev/null &
	local s=$!
	track $s
	wait_for 5 test -S "$SOCK/X$DISP" || return 1
	run_x 1 run --socket-dir "$SOCK" --lock-dir "$TEST_TMP" --connect "unix:$UP" --no-abstract ":$DISP" || return 1
	grep -q "ERROR: Display :$DISP is in use: a server is listening on '$SOCK/X$DISP'" "$ERR" &&
	[ -S "$SOCK/X$DISP" ] && [ ! -e "$TEST_TMP/.X$DISP-lock" ] &&
	kill "$s"
}
check "a live server on the socket is refused, its socket kept, no lock left" t_live_socket

# A socket directory that cannot safely hold the socket file (a symbolic
# link of root's or ours, read-only, writable by others without the sticky
# bit): the abstract socket only, with one warning; with --no-abstract
# there is nothing left to serve, an error.
t_dir_symlink() {
	ln -s "$SOCK" "$TEST_TMP/link"
	run_x 1 run --socket-dir "$TEST_TMP/link" --lock-dir "$TEST_TMP" --connect "unix:$UP" --no-abstract ":$DISP" &&
	grep -q "ERROR: The socket directory '$TEST_TMP/link' is a symbolic link, so it cannot hold the socket file, and --no-abstract leaves nothing to serve" "$ERR" &&
	[ ! -e "$SOCK/X$DISP" ] && [ ! -e "$TEST_TMP/.X$DISP-lock" ]
}
check "a symbolic link as the socket directory, with --no-abstract: refused" t_dir_symlink

t_dir_symlink_abstract() {
	start_relay "$TEST_TMP/link.log" --socket-dir "$TEST_TMP/link" --lock-dir "$TEST_TMP" --connect "unix:$UP" \
		--engine epoll ":$DISP" || return 1
	[ "$(grep -c "WARNING: The socket directory" "$TEST_TMP/link.log")" = 1 ] &&
	grep -q "WARNING: The socket directory '$TEST_TMP/link' is a symbolic link (to $SOCK): serving only the abstract socket @/tmp/.X11-unix/X$DISP, which X clients (libxcb, Xlib) try first" "$TEST_TMP/link.log" &&
	[ ! -e "$SOCK/X$DISP" ] && [ -f "$TEST_TMP/.X$DISP-lock" ] &&
	[ "$(echo abstract | timeout 5 socat -t5 - ABSTRACT-CONNECT:/tmp/.X11-unix/X$DISP)" = abstract ] &&
	stop_relay && [ ! -e "$TEST_TMP/.X$DISP-lock" ]
}
check "a symbolic link of ours as the socket directory: the abstract socket only, one warning, the lock taken" t_dir_symlink_abstract

if [ "$(id -u)" = 0 ]; then
	t_dir_foreign() {
		mkdir -m 1777 "$TEST_TMP/foreign" && chown 65534 "$TEST_TMP/foreign" &&
		run_x 1 run --socket-dir "$TEST_TMP/foreign" --lock-dir "$TEST_TMP" --connect "unix:$UP" --no-abstract ":$DISP" &&
		grep -q "ERROR: The socket directory '$TEST_TMP/foreign' belongs to uid 65534, neither root nor you" "$ERR" &&
		[ -z "$(ls -A "$TEST_TMP/foreign")" ]
	}
	check "a socket directory owned by another user is refused" t_dir_foreign
	t_dir_not_sticky() {
		mkdir "$TEST_TMP/open" && chmod 0777 "$TEST_TMP/open" &&
		run_x 1 run --socket-dir "$TEST_TMP/open" --lock-dir "$TEST_TMP" --connect "unix:$UP" --no-abstract ":$DISP" &&
		grep -q "ERROR: The socket directory '$TEST_TMP/open' is writable by others without the sticky bit (another user could replace a socket in it), so it cannot hold the socket file" "$ERR" &&
		start_relay "$TEST_TMP/open.log" --socket-dir "$TEST_TMP/open" --lock-dir "$TEST_TMP" --connect "unix:$UP" \
			--engine epoll ":$DISP" || return 1
		grep -q "WARNING: The socket directory '$TEST_TMP/open' is writable by others without the sticky bit (another user could replace a socket in it): serving only the abstract socket" "$TEST_TMP/open.log" &&
		[ -z "$(ls -A "$TEST_TMP/open")" ] &&
		stop_relay
	}
	check "a world-writable socket directory without the sticky bit: abstract socket only (with --no-abstract: refused)" t_dir_not_sticky
	t_dir_foreign_link() {
		ln -s "$SOCK" "$TEST_TMP/flink" && chown -h 65534 "$TEST_TMP/flink" &&
		run_x 1 run --socket-dir "$TEST_TMP/flink" --lock-dir "$TEST_TMP" --connect "unix:$UP" ":$DISP" &&
		grep -q "ERROR: The socket directory '$TEST_TMP/flink' is a symbolic link of uid 65534, neither root nor you" "$ERR" &&
		[ ! -e "$SOCK/X$DISP" ] && [ ! -e "$TEST_TMP/.X$DISP-lock" ]
	}
	check "a symbolic link of another user's as the socket directory is refused" t_dir_foreign_link
else
	skip_check "not root: cannot make a directory owned by another user"
	skip_check "not root: a directory of ours is accepted whatever its mode"
	skip_check "not root: cannot make a symbolic link owned by another user"
fi

# systemd socket activation: the passed socket is served, none is created
# or removed; the lock is still taken and released.
if command -v systemd-socket-activate >/dev/null; then
	t_activation() {
		mkdir -p "$TEST_TMP/sa"
		# Not under timeout: it execs the relay, whose PID it keeps.
		systemd-socket-activate -l "$TEST_TMP/sa/sock" "$X410_VSOCK" run --socket-dir "$TEST_TMP/sa" \
			--lock-dir "$TEST_TMP/sa" --connect "unix:$UP" --no-abstract ":$DISP" 2>"$TEST_TMP/sa.log" &
		RELAY_PID=$!
		RELAY_LOG=$TEST_TMP/sa.log
		track "$RELAY_PID"
		wait_for 5 test -S "$TEST_TMP/sa/sock" || return 1
		# The first connection makes it exec the relay.
		[ "$(echo activated | timeout 5 socat -t5 - UNIX-CONNECT:"$TEST_TMP/sa/sock")" = activated ] &&
		grep -qx "x410-vsock: serving :$DISP -> unix:$UP; export DISPLAY=:$DISP" "$RELAY_LOG" &&
		[ "$(cat "$TEST_TMP/sa/.X$DISP-lock")" = "$(printf '%10d' "$RELAY_PID")" ] &&
		[ ! -e "$TEST_TMP/sa/X$DISP" ] &&
		stop_relay && [ -S "$TEST_TMP/sa/sock" ] && [ ! -e "$TEST_TMP/sa/.X$DISP-lock" ]
	}
	check "socket activation: serves systemd's socket, creates and removes none, takes the lock" t_activation
else
	skip_check "systemd-socket-activate is not installed"
fi

t_activation_bad_fd() {
	# fd 3 is a file, not a listening socket: refused, nothing created.
	mkdir -p "$TEST_TMP/sa2"
	local status=0
	timeout 10 bash -c 'exec 3</dev/null; export LISTEN_PID=$$ LISTEN_FDS=1; exec "$@"' x410 \
		"$X410_VSOCK" run --socket-dir "$TEST_TMP/sa2" --lock-dir "$TEST_TMP/sa2" --connect "unix:$UP" ":$DISP" \
		2>"$ERR" || status=$?
	[ "$status" = 1 ] && grep -q "ERROR: systemd passed fd 3, which is not a socket" "$ERR" &&
	[ -z "$(ls -A "$TEST_TMP/sa2")" ]
}
check "socket activation with an fd that is not a listening socket is refused" t_activation_bad_fd

t_self_loop() {
	run_x 2 run --socket-dir "$SOCK" --connect "unix:$SOCK/X$DISP" ":$DISP" &&
	grep -q "is the relay's own socket: it would relay to itself" "$ERR"
}
check "--connect to the relay's own socket is a usage error" t_self_loop

# io_uring blocked by seccomp (tests/tools/no-uring, as container profiles
# do): auto falls back with one line that says why; --engine uring fails
# with the reason and creates nothing.
NO_URING=${top_builddir:-.}/tests/tools/no-uring
if ! "$X410_VSOCK" --version | grep -q '^engines: io_uring'; then
	skip_check "built without liburing: no io_uring engine to fall back from"
	skip_check "built without liburing: no io_uring engine to fall back from"
elif [ ! -x "$NO_URING" ]; then
	skip_check "tests/tools/no-uring is not built (libseccomp missing?)"
	skip_check "tests/tools/no-uring is not built (libseccomp missing?)"
else
	t_fallback_auto() {
		mkdir -p "$TEST_TMP/fb"
		"$NO_URING" "$X410_VSOCK" run --listen "unix:$TEST_TMP/fb/l" --connect "unix:$UP" 2>"$TEST_TMP/fb.log" &
		RELAY_PID=$!
		RELAY_LOG=$TEST_TMP/fb.log
		track "$RELAY_PID"
		wait_for 5 grep -q 'serving ' "$RELAY_LOG" || return 1
		[ "$(grep -c 'using the epoll engine$' "$RELAY_LOG")" = 1 ] &&
		grep -Eq '^x410-vsock: [^:]*io_uring[^;]*; using the epoll engine$' "$RELAY_LOG" &&
		[ "$(echo fallback | timeout 5 socat -t5 - UNIX-CONNECT:"$TEST_TMP/fb/l")" = fallback ] &&
		stop_relay
	}
	check "io_uring blocked by seccomp: auto says why in one line and relays with epoll" t_fallback_auto

	t_fallback_forced() {
		mkdir -p "$TEST_TMP/fb2"
		local status=0
		timeout 10 "$NO_URING" "$X410_VSOCK" run --engine uring --socket-dir "$TEST_TMP/fb2" \
			--lock-dir "$TEST_TMP/fb2" --no-abstract --connect "unix:$UP" ":$DISP" 2>"$ERR" || status=$?
		[ "$status" = 1 ] &&
		grep -Eq '^x410-vsock: ERROR: Cannot use the io_uring engine: .*io_uring' "$ERR" &&
		[ -z "$(ls -A "$TEST_TMP/fb2")" ]
	}
	check "io_uring blocked by seccomp: --engine uring exits 1 with the reason, creates nothing" t_fallback_forced
fi

finish
