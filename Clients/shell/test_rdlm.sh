#!/bin/sh
# Tests rdlm.sh against a live rdlmd whose admin requests need no credentials.
# Run it with each shell to test: `dash test_rdlm.sh URL`, `bash test_rdlm.sh URL`
# (URL defaults to $RDLM_SERVER, else http://127.0.0.1:8888). The shell used for the
# child shells is bash when this runs under bash, else $RDLM_TEST_SHELL, else dash or sh.
# Last line: "N passed, M failed"; the exit status is 1 when anything failed.
# The child shells' scripts are in single quotes on purpose: they expand in the child.
# shellcheck disable=SC2016
set -u
here=$(cd "$(dirname "$0")" && pwd)
RDLM_SERVER=${1:-${RDLM_SERVER:-http://127.0.0.1:8888}}
export RDLM_SERVER
# shellcheck source-path=SCRIPTDIR source=rdlm.sh
. "$here/rdlm.sh"

if [ -n "${BASH_VERSION-}" ]; then test_shell=bash
elif [ -n "${RDLM_TEST_SHELL-}" ]; then test_shell=$RDLM_TEST_SHELL
elif command -v dash >/dev/null 2>&1; then test_shell=dash
else test_shell='sh'
fi

passed=0 failed=0
work=$(mktemp -d "${TMPDIR:-/tmp}/rdlm-sh-test.XXXXXX")
trap 'rm -rf "$work"' EXIT

check() { # check NAME EXPECTED ACTUAL
    if [ "$2" = "$3" ]; then
        passed=$((passed + 1))
    else
        failed=$((failed + 1))
        echo "FAIL ($test_shell): $1: expected '$2', got '$3'" >&2
    fi
}

name() { printf 'sh%s%s' "$$" "$1"; } # a resource name unique to this run

locks_on() { # locks_on RESOURCE: how many locks (held or waiting) the resource has
    curl -s "$RDLM_SERVER/resources/$1" | grep -o '"uid"' | wc -l | tr -d ' '
}

until_queued() { # until_queued RESOURCE: waits until someone waits for the resource
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
        curl -s "$RDLM_SERVER/resources/$1" | grep -q '"active":false' && return 0
        sleep 0.1
    done
    return 1
}

until_released() { # until_released RESOURCE: waits until the resource has no locks
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
        [ "$(locks_on "$1")" = 0 ] && return 0
        sleep 0.1
    done
    return 1
}

until_file() { # until_file PATH: waits until the file exists and is not empty
    for _ in 1 2 3 4 5 6 7 8 9 10 11 12 13 14 15 16 17 18 19 20 21 22 23 24 25 26 27 28 29 30; do
        [ -s "$1" ] && return 0
        sleep 0.1
    done
    return 1
}

status_of() { # status_of COMMAND...: prints the command's exit status, hides its stderr
    if "$@" 2>/dev/null >/dev/null; then echo 0; else echo $?; fi
}

# ---- rdlm_acquire, rdlm_refresh, rdlm_release --------------------------------------------

r=$(name basic)
lock=$(rdlm_acquire "$r" 30 5)
check "acquire succeeds" 0 $?
check "acquire prints the lock URL" 1 \
    "$(printf '%s\n' "$lock" | grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32}$")"
check "try-lock on a held resource is a timeout" "$RDLM_EX_TIMEOUT" "$(status_of rdlm_acquire "$r" 30 0)"
check "a timeout says so on stderr" 1 "$(rdlm_acquire "$r" 30 0 2>&1 >/dev/null | grep -c 'ran out')"
started=$(date +%s)
check "a fractional wait runs out as a timeout" "$RDLM_EX_TIMEOUT" "$(status_of rdlm_acquire "$r" 30 0.5)"
check "the fractional wait is short" 1 "$(( $(date +%s) - started <= 2 ))"
check "refresh with a lifetime" 0 "$(status_of rdlm_refresh "$lock" 60)"
check "refresh with the lock's own lifetime" 0 "$(status_of rdlm_refresh "$lock")"
check "release" 0 "$(status_of rdlm_release "$lock")"
check "release again: the lock is gone" "$RDLM_EX_NOT_FOUND" "$(status_of rdlm_release "$lock")"
check "refresh of a released lock: gone" "$RDLM_EX_NOT_FOUND" "$(status_of rdlm_refresh "$lock" 10)"
check "the resource has no locks left" 0 "$(locks_on "$r")"

r=$(name expiry)
lock=$(rdlm_acquire "$r" 0.5 0)
sleep 1
check "refresh never re-acquires an expired lock" "$RDLM_EX_NOT_FOUND" "$(status_of rdlm_refresh "$lock" 10)"

r=$(name shared)
first=$(RDLM_MODE=shared rdlm_acquire "$r" 30 0)
second=$(RDLM_MODE=shared rdlm_acquire "$r" 30 0)
check "two shared holders at once" 2 "$(locks_on "$r")"
check "an exclusive try-lock waits for shared holders" "$RDLM_EX_TIMEOUT" "$(status_of rdlm_acquire "$r" 30 0)"
rdlm_release "$first"
rdlm_release "$second"

r=$(name deleted)
lock=$(rdlm_acquire "$r" 30 0)
rdlm_acquire "$r" 30 10 >/dev/null 2>&1 &
waiter=$!
check "the second acquirer is queued" 0 "$(status_of until_queued "$r")"
check "admin delete while waiting" 204 "$(curl -s -o /dev/null -w '%{http_code}' -X DELETE "$RDLM_SERVER/resources/$r")"
wait "$waiter"
check "a waiter deleted by an admin gets 'deleted'" "$RDLM_EX_DELETED" $?

check "no arguments is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_acquire)"
check "a bad resource name is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_acquire 'no/slash' 30 0)"
check "a lifetime that is not a number is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_acquire "$(name x)" soon 0)"
check "a lifetime the server rejects (0) is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_acquire "$(name x)" 0 0)"
check "release without a URL is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_release)"
check "an unreachable server" "$RDLM_EX_UNREACHABLE" \
    "$(RDLM_SERVER=http://127.0.0.1:1 status_of rdlm_acquire "$(name x)" 30 0)"
check "a server URL that is not http(s) is bad usage" "$RDLM_EX_USAGE" \
    "$(RDLM_SERVER=ftp://127.0.0.1:21 status_of rdlm_acquire "$(name x)" 30 0)"
check "release on an unreachable server" "$RDLM_EX_UNREACHABLE" \
    "$(status_of rdlm_release "http://127.0.0.1:1/locks/x/00000000000000000000000000000000")"

# ---- rdlm_with ---------------------------------------------------------------------------

r=$(name with)
check "rdlm_with returns the command's status" 7 "$(status_of rdlm_with "$r" -- sh -c 'exit 7')"
check "rdlm_with released the lock" 0 "$(locks_on "$r")"
check "the command sees its lock URL and token" 1 \
    "$(rdlm_with "$r" -- sh -c 'echo "$RDLM_LOCK_URL $RDLM_FENCING_TOKEN"' |
        grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32} [0-9]+$")"
check "the command reads the caller's stdin" hello "$(echo hello | rdlm_with "$r" -- cat)"
check "options after the resource, -- before the command" 0 \
    "$(status_of rdlm_with "$r" --lifetime 5 --wait=1 --title 'a "quoted" title' -- true)"
check "rdlm_with without a command is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_with "$r" --)"
check "rdlm_with with an unknown option is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_with "$r" --bogus -- true)"

lock=$(rdlm_acquire "$r" 30 0)
check "rdlm_with on a held resource times out" "$RDLM_EX_TIMEOUT" \
    "$(status_of rdlm_with "$r" --wait 0 -- touch "$work/ran")"
check "and does not run the command" no "$([ -e "$work/ran" ] && echo yes || echo no)"
rdlm_release "$lock"

r=$(name killed)
rdlm_with "$r" -- sh -c 'echo $$ > "$1"; exec sleep 30' sh "$work/killed.pid" 2>/dev/null &
with=$!
check "the command under the kill test starts" 0 "$(status_of until_file "$work/killed.pid")"
check "the lock is held while the command runs" 1 "$(locks_on "$r")"
kill -KILL "$(cat "$work/killed.pid")"
wait "$with"
check "a command killed by KILL: rdlm_with returns 128+9" 137 $?
check "the lock of a killed command is released" 0 "$(locks_on "$r")"
check "and can be taken at once" 0 "$(status_of rdlm_with "$r" --wait 0 -- true)"

check "a command killed by TERM: rdlm_with returns 128+15" 143 \
    "$(status_of rdlm_with "$r" -- sh -c 'kill -TERM $$')"
check "the lock of a command that killed itself is released" 0 "$(locks_on "$r")"

# Signals to the process group (Ctrl-C, timeout(1), systemd): the command is stopped, the
# lock released, and the shell dies of the signal. A background shell ignores INT, so the
# INT case needs a shell started with INT at its default (env --default-signal, coreutils 9.1).
with_signal() { # with_signal SIGNAL [WRAPPER...]: prints "status locks command-alive"
    sig=$1
    shift
    rm -f "$work/sig.pid"
    setsid "$@" "$test_shell" -c '. "$1"; rdlm_with "$2" -- sh -c "echo \$\$ > \"\$1\"; exec sleep 30" sh "$3"; echo after' \
        sh "$here/rdlm.sh" "$r" "$work/sig.pid" >/dev/null 2>&1 &
    shell=$!
    until_file "$work/sig.pid" || { echo "the command never started"; return; }
    kill -s "$sig" -- "-$shell"
    if wait "$shell"; then st=0; else st=$?; fi
    # The calling shell may die of the signal at once, while rdlm_with still cleans up.
    until_released "$r" || :
    alive=$(kill -0 "$(cat "$work/sig.pid")" 2>/dev/null && echo alive || echo stopped)
    echo "$st $(locks_on "$r") $alive"
}
if command -v setsid >/dev/null 2>&1; then
    r=$(name signal)
    check "TERM to the group: the shell dies of TERM, lock released, command stopped" "143 0 stopped" "$(with_signal TERM)"
    check "HUP to the group: the shell dies of HUP, lock released, command stopped" "129 0 stopped" "$(with_signal HUP)"
    if env --default-signal=INT true 2>/dev/null; then
        check "INT to the group (Ctrl-C): the shell dies of INT, lock released, command stopped" "130 0 stopped" \
            "$(with_signal INT env --default-signal=INT)"
    else
        echo "skipped: INT to the process group (needs env --default-signal)" >&2
    fi
else
    echo "skipped: signals to the process group (needs setsid)" >&2
fi

# TERM to the calling shell's pid alone: like any foreground command, the command runs on
# under its lock, which is released when it ends.
r=$(name orphan)
rm -f "$work/orphan.pid"
"$test_shell" -c '. "$1"; rdlm_with "$2" -- sh -c "echo \$\$ > \"\$1\"; exec sleep 2" sh "$3"' \
    sh "$here/rdlm.sh" "$r" "$work/orphan.pid" >/dev/null 2>&1 &
shell=$!
check "the command under the orphan test starts" 0 "$(status_of until_file "$work/orphan.pid")"
kill -s TERM "$shell"
if wait "$shell"; then st=0; else st=$?; fi
check "TERM to the calling shell alone: it dies" 143 "$st"
check "while the command keeps its lock" 1 "$(locks_on "$r")"
while kill -0 "$(cat "$work/orphan.pid")" 2>/dev/null; do sleep 0.1; done
check "which is released when the command ends" 0 "$(status_of until_released "$r")"

r=$(name long)
rdlm_with "$r" --lifetime 4 -- sleep 6 2>"$work/long.err" &
with=$!
sleep 5
check "a command outliving its lifetime still holds the lock (renewed)" "$RDLM_EX_TIMEOUT" \
    "$(status_of rdlm_acquire "$r" 30 0)"
wait "$with"
check "and rdlm_with returns its status" 0 $?
check "without a warning" 0 "$(wc -c < "$work/long.err" | tr -d ' ')"

r=$(name lost)
rdlm_with "$r" --lifetime 3 -- sh -c 'echo $$ > "$1"; exec sleep 30' sh "$work/lost.pid" 2>/dev/null &
with=$!
check "the command under the lost-lock test starts" 0 "$(status_of until_file "$work/lost.pid")"
curl -s -o /dev/null -X DELETE "$RDLM_SERVER/resources/$r"
wait "$with"
check "a lock deleted under a running command: rdlm_with returns 'lost'" "$RDLM_EX_LOST" $?
check "and the command was stopped" stopped \
    "$(kill -0 "$(cat "$work/lost.pid")" 2>/dev/null && echo alive || echo stopped)"

r=$(name errexit)
check "rdlm_with works under set -eu" "3 0" \
    "$("$test_shell" -c 'set -eu; . "$1"; rdlm_with "$2" -- sh -c "exit 3" || echo "$?"; echo 0' sh "$here/rdlm.sh" "$r" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check "and released the lock" 0 "$(locks_on "$r")"

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
