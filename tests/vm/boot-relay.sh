#!/bin/bash
# check-vm, boot 2: real AF_VSOCK.  The guest first checks itself (kmod loads
# vsock_loopback, CID 2 reaches a local listener, connect timeouts), then
# runs the relay with its production default upstream vsock:host:6000
# against stand-ins for X410, on both engines, and traces the system calls
# of its upstream connect (connect-trace.sh: the buffer sizes set before
# connect() and again once it is in progress).
. "$top_srcdir/tests/vm/lib-vm.sh"
vm_boot vsock.sh relay.sh connect-trace.sh
