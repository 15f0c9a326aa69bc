#!/bin/bash
# wedge.sh X410 ENGINE: ulimit -n 7, three clients in a row: each is
# answered (served or closed with a log line) within 2 s.
X=$1; E=$2; D=$(mktemp -d); T=${TOOLS:-./tests/tools}
$T/tt-server --listen unix:$D/up --ready $D/r --in echo >/dev/null 2>&1 & S=$!
sleep 0.3
(ulimit -n 7; exec $X run --engine $E --listen unix:$D/relay.sock --connect unix:$D/up 2>$D/log) & R=$!
sleep 0.4
res=""
for i in 1 2 3; do
	o=$(timeout 5 $T/tt-client probe --connect unix:$D/relay.sock --expect served --within-ms 2000 --timeout 3 2>&1)
	case $o in *ERROR*closed*|*"closed"*) res="$res closed";; *ERROR*) res="$res HUNG($o)";; *) res="$res served";; esac
done
echo "$E:$res"; grep -c "no file descriptor" $D/log | sed 's/^/  "no file descriptor" lines: /'
kill $R $S; wait; rm -rf $D
