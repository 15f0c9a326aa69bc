#!/bin/bash
# Bash completion: commands (the list written below),
# global and per-command options from --help, option values and the X
# displays in use.  The completion function is called the way bash calls it.
. "$top_srcdir/tests/lib.sh"

# shellcheck source=../../completion/x410-vsock
. "$top_srcdir/completion/x410-vsock" || fatal "cannot source completion/x410-vsock"

x11=$TEST_TMP/x11
mkdir -p "$x11"
_x410_vsock_x11_dir=$x11
mkdir -p "$TEST_TMP/locks"
_x410_vsock_lock_dir=$TEST_TMP/locks

# comp WORDS...: complete the last word; the sorted candidates on stdout.
comp() {
	COMP_WORDS=("$@")
	COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
	COMP_LINE="$*"
	COMP_POINT=${#COMP_LINE}
	COMPREPLY=()
	_x410_vsock
	[ ${#COMPREPLY[@]} -eq 0 ] || printf '%s\n' "${COMPREPLY[@]}" | sort
}

# expect WANT WORDS...: the candidates are exactly WANT (space-separated).
expect() {
	local want got
	want=$(printf '%s\n' $1 | sed '/^$/d' | sort); shift
	got=$(comp "$@")
	[ "$got" = "$want" ] || { echo "# completing '$*': got [$(echo $got)], want [$(echo $want)]" >&2; return 1; }
}

t_registered() { complete -p x410-vsock | grep -q -- '-F _x410_vsock x410-vsock$'; }
check "the completion is registered for x410-vsock" t_registered

# The commands, written here (not read from the code under test): a command
# added or dropped must be added or dropped here too.
table="doctor regfile run setup status stop"
check "an empty word completes every command of the table ($(echo $table))" expect "$table" "$X410_VSOCK" ""
check "a global option before the command is skipped" expect regfile "$X410_VSOCK" -v reg
check "a dash completes the global options" \
	expect "-h -q -v -V --help --quiet --verbose --version" "$X410_VSOCK" -
check "regfile options come from 'regfile --help', with -v and -q" \
	expect "--help --powershell --quiet --verbose" "$X410_VSOCK" regfile --
check "a dash after regfile completes its short and long options, and -v and -q" \
	expect "-h -p -q -v --help --powershell --quiet --verbose" "$X410_VSOCK" regfile -

# Every command's long options, written here (not read from src/): after
# "CMD --" the completion offers exactly these.
declare -A long_options=(
	[doctor]="--connect --help --json --lock-dir --quiet --root --socket-dir --timeout --verbose --x410-display"
	[regfile]="--help --powershell --quiet --verbose"
	[run]="--allow-any-user --allow-group --allow-user --connect --connect-timeout --detach --engine --help --listen
	       --lock-dir --max-clients --no-abstract --no-path-socket --quiet --socket-dir --verbose --vsock-buffer --x410-display"
	[setup]="--dry-run --help --quiet --root --undo --verbose"
	[status]="--help --json --lock-dir --quiet --verbose"
	[stop]="--help --lock-dir --quiet --timeout --verbose"
)
for cmd in $table; do
	check "'$cmd --' completes exactly its options" expect "${long_options[$cmd]}" "$X410_VSOCK" "$cmd" --
done

# Option values and displays, parsed from help text in the forms commands
# use: a stand-in binary prints such a help.
fake=$TEST_TMP/bin/x410-vsock
mkdir -p "${fake%/*}"
cat >"$fake" <<'FAKE'
#!/bin/sh
case "$1" in
--help) printf 'Usage: x410-vsock COMMAND\n\nCommands:\n  run      Serve\n  doctor   Check\n\nOptions:\n  -v, --verbose   More\n';;
run) printf 'Usage: x410-vsock run [OPTIONS] DISPLAY\n\nOptions:\n  -e, --engine=uring|epoll   Engine\n      --connect ADDR         Upstream\n  -d, --display=:N           Display\n      --allow-file=FILE      File\n  -h, --help                 Help\n';;
doctor) printf 'Usage: x410-vsock doctor [OPTIONS]\n\nOptions:\n      --json   JSON\n';;
esac
FAKE
chmod +x "$fake"

# Two displays in use (listening sockets), and a plain file that is not one.
for n in 5 17; do
	timeout 60 socat "UNIX-LISTEN:$x11/X$n" /dev/null &
	track $!
done
: >"$x11/X9"
: >"$x11/Xjunk"
wait_for 10 test -S "$x11/X5" -a -S "$x11/X17" || fatal "socat did not create the sockets"

check "commands of a stand-in binary come from its --help" expect "doctor run" "$fake" ""
check "--engine completes its alternatives" expect "epoll uring" "$fake" run --engine ""
check "--engine=e completes (= is a word break)" expect "epoll" "$fake" run --engine = e
check "-e u completes the short form's values" expect "uring" "$fake" run -e u
check "--display completes the displays in use" expect ":17 :5" "$fake" run --display ""
check "a DISPLAY operand completes the displays in use" expect ":17 :5" "$fake" run ""
# A display with only a lock file (a relay on the abstract socket alone).
printf '%10d\n' $$ >"$TEST_TMP/locks/.X23-lock"
: >"$TEST_TMP/locks/.Xjunk-lock"
check "stop and status complete the displays with a lock file too" expect ":17 :23 :5" "$X410_VSOCK" stop ""
check "an ADDR value completes nothing" expect "" "$fake" run --connect ""
check "a command without a DISPLAY operand completes no display" expect "" "$fake" doctor ""
check "options of the stand-in's run, and its global -v" \
	expect "--allow-file --connect --display --engine --help --verbose" "$fake" run --
t_program() { comp "$X410_VSOCK" run :5 -- tru | grep -qx true; }
check "the word after run ... -- completes a command name" t_program
t_program_args() {
	: >"$TEST_TMP/prog-arg-file"
	[ "$(comp "$X410_VSOCK" run -- xterm "$TEST_TMP/prog-arg-f")" = "$TEST_TMP/prog-arg-file" ] &&
	[ -z "$(comp "$X410_VSOCK" run -- xterm --eng)" ]
}
check "after run -- PROGRAM come file names, not run's options" t_program_args
t_file() { comp "$fake" run --allow-file "$x11/X" | grep -qx "$x11/X9"; }
check "a FILE value completes file names" t_file

finish
