#!/busybox/sh
# /init of the check-vm guest.  Runs the guest test scripts named on the
# kernel command line (x410_vm_tests=a.sh,b.sh) in that order, each under a
# deadline (x410_vm_timeout=SECONDS), and reports on the second serial port
# (ttyS1; the console, ttyS0, gets the kernel's messages):
#   @@@ x410-vm BEGIN NAME
#   ...the script's TAP, stderr included...
#   @@@ x410-vm END NAME STATUS
#   @@@ x410-vm VERDICT CODE     0 all passed, 1 a check failed, 2 a script broke
# then ends the VM through isa-debug-exit with CODE (qemu exits 2*CODE+1).
# Debian's busybox runs its own applets before PATH ("standalone shell"):
# host tools are called here by full path.
export PATH=/usr/bin:/usr/sbin:/busybox
/busybox/mount -t devtmpfs devtmpfs /dev
exec </dev/console >/dev/console 2>&1

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t tmpfs -o mode=1777 tmpfs /tmp
mkdir -m 1777 /tmp/.X11-unix
hostname x410-vm
ip link set lo up

tests= per_test=120
for word in $(cat /proc/cmdline); do
	case $word in
	x410_vm_tests=*) tests=$(echo "${word#*=}" | tr , ' ') ;;
	x410_vm_timeout=*) per_test=${word#*=} ;;
	esac
done

results=/dev/ttyS1
stty -F "$results" raw -echo 2>/dev/null
report() { echo "@@@ x410-vm $*" >"$results"; }

export top_srcdir=/ X410_VSOCK=/usr/bin/x410-vsock VM_BIN=/tests/vm/bin HOME=/root TMPDIR=/tmp
mkdir -p /tmp/results
verdict=0
echo "x410-vm: kernel $(uname -r), tests: $tests"
for t in $tests; do
	echo "x410-vm: running $t"
	started=$(/usr/bin/date +%s%N)
	report BEGIN "$t"
	# Everything the script prints goes out at once, so that a crash
	# still leaves what came before it in the log.
	status=$( { timeout -k 5 "$per_test" bash "/tests/vm/guest/$t" 2>&1; echo $? >/tmp/results/$t.status; } |
		tee "/tmp/results/$t" >"$results"; cat /tmp/results/$t.status)
	report END "$t" "$status"
	took="$t took $(( ($(/usr/bin/date +%s%N) - started) / 1000000 )) ms"
	echo "$took" >"$results"
	echo "x410-vm: $t ended with status $status; $took"
	if [ "$status" != 0 ]; then
		verdict=2
	elif grep -Eq '^(not ok|Bail out!)' "/tmp/results/$t" && [ $verdict = 0 ]; then
		verdict=1
	fi
done
report VERDICT "$verdict"
sync
/tests/vm/bin/vm-exit "$verdict"
# Only without isa-debug-exit: the host sees no verdict and says so.
poweroff -f
