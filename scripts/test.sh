#!/usr/bin/env bash
# Runs every test: the Swift test suites, then the original RDLM's Python client, the
# README's curl tour, the C and shell clients and the examples against live daemons, a
# kill -9 durability test, then a graceful-shutdown check.
# Installs the system packages it needs when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

ensure_packages ca-certificates git curl python3 python3-venv libcurl4-openssl-dev \
    gcc g++ libc6-dev dash valgrind shellcheck etcd-server etcd-client

echo "==> swift build" >&2
swift build --build-tests

work=$(mktemp -d)
pids=()
cleanup() {
    for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
    scripts/etcd-cluster.sh stop "$work/etcd" 2>/dev/null || true
    rm -rf "$work"
}
trap cleanup EXIT

# RDLMEtcdTests run against a real 3-member cluster; some of them kill and restart members.
scripts/etcd-cluster.sh start "$work/etcd"
export RDLM_TEST_ETCD_DIR="$work/etcd"
echo "==> swift test" >&2
swift test --skip-build

# A Python environment with rdlm-py, kept in .build so later runs reuse it.
venv=.build/compat-venv
if ! "$venv/bin/python" -c 'import rdlmpy, pytest' 2>/dev/null; then
    echo "==> installing rdlm-py 0.2.0 and pytest into $venv" >&2
    rm -rf "$venv"
    python3 -m venv "$venv"
    "$venv/bin/pip" install -q --disable-pip-version-check requests pytest setuptools wheel
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
auth_port=$(free_port)
printf 'admin:s3cret\nops:other\n' > "$work/admins"
start_daemon "$auth_port" --admin_userpass_file "$work/admins"

echo "==> rdlm-py (the original Python client) against rdlmd" >&2
RDLM_PORT=$open_port RDLM_AUTH_PORT=$auth_port RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
    "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/compat/test_rdlm_py.py

echo "==> README curl tour" >&2
Tests/compat/curl_tour.sh "http://127.0.0.1:$open_port"

echo "==> C client: rdlm.h builds warning-free as C99 and C++11; its tests (one daemon, then several servers) run as C under valgrind, then as C++" >&2
c_flags=(-Wall -Wextra -Werror -pedantic -pthread -I Clients/c)
gcc -std=c99 "${c_flags[@]}" -g -o "$work/test_rdlm" Clients/c/test_rdlm.c -lcurl
g++ -std=c++11 "${c_flags[@]}" -x c++ -o "$work/test_rdlm_cxx" Clients/c/test_rdlm.c -lcurl
RDLM_AUTH_URL="http://127.0.0.1:$auth_port" RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
    valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
    --log-file="$work/valgrind.log" "$work/test_rdlm" "http://127.0.0.1:$open_port"
grep -E 'ERROR SUMMARY|definitely lost|All heap blocks' "$work/valgrind.log" | sed 's/^==[0-9]*== /valgrind: /'
# The C++ build, without valgrind; its base URL ends with a slash, which the client drops.
RDLM_AUTH_URL="http://127.0.0.1:$auth_port/" RDLM_AUTH_USER=admin RDLM_AUTH_PASSWORD=s3cret \
    "$work/test_rdlm_cxx" "http://127.0.0.1:$open_port/"
# Several servers: dead ones (closed ports) and scripted ones around the live daemon.
gcc -std=c99 "${c_flags[@]}" -g -o "$work/test_failover" Clients/c/test_failover.c -lcurl
g++ -std=c++11 "${c_flags[@]}" -x c++ -o "$work/test_failover_cxx" Clients/c/test_failover.c -lcurl
valgrind --leak-check=full --errors-for-leak-kinds=definite,indirect,possible --error-exitcode=1 \
    --log-file="$work/valgrind-failover.log" "$work/test_failover" "http://127.0.0.1:$open_port"
grep -E 'ERROR SUMMARY|definitely lost|All heap blocks' "$work/valgrind-failover.log" | sed 's/^==[0-9]*== /valgrind: /'
"$work/test_failover_cxx" "http://127.0.0.1:$open_port/"

echo "==> shell client: shellcheck, then its tests under dash and under bash" >&2
shell_scripts=(Clients/shell/rdlm.sh Clients/shell/test_rdlm.sh Examples/shell/nightly-report.sh
               Examples/shell/run.sh Examples/c/run.sh Examples/swift/run.sh)
shellcheck -x -s sh "${shell_scripts[@]}"
shellcheck -x -s bash Clients/shell/rdlm.sh
echo "shellcheck: ${#shell_scripts[@]} scripts clean (as sh; rdlm.sh also as bash)"
dash Clients/shell/test_rdlm.sh "http://127.0.0.1:$open_port"
bash Clients/shell/test_rdlm.sh "http://127.0.0.1:$open_port"

echo "==> examples: the C and Swift counters, exact with the lock; the shell cron job, never overlapping" >&2
Examples/c/run.sh "http://127.0.0.1:$open_port"
Examples/swift/run.sh "http://127.0.0.1:$open_port" .build/debug/counter-example
Examples/shell/run.sh "http://127.0.0.1:$open_port"

echo "==> rdlm, the command-line client: every command, exec's signals and lock loss, bench" >&2
RDLM=.build/debug/rdlm RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/cli

echo "==> durability: rdlmd --data-dir killed with SIGKILL 20 times loses nothing it acknowledged" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/durability/test_crash.py

echo "==> hostile load: floods, slow requests, bad Host, early FIN, quotas, out of descriptors, --max-connections, ambiguous JSON" >&2
RDLMD=.build/debug/rdlmd "$venv/bin/python" -m pytest -q -p no:cacheprovider Tests/hostile

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
