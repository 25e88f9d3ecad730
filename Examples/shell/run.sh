#!/bin/sh
# Starts nightly-report.sh twice at once against a live rdlmd, first as cron usually wants
# (the second copy skips), then queued (the second waits and runs after the first), and
# checks from the job's log that two runs never overlapped; then runs it once as
# `sh nightly-report.sh` from its own folder.
# Usage: run.sh [SERVER_URL]   (default $RDLM_SERVER, else http://127.0.0.1:8888)
set -eu
here=$(cd "$(dirname "$0")" && pwd)
RDLM_SERVER=${1:-${RDLM_SERVER:-http://127.0.0.1:8888}}
JOB_RESOURCE=nightly$$
JOB_LOG=$(mktemp "${TMPDIR:-/tmp}/rdlm-shell-example.XXXXXX")
export RDLM_SERVER JOB_RESOURCE JOB_LOG
trap 'rm -rf "$JOB_LOG" "$JOB_LOG.running"' EXIT
passed=0 failed=0

check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then passed=$((passed + 1)); else
        failed=$((failed + 1)); echo "FAIL: $1: expected '$2', got '$3'" >&2; fi
}

twice() { # twice JOB_WAIT: starts the job twice at once, waits for both, shows the log
    : > "$JOB_LOG"
    JOB_WAIT=$1 "$here/nightly-report.sh" & first=$!
    JOB_WAIT=$1 "$here/nightly-report.sh" & second=$!
    wait "$first"; wait "$second"
    sed 's/^/    /' "$JOB_LOG"
}

count() { grep -c "^$1" "$JOB_LOG" || true; }

echo "started twice, JOB_WAIT=0 (skip when running):"
twice 0
check "one run" 1 "$(count start)"
check "one skipped" 1 "$(count skipped)"
check "no overlap (skip)" 0 "$(count OVERLAP)"

echo "started twice, JOB_WAIT=20 (queue):"
twice 20
check "both ran" 2 "$(count start)"
check "no overlap (queue)" 0 "$(count OVERLAP)"
check "one after the other" "start end start end" "$(cut -d' ' -f1 "$JOB_LOG" | tr '\n' ' ' | sed 's/ $//')"

echo "started as 'sh nightly-report.sh' from its own folder:"
: > "$JOB_LOG"
(cd "$here" && JOB_WAIT=0 sh nightly-report.sh)
sed 's/^/    /' "$JOB_LOG"
check "it runs" "start end" "$(cut -d' ' -f1 "$JOB_LOG" | tr '\n' ' ' | sed 's/ $//')"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
