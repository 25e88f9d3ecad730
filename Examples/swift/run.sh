#!/bin/sh
# Runs the counter-example binary twice against a live rdlmd: 4 processes x 10 increments
# of one counter file, under withLock (the count must be exactly 40) and with --no-lock
# (updates are lost). It builds nothing: build first with
# `swift build --product counter-example` (scripts/test.sh builds everything).
# Usage: run.sh [SERVER_URL [BINARY]]   (default $RDLM_SERVER, else http://127.0.0.1:8888;
#                                        .build/debug/counter-example)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
RDLM_SERVER=${1:-${RDLM_SERVER:-http://127.0.0.1:8888}}
binary=${2:-$(cd "$here/../.." && pwd)/.build/debug/counter-example}
RDLM_RESOURCE=counter$$
export RDLM_SERVER RDLM_RESOURCE
processes=4 increments=10 expected=40
if [ ! -x "$binary" ]; then
    echo "FAIL: no $binary; build it with: swift build --product counter-example" >&2
    echo "0 passed, 1 failed"
    exit 1
fi
work=$(mktemp -d "${TMPDIR:-/tmp}/rdlm-swift-example.XXXXXX")
trap 'rm -rf "$work"' EXIT

run() { # run [--no-lock]: starts every process at once, prints the final count; fails if one failed
    rm -f "$work/count" "$work/go"
    pids='' i=0
    while [ "$i" -lt "$processes" ]; do
        "$binary" "$@" "$work/count" "$increments" "$work/go" &
        pids="$pids $!" i=$((i + 1))
    done
    touch "$work/go"
    status=0
    for pid in $pids; do wait "$pid" || status=1; done
    cat "$work/count" 2>/dev/null || echo 0
    return "$status"
}

passed=0 failed=0
pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $1" >&2; }
is_number() { case $1 in '' | *[!0-9]*) return 1 ;; esac; }

locked=$(run) || fail "a process failed with the lock"
unlocked=$(run --no-lock) || fail "a process failed without the lock"
is_number "$unlocked" && lost=$((expected - unlocked)) || lost='?'
echo "with the lock:    $locked of $expected"
echo "without the lock: $unlocked of $expected ($lost updates lost)"
if [ "$locked" = "$expected" ]; then pass; else fail "locked count '$locked', not $expected"; fi
# Every process reads within the same few milliseconds and pauses 5 ms between read and
# write, so without the lock they always overwrite each other.
if is_number "$unlocked" && [ "$unlocked" -lt "$expected" ]; then pass; else
    fail "no update was lost without the lock (count '$unlocked')"; fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
