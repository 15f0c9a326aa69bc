#!/bin/bash
# check-vm, boot 1: real kernel modules through libkmod (module.c, setup,
# doctor), first thing in a guest where no AF_VSOCK socket has been created
# yet (that would autoload net-pf-40); then the relay's VSOCK socket options
# (sockopt.sh), here rather than in boot 2 so that the two boots take about
# as long as each other when 'make -j2 check-vm' runs them side by side.
. "$top_srcdir/tests/vm/lib-vm.sh"
vm_boot module.sh setup.sh doctor.sh sockopt.sh
