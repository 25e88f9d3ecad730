# rdlm.sh - POSIX shell functions for rdlmd, the RESTful distributed lock manager.
# Source it (`. rdlm.sh`) from sh, dash, bash, ksh or zsh (in sh mode). Needs curl; the
# rest is POSIX (sed, awk, tr, sleep, kill, uname).
#
#   lock=$(rdlm_acquire RESOURCE [LIFETIME] [WAIT]) || exit   # prints the lock URL
#   lt=$(rdlm_acquire_token RESOURCE [LIFETIME] [WAIT]) || exit
#   lock=${lt% *} token=${lt##* }                             # "URL TOKEN" on one line
#   rdlm_refresh "$lock" [LIFETIME]                           # renew the lease
#   rdlm_release "$lock"
#   rdlm_with RESOURCE [--lifetime N] [--wait N] [--title T] [--shared] [--no-refresh] \
#       -- COMMAND [ARGS...]                                  # returns COMMAND's status
#   rdlm_resource RESOURCE         # admin: prints GET /resources/RESOURCE (JSON, one line)
#   rdlm_delete_resource RESOURCE  # admin: deletes the resource's lock and waiters
#
# Admin credentials: RDLM_USER and RDLM_PASSWORD, sent as HTTP Basic when RDLM_USER is set.
# They reach curl on its standard input (-K -), never its command line, where ps shows them.
#
# Several servers: RDLM_SERVER may list daemons sharing one lock space, comma-separated
# (http://a:8888,http://b:8888). A request goes to the next one only when a server gives
# no HTTP answer (curl 6, 7, 52, 55, 56, or 28 while connecting), each server once per
# request; any answer, 503 included, is the answer. A lock URL's own server is asked
# first, then the others with its path (/locks/R/uid). A release that may have reached a
# server whose answer was lost and that then gets 404 succeeds: the lock is gone either
# way. Every acquire sends an RDLM-Request-Id (32 hex digits from /dev/urandom; 103 when
# it cannot be read), the same to every server it tries; on a 503 saying that id still
# waits on an earlier attempt, the acquire is sent again after 1 s, within its time limit.
#
# Environment: RDLM_SERVER (http://127.0.0.1:8888), RDLM_TITLE ("rdlm.sh on HOST pid PID"),
# RDLM_LIFETIME (rdlm_acquire: 300 s, rdlm_with: 60 s), RDLM_WAIT (10 s), RDLM_MODE
# (exclusive or shared, for rdlm_acquire), RDLM_CONNECT_TIMEOUT (5 s), RDLM_REQUEST_TIMEOUT
# (10 s, allowed on top of the wait; 0: no limit on any request, acquire included);
# for https:// servers RDLM_CACERT (PEM CAs that sign the daemons' certificates, curl's
# --cacert; default the system's), and for a daemon with mutual TLS RDLM_CERT and RDLM_KEY
# (PEM client certificate and its unencrypted key, curl's --cert and --key).
# Lifetimes and waits may be decimals (0.5); the two timeouts are whole seconds. curl runs
# with -q: ~/.curlrc is not read. A release succeeds on 204 or 200. These rules are the same
# in every client: see "Behaviour shared by every client" in Clients/README.md.
#
# rdlm_acquire_token prints the lock URL and the fencing token separated by one space; the
# token is empty (the line ends with the space) when the server sends none (the original
# RDLM). Give the token to the storage the lock guards, so it can reject a stale holder.
#
# Exit statuses, also in the variables RDLM_EX_*; messages go to stderr:
#   0   success
#   100 RDLM_EX_TIMEOUT     the wait ran out (408; at once for wait 0 on a held resource)
#   101 RDLM_EX_DELETED     an admin deleted the resource while we waited (409)
#   102 RDLM_EX_UNREACHABLE no answer: connection refused, DNS, the request timed out, or
#                           curl was interrupted by a signal
#   103 RDLM_EX_USAGE       bad arguments or settings (RDLM_*), curl is not installed, or
#                           the server rejected the arguments (400, 413; 404 on acquire:
#                           it did not accept the resource name)
#   104 RDLM_EX_NOT_FOUND   the lock is gone: released, expired or deleted (404 on refresh
#                           or release)
#   105 RDLM_EX_SERVER      server error (5xx; 503 when full or shutting down)
#   106 RDLM_EX_PROTOCOL    an answer the protocol does not allow
#   107 RDLM_EX_LOST        rdlm_with: the lock was lost while the command ran, so the
#                           command was stopped
#   108 RDLM_EX_AUTH        admin credentials required or refused (401, 403)
# They sit above the statuses commands commonly use (1, 2, 126, 127) and below the
# 128+N of a command killed by signal N, so rdlm_with's status tells them apart.
# When the server grants a lock but its answer is then cut short (a timeout, a reset
# connection, curl killed by a signal after the answer's headers came), the acquire
# releases the lock at once and fails with 102: no lock is left held for nobody.
# rdlm_release, and rdlm_with's release, ignore HUP, INT and TERM while the DELETE is
# under way (at most RDLM_REQUEST_TIMEOUT seconds), so that a signal to the process group
# cannot cut the release short.
#
# rdlm_with, in detail:
# - It behaves like any foreground command of the calling shell: its work happens in a
#   subshell, so it sets no trap, variable or option in the caller.
# - A command that exits, fails or is killed by a signal (status 128+N) has its lock
#   released, and rdlm_with returns its status.
# - HUP, INT or TERM reaching rdlm_with (Ctrl-C, timeout(1), systemd and `kill -- -PGID`
#   signal the whole process group) stop the command with TERM (TERM, because a background
#   command of a non-interactive shell ignores INT), release the lock once the command has
#   exited, and then rdlm_with dies of the same signal, so the caller reacts as it would
#   without rdlm_with. While rdlm_with still waits for the lock, a signal to the group
#   also ends curl's request, so it leaves at once; a signal to rdlm_with alone takes
#   effect when the wait ends (at most WAIT seconds). A grant whose headers reached curl
#   before the signal is released at once; one still in flight when curl dies (a window of
#   a network round trip) cannot be known, and that lock expires after LIFETIME.
# - As with any shell command, signalling only the calling shell's pid does not stop the
#   command: it runs on under its lock, which is released when it ends.
# - Long commands: while the command runs, the lease is renewed every LIFETIME/3 seconds
#   (whole seconds, at least 1), so a command may run longer than its lifetime, and
#   LIFETIME only bounds how long a crashed holder blocks others. A LIFETIME under 2
#   seconds cannot be renewed in time and is refused (103) unless --no-refresh is given.
#   If a renewal finds the lock gone (an admin deleted it, or the server lost it) the
#   command is stopped with TERM and rdlm_with returns 107: nothing may run unprotected.
#   With --no-refresh the lock simply expires after LIFETIME, so choose one longer than
#   the command can run; a release that finds it expired is reported on stderr.
# - If rdlm_with itself is killed with KILL, the renewal stops when the command ends and
#   the lock expires LIFETIME seconds later.
# - The command sees RDLM_LOCK_URL and RDLM_FENCING_TOKEN in its environment, the caller's
#   standard input and every other descriptor the caller has open. (A background command
#   of a non-interactive shell gets /dev/null as stdin, so rdlm_with passes stdin through
#   the highest descriptor of 3 to 9 the caller has closed; should all seven be open, the
#   command's stdin is /dev/null.) A shell function works as the command, but only an
#   external command is sure to be stopped by the forwarded TERM.
#
# Private names start with rdlm__ (functions) and _rdlm_ (variables).

RDLM_EX_TIMEOUT=100
RDLM_EX_DELETED=101
RDLM_EX_UNREACHABLE=102
RDLM_EX_USAGE=103
RDLM_EX_NOT_FOUND=104
RDLM_EX_SERVER=105
RDLM_EX_PROTOCOL=106
RDLM_EX_LOST=107
RDLM_EX_AUTH=108

rdlm__say() { # FUNCTION MESSAGE...
    _rdlm_say_name=$1
    shift
    printf '%s: %s\n' "$_rdlm_say_name" "$*" >&2
}

# rdlm__seconds FUNCTION NAME VALUE: a JSON number of seconds, at most 9 integer digits.
rdlm__seconds() {
    case $3 in
        '' | .* | *. | *[!0-9.]* | *.*.* | 0[0-9]* | [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*)
            rdlm__say "$1" "$2 must be a number of seconds like 10 or 0.5, not '$3'"
            return "$RDLM_EX_USAGE" ;;
    esac
}

# rdlm__whole FUNCTION NAME VALUE: whole seconds, at most 9 digits, no leading zero (shell
# arithmetic would read 010 as octal, and fail on 08).
rdlm__whole() {
    case $3 in
        '' | *[!0-9]* | 0[0-9]* | [0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9][0-9]*)
            rdlm__say "$1" "$2 must be whole seconds like 10, not '$3'"
            return "$RDLM_EX_USAGE" ;;
    esac
}

rdlm__settings() { # FUNCTION: checks for curl and the environment's settings
    if ! command -v curl >/dev/null 2>&1; then
        rdlm__say "$1" "curl is not installed, or not in PATH: rdlm.sh needs it"
        return "$RDLM_EX_USAGE"
    fi
    # _rdlm_servers: the list, each URL without its trailing slash, comma-separated.
    _rdlm_servers=''
    _rdlm_rest=${RDLM_SERVER:-http://127.0.0.1:8888},
    while [ -n "$_rdlm_rest" ]; do
        _rdlm_server=${_rdlm_rest%%,*}
        _rdlm_rest=${_rdlm_rest#*,}
        _rdlm_server=${_rdlm_server%/}
        case $_rdlm_server in
            http://[!/?#@:]* | https://[!/?#@:]*) ;;
            *) rdlm__say "$1" "RDLM_SERVER must be http:// or https:// URLs with a host, comma-separated, not '$_rdlm_server'"
               return "$RDLM_EX_USAGE" ;;
        esac
        _rdlm_servers=$_rdlm_servers${_rdlm_servers:+,}$_rdlm_server
    done
    _rdlm_server=${_rdlm_servers%%,*}
    _rdlm_connect=${RDLM_CONNECT_TIMEOUT:-5}
    _rdlm_request=${RDLM_REQUEST_TIMEOUT:-10}
    rdlm__whole "$1" RDLM_CONNECT_TIMEOUT "$_rdlm_connect" || return
    rdlm__whole "$1" RDLM_REQUEST_TIMEOUT "$_rdlm_request" || return
}

# rdlm__request METHOD URL MAX_SECONDS [JSON]: one HTTP request, with no time limit when
# MAX_SECONDS is 0 (curl's --max-time is not given at all). Sets _rdlm_curl (curl's
# exit status, 128+N when a signal killed it), _rdlm_status (the last answer's HTTP status,
# 000 when none came), _rdlm_location, _rdlm_token and _rdlm_message. The status and the
# headers are kept even when curl fails after they came. With _rdlm_shield=1, curl runs
# with HUP, INT and TERM ignored (the caller's traps still note them).
rdlm__request() {
    _rdlm_method=$1
    _rdlm_url=$2
    _rdlm_max=$3
    if [ $# -ge 4 ]; then
        set -- -X "$_rdlm_method" -H 'Content-Type: application/json' --data-binary "$4"
    elif [ "$_rdlm_method" = GET ]; then
        set --
    else
        set -- -X "$_rdlm_method"
    fi
    if [ "$_rdlm_max" != 0 ]; then set -- --max-time "$_rdlm_max" "$@"; fi
    if [ -n "${_rdlm_request_id-}" ]; then set -- -H "RDLM-Request-Id: $_rdlm_request_id" "$@"; fi
    if [ -n "${RDLM_CACERT-}" ]; then set -- --cacert "$RDLM_CACERT" "$@"; fi
    if [ -n "${RDLM_CERT-}" ]; then set -- --cert "$RDLM_CERT" "$@"; fi
    if [ -n "${RDLM_KEY-}" ]; then set -- --key "$RDLM_KEY" "$@"; fi
    if [ -n "${_rdlm_auth-}" ]; then set -- -K - "$@"; fi
    # -q (first, or curl ignores it): no ~/.curlrc, whose "output" or "fail" would hide the
    # answer. -N: the headers reach us as they come, even if curl is then killed.
    if _rdlm_out=$(
        if [ "${_rdlm_shield-}" = 1 ]; then trap '' HUP INT TERM; fi
        if [ -n "${_rdlm_auth-}" ]; then exec <<_RDLM_AUTH
$_rdlm_auth
_RDLM_AUTH
        fi
        exec curl -q -sS -N -i --proto =http,https --connect-timeout "$_rdlm_connect" \
            -H 'Accept: application/json' -H 'Expect:' "$@" -- "$_rdlm_url" 2>&1
    ); then
        _rdlm_curl=0
    else
        _rdlm_curl=$?
    fi
    # Each answer is a status line, headers and a blank line; several come when an HTTPS
    # proxy answers CONNECT first. The body follows the last one.
    _rdlm_headers=$(printf '%s\n' "$_rdlm_out" | awk '
        { sub(/\r$/, "") }
        !in_head {
            if ($0 !~ /^HTTP\/[0-9.]+ [0-9][0-9][0-9]/) exit
            status = $2; location = ""; token = ""; in_head = 1; next
        }
        /^$/ { in_head = 0; next }
        {
            i = index($0, ":"); if (i == 0) next
            name = tolower(substr($0, 1, i - 1)); value = substr($0, i + 1)
            sub(/^[ \t]+/, "", value); sub(/[ \t]+$/, "", value)
            if (name == "location") location = value
            else if (name == "rdlm-fencing-token") token = value
        }
        END { print (status == "" ? "000" : status) " " token " " location }')
    _rdlm_status=${_rdlm_headers%% *}
    _rdlm_headers=${_rdlm_headers#* }
    _rdlm_token=${_rdlm_headers%% *}
    _rdlm_location=${_rdlm_headers#* }
    _rdlm_message=''
    if [ "$_rdlm_curl" -ne 0 ]; then
        # curl's last words, which follow a body cut short on the same line
        _rdlm_message=$(printf '%s\n' "$_rdlm_out" | sed -n 's/.*curl: ([0-9][0-9]*) //p' | sed -n '$p')
        return 0
    fi
    case $_rdlm_status in
        [45]*) _rdlm_message=$(printf '%s' "$_rdlm_out" |
                   sed -n 's/.*"error"[[:space:]]*:[[:space:]]*"\([^"]*\)".*/\1/p' | sed -n 1p) ;;
    esac
    return 0
}

# rdlm__send METHOD ORIGIN PATH MAX_SECONDS [JSON]: rdlm__request of PATH on one server
# after another until one answers: ORIGIN first when not empty (a lock URL's own server),
# then the list, skipping ORIGIN. With PATH empty, ORIGIN is the whole URL and alone. Sets
# _rdlm_server to the server asked last and _rdlm_lost to 1 when an earlier server may
# have received the request before its answer was lost.
rdlm__send() {
    _rdlm_lost=''
    _rdlm_send_method=$1 _rdlm_send_path=$3
    _rdlm_send_list=$2${2:+,}
    if [ -n "$3" ]; then _rdlm_send_list=$_rdlm_send_list$_rdlm_servers,; fi
    _rdlm_send_origin=$2
    shift 3
    _rdlm_send_first=1
    while [ -n "$_rdlm_send_list" ]; do
        _rdlm_server=${_rdlm_send_list%%,*}
        _rdlm_send_list=${_rdlm_send_list#*,}
        if [ -z "$_rdlm_send_first" ] && [ "$_rdlm_server" = "$_rdlm_send_origin" ]; then continue; fi
        _rdlm_send_first=''
        rdlm__request "$_rdlm_send_method" "$_rdlm_server$_rdlm_send_path" "$@"
        [ "$_rdlm_status" = 000 ] || return 0 # an answer began: it is the answer
        case $_rdlm_curl in
            6 | 7) ;;
            52 | 55 | 56) _rdlm_lost=1 ;;
            28) case $_rdlm_message in *onnect*) ;; *) return 0 ;; esac ;; # only while connecting
            *) return 0 ;;
        esac
    done
}

# rdlm__send_about METHOD LOCK_URL MAX_SECONDS [JSON]: rdlm__send to the URL's own server,
# then its path (from /locks/ on) to the others.
rdlm__send_about() {
    case $2 in
        */locks/*) _rdlm_about_origin=${2%%/locks/*} _rdlm_about_path=/locks/${2#*/locks/} ;;
        *) _rdlm_about_origin=$2 _rdlm_about_path='' ;;
    esac
    _rdlm_about_method=$1
    shift 2
    rdlm__send "$_rdlm_about_method" "$_rdlm_about_origin" "$_rdlm_about_path" "$@"
}

# rdlm__failure FUNCTION OPERATION: reports the last request's failure, returns its status.
rdlm__failure() {
    case $_rdlm_curl in
        0) ;;
        129 | 130 | 143) rdlm__say "$1" "interrupted"; return "$RDLM_EX_UNREACHABLE" ;;
        1 | 3) rdlm__say "$1" "bad server URL '$_rdlm_server': ${_rdlm_message:-curl exit $_rdlm_curl}"
               return "$RDLM_EX_USAGE" ;;
        58 | 77) rdlm__say "$1" "cannot use RDLM_CACERT, RDLM_CERT or RDLM_KEY: ${_rdlm_message:-curl exit $_rdlm_curl}"
               return "$RDLM_EX_USAGE" ;;
        *) if [ "$_rdlm_status" = 000 ]; then
               rdlm__say "$1" "no answer from $_rdlm_server: ${_rdlm_message:-curl exit $_rdlm_curl}"
           else
               rdlm__say "$1" "the answer (HTTP $_rdlm_status) was cut short: ${_rdlm_message:-curl exit $_rdlm_curl}"
           fi
           return "$RDLM_EX_UNREACHABLE" ;;
    esac
    _rdlm_detail="(HTTP $_rdlm_status${_rdlm_message:+: $_rdlm_message})"
    case $_rdlm_status:$2 in
        408:*) rdlm__say "$1" "the wait for the lock ran out $_rdlm_detail"; return "$RDLM_EX_TIMEOUT" ;;
        409:acquire) rdlm__say "$1" "the resource was deleted by an admin while we waited $_rdlm_detail"
                     return "$RDLM_EX_DELETED" ;;
        404:acquire) rdlm__say "$1" "the server did not accept the resource name '$_rdlm_resource' $_rdlm_detail"
                     return "$RDLM_EX_USAGE" ;;
        401:* | 403:*) rdlm__say "$1" "admin credentials required or refused $_rdlm_detail"; return "$RDLM_EX_AUTH" ;;
        404:admin) rdlm__say "$1" "no such resource $_rdlm_detail"; return "$RDLM_EX_NOT_FOUND" ;;
        404:*) rdlm__say "$1" "the lock is gone $_rdlm_detail"; return "$RDLM_EX_NOT_FOUND" ;;
        400:* | 413:*) rdlm__say "$1" "bad request $_rdlm_detail"; return "$RDLM_EX_USAGE" ;;
        5*) rdlm__say "$1" "server error $_rdlm_detail"; return "$RDLM_EX_SERVER" ;;
        *) rdlm__say "$1" "unexpected answer $_rdlm_detail"; return "$RDLM_EX_PROTOCOL" ;;
    esac
}

# rdlm__released: the last request released a lock (rdlmd answers 204, other servers 200;
# a 404 after a server that may have released it lost its answer: gone either way).
rdlm__released() {
    [ "$_rdlm_curl" -eq 0 ] && { [ "$_rdlm_status" = 204 ] || [ "$_rdlm_status" = 200 ] ||
        { [ -n "${_rdlm_lost-}" ] && [ "$_rdlm_status" = 404 ]; }; }
}

# rdlm__delete URL: DELETE with curl deaf to HUP, INT and TERM, so that a signal to the
# process group cannot cut a release short.
rdlm__delete() {
    _rdlm_shield=1
    rdlm__send_about DELETE "$1" "$_rdlm_request"
    _rdlm_shield=''
}

# rdlm__admin FUNCTION METHOD RESOURCE: METHOD /resources/RESOURCE on the servers, with the
# admin credentials of the environment.
rdlm__admin() {
    if [ $# -ne 3 ]; then
        rdlm__say "$1" "usage: $1 RESOURCE"
        return "$RDLM_EX_USAGE"
    fi
    rdlm__settings "$1" || return
    case $3 in
        '' | *[!a-zA-Z0-9]*) rdlm__say "$1" "a resource name is letters and digits, not '$3'"
                             return "$RDLM_EX_USAGE" ;;
    esac
    _rdlm_auth=''
    if [ -n "${RDLM_USER-}" ]; then
        case $RDLM_USER in *:* | *[[:cntrl:]]*)
            rdlm__say "$1" "RDLM_USER must not hold ':' or control characters"; return "$RDLM_EX_USAGE" ;;
        esac
        case ${RDLM_PASSWORD-} in *[[:cntrl:]]*)
            rdlm__say "$1" "RDLM_PASSWORD must not hold control characters"; return "$RDLM_EX_USAGE" ;;
        esac
        # curl's config syntax: a quoted value, with backslash and double quote escaped.
        _rdlm_auth="user = \"$(printf '%s:%s' "$RDLM_USER" "${RDLM_PASSWORD-}" | sed 's/[\\"]/\\&/g')\""
    fi
    rdlm__send "$2" '' "/resources/$3" "$_rdlm_request"
    _rdlm_auth=''
}

# rdlm_resource RESOURCE: prints the resource's JSON (its holder and waiters). Admin.
rdlm_resource() {
    rdlm__admin rdlm_resource GET "$@" || return
    if [ "$_rdlm_curl" -ne 0 ] || [ "$_rdlm_status" != 200 ]; then
        rdlm__failure rdlm_resource admin
        return
    fi
    # The body: what follows the blank line after the (last) header block.
    printf '%s\n' "$_rdlm_out" | awk '
        { sub(/\r$/, "") }
        !body && /^HTTP\/[0-9.]+ [0-9][0-9][0-9]/ { head = 1; next }
        head && /^$/ { head = 0; body = 1; next }
        body { print }'
}

# rdlm_delete_resource RESOURCE: ends the resource's lock and its waiters (they get
# "deleted"). Admin. 104 when the resource has none.
rdlm_delete_resource() {
    rdlm__admin rdlm_delete_resource DELETE "$@" || return
    if [ "$_rdlm_curl" -ne 0 ] || [ "$_rdlm_status" != 204 ]; then
        rdlm__failure rdlm_delete_resource admin
    fi
}

# rdlm__acquire FUNCTION RESOURCE LIFETIME WAIT MODE [TITLE]: sets _rdlm_location and
# _rdlm_token.
rdlm__acquire() {
    rdlm__settings "$1" || return
    _rdlm_resource=$2
    case $2 in
        '' | *[!a-zA-Z0-9]*) rdlm__say "$1" "a resource name is letters and digits, not '$2'"
                             return "$RDLM_EX_USAGE" ;;
    esac
    rdlm__seconds "$1" lifetime "$3" || return
    rdlm__seconds "$1" wait "$4" || return
    case $5 in
        exclusive) _rdlm_mode= ;;
        shared) _rdlm_mode=', "mode": "shared"' ;;
        *) rdlm__say "$1" "the mode is exclusive or shared, not '$5'"; return "$RDLM_EX_USAGE" ;;
    esac
    _rdlm_title=${6:-${RDLM_TITLE:-rdlm.sh on $(uname -n 2>/dev/null) pid $$}}
    case $_rdlm_title in
        *[\\\"]* | *[[:cntrl:]]*) _rdlm_title=$(printf '%s' "$_rdlm_title" | tr -d '\000-\037' | sed 's/[\\"]/\\&/g') ;;
    esac
    # The server may rightly hold the request for the whole wait (rounded up); 0: no limit.
    _rdlm_wait_whole=${4%%.*}
    _rdlm_max=0
    if [ "$_rdlm_request" != 0 ]; then _rdlm_max=$((_rdlm_wait_whole + 1 + _rdlm_request)); fi
    if ! _rdlm_request_id=$(od -An -N16 -tx1 /dev/urandom 2>/dev/null | tr -d ' \n') ||
        [ ${#_rdlm_request_id} -ne 32 ]; then
        _rdlm_request_id=''
        rdlm__say "$1" "cannot read /dev/urandom for the request id"
        return "$RDLM_EX_USAGE"
    fi
    _rdlm_first=''
    _rdlm_spent=0
    while :; do
        rdlm__send POST "$_rdlm_first" "/locks/$2" "$_rdlm_max" \
            "{\"title\": \"$_rdlm_title\", \"lifetime\": $3, \"wait\": $4$_rdlm_mode}"
        # A 503 for this id still waiting on an earlier attempt: again, same id, same server.
        case $_rdlm_curl:$_rdlm_status:$_rdlm_message in 0:503:*RDLM-Request-Id*) ;; *) break ;; esac
        _rdlm_spent=$((_rdlm_spent + 1))
        if [ "$_rdlm_max" != 0 ] && [ "$_rdlm_spent" -ge "$_rdlm_max" ]; then break; fi
        sleep 1
        _rdlm_first=$_rdlm_server
    done
    _rdlm_request_id=''
    case $_rdlm_location in # a relative Location: the server's scheme and authority
        /*) _rdlm_rest=${_rdlm_server#*://}
            _rdlm_location=${_rdlm_server%%://*}://${_rdlm_rest%%/*}$_rdlm_location ;;
    esac
    if [ "$_rdlm_curl" -ne 0 ] && [ "$_rdlm_status" = 201 ] && [ -n "$_rdlm_location" ]; then
        # Granted, but the answer was cut short: we fail, so the lock must not stay held.
        _rdlm_code=0
        rdlm__failure "$1" acquire || _rdlm_code=$?
        _rdlm_granted=$_rdlm_location
        rdlm__delete "$_rdlm_granted"
        if rdlm__released || { [ "$_rdlm_curl" -eq 0 ] && [ "$_rdlm_status" = 404 ]; }; then
            rdlm__say "$1" "the lock had been granted; it is released"
        else
            rdlm__say "$1" "the lock had been granted and its release failed: $_rdlm_granted expires after $3 s"
        fi
        return "$_rdlm_code"
    fi
    if [ "$_rdlm_curl" -ne 0 ] || [ "$_rdlm_status" != 201 ]; then
        rdlm__failure "$1" acquire
        return
    fi
    if [ -z "$_rdlm_location" ]; then
        rdlm__say "$1" "the server granted the lock without a Location header"
        return "$RDLM_EX_PROTOCOL"
    fi
}

# rdlm_acquire RESOURCE [LIFETIME] [WAIT]: waits up to WAIT seconds for the lock, prints its URL.
rdlm_acquire() {
    if [ $# -lt 1 ] || [ $# -gt 3 ]; then
        rdlm__say rdlm_acquire "usage: rdlm_acquire RESOURCE [LIFETIME] [WAIT]"
        return "$RDLM_EX_USAGE"
    fi
    rdlm__acquire rdlm_acquire "$1" "${2:-${RDLM_LIFETIME:-300}}" "${3:-${RDLM_WAIT:-10}}" \
        "${RDLM_MODE:-exclusive}" || return
    printf '%s\n' "$_rdlm_location"
}

# rdlm_acquire_token RESOURCE [LIFETIME] [WAIT]: like rdlm_acquire, but prints "URL TOKEN":
# the lock URL, one space, and the fencing token (empty when the server sends none).
rdlm_acquire_token() {
    if [ $# -lt 1 ] || [ $# -gt 3 ]; then
        rdlm__say rdlm_acquire_token "usage: rdlm_acquire_token RESOURCE [LIFETIME] [WAIT]"
        return "$RDLM_EX_USAGE"
    fi
    rdlm__acquire rdlm_acquire_token "$1" "${2:-${RDLM_LIFETIME:-300}}" "${3:-${RDLM_WAIT:-10}}" \
        "${RDLM_MODE:-exclusive}" || return
    printf '%s %s\n' "$_rdlm_location" "$_rdlm_token"
}

# rdlm_release URL: releases the lock (or cancels a waiting request). HUP, INT and TERM do
# not cut the request short (curl ignores them; the caller's traps still run).
rdlm_release() {
    if [ $# -ne 1 ] || [ -z "$1" ]; then
        rdlm__say rdlm_release "usage: rdlm_release LOCK_URL"
        return "$RDLM_EX_USAGE"
    fi
    rdlm__settings rdlm_release || return
    rdlm__delete "$1"
    if ! rdlm__released; then
        rdlm__failure rdlm_release release
    fi
}

# rdlm_refresh URL [LIFETIME]: the lock now expires LIFETIME seconds from now (default: its
# own lifetime). Never re-acquires a lost lock: 104 means it is gone.
rdlm_refresh() {
    if [ $# -lt 1 ] || [ $# -gt 2 ] || [ -z "$1" ]; then
        rdlm__say rdlm_refresh "usage: rdlm_refresh LOCK_URL [LIFETIME]"
        return "$RDLM_EX_USAGE"
    fi
    rdlm__settings rdlm_refresh || return
    if [ $# -eq 2 ]; then
        rdlm__seconds rdlm_refresh lifetime "$2" || return
        rdlm__send_about PATCH "$1" "$_rdlm_request" "{\"lifetime\": $2}"
    else
        rdlm__send_about PATCH "$1" "$_rdlm_request"
    fi
    if [ "$_rdlm_curl" -ne 0 ] || [ "$_rdlm_status" != 200 ]; then
        rdlm__failure rdlm_refresh refresh
    fi
}

# rdlm__refresher URL LIFETIME INTERVAL COMMAND_PID: renews the lease while the command
# lives. Exits 3 after stopping the command when the lock is gone, else 0 once TERM comes
# or the command has ended. It sleeps in the background so that TERM ends the sleep at once;
# the trap only takes note (and stops the sleep), so that a TERM arriving anywhere, even
# as the loop stops the command of a lost lock, cannot change the exit status. A TERM that
# comes before the trap is set can be lost (a subshell drops the parent's pending traps),
# but rdlm_with sends it only once it has reaped the command, so the loop's check that the
# command lives, made after the trap is set, catches that case.
rdlm__refresher() {
    _rdlm_sleep='' _rdlm_stop=''
    trap '_rdlm_stop=1; if [ -n "$_rdlm_sleep" ]; then kill "$_rdlm_sleep" 2>/dev/null || :; fi' TERM
    while [ -z "$_rdlm_stop" ] && kill -0 "$4" 2>/dev/null; do
        sleep "$3" >/dev/null 2>&1 &
        _rdlm_sleep=$!
        if [ -n "$_rdlm_stop" ]; then break; fi # TERM came before $! was known
        wait "$_rdlm_sleep" || :
        _rdlm_sleep=''
        if [ -n "$_rdlm_stop" ] || ! kill -0 "$4" 2>/dev/null; then break; fi
        rdlm__send_about PATCH "$1" "$_rdlm_request" "{\"lifetime\": $2}"
        if [ "$_rdlm_curl" -eq 0 ] && [ "$_rdlm_status" = 404 ]; then
            rdlm__say rdlm_with "the lock was lost (deleted by an admin, or the server lost it); stopping the command"
            kill -s TERM "$4" 2>/dev/null || :
            exit 3
        elif [ "$_rdlm_curl" -ne 0 ] || [ "$_rdlm_status" != 200 ]; then
            rdlm__failure rdlm_with refresh || : # reported; the lease may still be alive: retry
        fi
    done
    if [ -n "$_rdlm_sleep" ]; then kill "$_rdlm_sleep" 2>/dev/null || :; fi
    exit 0
}

rdlm__on_signal() { # SIGNAL: the trap of rdlm_with; the work happens after the wait returns
    _rdlm_w_signal=$1
    _rdlm_w_trapped=1
    if [ -n "${_rdlm_w_command-}" ]; then kill -s TERM "$_rdlm_w_command" 2>/dev/null || :; fi
}

# rdlm__with_wait PID: waits until the child has exited and sets _rdlm_w_waited to its
# status. A trapped signal makes wait return early (status > 128) while the child still
# runs: wait again until a wait returns with no signal caught meanwhile.
rdlm__with_wait() {
    _rdlm_w_waited=''
    while :; do
        _rdlm_w_trapped=''
        if wait "$1"; then _rdlm_w_got=0; else _rdlm_w_got=$?; fi
        if [ -z "$_rdlm_w_trapped" ]; then
            # 127 here: the previous wait had already collected the status.
            if [ "$_rdlm_w_got" -ne 127 ] || [ -z "$_rdlm_w_waited" ]; then _rdlm_w_waited=$_rdlm_w_got; fi
            return 0
        fi
        _rdlm_w_waited=$_rdlm_w_got
    done
}

rdlm__with_usage() {
    rdlm__say rdlm_with "$1"
    rdlm__say rdlm_with "usage: rdlm_with RESOURCE [--lifetime N] [--wait N] [--title T] [--shared] [--no-refresh] -- COMMAND [ARGS...]"
    exit "$RDLM_EX_USAGE"
}

# rdlm__with_end STATUS: releases the lock, then exits the subshell with STATUS, or dies of
# the signal it caught.
rdlm__with_end() {
    _rdlm_w_status=$1
    if [ -n "$_rdlm_w_lock" ]; then
        rdlm__delete "$_rdlm_w_lock"
        if [ "$_rdlm_curl" -eq 0 ] && [ "$_rdlm_status" = 404 ] && [ "$_rdlm_w_status" -ne "$RDLM_EX_LOST" ]; then
            rdlm__say rdlm_with "the lock had expired before the command ended: choose a longer --lifetime"
        elif ! rdlm__released && { [ "$_rdlm_curl" -ne 0 ] || [ "$_rdlm_status" != 404 ]; }; then
            rdlm__failure rdlm_with release || rdlm__say rdlm_with "the lock expires by itself"
        fi
    fi
    if [ -n "$_rdlm_w_signal" ]; then
        trap - "$_rdlm_w_signal"
        _rdlm_w_self=$(exec sh -c 'echo "$PPID"') # this subshell's pid ($$ is the caller's)
        kill -s "$_rdlm_w_signal" "$_rdlm_w_self" 2>/dev/null || :
        case $_rdlm_w_signal in HUP) _rdlm_w_status=129 ;; INT) _rdlm_w_status=130 ;; *) _rdlm_w_status=143 ;; esac
    fi
    exit "$_rdlm_w_status"
}

# rdlm_with RESOURCE [options] -- COMMAND [ARGS...]: runs COMMAND holding the lock.
rdlm_with() (
    if [ $# -lt 1 ]; then rdlm__with_usage "no resource"; fi
    _rdlm_w_resource=$1
    shift
    _rdlm_w_lifetime=${RDLM_LIFETIME:-60} _rdlm_w_wait=${RDLM_WAIT:-10}
    _rdlm_w_mode=exclusive _rdlm_w_refresh=1 _rdlm_w_title=${RDLM_TITLE-}
    while [ $# -gt 0 ]; do
        case $1 in
            --lifetime | --wait | --title)
                if [ $# -lt 2 ]; then rdlm__with_usage "$1 needs a value"; fi
                case $1 in
                    --lifetime) _rdlm_w_lifetime=$2 ;;
                    --wait) _rdlm_w_wait=$2 ;;
                    *) _rdlm_w_title=$2 ;;
                esac
                shift 2 ;;
            --lifetime=*) _rdlm_w_lifetime=${1#*=}; shift ;;
            --wait=*) _rdlm_w_wait=${1#*=}; shift ;;
            --title=*) _rdlm_w_title=${1#*=}; shift ;;
            --shared) _rdlm_w_mode=shared; shift ;;
            --no-refresh) _rdlm_w_refresh=0; shift ;;
            --) shift; break ;;
            -*) rdlm__with_usage "unknown option $1" ;;
            *) break ;;
        esac
    done
    if [ $# -eq 0 ]; then rdlm__with_usage "no command"; fi
    rdlm__seconds rdlm_with lifetime "$_rdlm_w_lifetime" || exit
    # Renewal every LIFETIME/3 whole seconds, at least 1: under 2 s it would come too late.
    if [ "$_rdlm_w_refresh" = 1 ] && [ "${_rdlm_w_lifetime%%.*}" -lt 2 ]; then
        rdlm__say rdlm_with "a lease renewed in whole seconds needs --lifetime 2 or more, not $_rdlm_w_lifetime (or --no-refresh)"
        exit "$RDLM_EX_USAGE"
    fi

    _rdlm_w_signal='' _rdlm_w_command='' _rdlm_w_lock=''
    trap 'rdlm__on_signal HUP' HUP
    trap 'rdlm__on_signal INT' INT
    trap 'rdlm__on_signal TERM' TERM

    if rdlm__acquire rdlm_with "$_rdlm_w_resource" "$_rdlm_w_lifetime" "$_rdlm_w_wait" \
        "$_rdlm_w_mode" "$_rdlm_w_title"; then
        _rdlm_w_lock=$_rdlm_location
    else
        rdlm__with_end $?
    fi
    if [ -n "$_rdlm_w_signal" ]; then rdlm__with_end 1; fi

    # A non-interactive shell gives a background command /dev/null as stdin: hand it ours,
    # unless ours is closed, through a descriptor the caller has closed (so every descriptor
    # the caller has open reaches the command unchanged), only for the moment of the start.
    _rdlm_w_fd=''
    if { true <&0; } 2>/dev/null; then
        for _rdlm_w_n in 9 8 7 6 5 4 3; do
            if ! { true <&"$_rdlm_w_n"; } 2>/dev/null; then _rdlm_w_fd=$_rdlm_w_n; break; fi
        done
    fi
    if [ -n "$_rdlm_w_fd" ]; then
        eval "{ RDLM_LOCK_URL=\$_rdlm_w_lock RDLM_FENCING_TOKEN=\$_rdlm_token \"\$@\" 0<&$_rdlm_w_fd $_rdlm_w_fd<&- & } $_rdlm_w_fd<&0"
    else
        RDLM_LOCK_URL=$_rdlm_w_lock RDLM_FENCING_TOKEN=$_rdlm_token "$@" &
    fi
    _rdlm_w_command=$!
    if [ -n "$_rdlm_w_signal" ]; then kill -s TERM "$_rdlm_w_command" 2>/dev/null || :; fi
    _rdlm_w_refresher=''
    if [ "$_rdlm_w_refresh" = 1 ]; then
        _rdlm_w_interval=${_rdlm_w_lifetime%%.*}
        _rdlm_w_interval=$((_rdlm_w_interval / 3))
        if [ "$_rdlm_w_interval" -lt 1 ]; then _rdlm_w_interval=1; fi
        rdlm__refresher "$_rdlm_w_lock" "$_rdlm_w_lifetime" "$_rdlm_w_interval" "$_rdlm_w_command" \
            </dev/null >/dev/null &
        _rdlm_w_refresher=$!
    fi

    rdlm__with_wait "$_rdlm_w_command"
    _rdlm_w_result=$_rdlm_w_waited
    _rdlm_w_command='' # reaped: a later signal must not TERM whatever reuses its pid
    if [ -n "$_rdlm_w_refresher" ]; then
        kill -s TERM "$_rdlm_w_refresher" 2>/dev/null || :
        # It may be mid-renewal: never leave it behind. If the TERM came before its trap was
        # set, it died of it, harmlessly; 2>/dev/null keeps dash from saying "Terminated".
        rdlm__with_wait "$_rdlm_w_refresher" 2>/dev/null
        if [ "$_rdlm_w_waited" = 3 ]; then _rdlm_w_result=$RDLM_EX_LOST; fi
    fi
    rdlm__with_end "$_rdlm_w_result"
)
