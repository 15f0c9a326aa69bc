#!/bin/bash
# Every relay case (tests/integration/relay-cases.sh) on the uring engine.
RELAY_ENGINE=uring
. "$top_srcdir/tests/integration/relay-cases.sh"

relay_preflight
relay_cases
finish
