#!/bin/bash
# doctor's X11 probe (--connect) against real servers: Xvfb over a UNIX
# socket, its abstract name and loopback TCP (vendor reported), Xvfb with
# access control (its reason reported), and listeners that close at once,
# never answer (the deadline holds) or answer something else.  Also doctor's
# display check against the live Xvfb.  UNIX sockets and loopback only.
. "$top_srcdir/tests/lib.sh"

command -v jq >/dev/null || skip "jq is missing (scripts/bootstrap installs it)"

# x410 ARGS...: run doctor, keep the X410 line (and what is under it) in $X410.
x410() {
	local status=0
	timeout 20 "$X410_VSOCK" doctor "$@" >"$OUT" 2>"$ERR" || status=$?
	X410=$(sed -n '/^\[....\] X410 /,$p' "$OUT")
	[ ! -s "$ERR" ] || { sed 's/^/# stderr: /' "$ERR" >&2; return 1; }
	return $status
}

# start_xvfb [ARGS...]: an Xvfb on a display it picks itself (-displayfd);
# sets XVFB_DISPLAY.
start_xvfb() {
	local fifo=$TEST_TMP/displayfd.$RANDOM
	: >"$fifo"
	Xvfb -displayfd 3 -nolisten tcp -noreset "$@" 3>"$fifo" >"$TEST_TMP/xvfb.log" 2>&1 &
	local pid=$!
	track $pid
	wait_for 10 test -s "$fifo" || { kill $pid; echo "# Xvfb did not start: $(tail -n 3 "$TEST_TMP/xvfb.log")" >&2; return 1; }
	XVFB_DISPLAY=$(tr -d '\n' <"$fifo")
	XVFB_PID=$pid
}

stop_xvfb() { kill "$XVFB_PID" 2>/dev/null; wait "$XVFB_PID" 2>/dev/null; true; }

if ! command -v Xvfb >/dev/null; then
	skip_check "Xvfb is missing"
else
	start_xvfb -listen tcp || fatal "Xvfb does not start"
	n=$XVFB_DISPLAY

	t_xvfb_unix() {
		x410 --connect "unix:/tmp/.X11-unix/X$n" || return 1
		echo "$X410" | grep -q "^\[ OK \] X410 display 0 (unix:/tmp/.X11-unix/X$n): 'The X.Org Foundation' release [0-9]*, X11 protocol 11.0, 1 screen (1280x1024), answered in [0-9]* ms$" ||
			{ echo "# $X410" >&2; return 1; }
		# A passing check prints no registry lines.
		[ "$(echo "$X410" | wc -l)" -eq 1 ]
	}
	check "Xvfb over its UNIX socket: OK with the vendor, protocol and screen" t_xvfb_unix

	t_xvfb_abstract_json() {
		x410 --json --connect "unix:@/tmp/.X11-unix/X$n" || return 1
		jq -e '.checks[] | select(.id == "x410") |
			.status == "ok" and .data.vendor == "The X.Org Foundation" and .data.protocol == "11.0" and (.data.release > 0)' "$OUT" >/dev/null
	}
	check "Xvfb over its abstract socket, --json: vendor and protocol as data" t_xvfb_abstract_json

	t_xvfb_tcp() {
		# Xvfb may announce its display before its TCP listener is up.
		wait_for 5 bash -c "exec 3<>/dev/tcp/127.0.0.1/$((6000 + n))" ||
			{ echo "# Xvfb does not listen on 127.0.0.1:$((6000 + n))" >&2; return 1; }
		x410 --x410-display 7 --connect "tcp:127.0.0.1:$((6000 + n))" || { echo "# $X410" >&2; return 1; }
		echo "$X410" | grep -q "^\[ OK \] X410 display 7 (tcp:127.0.0.1:$((6000 + n))): 'The X.Org Foundation'" ||
			{ echo "# $X410" >&2; return 1; }
	}
	check "Xvfb over loopback TCP: OK" t_xvfb_tcp

	t_display_taken() {
		local status=0
		timeout 20 "$X410_VSOCK" doctor ":$n" >"$OUT" 2>"$ERR" || status=$?
		[ $status = 1 ] || return 1
		grep -q "^\[FAIL\] display :$n: taken: .*socket /tmp/.X11-unix/X$n is served.*abstract socket @/tmp/.X11-unix/X$n is served" "$OUT" &&
		grep -A1 "^\[FAIL\] display :$n" "$OUT" | grep -q "^       fix: use a free display: " &&
		! grep -A1 "^\[FAIL\] display :$n" "$OUT" | grep -q "fix: use a free display: .*:$n\b"
	}
	check "doctor :N on Xvfb's display: taken (socket and abstract name), other displays suggested" t_display_taken

	stop_xvfb

	t_xvfb_auth() {
		local auth=$TEST_TMP/xauth
		command -v xauth >/dev/null || return 0
		xauth -f "$auth" add :0 . 0123456789abcdef0123456789abcdef 2>/dev/null || return 1
		start_xvfb -auth "$auth" || return 1
		x410 --connect "unix:/tmp/.X11-unix/X$XVFB_DISPLAY"
		local status=$?
		stop_xvfb
		[ $status = 1 ] || return 1
		echo "$X410" | grep -q "^\[FAIL\] X410 display 0 (unix:/tmp/.X11-unix/X$XVFB_DISPLAY): the X server refused the connection (X11 protocol 11.0): 'Authorization required, but no authorization protocol specified'$" ||
			{ echo "# $X410" >&2; return 1; }
		echo "$X410" | grep -q '^       fix: ' && echo "$X410" | grep -q '^       \.reg: '
	}
	if command -v xauth >/dev/null; then
		check "Xvfb with access control: FAIL with the server's own reason, fix and .reg" t_xvfb_auth
	else
		skip_check "xauth is missing"
	fi
fi

# ---------------------------------------------------------------- listeners that are no X server

# listener NAME SOCAT-ADDRESS: one connection on $TEST_TMP/NAME handled by
# socat's second address; sets SOCK.
listener() {
	SOCK=$TEST_TMP/$1
	timeout 30 socat "UNIX-LISTEN:$SOCK" "$2" 2>/dev/null &
	track $!
	wait_for 5 test -S "$SOCK"
}

if ! command -v socat >/dev/null; then
	skip_check "socat is missing"
else
	t_closes_at_once() {
		listener closes 'SYSTEM:exit 0' || return 1
		x410 --connect "unix:$SOCK"
		[ $? = 1 ] || return 1
		echo "$X410" | grep -q "^\[FAIL\] X410 display 0 (unix:$SOCK): connected, but the server closed the connection without answering the X11 connection setup$" ||
			{ echo "# $X410" >&2; return 1; }
		echo "$X410" | grep -q '^       key: HKLM\\'
	}
	check "a listener that closes at once: FAIL 'closed the connection without answering'" t_closes_at_once

	t_never_answers() {
		local t0 t1
		listener silent 'SYSTEM:sleep 25' || return 1
		t0=$(date +%s%N)
		x410 --timeout 0.5 --connect "unix:$SOCK"
		[ $? = 1 ] || return 1
		t1=$(date +%s%N)
		echo "$X410" | grep -q "^\[FAIL\] X410 display 0 (unix:$SOCK): connected, but no answer to the X11 connection setup within 0.500 s" ||
			{ echo "# $X410" >&2; return 1; }
		# The deadline holds: not before 0.5 s, well before the listener's 25 s.
		local ms=$(( (t1 - t0) / 1000000 ))
		echo "# took $ms ms" >&2
		[ $ms -ge 500 ] && [ $ms -lt 3000 ]
	}
	check "a listener that never answers: FAIL after --timeout 0.5, bounded" t_never_answers

	t_garbage() {
		listener garbage 'SYSTEM:echo HTTP/1.1 400 Bad Request && sleep 2' || return 1
		x410 --connect "unix:$SOCK"
		[ $? = 1 ] || return 1
		echo "$X410" | grep -q "^\[FAIL\] X410 display 0 (unix:$SOCK): connected, but the answer is not an X11 connection setup reply: not an X server$"
	}
	check "a listener that answers HTTP: FAIL 'not an X server'" t_garbage
fi

t_nobody() {
	x410 --connect "unix:$TEST_TMP/nothing-here"
	[ $? = 1 ] || return 1
	echo "$X410" | grep -q "^\[FAIL\] X410 display 0 (unix:$TEST_TMP/nothing-here): nobody is listening on unix:$TEST_TMP/nothing-here (No such file or directory)$"
}
check "no socket at all: FAIL with ENOENT" t_nobody

finish
