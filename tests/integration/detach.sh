#!/bin/bash
# `run --detach`, `status` and `stop` with real processes: relays in front of
# a socat echo upstream on a UNIX socket (never AF_VSOCK here), in private
# socket and lock directories.  The start returns only once the display
# answers, a second start is a no-op, a display held by another server is
# refused, the relay outlives the shell and terminal that started it and
# logs where its start line says; status and stop on our relay, on another
# user's (setpriv), on another server's display and on a stale lock.
. "$top_srcdir/tests/lib.sh"

command -v socat >/dev/null || skip "socat is not installed (scripts/bootstrap installs it)"
command -v jq >/dev/null || skip "jq is not installed (scripts/bootstrap installs it)"

SOCK=$TEST_TMP/sock
LOCKS=$TEST_TMP/locks
mkdir -m 700 "$SOCK"
mkdir -m 755 "$LOCKS"
export XDG_STATE_HOME=$TEST_TMP/state
# Display numbers of our own: the abstract names are machine-wide.
BASE=$(( 20000 + ($$ % 4000) * 8 ))
D1=$BASE D2=$((BASE + 1)) D3=$((BASE + 2)) D4=$((BASE + 3)) D5=$((BASE + 4)) D6=$((BASE + 5))
UP=$TEST_TMP/up
COMMON=(--socket-dir "$SOCK" --lock-dir "$LOCKS" --connect "unix:$UP")

timeout 300 socat UNIX-LISTEN:"$UP",fork,mode=777 EXEC:cat 2>/dev/null &
track $!
wait_for 5 test -S "$UP" || fatal "the socat upstream did not start"

# The detached relays are not our children: remember them by their lock.
lock_pid() { local p; p=$(cat "${2:-$LOCKS}/.X$1-lock" 2>/dev/null) && echo $((p)); }
relays_of() { # relays_of N: how many processes run a relay of :N from this test
	ps -eo args= | grep -c -- "^[^ ]*x410-vsock run --detach .*$LOCKS.* :$1\$" || true
}
echo_through() { [ "$(echo "${2:-hello}" | timeout 10 socat -t5 - UNIX-CONNECT:"$SOCK/X$1")" = "${2:-hello}" ]; }
# Gone, or a zombie: whoever reaps orphans here may not (a container's init).
ended() { ! kill -0 "$1" 2>/dev/null || [ "$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1)" = Z ]; }
log_file() { echo "$XDG_STATE_HOME/x410-vsock/display-$1.log"; }
syslog_live() { [ -S /dev/log ] && timeout 2 socat -u /dev/null UNIX-SENDTO:/dev/log 2>/dev/null; }

# ---------------------------------------------------------------- options
t_program() { run_x 2 run --detach "${COMMON[@]}" ":$D1" -- true && grep -q "exclude each other" "$ERR"; }
check "--detach with '-- PROGRAM' is a usage error" t_program
t_activation() {
	local status=0
	LISTEN_FDS=1 LISTEN_PID=$$ timeout 20 "$X410_VSOCK" run --detach "${COMMON[@]}" ":$D1" >"$OUT" 2>"$ERR" || status=$?
	expect_status 2 "$status" run --detach under LISTEN_FDS && grep -q "socket activation" "$ERR"
}
check "--detach under socket activation (LISTEN_FDS) is a usage error" t_activation

# ---------------------------------------------------------------- start
t_start() {
	run_x 0 run --detach "${COMMON[@]}" ":$D1" || return 1
	# No wait of any kind: the display must answer the moment run returns.
	echo_through "$D1" || { echo "# the display did not answer right after run returned" >&2; return 1; }
	local pid; pid=$(lock_pid "$D1") || return 1
	track "$pid"
	cp "$ERR" "$TEST_TMP/start-d1"
	grep -q "serving :$D1 -> unix:$UP in the background (pid $pid); log: " "$ERR" &&
	[ "$(ps -o sid= -p "$pid" | tr -d ' ')" = "$pid" ]  # leads a session of its own
}
check "run --detach returns once the display answers, the relay in its own session" t_start

t_again() {
	local pid; pid=$(lock_pid "$D1")
	run_x 0 run --detach "${COMMON[@]}" ":$D1" || return 1
	[ "$(wc -l <"$ERR")" = 1 ] &&
	grep -qx "x410-vsock: display :$D1 is already served by your x410-vsock relay (pid $pid) -> unix:$UP; export DISPLAY=:$D1" "$ERR" &&
	[ "$(lock_pid "$D1")" = "$pid" ] && [ "$(relays_of "$D1")" = 1 ]
}
check "a second run --detach on the same display: one line, exit 0, no second relay" t_again

t_other_upstream() {
	run_x 1 run --detach --socket-dir "$SOCK" --lock-dir "$LOCKS" --connect "unix:$UP.other" ":$D1" &&
	grep -q "Display :$D1 is in use" "$ERR" && [ "$(relays_of "$D1")" = 1 ]
}
check "the same display relayed elsewhere: exit 1, display in use" t_other_upstream

# ---------------------------------------------------------------- another server
# A plain listener on :D2's abstract name with a lock file naming it, as an
# X server would hold the display.
timeout 300 socat ABSTRACT-LISTEN:/tmp/.X11-unix/X"$D2",fork EXEC:cat 2>/dev/null &
OTHER=$!
track "$OTHER"
printf '%10d\n' "$OTHER" >"$LOCKS/.X$D2-lock"
wait_for 5 grep -q "@/tmp/.X11-unix/X$D2\$" /proc/net/unix || fatal "the plain listener did not start"

t_held() {
	run_x 1 run --detach "${COMMON[@]}" ":$D2" &&
	grep -q "Display :$D2 is in use: the lock file '$LOCKS/.X$D2-lock' belongs to the running process $OTHER" "$ERR" &&
	[ "$(lock_pid "$D2")" = "$OTHER" ] && [ "$(relays_of "$D2")" = 0 ]
}
check "a display held by another server: exit 1 with the usual sentence, nothing left running" t_held

t_error_before() {
	run_x 1 run --detach --socket-dir "$TEST_TMP/nonexistent" --lock-dir "$LOCKS" --connect "unix:$UP" ":$D3" &&
	grep -q "does not exist" "$ERR" && [ ! -e "$LOCKS/.X$D3-lock" ]
}
check "an error before serving reaches the terminal, exit 1" t_error_before

# ---------------------------------------------------------------- outliving the shell
t_script() {
	# A log file over 1 MiB from earlier lives is moved aside first.
	mkdir -p "$XDG_STATE_HOME/x410-vsock"
	head -c 1100000 /dev/zero >"$(log_file "$D3")"
	# A terminal of its own (a pty, a new session) that closes when the
	# command ends: its hang-up must not reach the relay.
	timeout 30 script -qec "$X410_VSOCK run --detach ${COMMON[*]} :$D3" "$TEST_TMP/typescript" </dev/null >/dev/null 2>&1 || return 1
	local pid; pid=$(lock_pid "$D3") || return 1
	track "$pid"
	sleep 1
	kill -0 "$pid" && echo_through "$D3" &&
	[ "$(stat -c %s "$(log_file "$D3").old")" = 1100000 ] && grep -q "serving :$D3 " "$(log_file "$D3")"
}
if command -v script >/dev/null; then
	check "started in a terminal (script) that then closes, the relay keeps serving (old log moved aside)" t_script
else
	skip_check "script(1) is not installed (util-linux or bsdutils)"
fi

t_hangup() {
	# The starting shell in a new session, which hangs up its whole
	# process group and ends by it.  (A trap, not an ignored SIGHUP: the
	# relay must not inherit SIG_IGN, or the check would prove nothing.)
	timeout 30 setsid -w bash -c 'trap "exit \$st" HUP; "$0" run --detach "$@"; st=$?; kill -HUP 0; sleep 10; exit 99' \
		"$X410_VSOCK" "${COMMON[@]}" ":$D4" >/dev/null 2>&1 || return 1
	local pid; pid=$(lock_pid "$D4") || return 1
	track "$pid"
	sleep 1
	kill -0 "$pid" && echo_through "$D4"
}
check "SIGHUP to the starting shell's session: the relay keeps serving" t_hangup

# ---------------------------------------------------------------- status
t_status_ours() {
	run_x 0 status --lock-dir "$LOCKS" ":$D1" || return 1
	local pid; pid=$(lock_pid "$D1")
	grep -Eqx ":$D1 x410-vsock pid=$pid user=$(id -un) upstream=unix:$UP engine=(uring|epoll) clients=0/[1-9][0-9]* bytes_up=[1-9][0-9]* bytes_down=[1-9][0-9]* uptime=[0-9]+s" "$OUT"
}
check "status :N of our relay: pid, user, upstream, engine, clients, bytes, uptime; exit 0" t_status_ours

t_status_all() {
	run_x 0 status --lock-dir "$LOCKS" || return 1
	grep -q "^:$D1 x410-vsock pid=" "$OUT" && grep -q "^:$D4 x410-vsock pid=" "$OUT" &&
	grep -qx ":$D2 other pid=$OTHER user=$(id -un) command=$(cat /proc/$OTHER/comm) (not x410-vsock)" "$OUT"
}
check "status lists our relays and the other server's display" t_status_all

t_status_json() {
	run_x 0 status --json --lock-dir "$LOCKS" || return 1
	jq -e --argjson d "$D1" --argjson o "$D2" '
		(.[] | select(.display == $d) | .state == "x410-vsock" and .yours and .clients_total >= 1 and
			(.upstream | startswith("unix:")) and .bytes_up > 0) and
		(.[] | select(.display == $o) | .state == "other" and .pid > 0)' "$OUT" >/dev/null
}
check "status --json says the same" t_status_json

t_status_free() { run_x 1 status --lock-dir "$LOCKS" ":$D6" && grep -qx ":$D6 free" "$OUT"; }
check "status of a free display: exit 1" t_status_free

t_status_other() { run_x 1 status --lock-dir "$LOCKS" ":$D2"; }
check "status of another server's display: exit 1" t_status_other

t_stop_other() {
	run_x 1 stop --lock-dir "$LOCKS" ":$D2" &&
	grep -q "held by process $OTHER ($(cat /proc/$OTHER/comm)) .* not by an x410-vsock relay: refusing" "$ERR" &&
	kill -0 "$OTHER"
}
check "stop refuses a display held by another server" t_stop_other

# ---------------------------------------------------------------- stale lock
sleep 0 & DEAD=$!
wait "$DEAD" || true
printf '%10d\n' "$DEAD" >"$LOCKS/.X$D5-lock"
t_stale() {
	run_x 1 status --lock-dir "$LOCKS" ":$D5" &&
	grep -qx ":$D5 stale pid=$DEAD (the lock file's process is gone)" "$OUT" &&
	run_x 1 stop --lock-dir "$LOCKS" ":$D5" && grep -q "its lock file is stale" "$ERR" &&
	run_x 0 run --detach "${COMMON[@]}" ":$D5" && track "$(lock_pid "$D5")" && echo_through "$D5"
}
check "a stale lock: status and stop say so (exit 1), run --detach takes it over" t_stale

# ---------------------------------------------------------------- another user
NOBODY=65534
if ! command -v setpriv >/dev/null || [ "$(id -u)" != 0 ]; then
	skip_check "switching users needs root and setpriv"
	skip_check "switching users needs root and setpriv"
else
	as_nobody() { setpriv --reuid=$NOBODY --regid=$NOBODY --clear-groups "$@"; }
	# nobody reads our lock directory (ours is $LOCKS, 755).
	chmod 755 "$TEST_TMP"
	t_not_yours() {
		local status=0
		as_nobody timeout 20 "$X410_VSOCK" stop --lock-dir "$LOCKS" ":$D1" >"$OUT" 2>"$ERR" || status=$?
		expect_status 1 "$status" stop as nobody || return 1
		grep -q "served by the x410-vsock relay $(lock_pid "$D1") of user $(id -un), not yours: refusing" "$ERR" &&
		kill -0 "$(lock_pid "$D1")" || return 1
		status=0
		as_nobody timeout 20 "$X410_VSOCK" status --lock-dir "$LOCKS" ":$D1" >"$OUT" 2>"$ERR" || status=$?
		expect_status 1 "$status" status as nobody &&
		grep -qx ":$D1 x410-vsock pid=$(lock_pid "$D1") user=$(id -un) (not yours: no details)" "$OUT"
	}
	check "another user's stop is refused; its status gets no details (exit 1)" t_not_yours

	# A relay of nobody's, in directories of its own.
	NB=$TEST_TMP/nobody
	mkdir -p "$NB/sock" "$NB/locks" "$NB/state"
	chown -R $NOBODY:$NOBODY "$NB"
	chmod 755 "$NB"
	t_foreign() {
		local status=0 pid
		as_nobody env XDG_STATE_HOME="$NB/state" timeout 20 "$X410_VSOCK" run --detach --socket-dir "$NB/sock" \
			--lock-dir "$NB/locks" --connect "unix:$UP" ":$D6" >"$OUT" 2>"$ERR" || status=$?
		expect_status 0 "$status" run --detach as nobody || return 1
		pid=$(lock_pid "$D6" "$NB/locks") || return 1
		track "$pid"
		run_x 1 stop --lock-dir "$NB/locks" ":$D6" &&
		grep -q "relay $pid of user .*, not yours: refusing" "$ERR" && kill -0 "$pid" || return 1
		# root may ask (the relay answers its user and root), but it is
		# not root's relay: exit 1.
		run_x 1 status --lock-dir "$NB/locks" ":$D6" &&
		grep -Eq "^:$D6 x410-vsock pid=$pid user=[^ ]+ upstream=unix:$UP " "$OUT" || return 1
		status=0
		as_nobody timeout 20 "$X410_VSOCK" stop --lock-dir "$NB/locks" ":$D6" >"$OUT" 2>"$ERR" || status=$?
		expect_status 0 "$status" stop as nobody && [ ! -e "$NB/locks/.X$D6-lock" ] && [ ! -e "$NB/sock/X$D6" ]
	}
	check "a relay of another user: root's stop is refused, its owner's works" t_foreign
fi

# ---------------------------------------------------------------- logs and stop
# Where the log goes: syslog when a daemon listens on /dev/log, else the file.
t_log() {
	local pid f start; pid=$(lock_pid "$D1"); start=$(grep "in the background" "$TEST_TMP/start-d1")
	if syslog_live; then
		grep -q "(pid $pid); log: syslog\$" <<<"$start" || return 1
		wait_for 10 sh -c "journalctl -q -o cat _PID=$pid 2>/dev/null | grep -q 'serving :$D1 -> unix:$UP' ||
			grep -qs 'x410-vsock\[$pid\]: serving :$D1 -> unix:$UP' /var/log/syslog /var/log/messages /var/log/user.log"
		return
	fi
	f=$(log_file "$D1")
	[ "$start" = "x410-vsock: serving :$D1 -> unix:$UP in the background (pid $pid); log: $f" ] || {
		echo "# start line: $start" >&2; return 1; }
	grep -q "x410-vsock\[$pid\]: serving :$D1 -> unix:$UP" "$f" || return 1
	kill -USR1 "$pid"
	wait_for 10 grep -q "x410-vsock\[$pid\]: stats: clients 0 now, [0-9]* total" "$f"
}
if syslog_live && ! command -v journalctl >/dev/null && ! [ -r /var/log/syslog ] && ! [ -r /var/log/messages ]; then
	skip_check "syslog listens on /dev/log but its log cannot be read back here"
else
	check "the detached relay logs where its start line says" t_log
fi

t_stop() {
	local pid; pid=$(lock_pid "$D1")
	run_x 0 stop --lock-dir "$LOCKS" ":$D1" || return 1
	grep -qx "x410-vsock: stopped the relay of display :$D1 (pid $pid)" "$ERR" &&
	ended "$pid" && [ ! -e "$LOCKS/.X$D1-lock" ] && [ ! -e "$SOCK/X$D1" ] || return 1
	syslog_live || grep -q "x410-vsock\[$pid\]: received SIGTERM: stopping" "$(log_file "$D1")"
}
check "stop of our relay: exit 0 once it has ended, its lock and socket gone" t_stop

t_stop_gone() { run_x 1 stop --lock-dir "$LOCKS" ":$D1" && grep -q "nothing to stop" "$ERR"; }
check "stop of a display nobody serves: exit 1, nothing to stop" t_stop_gone

for d in "$D3" "$D4" "$D5"; do
	"$X410_VSOCK" stop --lock-dir "$LOCKS" ":$d" >/dev/null 2>&1 || true
done

finish
