#!/usr/bin/env bash
# The benchmark suite (issues 6 and 13). Builds release binaries, runs scenarios 1-7 and the
# chart against freshly started daemons (7: three over a fresh 3-member etcd cluster, from
# scripts/etcd-cluster.sh, beside etcd's own lock), prints the table of targets, and writes
# docs/benchmarks.md, docs/benchmarks.svg (the chart) and docs/benchmarks.json.
#
#   Benchmarks/run.sh              full run: 3 × 10 s per throughput figure (about 13 minutes)
#   Benchmarks/run.sh --quick      smoke run (under a minute once built): checks that every
#                                  scenario works, not how fast; report in a temporary folder
#
# Options:
#   --profile          also record the daemon with perf under scenarios 1 and 2 (and 7)
#   --no-original      skip the original RDLM (Python/Tornado) in the chart
#   --only LIST        run only some of: 1,2,3,4,5,6,7,tls,events,chart,original,profile
#                      (tls: the uncontended cycle over HTTPS and HTTP side by side,
#                      certificates made at run time with openssl; events: the same cycle
#                      with 10 `curl -N /events` consumers attached and with none)
#   --runs N           runs per throughput figure (default 3)
#   --duration S       seconds per run (default 10)
#   --rdlmd PATH       use this daemon binary instead of building one
#   --debug            debug builds (smoke runs: faster to build, slow to run)
#   --out FILE         write the report here instead
# Not a test: scripts/test.sh runs only `--quick`.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

invocation="$*"
quick=0 profile=0 original=1 config=release rdlmd="" passthrough=()
while [ $# -gt 0 ]; do
    case "$1" in
        --quick) quick=1; passthrough+=(--quick) ;;
        --profile) profile=1; passthrough+=(--profile) ;;
        --no-original) original=0 ;;
        --debug) config=debug ;;
        --rdlmd) rdlmd=$2; shift ;;
        --only|--runs|--duration|--out) passthrough+=("$1" "$2"); shift ;;
        -h|--help) sed -n '2,23p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
        *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    esac
    shift
done
[ "$quick" -eq 1 ] && original=0

# libcurl4-openssl-dev, libcrypt-dev: rdlm-loadgen links the root package, whose RDLMClient
# uses libcurl and whose rdlmd uses libxcrypt; openssl makes the TLS scenario's certificates.
packages=(python3 curl libcurl4-openssl-dev libcrypt-dev openssl)
[ "$quick" -eq 0 ] && packages+=(wrk)
[ "$profile" -eq 1 ] && packages+=(linux-perf)
ensure_packages "${packages[@]}"

# Scenario 3 parks 10,000 connections: a descriptor each in the daemon and in the generator.
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true
[ "$(ulimit -n)" -ge 10100 ] || echo "warning: open-file limit $(ulimit -n) is too low for 10,000 waiters" >&2

if [ -z "$rdlmd" ]; then
    echo "==> building rdlmd ($config) in .build-bench" >&2
    swift build -c "$config" --product rdlmd --scratch-path .build-bench >&2
    rdlmd="$(swift build -c "$config" --scratch-path .build-bench --show-bin-path)/rdlmd"
fi
echo "==> building rdlm-loadgen ($config)" >&2
swift build -c "$config" --package-path Benchmarks >&2
loadgen="$(swift build -c "$config" --package-path Benchmarks --show-bin-path)/rdlm-loadgen"

# The original RDLM 0.4.2 needs Tornado 4.5.3, and both need Python <= 3.9 (rdlm uses
# collections.Iterable, Tornado the other collections ABC aliases, removed in 3.10). The issue
# names a Python 3.7 from pyenv: used when pyenv has one built (this machine's image does; pyenv
# cannot download a new one here), else another pyenv 3.6-3.9, else Debian's PyPy (Python 3.9).
original_args=()
if [ "$original" -eq 1 ]; then
    old_python="" runtime=""
    for minor in 3.7 3.8 3.9 3.6; do
        for candidate in "${PYENV_ROOT:-$HOME/.pyenv}"/versions/"$minor".*/bin/python3; do
            [ -x "$candidate" ] && old_python=$candidate
        done
        [ -n "$old_python" ] && break
    done
    if [ -n "$old_python" ]; then
        runtime="CPython $("$old_python" -c 'import platform; print(platform.python_version())') from pyenv"
    elif ensure_packages pypy3 pypy3-venv; then
        old_python=$(command -v pypy3)
        runtime=$("$old_python" -c 'import platform, sys; print("PyPy %s (Python %s)" % (".".join(map(str, sys.pypy_version_info[:3])), platform.python_version()))')
    fi
    venv=".build-bench/rdlm-original-$(echo "$runtime" | tr -c 'a-zA-Z0-9.\n' '-' | tr '[:upper:]' '[:lower:]')"
    if [ -n "$old_python" ] && ! "$venv/bin/python" -c 'import rdlm, tornado; assert tornado.version == "4.5.3"' 2>/dev/null; then
        echo "==> installing the original RDLM 0.4.2 + Tornado 4.5.3 on $runtime in $venv" >&2
        rm -rf "$venv"
        if ! { "$old_python" -m venv "$venv" >&2 &&
            "$venv/bin/pip" install -q --disable-pip-version-check --no-deps tornado==4.5.3 rdlm==0.4.2 >&2; }; then
            rm -rf "$venv"
        fi
    fi
    if [ -n "$old_python" ] && [ -x "$venv/bin/python" ]; then
        how="PyPI's \`rdlm==0.4.2\` installed with \`--no-deps\` next to \`tornado==4.5.3\`, unmodified, in a virtual environment of $runtime, run as \`rdlm-daemon.py --port=PORT\` with its default options (it logs every request, as it does by default). Each of its daemons gets 8 s of the same load, not measured, before its first run."
        case "$runtime" in
            PyPy*) how="$how No CPython ≤ 3.9 was found (pyenv has none built, and pyenv cannot download one here; Debian 12 ships only CPython 3.11, on which rdlm and Tornado 4.5.3 fail to import), so the original runs on Debian's PyPy, unchanged. PyPy's JIT makes it faster than CPython once warm, which flatters the original." ;;
        esac
        original_args=(--original-venv "$venv" --original-how "$how" --original-runtime "$runtime")
    else
        original_args=(--original-missing "The original RDLM could not be installed (rdlm 0.4.2 and tornado 4.5.3 from PyPI on a Python ≤ 3.9 from pyenv, or on Debian's PyPy); see the run's output.")
    fi
fi

exec python3 Benchmarks/bench.py --loadgen "$loadgen" --rdlmd "$rdlmd" --invocation="$invocation" \
    ${original_args[@]+"${original_args[@]}"} ${passthrough[@]+"${passthrough[@]}"}
