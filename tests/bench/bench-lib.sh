# Shared by the benchmarks' host scripts (tests/bench/bench.sh,
# tests/bench/bench-vm.sh); sourced, not run.  $R is the results file, one
# measurement a line: "ROW CONFIG ROUND VALUE".

# median_of_lines: the median of the numbers on standard input, one a
# line; empty if none.
median_of_lines() {
	sort -g | awk '{ v[NR] = $1 } END { if (NR == 0) exit; if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }'
}
# median ROW CONFIG: the median of the rounds, empty if none.
median() {
	awk -v c="$1" -v k="$2" '$1 == c && $2 == k { print $4 }' "$R" | median_of_lines
}
# rounds ROW CONFIG: every round's value, comma-separated.
rounds() {
	awk -v c="$1" -v k="$2" '$1 == c && $2 == k { printf "%s%s", s, $4; s = ", " }' "$R"
}
# fmt VALUE: three significant digits or so.
fmt() { awk -v v="$1" 'BEGIN { if (v >= 100) printf "%.0f", v; else if (v >= 10) printf "%.1f", v; else printf "%.2f", v }'; }
# ratio A B: A / B, or '-' when B is 0 or missing.
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else printf "-" }'; }

# machine_line X410-VSOCK: the machine and the build, one sentence.
machine_line() {
	local cpu_model mem_gb version
	cpu_model=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
	mem_gb=$(awk '/^MemTotal:/ { printf "%.0f", $2 / 1048576 }' /proc/meminfo)
	version=$("$1" --version 2>/dev/null | tr '\n' ';' | sed 's/;$//; s/;/; /g')
	echo "Machine: ${cpu_model:-unknown CPU}, $(nproc) cores, ${mem_gb} GB RAM, Linux $(uname -r)" \
		"($(. /etc/os-release 2>/dev/null && echo "$PRETTY_NAME" || echo unknown OS)); $version."
}

# source_commit: the commit of the source tree the benchmark ran from.
source_commit() {
	git -C "$(dirname "${BASH_SOURCE[0]}")/../.." describe --always --dirty 2>/dev/null || echo unknown
}

# replace_generated FILE BEGIN-MARK END-MARK GENERATED: the lines between the
# two marker lines of FILE become GENERATED's content.
replace_generated() {
	awk -v b="$2" -v e="$3" -v f="$4" '
		$0 == b { print; while ((getline l < f) > 0) print l; skip = 1; next }
		$0 == e { skip = 0 }
		!skip { print }' "$1" >"$1.new"
	mv "$1.new" "$1"
}
