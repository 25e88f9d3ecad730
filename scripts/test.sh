#!/usr/bin/env bash
# Runs every test: the Swift test suites (two 3-member etcd clusters running), then the
# original RDLM's Python client, the README's curl tour, the C, shell and command-line
# clients against live daemons (in memory, then three sharing a lock space on etcd), the
# examples, a kill -9 durability test, hostile load, operations (signals, systemd, metrics,
# the event stream), the admin page in headless Chromium, TLS (curl and every client over
# HTTPS and mutual TLS), the daemon fuzzed against its OpenAPI document with schemathesis in
# each admin mode, the etcd backend's fault test and failure bounds, a benchmark smoke run,
# then a graceful-shutdown check.
# Installs the system packages it needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# libcrypt-dev: rdlmd checks hashed admin passwords with libxcrypt; apache2-utils (htpasswd)
# and whois (mkpasswd) make the hashed admin files below and in Tests/ops and Tests/cli;
# openssl makes the TLS tests' certificates; chromium and chromium-driver run the admin page's
# tests (Selenium drives them).
ensure_packages ca-certificates git curl python3 python3-venv libcurl4-openssl-dev libcrypt-dev \
    apache2-utils whois gcc g++ libc6-dev dash valgrind shellcheck etcd-server etcd-client systemd openssl \
    chromium chromium-driver

echo "==> swift build" >&2
swift build --build-tests

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/etcd-cluster.sh stop "$work/etcd" 2>/dev/null || true
    scripts/etcd-cluster.sh stop "$work/etcd-faults" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# Real 3-member clusters: one for the etcd backend's tests and the suites below, and one
# for RDLMEtcdTests, which kill and restart its members while the others run.
scripts/etcd-cluster.sh start "$work/etcd"
scripts/etcd-cluster.sh start "$work/etcd-faults"
export RDLM_TEST_ETCD_DIR="$work/etcd" RDLM_TEST_ETCD_FAULT_DIR="$work/etcd-faults"
echo "==> swift test" >&2
swift test --skip-build

# A Python environment with rdlm-py, pytest and schemathesis, kept in .build so later runs
# reuse it.
venv=.build/compat-venv
if ! "$venv/bin/python" -c 'import rdlmpy, pytest, prometheus_client, schemathesis, selenium, jsonschema, yaml' 2>/dev/null; then
    echo "==> installing rdlm-py 0.2.0, pytest, prometheus-client, schemathesis, selenium, jsonschema and pyyaml into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check requests pytest setuptools wheel prometheus-client \
        schemathesis==4.32.5 selenium jsonschema pyyaml
    "$venv/bin/python" Tests/compat/install_rdlm_py.py
fi

start_daemon() { # start_daemon PORT FLAGS... : starts a debug rdlmd in the background
    local port=$1; shift
    .build/debug/rdlmd --port "$port" "$@" 2>>"$work/rdlmd-$port.log" &
    pids+=($!)
    wait_for_http "http://127.0.0.1:$port/" 30
}

open_port=$(free_port)
start_daemon "$open_port" --admin-userpass-file yes
# The daemons whose admin requests need credentials hold them hashed, as the README says
# to: admin:s3cret in bcrypt (htpasswd -B), ops:other in yescrypt (mkpasswd), so every
# client suite's admin tests go through libxcrypt. Each suite offers one wrong password
# too, all from 127.0.0.1: a failure limit above their sum keeps them from the 429 that
# Tests/ops/test_hashed_credentials.py checks.
auth_port=$(free_port)
{ htpasswd -nbB admin s3cret | sed '/^$/d'; echo "ops:$(mkpasswd -m yescrypt other)"; } > "$work/admins"
# shellcheck disable=SC2016 # the $ are the hashes' own
grep -q '^admin:\$2y\$' "$work/admins" || { echo "htpasswd -nbB made no bcrypt line" >&2; exit 1; }
# shellcheck disable=SC2016
grep -q '^ops:\$y\$' "$work/admins" || { echo "mkpasswd -m yescrypt made no yescrypt line" >&2; exit 1; }
auth_flags=(--admin_userpass_file "$work/admins" --admin-login-failures 20)
start_daemon "$auth_port" "${auth_flags[@]}"

c_flags=(-Wall -Wextra -Werror -pedantic -pthread -I Clients/c)
for test in test_rdlm test_failover; do
    gcc -std=c99 "${c_flags[@]}" -g -o "$work/$test" "Clients/c/$test.c" -lcurl
    g++ -std=c++11 "${c_flags[@]}" -x c++ -o "$work/${test}_cxx" "Clients/c/$test.c" -lcurl
done
echo "rdlm.h: test_rdlm.c and test_failover.c build warning-free as C99 and as C++11"

echo "==> shellcheck" >&2
shell_scripts=(Clients/shell/rdlm.sh Clients/shell/test_rdlm.sh Examples/shell/nightly-report.sh
               Examples/shell/run.sh Examples/c/run.sh Examples/swift/run.sh)
shellcheck -x -s sh "${shell_scripts[@]}"
shellcheck -x -s bash Clients/shell/rdlm.sh
echo "shellcheck: ${#shell_scripts[@]} scripts clean (as sh; rdlm.sh also as bash)"

# client_suites BACKEND OPEN_PORT AUTH_PORT: every client's contract tests against a daemon
# with open admin requests and one that asks for credentials. Run against the in-memory
# daemons, then against daemons of a cluster on etcd.
client_suites() {
    local backend=$1 open=$2 auth=$3
    echo "==> [$backend] rdlm-py (the original Python client)" >&2
    RDLM_PORT=$open RDLM_AUTH_PORT=$auth RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
        "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/compat/test_rdlm_py.py

    echo "==> [$backend] README curl tour" >&2
    Tests/compat/curl_tour.sh "http://127.0.0.1:$open"

    echo "==> [$backend] C client: its tests (one daemon, then several servers) as C under valgrind, then as C++" >&2
    local test
    for test in test_rdlm test_failover; do
        RDLM_AUTH_URL="http://127.0.0.1:$auth" RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
            valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
            --log-file="$work/valgrind-$test.log" "$work/$test" "http://127.0.0.1:$open"
        grep -E 'ERROR SUMMARY|definitely lost|All heap blocks' "$work/valgrind-$test.log" | sed 's/^==[0-9]*== /valgrind: /'
        # The C++ build, without valgrind; its base URL ends with a slash, which the client drops.
        RDLM_AUTH_URL="http://127.0.0.1:$auth/" RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
            "$work/${test}_cxx" "http://127.0.0.1:$open/"
    done

    echo "==> [$backend] shell client under dash (admin: bcrypt) and under bash (ops: yescrypt)" >&2
    RDLM_AUTH_URL="http://127.0.0.1:$auth" RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
        dash Clients/shell/test_rdlm.sh "http://127.0.0.1:$open"
    RDLM_AUTH_URL="http://127.0.0.1:$auth" RDLM_AUTH_USER=ops RDLM_AUTH_PASSWORD=other \
        bash Clients/shell/test_rdlm.sh "http://127.0.0.1:$open"
}
client_suites memory "$open_port" "$auth_port"

echo "==> examples: the C and Swift counters, exact with the lock; the shell cron job, never overlapping" >&2
Examples/c/run.sh "http://127.0.0.1:$open_port"
Examples/swift/run.sh "http://127.0.0.1:$open_port" .build/debug/counter-example
Examples/shell/run.sh "http://127.0.0.1:$open_port"

echo "==> rdlm, the command-line client: every command, exec's signals and lock loss, watch (GET /events), bench" >&2
RDLM=.build/debug/rdlm RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/cli

# Three daemons sharing one lock space on the cluster; the suites go through two of them
# (the cross-daemon cases are in RDLMServerTests' etcd suites).
etcd_endpoints=$(cat "$work/etcd/endpoints")
etcd_ports=()
for admin in open auth open; do
    port=$(free_port)
    flags=(--admin-userpass-file yes)
    [ "$admin" = auth ] && flags=("${auth_flags[@]}")
    start_daemon "$port" "${flags[@]}" --etcd-endpoints "$etcd_endpoints" --etcd-prefix /rdlm-suites/
    etcd_ports+=("$port")
done
client_suites etcd "${etcd_ports[0]}" "${etcd_ports[1]}"
echo "==> [etcd] GET /events: a stream on one daemon shows the changes made through the two others" >&2
# (its interrupted-watch case, on the fault cluster, runs with the rest of Tests/ops below)
RDLM_TEST_ETCD_ENDPOINTS=$etcd_endpoints RDLM_TEST_ETCD_FAULT_DIR= RDLMD=.build/debug/rdlmd \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/ops/test_events_etcd.py
echo "==> [etcd] rdlm, the command-line client" >&2
RDLM_TEST_ETCD_ENDPOINTS=$etcd_endpoints RDLM=.build/debug/rdlm RDLMD=.build/debug/rdlmd \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/cli

echo "==> durability: rdlmd --data-dir killed with SIGKILL 20 times loses nothing it acknowledged" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/durability/test_crash.py

echo "==> hostile load: floods, slow requests, bad Host, early FIN, quotas, out of descriptors, --max-connections, ambiguous JSON" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/hostile

echo "==> operations: SIGHUP reload of the admin file, hashed admin credentials (curl), the systemd unit, sd_notify readiness, JSON logs, /metrics, /events, waiters and limits answered as docs/openapi.yaml says" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/ops

echo "==> admin page /ui in headless Chromium: live locks within 1 s, countdowns, queue order, delete and hand-over, daemon lost and back, Basic and forbidden modes, keyboard, contrast; screenshots in ${RDLM_ARTEFACTS:-.build/ui-artefacts}" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/ui

echo "==> TLS: HTTPS, mutual TLS, admin by certificate, SIGHUP reload, hostile bytes; curl, openssl, rdlm, rdlm.h, rdlm.sh (certificates made by openssl now)" >&2
RDLMD=.build/debug/rdlmd RDLM=.build/debug/rdlm "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/tls

echo "==> OpenAPI: schemathesis fuzzes rdlmd against docs/openapi.yaml, in each admin mode" >&2
RDLMD=.build/debug/rdlmd SCHEMATHESIS="$venv/bin/schemathesis" Tests/openapi/run_schemathesis.sh

echo "==> etcd: fault test and failure bounds (3 daemons on a 3-member etcd cluster; kills, pauses, lost quorum)" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/etcd

echo "==> benchmark suite, smoke run: every scenario produces numbers (not timed; debug builds)" >&2
Benchmarks/run.sh --quick --debug --rdlmd .build/debug/rdlmd

echo "==> graceful shutdown: a parked waiter gets 503 and rdlmd exits within 2 s" >&2
curl -s -o /dev/null -X POST -d '{"title": "holder", "lifetime": 60, "wait": 0}' "http://127.0.0.1:$open_port/locks/shutdown"
curl -s -o "$work/waiter.out" -w '%{http_code}' -X POST -d '{"title": "waiter", "lifetime": 60, "wait": 60}' \
    "http://127.0.0.1:$open_port/locks/shutdown" > "$work/waiter.status" &
waiter=$!
for _ in $(seq 1 200); do
    curl -s "http://127.0.0.1:$open_port/resources/shutdown" | grep -q '"active":false' && break
    sleep 0.05
done
daemon=${pids[0]}
started=$(date +%s%N)
kill -TERM "$daemon"
wait "$daemon" && code=0 || code=$?
elapsed_ms=$(( ($(date +%s%N) - started) / 1000000 ))
wait "$waiter" || true
waiter_status=$(cat "$work/waiter.status")
echo "rdlmd exited with $code after ${elapsed_ms} ms; the waiter got $waiter_status"
[ "$code" -eq 0 ] && [ "$elapsed_ms" -lt 2000 ] && [ "$waiter_status" = 503 ] || { echo "graceful shutdown: FAILED" >&2; exit 1; }
echo "graceful shutdown: 1 passed, 0 failed"
echo "==> all tests passed" >&2
