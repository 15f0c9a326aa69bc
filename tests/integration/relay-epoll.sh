#!/bin/bash
# Every relay case (tests/integration/relay-cases.sh) on the epoll engine.
RELAY_ENGINE=epoll
. "$top_srcdir/tests/integration/relay-cases.sh"

relay_preflight
relay_cases
finish
