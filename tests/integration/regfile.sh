#!/bin/bash
# x410-vsock regfile: the Windows registry file and the PowerShell commands,
# byte for byte (CRLF included), and every kind of invalid range.
. "$top_srcdir/tests/lib.sh"

golden=$top_srcdir/tests/golden

# The golden files themselves must be CRLF throughout (no editor or git
# conversion may have touched them), or comparing against them proves nothing.
t_golden_crlf() {
	local f lines crlf
	for f in "$golden"/regfile-*; do
		lines=$(wc -l <"$f")
		crlf=$(grep -c $'\r$' "$f")
		[ "$lines" -gt 3 ] && [ "$lines" = "$crlf" ] || { echo "# $f: $crlf of $lines lines end in CRLF" >&2; return 1; }
	done
}
check "the golden files are CRLF throughout" t_golden_crlf

# same_as GOLDEN ARGS...: stdout is byte-exact GOLDEN, stderr empty.
same_as() {
	local want=$golden/$1; shift
	run_x 0 "$@" || return 1
	cmp "$OUT" "$want" >&2 || { diff -u "$want" "$OUT" | sed 's/^/# /' >&2; return 1; }
	[ ! -s "$ERR" ]
}
check "regfile (default display 0) is the .reg for display 0" same_as regfile-0.reg regfile
check "regfile 0 is the .reg for display 0" same_as regfile-0.reg regfile 0
check "regfile 0-5 is the .reg for displays 0-5" same_as regfile-0-5.reg regfile 0-5
check "regfile 0,1,2,3,4,5 is the same as 0-5" same_as regfile-0-5.reg regfile 0,1,2,3,4,5
check "regfile 5,0-4,3 is the same as 0-5 (sorted, no duplicates)" same_as regfile-0-5.reg regfile 5,0-4,3
check "regfile --powershell is the PowerShell for display 0" same_as regfile-0.ps1 regfile --powershell
check "regfile -p 0 is the PowerShell for display 0" same_as regfile-0.ps1 regfile -p 0
check "regfile --powershell 0-5 is the PowerShell for displays 0-5" same_as regfile-0-5.ps1 regfile 0-5 --powershell

# What regedit needs, checked apart from the golden files.
t_reg_shape() {
	run_x 0 regfile 0,2,7 || return 1
	[ "$(head -n 1 "$OUT")" = $'Windows Registry Editor Version 5.00\r' ] &&
	[ "$(grep -c '^\[HKEY_LOCAL_MACHINE\\SOFTWARE\\Microsoft\\Windows NT\\CurrentVersion\\Virtualization\\GuestCommunicationServices\\0000177[027]-facb-11e6-bd58-64006a7986d3\]'$'\r''$' "$OUT")" = 3 ] &&
	grep -q '^"ElementName"="X410 Display 7"'$'\r''$' "$OUT" &&
	! grep -q '1771\|1773' "$OUT"
}
check "regfile 0,2,7 registers exactly the keys 1770, 1772 and 1777" t_reg_shape

t_max() {
	run_x 0 regfile 4294961231-4294961294 || return 1
	[ "$(grep -c '^"ElementName"' "$OUT")" = 64 ] &&
	grep -q '^\[.*\\fffffffe-facb-11e6-bd58-64006a7986d3\]' "$OUT"
}
check "regfile takes 64 displays up to the last hv_sock port" t_max

t_help() {
	run_x 0 regfile --help || return 1
	grep -q '^Usage: x410-vsock regfile \[OPTIONS\] \[RANGE\]' "$OUT" &&
	grep -q -- '--powershell' "$OUT" && [ ! -s "$ERR" ]
}
check "regfile --help prints its usage to stdout" t_help

# bad_range RANGE 'REASON': a usage error, one line + the hint, exit 2.
bad_range() {
	local range=$1 why=$2
	run_x 2 regfile -- "$range" || return 1
	[ ! -s "$OUT" ] &&
	[ "$(sed -n 1p "$ERR")" = "x410-vsock: ERROR: Invalid X410 display range '$range': $why" ] &&
	[ "$(sed -n 2p "$ERR")" = "Try 'x410-vsock regfile --help'." ] &&
	[ "$(wc -l <"$ERR")" = 2 ] || { sed 's/^/# /' "$ERR" >&2; return 1; }
}
hint="(expected N, N-M or a list like 0,2,7)"
check "an empty range is a usage error" bad_range "" "the range is empty $hint"
check "a reversed range is a usage error" bad_range 5-0 "a range ends before it starts (expected N-M with N <= M)"
check "a range of 65 displays is a usage error" bad_range 0-64 "the range covers more than 64 displays"
check "a list of 65 displays is a usage error" bad_range 0-63,100 "the range covers more than 64 displays"
check "junk is a usage error" bad_range 0-x "a display number is not a number $hint"
check "a negative number is a usage error" bad_range -1 "a display number is missing $hint"
check "an empty list item is a usage error" bad_range 0,,2 "the list has an empty item $hint"
check "a display past VSOCK's last port is a usage error" bad_range 4294961295 "a display number is out of range (0-4294961294)"

t_two_args() {
	run_x 2 regfile 0 1 && [ ! -s "$OUT" ] &&
	grep -qx "x410-vsock: ERROR: Unexpected argument '1' (give one RANGE, e.g. 0-5 or 0,2,7)" "$ERR"
}
check "a second RANGE argument is a usage error" t_two_args

t_bad_option() {
	run_x 2 regfile --reg && [ ! -s "$OUT" ] &&
	[ "$(cat "$ERR")" = "x410-vsock: ERROR: Unknown option '--reg'
Try 'x410-vsock regfile --help'." ]
}
check "an unknown option is a usage error" t_bad_option

t_full() {
	[ -w /dev/full ] || { echo "# no /dev/full" >&2; return 1; }
	local status=0
	timeout 10 "$X410_VSOCK" regfile 0-5 >/dev/full 2>"$ERR" || status=$?
	[ "$status" = 1 ] &&
	grep -qx 'x410-vsock: ERROR: Failed to write the registry file to standard output: No space left on device' "$ERR"
}
if [ -w /dev/full ]; then
	check "a full disk is a failure (exit 1) that says so" t_full
else
	skip_check "no writable /dev/full here"
fi

finish
