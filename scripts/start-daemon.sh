#!/usr/bin/env bash
# Builds rdlmd (release) and runs it in the foreground. Arguments go to rdlmd:
#   ./scripts/start-daemon.sh --port 8888 --admin-userpass-file yes
# Ctrl-C or SIGTERM stops it gracefully.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib.sh

# libcurl4-openssl-dev and libcrypt-dev: the build links libcurl (RDLMClient) and libxcrypt.
ensure_packages ca-certificates git libcurl4-openssl-dev libcrypt-dev
echo "==> building rdlmd (release)" >&2
swift build -c release --product rdlmd >&2
exec .build/release/rdlmd "$@"
