#!/bin/bash
# check-vm, boot 1: real kernel modules through libkmod, in a guest where no
# AF_VSOCK socket has been created yet (that would autoload net-pf-40).
. "$top_srcdir/tests/vm/lib-vm.sh"
vm_boot module.sh setup.sh doctor.sh
