#!/bin/bash
# `x410-vsock run [:N] -- PROGRAM [ARGS...]` with real processes, on both
# engines: the relay serves before PROGRAM starts, PROGRAM gets DISPLAY and
# otherwise the same environment, its exit status (or 128+signal) is run's,
# SIGINT/SIGTERM/SIGHUP are passed on, the relay stops with it (clients
# closed, no socket or lock left), a missing PROGRAM is 127, a relay that
# cannot start runs nothing, and without :N the first free display is used.
# Upstream: a socat echo server on a UNIX socket (never AF_VSOCK here).
. "$top_srcdir/tests/lib.sh"

command -v socat >/dev/null || skip "socat is not installed (scripts/bootstrap installs it)"
# The relay blocks SIGINT/SIGTERM/SIGHUP for its signalfd; a shell that
# starts a background job ignores SIGINT in it: env puts the defaults back.
env --default-signal=INT true 2>/dev/null || skip "env --default-signal is missing (coreutils >= 8.31)"

SOCK=$TEST_TMP/sock
mkdir -m 700 "$SOCK"
DISP=$(( 20000 + $$ % 20000 ))
UP=$TEST_TMP/up
timeout 300 socat UNIX-LISTEN:"$UP",fork EXEC:cat 2>/dev/null &
track $!
wait_for 5 test -S "$UP" || fatal "the socat upstream did not start"

# nothing_left: no socket file, no lock file, nobody on the abstract name.
nothing_left() {
	local n=${1:-$DISP}
	[ ! -e "$SOCK/X$n" ] || { echo "# the socket $SOCK/X$n is left" >&2; return 1; }
	[ ! -e "$TEST_TMP/.X$n-lock" ] || { echo "# the lock file .X$n-lock is left" >&2; return 1; }
	! timeout 5 socat -u ABSTRACT-CONNECT:/tmp/.X11-unix/X"$n" /dev/null 2>/dev/null ||
		{ echo "# the abstract socket of :$n still accepts" >&2; return 1; }
}

for engine in epoll uring; do
	common=(--socket-dir "$SOCK" --lock-dir "$TEST_TMP" --connect "unix:$UP" --engine "$engine")
	# prun STATUS ARGS...: run -- PROGRAM in the foreground, with a deadline.
	prun() { local s=$1; shift; run_x "$s" run "${common[@]}" "$@"; }

	# Whether io_uring can run is the test's own finding (configure's verdict
	# and tt-probe), never the relay's message: a broken engine must fail.
	why=
	if [ "$engine" = uring ] && { ! grep -q '^#define HAVE_LIBURING 1' "${top_builddir:-.}/config.h" ||
		! why=$("${top_builddir:-.}/tests/tools/tt-probe" uring); }; then
		feature_missing_check uring "[$engine] no io_uring engine here: ${why:-built without liburing}"
		continue
	fi

	t_status() {
		prun 7 ":$DISP" -- sh -c 'exit 7' || return 1
		prun 0 ":$DISP" -- true || return 1
		prun 137 ":$DISP" -- sh -c 'kill -KILL $$' && grep -q "'sh' was killed by SIGKILL: stopping" "$ERR"
	}
	check "[$engine] PROGRAM's exit status is run's; 128+9 when SIGKILL ended it" t_status

	t_env() {
		# Everything but DISPLAY as run found it (bash's '_' names the
		# program it started, so it differs by nature).
		prun 0 ":$DISP" -- env || return 1
		grep -v '^_=' "$OUT" | sort >"$TEST_TMP/env.run"
		DISPLAY=":$DISP" env | grep -v '^_=' | sort >"$TEST_TMP/env.want"
		diff "$TEST_TMP/env.want" "$TEST_TMP/env.run" >&2
	}
	check "[$engine] PROGRAM gets DISPLAY=:N and otherwise run's environment" t_env

	t_serves() {
		# shellcheck disable=SC2016
		prun 0 ":$DISP" -- sh -c 'echo hello | timeout 5 socat -t5 - UNIX-CONNECT:"$1/X${DISPLAY#:}"' sh "$SOCK" &&
		[ "$(cat "$OUT")" = hello ] && nothing_left
	}
	check "[$engine] the relay serves before PROGRAM starts, and nothing is left after" t_serves

	t_args() {
		prun 0 ":$DISP" -- printf '%s|' -q --engine -- :5 && [ "$(cat "$OUT")" = "-q|--engine|--|:5|" ]
	}
	check "[$engine] the words after -- are PROGRAM's, options included" t_args

	t_missing() {
		prun 127 ":$DISP" -- x410-vsock-no-such-program arg || return 1
		grep -qx "x410-vsock: ERROR: Cannot run 'x410-vsock-no-such-program': no such program in PATH; the relay stopped" "$ERR" &&
		prun 127 ":$DISP" -- "$TEST_TMP/no/such/file" &&
		grep -q "Cannot run '$TEST_TMP/no/such/file': No such file or directory" "$ERR" &&
		prun 126 ":$DISP" -- "$top_srcdir/README.md" && nothing_left
	}
	check "[$engine] a PROGRAM that does not exist is 127 with a sentence (126: not executable)" t_missing

	t_start_fails() {
		# A live X server (this shell) holds the display's lock.
		printf '%10d\n' $$ >"$TEST_TMP/.X$DISP-lock"
		prun 1 ":$DISP" -- touch "$TEST_TMP/ran"
		local s=$?
		rm -f "$TEST_TMP/.X$DISP-lock"
		[ $s = 0 ] && [ ! -e "$TEST_TMP/ran" ] && grep -q "ERROR: Display :$DISP is in use" "$ERR"
	}
	check "[$engine] when the relay cannot start, PROGRAM is not run and the status is 1" t_start_fails

	for sig in TERM INT HUP; do
		t_signal() {
			local sig=$1 log=$TEST_TMP/prog.log status=0 pid
			rm -f "$log.ready" "$log"
			# shellcheck disable=SC2016
			env --default-signal=INT,TERM,HUP "$X410_VSOCK" run "${common[@]}" ":$DISP" -- \
				sh -c 'trap "echo got $2 >>$1; exit 40" '"$sig"'; : >"$1.ready"; while :; do sleep 0.05; done' \
				sh "$log" "$sig" 2>"$ERR" &
			pid=$!
			track $pid
			wait_for 10 test -e "$log.ready" || { echo "# PROGRAM did not start" >&2; return 1; }
			kill -"$sig" $pid
			timeout 10 tail --pid=$pid -f /dev/null || { echo "# run did not end" >&2; return 1; }
			wait $pid || status=$?
			[ $status = 40 ] || { echo "# exit status $status" >&2; sed 's/^/# /' "$ERR" >&2; return 1; }
			grep -qx "got $sig" "$log" && grep -q "received SIG$sig: passing it to 'sh'" "$ERR" && nothing_left
		}
		check "[$engine] SIG$sig to run reaches PROGRAM; its status is run's" t_signal "$sig"
	done

	t_sigterm_default() {
		local status=0 pid
		env --default-signal=TERM "$X410_VSOCK" run "${common[@]}" ":$DISP" -- sleep 60 2>"$ERR" &
		pid=$!
		track $pid
		wait_for 10 grep -q "running 'sleep'" "$ERR" || return 1
		kill -TERM $pid
		timeout 10 tail --pid=$pid -f /dev/null || return 1
		wait $pid || status=$?
		[ $status = 143 ] && nothing_left
	}
	check "[$engine] SIGTERM to run ends a PROGRAM that does not catch it: 143" t_sigterm_default

	# one_client: the stats line of $RUN_PID (SIGUSR1) counts one client.
	one_client() { kill -USR1 "$RUN_PID"; sleep 0.2; grep -q 'clients 1 now' "$ERR"; }
	t_clients_closed() {
		local status=0 pid cpid go=$TEST_TMP/go
		rm -f "$go"
		# shellcheck disable=SC2016
		"$X410_VSOCK" run "${common[@]}" ":$DISP" -- \
			sh -c 'while [ ! -e "$1" ]; do sleep 0.05; done; exit 3' sh "$go" 2>"$ERR" &
		pid=$!
		track $pid
		wait_for 10 grep -q "running 'sh'" "$ERR" || return 1
		# A client that is not PROGRAM's and keeps its connection open.
		timeout 60 socat -u UNIX-CONNECT:"$SOCK/X$DISP" /dev/null &
		cpid=$!
		track $cpid
		RUN_PID=$pid
		wait_for 10 one_client || { echo "# the client did not connect" >&2; return 1; }
		: >"$go"
		timeout 10 tail --pid=$pid -f /dev/null || { echo "# run did not end" >&2; return 1; }
		wait $pid || status=$?
		[ $status = 3 ] || { echo "# status $status" >&2; return 1; }
		timeout 10 tail --pid=$cpid -f /dev/null || { echo "# the client is still connected" >&2; return 1; }
		grep -q "'sh' exited with status 3: stopping" "$ERR" && nothing_left
	}
	check "[$engine] PROGRAM's end stops the relay and closes the other clients" t_clients_closed

	t_pick() {
		local n m
		# --no-abstract: the abstract names are the whole machine's.
		prun 0 --no-abstract -- sh -c 'echo "$DISPLAY"' || return 1
		n=$(sed -n 's/^:\([0-9]*\)$/\1/p' "$OUT")
		[ -n "$n" ] && grep -qx "x410-vsock: no display given: serving :$n, the first free one" "$ERR" || return 1
		# The first display doctor suggests (unless one came or went
		# in between: the machine's displays are shared).
		if command -v jq >/dev/null; then
			local first
			first=$(timeout 20 "$X410_VSOCK" doctor --socket-dir "$SOCK" --lock-dir "$TEST_TMP" --json 2>/dev/null |
				jq -r '.checks[] | select(.id == "display") | .data.free_displays' | cut -d' ' -f1)
			[ "$first" = ":$n" ] || { echo "# doctor suggests '$first' first, run took :$n" >&2; return 1; }
		fi
		# That display in use (a live lock): the next free one.
		printf '%10d\n' $$ >"$TEST_TMP/.X$n-lock"
		prun 0 --no-abstract -- sh -c 'echo "$DISPLAY"'
		local s=$?
		rm -f "$TEST_TMP/.X$n-lock"
		m=$(sed -n 's/^:\([0-9]*\)$/\1/p' "$OUT")
		[ $s = 0 ] && [ -n "$m" ] && [ "$m" != "$n" ] && [ "$m" -gt "$n" ] && nothing_left "$m"
	}
	check "[$engine] without :N the first free display is served and named" t_pick
done

# ^C on a terminal reaches the whole foreground process group, PROGRAM
# included: run must not send it a second time.  script(1) gives run and
# PROGRAM a terminal of their own; "exec" because script starts $SHELL -c, and
# a shell that stays (dash does; $SHELL is often unset) dies of the ^C.
t_terminal_int() {
	local log=$TEST_TMP/tty.log ready=$TEST_TMP/tty.ready status=0
	rm -f "$log" "$ready"
	# shellcheck disable=SC2016
	local cmd
	cmd=$(printf '%q ' env --default-signal=INT "$X410_VSOCK" -v run --socket-dir "$SOCK" \
		--lock-dir "$TEST_TMP" --connect "unix:$UP" --engine epoll ":$DISP" -- \
		sh -c 'trap "exit 41" INT; : >"$1"; while :; do sleep 0.05; done' sh "$ready")
	{ wait_for 10 test -e "$ready"; printf '\003'; sleep 3; } |
		timeout 30 script -qfec "exec $cmd" /dev/null >"$log" 2>&1 || status=$?
	[ $status = 41 ] || { echo "# exit status $status" >&2; sed 's/^/# /' "$log" >&2; return 1; }
	grep -q "SIGINT from the terminal reached 'sh' too" "$log" && ! grep -q "passing it to" "$log"
}
if command -v script >/dev/null; then
	check "^C on the terminal reaches PROGRAM once, not passed on again" t_terminal_int
else
	skip_check "script (util-linux) is not installed: no terminal for the ^C check"
fi

t_usage() {
	run_x 2 run ":$DISP" -- || return 1
	grep -qx "x410-vsock: ERROR: Missing the PROGRAM after '--'" "$ERR" || return 1
	run_x 2 run --listen "unix:$TEST_TMP/l" -- true &&
	grep -qx "x410-vsock: ERROR: -- PROGRAM needs a display (:N, or none for the first free one), not --listen" "$ERR"
}
check "-- without PROGRAM, and -- PROGRAM with --listen, are usage errors" t_usage

finish
