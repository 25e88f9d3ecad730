#!/usr/bin/env bash
# The README's curl tour, run for real against a live rdlmd: every status the README shows
# is checked here. Usage: curl_tour.sh BASE_URL
set -euo pipefail
base=$1
failures=0
passes=0

check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passes=$((passes + 1))
    else
        echo "FAIL: $1: expected $2, got $3" >&2
        failures=$((failures + 1))
    fi
}

status() { # status CURL-ARGS... : prints the HTTP status only
    curl -s -o /dev/null -w '%{http_code}' "$@"
}

# Acquire: 201 and the lock URL in Location.
headers=$(curl -s -D - -o /dev/null -X POST -d '{"title": "nightly backup", "lifetime": 300, "wait": 20}' "$base/locks/backup")
lock=$(printf '%s' "$headers" | tr -d '\r' | sed -n 's/^Location: //p')
token=$(printf '%s' "$headers" | tr -d '\r' | sed -n 's/^RDLM-Fencing-Token: //p')
check "acquire gives a lock URL" 1 "$(printf '%s' "$lock" | grep -cE "^$base/locks/backup/[0-9a-f]{32}$" || true)"
check "acquire gives a fencing token" 1 "$(printf '%s' "$token" | grep -cE '^[0-9]+$' || true)"

# Inspect it.
body=$(curl -s "$lock")
check "inspect shows it active" 1 "$(printf '%s' "$body" | grep -c '"active":true' || true)"
check "inspect shows its token" 1 "$(printf '%s' "$body" | grep -c "\"fencing_token\":$token" || true)"

# Try-lock on the held resource: 408 at once.
check "try-lock on a held resource" 408 "$(status -X POST -d '{"title": "t", "lifetime": 10, "wait": 0}' "$base/locks/backup")"

# Refresh the lease.
check "refresh" 200 "$(status -X PATCH -d '{"lifetime": 600}' "$lock")"

# Admin listing.
check "list resources" 200 "$(status "$base/resources")"
check "list locks of a resource" 200 "$(status "$base/resources/backup")"

# Release, then it is gone.
check "release" 204 "$(status -X DELETE "$lock")"
check "release again" 404 "$(status -X DELETE "$lock")"
check "inspect a released lock" 404 "$(status "$lock")"

# Shared locks: two holders at once.
check "first shared" 201 "$(status -X POST -d '{"title": "r1", "lifetime": 10, "wait": 0, "mode": "shared"}' "$base/locks/report")"
check "second shared" 201 "$(status -X POST -d '{"title": "r2", "lifetime": 10, "wait": 0, "mode": "shared"}' "$base/locks/report")"
check "exclusive while shared held" 408 "$(status -X POST -d '{"title": "w", "lifetime": 10, "wait": 0}' "$base/locks/report")"

# Bad input.
check "bad JSON" 400 "$(status -X POST -d 'not json' "$base/locks/backup")"
check "bad resource name" 404 "$(status -X POST -d '{"title": "t", "lifetime": 1, "wait": 1}' "$base/locks/no-dashes")"
json_error=$(curl -s -H 'Accept: application/json' -X POST -d '{"title": "t", "lifetime": "soon", "wait": 1}' "$base/locks/backup")
check "JSON error body" 1 "$(printf '%s' "$json_error" | grep -c '"status":400' || true)"

# Admin delete of everything.
check "delete all" 204 "$(status -X DELETE "$base/resources")"

echo "curl tour: $passes passed, $failures failed"
[ "$failures" -eq 0 ]
