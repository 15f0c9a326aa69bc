#!/bin/bash
# No two files of src/ use each other, nor do any files in a circle: the
# symbols each object of libx410.a (and cli.o) defines and the ones it takes
# from the others make a graph, read with nm, that must have no cycle.  The
# commands call down into the facts and the helpers, never the other way.
. "$top_srcdir/tests/lib.sh"

command -v nm >/dev/null || skip "nm (binutils) is missing"
LIB=${top_builddir:-.}/libx410.a
CLI=${top_builddir:-.}/src/cli.o
[ -f "$LIB" ] && [ -f "$CLI" ] || fatal "build first: no '$LIB' or '$CLI'"

# cycles FILE...: nm's listing of the objects -> "a.o -> b.o -> a.o" for each
# object that reaches itself through the others (nothing when there is none).
cycles() {
	nm -A "$@" 2>/dev/null | awk '
	{
		# "libx410.a:addr.o:0000000000000000 T addr_parse" or "...:         U strcmp"
		if (NF < 3) next
		n = split($1, part, ":"); obj = part[n - 1]
		sub(/.*\//, "", obj)
		if ($2 == "U") use[obj, $3] = 1
		else if ($2 ~ /^[TDBRCGVW]$/) def[$3] = obj
		objs[obj] = 1
	}
	END {
		for (k in use) {
			split(k, p, SUBSEP)
			if ((p[2] in def) && def[p[2]] != p[1]) reach[p[1], def[p[2]]] = 1
		}
		# Transitive closure (a few dozen objects).
		for (m in objs) for (a in objs) if ((a, m) in reach) for (b in objs) if ((m, b) in reach) reach[a, b] = 1
		for (a in objs) if ((a, a) in reach) {
			path = a
			for (b in objs) if (b != a && ((a, b) in reach) && ((b, a) in reach)) path = path " <-> " b
			print path
		}
	}' | sort
}

t_acyclic() {
	local found
	found=$(cycles "$LIB" "$CLI")
	[ -z "$found" ] || { echo "$found" | sed 's/^/# in a circle: /' >&2; return 1; }
}
check "no two files of src/ use each other, directly or in a circle" t_acyclic

# A file of the relay engines stays small enough to hold in one's head.
t_engine_size() {
	local f n over=""
	for f in "$top_srcdir"/src/relay*.c; do
		n=$(wc -l <"$f")
		[ "$n" -le 900 ] || over="$over ${f##*/} ($n)"
	done
	[ -z "$over" ] || { echo "# over 900 lines:$over" >&2; return 1; }
}
check "no file of the relay engines (src/relay*.c) is over 900 lines" t_engine_size

# The check must be able to fail: two objects that call each other.
t_detects() {
	command -v "${CC:-cc}" >/dev/null || { echo "# no C compiler" >&2; return 1; }
	printf 'void b(void); void a(void) { b(); }\n' >"$TEST_TMP/a.c" &&
	printf 'void a(void); void b(void) { a(); }\n' >"$TEST_TMP/b.c" &&
	"${CC:-cc}" -c -o "$TEST_TMP/a.o" "$TEST_TMP/a.c" && "${CC:-cc}" -c -o "$TEST_TMP/b.o" "$TEST_TMP/b.c" &&
	[ -n "$(cycles "$TEST_TMP/a.o" "$TEST_TMP/b.o")" ]
}
check "a circle of two objects is found" t_detects

finish
