#!/bin/sh
# Builds counter.c and runs it twice against a live rdlmd: 4 processes x 10 increments of
# one counter file, with the lock (the count must be exactly 40) and without it (updates
# are lost). Usage: run.sh [SERVER_URL]   (default $RDLM_SERVER, else http://127.0.0.1:8888)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
RDLM_SERVER=${1:-${RDLM_SERVER:-http://127.0.0.1:8888}}
RDLM_RESOURCE=counter$$
export RDLM_SERVER RDLM_RESOURCE
processes=4 increments=10 expected=40
work=$(mktemp -d "${TMPDIR:-/tmp}/rdlm-c-example.XXXXXX")
trap 'rm -rf "$work"' EXIT

${CC:-gcc} -std=c99 -Wall -Wextra -Werror -pedantic -I "$here/../../Clients/c" \
    -o "$work/counter" "$here/counter.c" -lcurl

run() { # run [--no-lock]: starts every process at once, prints the final count
    rm -f "$work/count" "$work/go"
    pids=''
    for _ in $(seq "$processes"); do
        "$work/counter" "$@" "$work/count" "$increments" "$work/go" &
        pids="$pids $!"
    done
    touch "$work/go"
    for pid in $pids; do wait "$pid"; done
    cat "$work/count"
}

locked=$(run)
unlocked=$(run --no-lock)
echo "with the lock:    $locked of $expected"
echo "without the lock: $unlocked of $expected ($((expected - unlocked)) updates lost)"
passed=0 failed=0
if [ "$locked" -eq "$expected" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: locked count $locked, not $expected" >&2; fi
# Every process reads within the same few milliseconds and pauses 5 ms between read and
# write, so without the lock they always overwrite each other.
if [ "$unlocked" -lt "$expected" ]; then passed=$((passed + 1)); else failed=$((failed + 1)); echo "FAIL: no update was lost without the lock" >&2; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
