#!/bin/bash
# Every relay case (tests/integration/relay-cases.sh) on the io_uring engine's
# basic path, forced with X410_VSOCK_URING_BASIC=1: what kernels without
# multishot receive use (no ring setup flags, one accept at a time, one receive
# at a time into each direction's own buffer), tested here on a newer kernel.
RELAY_ENGINE=uring
export X410_VSOCK_URING_BASIC=1
. "$top_srcdir/tests/integration/relay-cases.sh"

relay_preflight
relay_cases
finish
