#!/usr/bin/env bash
# Error context is added with util_err_wrap only: util_err_set(..., util_err_get())
# formats the thread's message buffer into itself and garbles it (the message
# printed twice or cut). Fails naming each such call in src/, tools/ and python/.
# Usage: scripts/check-err-wrap.sh [SOURCE_DIR]
set -euo pipefail
src=${1:-$(dirname "$0")/..}
hits=$(find "$src/src" "$src/tools" "$src/python/src" -name '*.c' -print0 |
    xargs -0 perl -0777 -ne 'while (/\b(util_err_setv?|mmc_err_set)\s*\(([^;]*?)\butil_err_get\s*\(\)/gs) {
        my $pre = substr($_, 0, $-[0]); my $line = ($pre =~ tr/\n//) + 1; print "$ARGV:$line\n" }')
if [ -n "$hits" ]; then
    echo "util_err_get() passed into util_err_set (use util_err_wrap):"
    echo "$hits"
    exit 1
fi
echo "err-wrap check: no util_err_get() inside util_err_set"
