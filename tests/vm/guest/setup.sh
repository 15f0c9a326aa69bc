#!/bin/bash
. "$top_srcdir/tests/lib.sh"
skip "not built yet"
