#!/bin/sh
# Tests rdlm.sh against a live rdlmd whose admin requests need no credentials.
# Run it with each shell to test: `dash test_rdlm.sh URL`, `bash test_rdlm.sh URL`
# (URL defaults to $RDLM_SERVER, else http://127.0.0.1:8888). The shell used for the
# child shells is bash when this runs under bash, else $RDLM_TEST_SHELL, else dash or sh.
# Last line: "N passed, M failed"; the exit status is 1 when anything failed.
# Waits poll for a condition (a marker file, the server's view) rather than sleep for a
# fixed time, so that a loaded machine slows the tests down but does not fail them.
# The child shells' scripts are in single quotes on purpose: they expand in the child;
# PATH changes in subshells on purpose too (a stand-in curl, or none).
# shellcheck disable=SC2016,SC2030,SC2031
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
    curl -q -s "$RDLM_SERVER/resources/$1" | grep -o '"uid"' | wc -l | tr -d ' '
}

within() { # within SECONDS COMMAND...: runs COMMAND every 0.1 s until it succeeds
    _tries=$(($1 * 10))
    shift
    while [ "$_tries" -gt 0 ]; do
        if "$@"; then return 0; fi
        sleep 0.1
        _tries=$((_tries - 1))
    done
    return 1
}

is_queued() { curl -q -s "$RDLM_SERVER/resources/$1" | grep -q '"active":false'; }
has_no_locks() { [ "$(locks_on "$1")" = 0 ]; }
is_gone() { ! kill -0 "$1" 2>/dev/null; }
until_queued() { within 20 is_queued "$1"; }        # someone waits for the resource
until_released() { within 20 has_no_locks "$1"; }   # the resource has no locks
until_file() { within 20 test -s "$1"; }            # the file exists and is not empty
until_exists() { within 20 test -e "$1"; }          # the file exists

status_of() { # status_of COMMAND...: prints the command's exit status, hides its stderr
    if "$@" 2>/dev/null >/dev/null; then echo 0; else echo $?; fi
}

# A stand-in for curl, first in PATH for with_fake_curl: it runs the real curl, then changes
# what rdlm.sh sees as RDLM_TEST_CURL asks, to reproduce what a live daemon will not do.
mkdir "$work/bin" "$work/empty"
printf '#!/bin/sh\nreal=%s\n' "$(command -v curl)" > "$work/bin/curl"
cat >> "$work/bin/curl" <<'EOF'
case " $* " in
    *" -X POST "*) method=POST ;; *" -X DELETE "*) method=DELETE ;; *" -X PATCH "*) method=PATCH ;; *) method=GET ;;
esac
case ${RDLM_TEST_CURL-}:$method in
    connect:POST) # behind an HTTPS proxy: its answer to CONNECT comes first
        printf 'HTTP/1.1 200 Connection established\r\n\r\n'
        exec "$real" "$@" ;;
    cut:POST) # the answer is cut short after the grant's headers
        "$real" "$@"
        printf '\ncurl: (18) transfer closed with 42 bytes remaining to read\n' >&2
        exit 18 ;;
    killed:POST) # curl is killed by TERM after the grant's headers came
        "$real" "$@"
        kill -s TERM $$ ;;
    slow:DELETE | slowpatch:PATCH) # it takes 2 s more (if killed meanwhile, it never goes)
        : > "$RDLM_TEST_MARK.$method.started"
        sleep 2
        "$real" "$@"
        status=$?
        : > "$RDLM_TEST_MARK.$method.done"
        exit "$status" ;;
    ok200:DELETE) # a server that answers a release with 200 rather than 204
        out=$("$real" "$@")
        status=$?
        printf '%s\n' "$out" | sed '1s/^HTTP\/1\.1 204 No Content/HTTP\/1.1 200 OK/'
        exit "$status" ;;
    notfound:POST) # a server that refuses the resource name with 404
        printf 'HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n' ;;
    lost:* | unavailable:*) # the server RDLM_TEST_LOST loses every answer, or says 503
        printf '%s\n' "$*" >> "$RDLM_TEST_MARK.args"
        for url do :; done
        case $url in
            "$RDLM_TEST_LOST"/*)
                if [ "$RDLM_TEST_CURL" = lost ]; then
                    printf 'curl: (52) Empty reply from server\n' >&2
                    exit 52
                fi
                printf 'HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n'
                exit 0 ;;
        esac
        exec "$real" "$@" ;;
    args:*) # records its arguments, one call a line
        printf '%s\n' "$*" >> "$RDLM_TEST_MARK.args"
        exec "$real" "$@" ;;
    *) exec "$real" "$@" ;;
esac
EOF
chmod +x "$work/bin/curl"
without_curl() ( # without_curl COMMAND...: runs COMMAND with a PATH that has no curl
    # shellcheck disable=SC2123
    PATH=$work/empty
    "$@"
)
with_fake_curl() ( # with_fake_curl MODE COMMAND...
    PATH=$work/bin:$PATH RDLM_TEST_CURL=$1 RDLM_TEST_MARK=$work/mark
    export PATH RDLM_TEST_CURL RDLM_TEST_MARK
    shift
    "$@"
)

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
check "the fractional wait is short" 1 "$(( $(date +%s) - started <= 3 ))"
check "refresh with a lifetime" 0 "$(status_of rdlm_refresh "$lock" 60)"
check "refresh with the lock's own lifetime" 0 "$(status_of rdlm_refresh "$lock")"
check "release" 0 "$(status_of rdlm_release "$lock")"
check "release again: the lock is gone" "$RDLM_EX_NOT_FOUND" "$(status_of rdlm_release "$lock")"
check "refresh of a released lock: gone" "$RDLM_EX_NOT_FOUND" "$(status_of rdlm_refresh "$lock" 10)"
check "the resource has no locks left" 0 "$(locks_on "$r")"

r=$(name token)
lt=$(rdlm_acquire_token "$r" 30 0)
check "acquire_token prints the lock URL and the fencing token" 1 \
    "$(printf '%s\n' "$lt" | grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32} [0-9]+$")"
lock=${lt% *} token=${lt##* }
check "the token is the lock's fencing token" "$token" \
    "$(curl -q -s "$lock" | sed -n 's/.*"fencing_token":\([0-9]*\).*/\1/p')"
rdlm_release "$lock"
lt=$(rdlm_acquire_token "$r" 30 0)
check "the next grant's token is greater" yes "$([ "${lt##* }" -gt "$token" ] 2>/dev/null && echo yes || echo no)"
rdlm_release "${lt% *}"

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
check "admin delete while waiting" 204 "$(curl -q -s -o /dev/null -w '%{http_code}' -X DELETE "$RDLM_SERVER/resources/$r")"
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
check "a server URL without a host is bad usage" "$RDLM_EX_USAGE" \
    "$(RDLM_SERVER=http://// status_of rdlm_acquire "$(name x)" 30 0)"
check "release on an unreachable server" "$RDLM_EX_UNREACHABLE" \
    "$(RDLM_SERVER=http://127.0.0.1:1 status_of rdlm_release "http://127.0.0.1:1/locks/x/00000000000000000000000000000000")"
for timeout in 08 010 5s -1 ''; do
    [ -z "$timeout" ] && continue
    check "RDLM_REQUEST_TIMEOUT=$timeout is bad usage (and no arithmetic error)" "$RDLM_EX_USAGE" \
        "$(RDLM_REQUEST_TIMEOUT=$timeout status_of rdlm_acquire "$(name x)" 30 0)"
done
check "RDLM_CONNECT_TIMEOUT=09 is bad usage" "$RDLM_EX_USAGE" \
    "$(RDLM_CONNECT_TIMEOUT=09 status_of rdlm_acquire "$(name x)" 30 0)"
check "RDLM_REQUEST_TIMEOUT=0 (no limit) is fine" 0 \
    "$(RDLM_REQUEST_TIMEOUT=0 status_of rdlm_with "$(name nolimit)" -- true)"
without_curl rdlm_acquire "$(name x)" 30 0 >/dev/null 2>"$work/nocurl.err"
check "without curl: bad usage, not 'unreachable'" "$RDLM_EX_USAGE" $?
check "and says curl is missing" 1 "$(grep -c 'curl is not installed' "$work/nocurl.err")"
check "rdlm_with without curl: bad usage" "$RDLM_EX_USAGE" \
    "$(without_curl status_of rdlm_with "$(name x)" -- true)"

# ~/.curlrc must not change curl's behaviour: "output" would hide the lock URL (the lock
# staying held), "fail" would turn 408 into curl's exit 22.
mkdir "$work/home"
printf 'output = /dev/null\nfail\nsilent\n' > "$work/home/.curlrc"
r=$(name curlrc)
lock=$(HOME=$work/home CURL_HOME=$work/home XDG_CONFIG_HOME=$work/home; export HOME CURL_HOME XDG_CONFIG_HOME
       rdlm_acquire "$r" 30 0)
check "a ~/.curlrc with 'output = /dev/null' does not hide the lock URL" 1 \
    "$(printf '%s\n' "$lock" | grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32}$")"
check "a ~/.curlrc with 'fail' does not turn 408 into a failure of curl" "$RDLM_EX_TIMEOUT" \
    "$(HOME=$work/home CURL_HOME=$work/home; export HOME CURL_HOME; status_of rdlm_acquire "$r" 30 0)"
check "release with that ~/.curlrc" 0 "$(HOME=$work/home CURL_HOME=$work/home; export HOME CURL_HOME
    status_of rdlm_release "$lock")"

# Answers a live daemon does not give, through the stand-in curl.
r=$(name proxy)
lt=$(with_fake_curl connect rdlm_acquire_token "$r" 30 0)
check "behind an HTTPS proxy (its CONNECT answer first): the lock URL and token" 1 \
    "$(printf '%s\n' "$lt" | grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32} [0-9]+$")"
check "and the lock is released with that URL" 0 "$(status_of rdlm_release "${lt% *}")"
r=$(name cut)
check "a grant whose answer is cut short: no answer" "$RDLM_EX_UNREACHABLE" \
    "$(with_fake_curl cut status_of rdlm_acquire "$r" 30 0)"
check "and the lock it was granted is released" 0 "$(locks_on "$r")"
check "which it says" 1 "$(with_fake_curl cut rdlm_acquire "$r" 30 0 2>&1 >/dev/null | grep -c 'it is released')"
r=$(name grantkill)
check "curl killed by a signal just after a grant: interrupted" "$RDLM_EX_UNREACHABLE" \
    "$(with_fake_curl killed status_of rdlm_acquire "$r" 30 0)"
check "and the lock it was granted is released" 0 "$(locks_on "$r")"

# The rules every client shares (Clients/README.md), through the stand-in curl.
r=$(name ok200)
lock=$(rdlm_acquire "$r" 30 0)
check "a release answered 200 succeeds (as 204 does)" 0 "$(with_fake_curl ok200 status_of rdlm_release "$lock")"
check "and the lock is released" 0 "$(locks_on "$r")"
with_fake_curl ok200 rdlm_with "$r" -- true 2>"$work/ok200.err"
check "rdlm_with: a release answered 200 succeeds" 0 $?
check "and is not reported as a failure" 0 "$(wc -c < "$work/ok200.err" | tr -d ' ')"
r=$(name notfound)
with_fake_curl notfound rdlm_acquire "$r" 30 0 >/dev/null 2>"$work/notfound.err"
check "an acquire answered 404 is bad usage: the server did not accept the name" "$RDLM_EX_USAGE" $?
check "whose message names the resource" 1 "$(grep -c "resource name '$r'" "$work/notfound.err")"
r=$(name nolimit)
rm -f "$work/mark.args"
lock=$(RDLM_REQUEST_TIMEOUT=0 with_fake_curl args rdlm_acquire "$r" 30 0.5)
RDLM_REQUEST_TIMEOUT=0 with_fake_curl args rdlm_refresh "$lock" 30
RDLM_REQUEST_TIMEOUT=0 with_fake_curl args rdlm_release "$lock"
check "RDLM_REQUEST_TIMEOUT=0: acquire, refresh and release ran" "3 0" \
    "$(wc -l < "$work/mark.args" | tr -d ' ') $(locks_on "$r")"
check "RDLM_REQUEST_TIMEOUT=0: no request has a time limit, acquire included" 0 \
    "$(grep -c -e --max-time "$work/mark.args")"
rm -f "$work/mark.args"
lock=$(RDLM_REQUEST_TIMEOUT=3 with_fake_curl args rdlm_acquire "$r" 30 2.5)
rdlm_release "$lock"
check "otherwise an acquire's limit is its wait (whole seconds, plus one) plus the timeout" 1 \
    "$(grep -c -e '--max-time 6 ' "$work/mark.args")"

# ---- rdlm_with ---------------------------------------------------------------------------

r=$(name with)
check "rdlm_with returns the command's status" 7 "$(status_of rdlm_with "$r" -- sh -c 'exit 7')"
check "rdlm_with released the lock" 0 "$(locks_on "$r")"
check "the command sees its lock URL and token" 1 \
    "$(rdlm_with "$r" -- sh -c 'echo "$RDLM_LOCK_URL $RDLM_FENCING_TOKEN"' |
        grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32} [0-9]+$")"
check "the command reads the caller's stdin" hello "$(echo hello | rdlm_with "$r" -- cat)"
echo hello | "$test_shell" -c 'exec 9>"$3"; . "$1"; rdlm_with "$2" -- sh -c "cat; echo via9 >&9"' \
    sh "$here/rdlm.sh" "$r" "$work/fd9" > "$work/fd9.out" 2>/dev/null
check "the command gets the caller's stdin and its open fd 9 (exec 9>file; flock 9)" "hello via9" \
    "$(cat "$work/fd9.out") $(cat "$work/fd9" 2>/dev/null)"
check "with every descriptor 3 to 9 open, the command's stdin is /dev/null" "done" \
    "$(echo hello | "$test_shell" -c 'exec 3>/dev/null 4>&3 5>&3 6>&3 7>&3 8>&3 9>&3; . "$1"; rdlm_with "$2" -- cat; echo done' \
        sh "$here/rdlm.sh" "$r" 2>/dev/null)"
check "options after the resource, -- before the command" 0 \
    "$(status_of rdlm_with "$r" --lifetime 5 --wait=1 --title 'a "quoted" title' -- true)"
check "rdlm_with without a command is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_with "$r" --)"
check "rdlm_with with an unknown option is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_with "$r" --bogus -- true)"
check "a renewed lifetime under 2 s is bad usage" "$RDLM_EX_USAGE" \
    "$(status_of rdlm_with "$r" --lifetime 1.9 -- touch "$work/short")"
check "and does not run the command" no "$([ -e "$work/short" ] && echo yes || echo no)"
check "which it explains" 1 "$(rdlm_with "$r" --lifetime 1 -- true 2>&1 | grep -c 'lifetime 2 or more')"
check "a lifetime of 2 s is renewed" 0 "$(status_of rdlm_with "$r" --lifetime 2 -- true)"
check "a short lifetime is fine with --no-refresh" 0 "$(status_of rdlm_with "$r" --lifetime 0.5 --no-refresh -- true)"
check "a lifetime that is not a number is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_with "$r" --lifetime 08 -- true)"

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
    if wait "$shell" 2>/dev/null; then st=0; else st=$?; fi
    # The calling shell may die of the signal at once, while rdlm_with still cleans up.
    until_released "$r" || :
    alive=$(kill -0 "$(cat "$work/sig.pid")" 2>/dev/null && echo alive || echo stopped)
    echo "$st $(locks_on "$r") $alive"
}
if command -v setsid >/dev/null 2>&1; then
    r=$(name signal)
    check "TERM to the group: the shell dies of TERM, lock released, command stopped" "143 0 stopped" "$(with_signal TERM)"
    # Under nohup (or a runner that ignores HUP) the shell would inherit HUP ignored, which a
    # non-interactive shell cannot undo: start it with HUP at its default where env can.
    if env --default-signal=HUP true 2>/dev/null; then
        check "HUP to the group: the shell dies of HUP, lock released, command stopped" "129 0 stopped" \
            "$(with_signal HUP env --default-signal=HUP)"
    else
        check "HUP to the group: the shell dies of HUP, lock released, command stopped" "129 0 stopped" "$(with_signal HUP)"
    fi
    if env --default-signal=INT true 2>/dev/null; then
        check "INT to the group (Ctrl-C): the shell dies of INT, lock released, command stopped" "130 0 stopped" \
            "$(with_signal INT env --default-signal=INT)"
    else
        echo "skipped: INT to the process group (needs env --default-signal)" >&2
    fi

    # TERM to the group while a release is under way: curl must not die with it.
    r=$(name slowrelease)
    PATH=$work/bin:$PATH RDLM_TEST_CURL=slow RDLM_TEST_MARK=$work/slowwith \
        setsid "$test_shell" -c '. "$1"; rdlm_with "$2" -- true' sh "$here/rdlm.sh" "$r" >/dev/null 2>&1 &
    shell=$!
    check "rdlm_with's release starts" 0 "$(status_of until_exists "$work/slowwith.DELETE.started")"
    kill -s TERM -- "-$shell"
    if wait "$shell" 2>/dev/null; then st=0; else st=$?; fi
    check "TERM to the group during rdlm_with's release: the shell dies of TERM" 143 "$st"
    check "and the release is not cut short" 0 "$(status_of until_released "$r")"
    r=$(name slowrelease2)
    lock=$(rdlm_acquire "$r" 60 0)
    PATH=$work/bin:$PATH RDLM_TEST_CURL=slow RDLM_TEST_MARK=$work/slowrelease \
        setsid "$test_shell" -c '. "$1"; rdlm_release "$2"' sh "$here/rdlm.sh" "$lock" >/dev/null 2>&1 &
    shell=$!
    check "rdlm_release starts" 0 "$(status_of until_exists "$work/slowrelease.DELETE.started")"
    kill -s TERM -- "-$shell"
    wait "$shell" 2>/dev/null || :
    check "TERM to the group during rdlm_release: the release is not cut short" 0 "$(status_of until_released "$r")"
else
    echo "skipped: signals to the process group (needs setsid)" >&2
fi

# TERM to the calling shell's pid alone: like any foreground command, the command runs on
# under its lock, which is released when it ends.
r=$(name orphan)
rm -f "$work/orphan.pid" "$work/orphan.go"
"$test_shell" -c '. "$1"; rdlm_with "$2" -- sh -c "echo \$\$ > \"\$1\"; while [ ! -e \"\$1.go\" ]; do sleep 0.1; done" sh "$3"' \
    sh "$here/rdlm.sh" "$r" "$work/orphan" >/dev/null 2>&1 &
shell=$!
check "the command under the orphan test starts" 0 "$(status_of until_file "$work/orphan")"
kill -s TERM "$shell"
if wait "$shell" 2>/dev/null; then st=0; else st=$?; fi
check "TERM to the calling shell alone: it dies" 143 "$st"
check "while the command keeps its lock" 1 "$(locks_on "$r")"
: > "$work/orphan.go"
check "the command ends when told" 0 "$(status_of within 20 is_gone "$(cat "$work/orphan")")"
check "and its lock is released then" 0 "$(status_of until_released "$r")"

# Renewal: the command runs past its lifetime (4 s, renewed every second) until told to end.
r=$(name long)
rm -f "$work/long" "$work/long.go"
rdlm_with "$r" --lifetime 4 -- sh -c 'echo $$ > "$1"; while [ ! -e "$1.go" ]; do sleep 0.1; done' sh "$work/long" \
    2>"$work/long.err" &
with=$!
check "the command under the renewal test starts" 0 "$(status_of until_file "$work/long")"
sleep 5 # past the first lifetime: only renewals can have kept the lock
check "a command outliving its lifetime still holds the lock (renewed)" "$RDLM_EX_TIMEOUT" \
    "$(status_of rdlm_acquire "$r" 30 0)"
: > "$work/long.go"
wait "$with"
check "and rdlm_with returns its status" 0 $?
check "without a warning" 0 "$(wc -c < "$work/long.err" | tr -d ' ')"

# A signal while rdlm_with waits for a renewal in flight (after the command ended): it waits
# on, so that no renewal outlives rdlm_with. (Lifetime 6: renewals every 2 s, each delayed
# 2 s by the stand-in curl, still come before the lease ends.)
r=$(name finalwait)
(PATH=$work/bin:$PATH RDLM_TEST_CURL=slowpatch RDLM_TEST_MARK=$work/fw; export PATH RDLM_TEST_CURL RDLM_TEST_MARK
 rdlm_with "$r" --lifetime 6 -- sh -c 'echo "$$ $PPID" > "$1"; while [ ! -e "$1.PATCH.started" ]; do sleep 0.1; done' \
     sh "$work/fw") 2>"$work/fw.err" &
with=$!
check "the command under the final-wait test starts" 0 "$(status_of until_file "$work/fw")"
read -r fw_command fw_with < "$work/fw"
check "a renewal starts (and takes 2 s more)" 0 "$(status_of until_exists "$work/fw.PATCH.started")"
check "the command ends meanwhile" 0 "$(status_of within 20 is_gone "$fw_command")"
kill -s TERM "$fw_with"
if wait "$with"; then st=0; else st=$?; fi
check "TERM to rdlm_with as it waits for the renewal: it dies of TERM" 143 "$st"
check "once the renewal is over" yes "$([ -e "$work/fw.PATCH.done" ] && echo yes || echo no)"
check "and the lock is released" 0 "$(locks_on "$r")"
check "which found the lock alive" 0 "$(grep -c lost "$work/fw.err")"

r=$(name lost)
rdlm_with "$r" --lifetime 3 -- sh -c 'echo $$ > "$1"; exec sleep 30' sh "$work/lost.pid" 2>/dev/null &
with=$!
check "the command under the lost-lock test starts" 0 "$(status_of until_file "$work/lost.pid")"
curl -q -s -o /dev/null -X DELETE "$RDLM_SERVER/resources/$r"
wait "$with"
check "a lock deleted under a running command: rdlm_with returns 'lost'" "$RDLM_EX_LOST" $?
check "and the command was stopped" stopped \
    "$(kill -0 "$(cat "$work/lost.pid")" 2>/dev/null && echo alive || echo stopped)"

r=$(name errexit)
check "rdlm_with works under set -eu" "3 0" \
    "$("$test_shell" -c 'set -eu; . "$1"; rdlm_with "$2" -- sh -c "exit 3" || echo "$?"; echo 0' sh "$here/rdlm.sh" "$r" 2>/dev/null | tr '\n' ' ' | sed 's/ $//')"
check "and released the lock" 0 "$(locks_on "$r")"

# ---- several servers: failover on no answer, request ids ---------------------------------

dead_server() { # a URL where nothing listens: a port bound and closed (port 1 without python3)
    if command -v python3 >/dev/null 2>&1; then
        python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print("http://127.0.0.1:%d" % s.getsockname()[1]); s.close()'
    else
        echo http://127.0.0.1:1
    fi
}
request_ids() { sed -n 's/.*RDLM-Request-Id: \([^ ]*\).*/\1/p' "$work/mark.args"; }

dead=$(dead_server)
r=$(name failover)
lock=$(RDLM_SERVER="$dead,$RDLM_SERVER/" rdlm_acquire "$r" 30 0)
check "acquire with the first server dead succeeds" 0 $?
check "through the live server" 1 "$(printf '%s\n' "$lock" | grep -cE "^$RDLM_SERVER/locks/$r/[0-9a-f]{32}$")"
on_dead=$dead/locks/${lock#*/locks/}
check "refresh of a lock URL on a dead server goes to the others" 0 \
    "$(RDLM_SERVER="$dead,$RDLM_SERVER" status_of rdlm_refresh "$on_dead" 60)"
check "release of it too" 0 "$(RDLM_SERVER="$dead,$RDLM_SERVER" status_of rdlm_release "$on_dead")"
check "and the lock is gone" 0 "$(locks_on "$r")"
check "every server dead: no answer" "$RDLM_EX_UNREACHABLE" \
    "$(RDLM_SERVER="$dead,$(dead_server)" status_of rdlm_acquire "$r" 30 0)"
check "a bad URL in the list is a usage error" "$RDLM_EX_USAGE" \
    "$(RDLM_SERVER="$RDLM_SERVER,ftp://x" status_of rdlm_acquire "$r" 30 0)"

lost=http://127.0.0.1:9 # the stand-in curl loses its answers
rm -f "$work/mark.args"
lock=$(RDLM_SERVER="$lost,$RDLM_SERVER" RDLM_TEST_LOST=$lost with_fake_curl lost rdlm_acquire "$r" 30 0)
check "an acquire whose answer was lost goes on to the next server" 0 $?
check "both attempts carried one request id of 32 lowercase hex digits" "2 1 1" \
    "$(request_ids | wc -l | tr -d ' ') $(request_ids | sort -u | wc -l | tr -d ' ') $(request_ids | sed -n 1p | grep -cE '^[0-9a-f]{32}$')"
check "which the daemon made the lock's uid" "$(request_ids | sed -n 1p)" "${lock##*/}"
rdlm_release "$lock"
check "a release whose answer was lost, then 404: success" 0 \
    "$(RDLM_SERVER="$lost,$RDLM_SERVER" RDLM_TEST_LOST=$lost with_fake_curl lost status_of rdlm_release "$lost/locks/$r/00112233445566778899aabbccddeeff")"
check "a release refused, then 404: the lock is gone" "$RDLM_EX_NOT_FOUND" \
    "$(RDLM_SERVER="$dead,$RDLM_SERVER" status_of rdlm_release "$dead/locks/$r/00112233445566778899aabbccddeeff")"
rm -f "$work/mark.args"
check "a 503 is an answer: server error, and no other server is asked" "$RDLM_EX_SERVER 1" \
    "$(RDLM_SERVER="$lost,$RDLM_SERVER" RDLM_TEST_LOST=$lost with_fake_curl unavailable status_of rdlm_acquire "$r" 30 0) $(wc -l < "$work/mark.args" | tr -d ' ')"
check "and nothing was locked" 0 "$(locks_on "$r")"

# Admin requests: on this server (no credentials needed), then, with RDLM_AUTH_URL,
# RDLM_AUTH_USER and RDLM_AUTH_PASSWORD set, on one whose admin requests need them.
r=$(name admin)
lock=$(rdlm_acquire "$r" 30 0)
check "rdlm_resource prints the resource's JSON, its lock in it" 1 \
    "$(rdlm_resource "$r" | grep -c "\"uid\":\"${lock##*/}\"")"
check "rdlm_delete_resource deletes it" "0 0" "$(status_of rdlm_delete_resource "$r") $(locks_on "$r")"
check "rdlm_delete_resource of a resource without locks" "$RDLM_EX_NOT_FOUND" "$(status_of rdlm_delete_resource "$r")"
check "rdlm_resource without a resource is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_resource)"
check "rdlm_resource of a bad name is bad usage" "$RDLM_EX_USAGE" "$(status_of rdlm_resource 'a/b')"
check "RDLM_USER with ':' is bad usage" "$RDLM_EX_USAGE" "$(RDLM_USER=a:b status_of rdlm_resource "$r")"
if [ -n "${RDLM_AUTH_URL-}" ] && [ -n "${RDLM_AUTH_USER-}" ] && [ -n "${RDLM_AUTH_PASSWORD-}" ]; then
    lock=$(RDLM_SERVER=$RDLM_AUTH_URL rdlm_acquire "$r" 30 0)
    check "auth server: no credentials, 108" "$RDLM_EX_AUTH" "$(RDLM_SERVER=$RDLM_AUTH_URL status_of rdlm_resource "$r")"
    check "auth server: a wrong password, 108" "$RDLM_EX_AUTH" \
        "$(RDLM_SERVER=$RDLM_AUTH_URL RDLM_USER=$RDLM_AUTH_USER RDLM_PASSWORD="$RDLM_AUTH_PASSWORD-wrong" status_of rdlm_resource "$r")"
    check "auth server: the credentials list the lock" 1 \
        "$(RDLM_SERVER=$RDLM_AUTH_URL RDLM_USER=$RDLM_AUTH_USER RDLM_PASSWORD=$RDLM_AUTH_PASSWORD rdlm_resource "$r" |
           grep -c "\"uid\":\"${lock##*/}\"")"
    check "auth server: and delete it" 0 \
        "$(RDLM_SERVER=$RDLM_AUTH_URL RDLM_USER=$RDLM_AUTH_USER RDLM_PASSWORD=$RDLM_AUTH_PASSWORD status_of rdlm_delete_resource "$r")"
    rm -f "$work/mark.args"
    RDLM_SERVER=$RDLM_AUTH_URL RDLM_USER=$RDLM_AUTH_USER RDLM_PASSWORD=$RDLM_AUTH_PASSWORD \
        with_fake_curl args rdlm_resource "$r" >/dev/null 2>&1
    check "the credentials reach curl on its standard input, not its command line" "1 0" \
        "$(grep -c -- ' -K - ' "$work/mark.args") $(grep -c -- "$RDLM_AUTH_PASSWORD" "$work/mark.args")"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
