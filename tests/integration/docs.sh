#!/bin/bash
# The documentation agrees with the binary:
#  - mandoc -Tlint finds nothing in doc/x410-vsock.1;
#  - for the global options and for every command of the binary's command
#    table (x410-vsock --help) whose --help works, the options listed by
#    --help, by the man page and by README.md are the same;
#  - the Layout of doc/HACKING.md names every file of src/.
#
# Where the options are read:
#  --help     option lines ("  -p, --powershell   Text"), global from
#             'x410-vsock --help', a command's from 'x410-vsock CMD --help';
#  man page   '.It Fl ...' lines: global under '.Sh OPTIONS', a command's
#             between its '.It Cm CMD' and the next '.It Cm' or '.Sh';
#  README.md  list items whose text starts with a backquoted option
#             ("- `-p`, `--powershell`: ..."): global under the heading
#             "Global options", a command's under the heading that names
#             "x410-vsock CMD", up to the next heading of the same level.
# -h/--help is every command's and is compared only among global options.
. "$top_srcdir/tests/lib.sh"

man=$top_srcdir/doc/x410-vsock.1
readme=$top_srcdir/README.md

# --------------------------------------------------------------- mandoc
if command -v mandoc >/dev/null; then
	# lint FILE: mandoc's messages, less those about this host's manual
	# database and installed pages (mandoc.db, referenced manuals).
	lint() {
		mandoc -Tlint -W style "$1" 2>&1 |
			grep -v -e 'outdated mandoc.db' -e 'referenced manual not found' -e 'mandoc.db' || true
	}
	t_lint() {
		local out
		out=$(lint "$man")
		[ -z "$out" ] || { echo "$out" | sed 's/^/# /' >&2; return 1; }
	}
	check "mandoc -Tlint finds nothing in doc/x410-vsock.1" t_lint
	t_lint_fails() {
		sed '0,/^\.El$/{/^\.El$/d}' "$man" >"$TEST_TMP/broken.1"
		[ -n "$(lint "$TEST_TMP/broken.1")" ]
	}
	check "mandoc -Tlint reports a broken copy (the check can fail)" t_lint_fails
else
	skip_check "mandoc is not installed (scripts/bootstrap installs it)"
fi

# --------------------------------------------------------------- options
# Each extractor prints one option per line, sorted and unique.

help_options() {
	sed -n 's/^[[:space:]]\{1,\}\(-.*\)$/\1/p' |
		sed 's/  .*//' | tr ',' '\n' | sed 's/^[[:space:]]*//' |
		sed -n 's/^\(--\{0,1\}[A-Za-z0-9][A-Za-z0-9-]*\).*/\1/p' | sort -u
}

# man_options FIRST-LINE-REGEX: the .It Fl lines from FIRST-LINE to the next
# .It Cm or .Sh.
man_options() {
	awk -v start="$1" '
		on && (/^\.It Cm / || /^\.Sh /) { exit }
		on && /^\.It Fl / { print }
		$0 ~ start { on = 1 }
	' "$man" | grep -o 'Fl -\{0,1\}[A-Za-z0-9][A-Za-z0-9-]*' | sed 's/^Fl /-/' | sort -u
}

# readme_options HEADING-REGEX: option list items under the first heading
# that matches, up to the next heading of the same or a higher level.
readme_options() {
	awk -v start="$1" '
		/^```/ { fence = !fence; next }
		fence { next }
		/^#+ / {
			level = index($0, " ") - 1
			if (on && level <= on_level) exit
			if (!on && $0 ~ start) { on = 1; on_level = level; next }
		}
		on && /^[[:space:]]*[-*] `-/ { sub(/`?: .*/, ""); print }
	' "$readme" | grep -o '`--\{0,1\}[A-Za-z0-9][A-Za-z0-9-]*' | tr -d '`' | sort -u
}

# same_options WHAT HELP MAN README: all three lists equal; says what differs.
same_options() {
	local what=$1 h=$2 m=$3 r=$4 ok=0 o
	for o in $(printf '%s\n%s\n%s\n' "$h" "$m" "$r" | sort -u); do
		local in_h=no in_m=no in_r=no
		grep -qx -- "$o" <<<"$h" && in_h=yes
		grep -qx -- "$o" <<<"$m" && in_m=yes
		grep -qx -- "$o" <<<"$r" && in_r=yes
		if [ $in_h$in_m$in_r != yesyesyes ]; then
			echo "# $what: $o: --help $in_h, man page $in_m, README $in_r" >&2
			ok=1
		fi
	done
	[ -n "$h" ] || { echo "# $what: --help lists no option" >&2; ok=1; }
	return $ok
}

t_global() {
	local h m r
	h=$("$X410_VSOCK" --help | awk '/^Options:/ { on = 1 } on' | help_options)
	m=$(man_options '^\.Sh OPTIONS')
	r=$(readme_options '^#+ Global options')
	same_options "global options" "$h" "$m" "$r"
}
check "global options: --help, man page and README agree" t_global

commands=$("$X410_VSOCK" --help | awk '/^Commands:/ { on = 1; next } on && /^$/ { exit } on { print $1 }')
[ -n "$commands" ] || fatal "x410-vsock --help lists no command"

for cmd in $commands; do
	if ! timeout 10 "$X410_VSOCK" "$cmd" --help >"$TEST_TMP/help-$cmd" 2>/dev/null; then
		not_ok "'$cmd --help' works (every command listed by --help must have one)"
		continue
	fi
	t_documented() {
		grep -q "^\.It Cm $1\( \|$\)" "$man" || { echo "# no '.It Cm $1' in the man page" >&2; return 1; }
		grep -Eq "^#+ .*x410-vsock $1([^a-z-]|$)" "$readme" || { echo "# no README heading naming 'x410-vsock $1'" >&2; return 1; }
	}
	check "'$cmd' has a man page entry and a README section" t_documented "$cmd"
	t_command() {
		local h m r
		h=$(help_options <"$TEST_TMP/help-$1" | grep -vx -e -h -e --help)
		m=$(man_options "^\\.It Cm $1( |\$)" | grep -vx -e -h -e --help)
		r=$(readme_options "^#+ .*x410-vsock $1([^a-z-]|\$)" | grep -vx -e -h -e --help)
		same_options "$1" "$h" "$m" "$r"
	}
	check "'$cmd' options: --help, man page and README agree" t_command "$cmd"
done

# doc/HACKING.md's Layout names every file of src/, and none that is gone.
hacking=$top_srcdir/doc/HACKING.md
# layout_missing DIR: the files of DIR/src that the Layout does not name, and
# the src/ files it names that DIR/src lacks.
layout_missing() {
	local f named
	for f in "$1"/src/*.c "$1"/src/*.h; do
		[ -e "$f" ] || continue
		f=src/${f##*/}
		# "src/x.c/.h" names both.
		grep -Fq "\`$f\`" "$hacking" || grep -Fq "\`${f%.?}.c/.h\`" "$hacking" || echo "$f"
	done
	named=$(grep -o '`src/[a-z_0-9]*\.[ch]\(/\.h\)\?`' "$hacking" | tr -d '`' | sed 's|\.c/\.h$|.c|')
	for f in $named; do
		[ -e "$1/$f" ] || echo "$f (named, but not there)"
	done
}
t_layout() {
	local missing
	missing=$(layout_missing "$top_srcdir")
	[ -z "$missing" ] || { echo "$missing" | sed 's/^/# not in the Layout of doc\/HACKING.md: /' >&2; return 1; }
}
check "doc/HACKING.md's Layout names every file of src/" t_layout
t_layout_fails() {
	mkdir -p "$TEST_TMP/tree/src" && : >"$TEST_TMP/tree/src/unlisted_room.c" &&
	layout_missing "$TEST_TMP/tree" | grep -qx 'src/unlisted_room.c'
}
check "a file of src/ missing from the Layout is reported" t_layout_fails

# The comparison itself must be able to fail: an option only in --help.
t_compare_fails() {
	! same_options "self-test" "$(printf -- '--a\n--b')" "--a" "--a" 2>/dev/null
}
check "an option missing from the man page and README is reported" t_compare_fails

finish
