#!/bin/bash
# make check-mutations: each tests/mutations/NN-name.sh is a deliberate,
# semantic break of the product (the kind of bug the suite exists to
# catch), applied to a scratch copy of the tree, built, and run against the
# tests that must catch it.  A mutation "survives" when that run passes; any
# survivor fails the whole run.  A mutation whose anchor no longer matches
# the code fails too ("mutation NN no longer applies: update it"), so that
# they move with the code instead of silently testing nothing.
#
# One scratch copy (git ls-files of the source tree) is configured and built
# once; each mutation edits its file(s), rebuilds, runs
#   make check TESTS='<its tests>'   with <its environment>
# and the edited files are restored from a pristine copy before the next.
# Before any mutation, every distinct (tests, environment) pair runs once on
# the unmutated copy: a test that fails there proves nothing.
#
# A mutation file is sourced and sets:
#   MUTATION_TESTS  the tests that must catch it (space-separated, as TESTS=)
#   MUTATION_ENV    optional "VAR=value ..." for that run (smaller sizes,
#                   RELAY_TEST_ONLY=REGEX)
#   mutate()        the edit, made only with 'mutation_edit FILE OLD NEW'
#                   (OLD must occur exactly once in FILE)
#
# Usage: run.sh SRCDIR [NN ...]   (only those mutations; default: all)
# Environment: MUTATIONS_KEEP=1 keeps the scratch copy; MUTATIONS_JOBS (2).
set -uo pipefail

src=$(cd "${1:?usage: run.sh SRCDIR [NN ...]}" && pwd)
shift
only=" $* "
jobs=${MUTATIONS_JOBS:-2}
start=$(date +%s)

scratch=$(mktemp -d "${TMPDIR:-/tmp}/x410-mutations.XXXXXX")
[ "${MUTATIONS_KEEP:-0}" = 1 ] && echo "scratch copy: $scratch" ||
	trap 'rm -rf "$scratch"' EXIT
tree=$scratch/tree
pristine=$scratch/pristine
mkdir -p "$tree" "$pristine"

die() { echo "check-mutations: ERROR: $*" >&2; exit 1; }

# The files of the tree, as git knows them (a tarball has no .git: every
# file then, but no build products are in a dist tree's source list either).
if git -C "$src" rev-parse --git-dir >/dev/null 2>&1; then
	(cd "$src" && git ls-files -z | tar --null -T - -cf -) | tar -xf - -C "$tree" || die "cannot copy the tree"
else
	die "$src is not a git checkout (check-mutations copies the tracked files)"
fi
cp -a "$tree/." "$pristine/"

# A clean environment: CI's own requirements and golden rewriting do not leak in.
unset X410_UPDATE_GOLDEN MAKEFLAGS MFLAGS MAKELEVEL
export CI=${CI:-}

echo "check-mutations: configuring and building a scratch copy in $scratch"
(cd "$tree" && autoreconf -fi >"$scratch/autoreconf.log" 2>&1 && ./configure -q >"$scratch/configure.log" 2>&1 &&
	nice make -j"$jobs" >"$scratch/build.log" 2>&1 &&
	nice make -j"$jobs" check TESTS= >>"$scratch/build.log" 2>&1) ||
	{ tail -n 30 "$scratch"/*.log >&2; die "the unmutated scratch copy does not build"; }

# mutation_edit FILE OLD NEW: replace the one occurrence of OLD (literal,
# may span lines) in FILE with NEW.  No occurrence, or several, means the
# code moved: the mutation must be updated, never skipped.
EDITED=""
mutation_edit() {
	local file=$1 n
	[ -f "$tree/$file" ] || { echo "no file $file" >&2; return 3; }
	n=$(OLD=$2 perl -0777 -ne 'BEGIN { $o = $ENV{OLD} } my $c = () = /\Q$o\E/g; print $c' "$tree/$file")
	[ "$n" = 1 ] || { echo "$file: the anchor occurs $n times, not once" >&2; return 3; }
	OLD=$2 NEW=$3 perl -0777 -i -pe 'BEGIN { $o = $ENV{OLD}; $n = $ENV{NEW} } s/\Q$o\E/$n/' "$tree/$file" || return 3
	cmp -s "$tree/$file" "$pristine/$file" && { echo "$file: the edit changed nothing" >&2; return 3; }
	EDITED="$EDITED $file"
}

restore() {
	local f
	# cp without -p: a new mtime, so that make rebuilds what depends on it.
	for f in $EDITED; do cp "$pristine/$f" "$tree/$f"; done
	EDITED=""
}

# run_tests LOG TESTS ENV: make check TESTS=... in the scratch copy; its status.
run_tests() {
	local log=$1 tests=$2 env=$3
	# shellcheck disable=SC2086
	(cd "$tree" && env $env nice make -j"$jobs" check TESTS="$tests" >"$log" 2>&1)
}

# Read every mutation first: a broken file stops the run before the long part.
mutations=()
for f in "$src"/tests/mutations/[0-9][0-9]-*.sh; do
	nn=$(basename "$f"); nn=${nn%%-*}
	[ "$only" = "  " ] || [[ $only == *" $nn "* ]] || continue
	mutations+=("$f")
done
[ ${#mutations[@]} -gt 0 ] || die "no mutation selected"

load() {
	unset MUTATION_TESTS MUTATION_ENV
	unset -f mutate
	MUTATION_ENV=""
	# shellcheck disable=SC1090
	. "$1"
	[ -n "${MUTATION_TESTS:-}" ] && declare -F mutate >/dev/null ||
		die "$(basename "$1"): sets no MUTATION_TESTS or defines no mutate()"
}

declare -A baseline_done=()
echo "check-mutations: the unmutated copy must pass every subset first"
for f in "${mutations[@]}"; do
	load "$f"
	key="$MUTATION_TESTS|$MUTATION_ENV"
	[ -z "${baseline_done[$key]:-}" ] || continue
	baseline_done[$key]=1
	t0=$(date +%s)
	log=$scratch/baseline-${#baseline_done[@]}.log
	if ! run_tests "$log" "$MUTATION_TESTS" "$MUTATION_ENV"; then
		sed -n '/^FAIL:\|^ERROR:\|^SKIP:/p' "$log" >&2
		cat "$tree"/test-suite.log >&2 2>/dev/null | head -n 100
		die "unmutated, these tests fail: $MUTATION_TESTS ($MUTATION_ENV): fix that first"
	fi
	# A whole test skipped on the unmutated copy cannot catch anything:
	# say so now rather than report a survivor later.  A skipped check
	# (another uid as non-root) is shown; the others must catch then.
	logs=$(for t in $MUTATION_TESTS; do echo "$tree/${t%.sh}.log"; done)
	# shellcheck disable=SC2086
	if grep -qs '^1\.\.0 # SKIP' $logs || grep -qs '^\[  SKIPPED \]' $logs; then
		# shellcheck disable=SC2086
		grep -hs '^1\.\.0 # SKIP\|^\[  SKIPPED \]' $logs | head -n 5 >&2
		die "unmutated, these tests skip here: $MUTATION_TESTS: check-mutations needs them to run"
	fi
	# shellcheck disable=SC2086
	grep -hs '^ok [0-9]* # SKIP' $logs | sed 's/^/    (skipped here: /; s/$/)/'

	echo "  baseline: $MUTATION_TESTS ${MUTATION_ENV:+($MUTATION_ENV) }passes ($(( $(date +%s) - t0 )) s)"
done

table=()
survived=0 stale=0
for f in "${mutations[@]}"; do
	name=$(basename "$f" .sh)
	nn=${name%%-*}
	load "$f"
	t0=$(date +%s)
	EDITED=""
	if ! mutate 2>"$scratch/$name.edit"; then
		restore
		echo "mutation $nn no longer applies: update it ($(cat "$scratch/$name.edit"))"
		table+=("$(printf '%-36s %-9s %4s s  %s' "$name" STALE 0 "$MUTATION_TESTS")")
		stale=$((stale + 1))
		continue
	fi
	log=$scratch/$name.log
	if ! (cd "$tree" && nice make -j"$jobs" >"$log" 2>&1 && nice make -j"$jobs" check TESTS= >>"$log" 2>&1); then
		verdict=caught    # it does not even build
	elif run_tests "$log" "$MUTATION_TESTS" "$MUTATION_ENV"; then
		verdict=SURVIVED
		survived=$((survived + 1))
	else
		verdict=caught
	fi
	# Which tests caught it, for the table.
	by=$(sed -n 's/^\(FAIL\|ERROR\): \([^ ]*\).*/\2/p' "$log" | sort -u | tr '\n' ' ')
	restore
	line=$(printf '%-36s %-9s %4s s  %s' "$name" "$verdict" "$(( $(date +%s) - t0 ))" "${by:-$MUTATION_TESTS}")
	table+=("$line")
	echo "$line"
	if [ "$verdict" = SURVIVED ]; then
		echo "  mutation $nn survived: $MUTATION_TESTS passed with it ($MUTATION_ENV)"
		grep -E '^(PASS|SKIP|FAIL|ERROR):' "$log" | sed 's/^/    /' | tail -n 40
	fi
done

echo
printf '%-36s %-9s %6s  %s\n' mutation result time "caught by"
printf '%s\n' "${table[@]}"
echo "check-mutations: ${#mutations[@]} mutations, $survived survived, $stale no longer apply; $(( $(date +%s) - start )) s"
[ "$survived" = 0 ] && [ "$stale" = 0 ]
