# Host side of the check-vm tests; sourced by tests/vm/boot-*.sh, which
# 'make check-vm' runs through Automake's TAP driver.
#
# vm_boot GUEST-SCRIPT... boots the guest once (qemu, TCG), runs the named
# scripts of tests/vm/guest/ in order inside it, and prints their checks as
# this test's TAP, each prefixed with the script's name, followed by checks
# of the boot itself: every script ran to its end and the guest's verdict
# (through isa-debug-exit) agrees with its TAP.
#
# Environment (set by 'make check-vm'): VM_ENV (tests/vm/prepare.sh's
# output), VM_INITRAMFS.  VMTEST_TIMEOUT bounds the boot (seconds, default
# 170); VMTEST_SCRIPT_TIMEOUT bounds each guest script (default 140);
# VM_APPEND adds words to the kernel command line (parameters for the guest
# scripts, e.g. x410_bench=... for tests/vm/guest/bench.sh); VMTEST_ACCEL=kvm uses KVM instead of TCG — only when asked: KVM
# here may be a paravirtual variant that stock kernels do not boot on.

set -u

VM_NAME=$(basename "$0" .sh)
VM_LOGDIR=${VM_LOGDIR:-tests/vm}

vm_bail() { echo "Bail out! $VM_NAME: $*"; exit 99; }

# vm_tap RESULTS-LOG "SCRIPT..." QEMU-STATUS LIMIT: the guest's report as TAP.
vm_tap() {
	tr -d '\r' 2>/dev/null <"$1" | awk -v scripts="$2" -v qemu_status="$3" -v limit="$4" '
		function emit(ok, what) {
			n++
			print (ok ? "ok " : "not ok ") n " - " what
			if (!ok) failed++
		}
		BEGIN { ns = split(scripts, want, " ") }
		/^@@@ x410-vm BEGIN / { cur = $4; began[cur] = 1; count = 0; plan = -1; next }
		/^@@@ x410-vm END / {
			name = $4; ended[name] = 1
			if ($5 != 0)
				emit(0, name ": exited with status " $5 ($5 == 124 ? " (guest deadline)" : ""))
			else if (plan >= 0 && plan != count)
				emit(0, name ": planned " plan " checks, ran " count)
			else if (plan < 0)
				emit(0, name ": printed no plan")
			cur = ""; next
		}
		/^@@@ x410-vm VERDICT / { verdict = $4; next }
		cur == "" { if ($0 != "") print "# guest: " $0; next }
		/^ok / || /^not ok / {
			count++
			ok = ($1 == "ok")
			sub(/^(ok|not ok)/, ""); sub(/^ +[0-9]+/, ""); sub(/^ +- +/, ""); sub(/^ +/, "")
			n++
			print (ok ? "ok " : "not ok ") n " - " cur ": " $0
			if (!ok) failed++
			next
		}
		/^1\.\.0 *# *SKIP/ { reason = $0; sub(/^1\.\.0 *# *SKIP */, "", reason)
			n++; print "ok " n " - " cur " # SKIP " reason; plan = 0; count = 0; next }
		/^1\.\.[0-9]+/ { plan = substr($1, 4) + 0; next }
		/^Bail out!/ { emit(0, cur ": " $0); plan = count; next }
		/^#/ { print; next }
		{ print "# " cur ": " $0 }
		END {
			for (i = 1; i <= ns; i++) {
				s = want[i]
				if (!(s in began)) emit(0, s ": never started in the guest")
				else if (!(s in ended)) emit(0, s ": did not finish (the guest died or ran out of time)")
			}
			if (qemu_status == 124)
				emit(0, "the VM finished within " limit " s")
			else if (verdict == "")
				emit(0, "the guest reported a verdict (qemu exited with status " qemu_status ")")
			else
				emit(qemu_status == 2 * verdict + 1 && (verdict == 0) == (failed == 0),
				     "the guest verdict " verdict " (qemu status " qemu_status ") agrees with its checks")
			print "1.." n
		}
	'
}

vm_boot() {
	local accel=${VMTEST_ACCEL:-tcg} limit=${VMTEST_TIMEOUT:-170} per_script=${VMTEST_SCRIPT_TIMEOUT:-140}
	local console results status=0 t0 t1 accel_opts list

	[ -n "${VM_ENV:-}" ] && [ -f "$VM_ENV" ] || vm_bail "VM_ENV is not set: run 'make check-vm'"
	[ -n "${VM_INITRAMFS:-}" ] && [ -f "$VM_INITRAMFS" ] || vm_bail "VM_INITRAMFS is not set: run 'make check-vm'"
	# shellcheck disable=SC1090
	. "$VM_ENV"
	[ -f "$VM_KERNEL" ] || vm_bail "no kernel at '$VM_KERNEL': run tests/vm/prepare.sh"
	command -v qemu-system-x86_64 >/dev/null || vm_bail "qemu-system-x86_64 is missing: run tests/vm/prepare.sh"
	case $accel in
	tcg) accel_opts=(-accel tcg) ;;
	kvm) accel_opts=(-accel kvm -cpu host) ;;
	*) vm_bail "VMTEST_ACCEL='$accel': expected tcg or kvm" ;;
	esac

	mkdir -p "$VM_LOGDIR"
	console=$VM_LOGDIR/$VM_NAME.console.log
	results=$VM_LOGDIR/$VM_NAME.results.log
	rm -f "$console" "$results"
	list=$(IFS=,; echo "$*")

	echo "# booting $VM_KVER ($accel) for: $*"
	t0=$(date +%s%N)
	# ttyS0: the kernel console; ttyS1: the guest's TAP (tests/vm/guest/init.sh).
	timeout -k 5 "$limit" qemu-system-x86_64 "${accel_opts[@]}" -smp 1 -m 512 \
		-nographic -nic none -no-reboot -monitor none \
		-device isa-debug-exit,iobase=0xf4,iosize=0x04 \
		-kernel "$VM_KERNEL" -initrd "$VM_INITRAMFS" \
		-append "console=ttyS0 quiet loglevel=4 panic=-1 x410_vm_guest=1 x410_vm_tests=$list x410_vm_timeout=$per_script${VM_APPEND:+ $VM_APPEND}" \
		-serial "file:$console" -serial "file:$results" </dev/null >"$VM_LOGDIR/$VM_NAME.qemu.log" 2>&1 || status=$?
	t1=$(date +%s%N)
	echo "# qemu exited with status $status after $(( (t1 - t0) / 1000000 )) ms"

	# qemu's status: 2*CODE+1 for the guest's verdict CODE, 124 on our
	# timeout, 0 when the guest rebooted or powered off without a verdict
	# (a kernel panic, a broken /init).
	vm_tap "$results" "$*" "$status" "$limit" >"$VM_LOGDIR/$VM_NAME.tap"
	cat "$VM_LOGDIR/$VM_NAME.tap"
	if grep -q '^not ok' "$VM_LOGDIR/$VM_NAME.tap"; then
		echo "# --- last lines of the guest console ($console):"
		tr -d '\r' <"$console" 2>/dev/null | tail -n 40 | sed 's/^/# console: /'
		sed 's/^/# qemu: /' "$VM_LOGDIR/$VM_NAME.qemu.log"
	fi
	return 0
}
