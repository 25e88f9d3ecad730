#!/usr/bin/env bash
# A 3-member etcd cluster on loopback, for the etcd backend's tests (issue 13).
#
#   etcd-cluster.sh start DIR            3 members m1..m3, data in DIR/mN, logs DIR/mN.log;
#                                        returns once a linearizable read answers through each
#                                        (a DIR that held a cluster: its members again)
#   etcd-cluster.sh stop DIR             stops every member and waits for it to exit
#   etcd-cluster.sh stop-member DIR N    SIGKILL, as a crash (data stays for start-member)
#   etcd-cluster.sh start-member DIR N   restarts member N on its data dir and ports; it rejoins
#   etcd-cluster.sh pause-member DIR N   SIGSTOP: alive to TCP, answers nothing
#   etcd-cluster.sh resume-member DIR N  SIGCONT
#   etcd-cluster.sh wait-healthy DIR     waits until every running member serves linearizable reads
#
# DIR/endpoints holds the client URLs, comma-separated in member order; DIR/member-N.env
# what restarting member N needs; DIR/member-N.pid its process. Ports are free ones, never
# 2379/2380, so a system etcd (Debian's package starts one where it can) is no matter.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=lib.sh
. "$(dirname "$0")/lib.sh"

members=(1 2 3)

usage() {
    sed -n '4,12p' "$0" | sed 's/^# \{0,1\}//' >&2
    exit 2
}

# The system service the package may have started would only compete for CPU; stop it if
# this machine runs systemd, and otherwise leave it (it is on ports this script never uses).
stop_system_etcd() {
    if command -v systemctl >/dev/null 2>&1 && [ -d /run/systemd/system ]; then
        local sudo=""
        [ "$(id -u)" -ne 0 ] && sudo="sudo -n"
        $sudo systemctl disable --now etcd >/dev/null 2>&1 || true
    fi
}

ensure_etcd() {
    if ! command -v etcd >/dev/null 2>&1 || ! command -v etcdctl >/dev/null 2>&1; then
        ensure_packages etcd-server etcd-client
        stop_system_etcd
    fi
}

# member_setting DIR N NAME: a value from DIR/member-N.env.
member_setting() { sed -n "s/^$3=//p" "$1/member-$2.env"; }

# run_member DIR N: starts member N from DIR/member-N.env in the background.
run_member() {
    local dir=$1 n=$2 client_url peer_url initial_cluster
    client_url=$(member_setting "$dir" "$n" client_url)
    peer_url=$(member_setting "$dir" "$n" peer_url)
    initial_cluster=$(member_setting "$dir" "$n" initial_cluster)
    local state=new
    [ -d "$dir/m$n/member" ] && state=existing
    # setsid: the member outlives this script and gets no signal meant for its caller.
    setsid etcd --name "m$n" --data-dir "$dir/m$n" \
        --listen-client-urls "$client_url" --advertise-client-urls "$client_url" \
        --listen-peer-urls "$peer_url" --initial-advertise-peer-urls "$peer_url" \
        --initial-cluster "$initial_cluster" --initial-cluster-token "rdlm-test" \
        --initial-cluster-state "$state" \
        --heartbeat-interval 100 --election-timeout 1000 \
        --experimental-watch-progress-notify-interval 1s \
        --logger zap --log-outputs stderr \
        </dev/null >>"$dir/m$n.log" 2>&1 &
    echo $! >"$dir/member-$n.pid"
}

member_pid() { cat "$1/member-$2.pid" 2>/dev/null || true; }

# alive PID: the process runs. A killed member whose parent has gone stays a zombie where
# nothing reaps orphans (a container's init may not), and kill -0 still finds a zombie.
alive() {
    local state
    state=$(ps -o stat= -p "$1" 2>/dev/null) || return 1
    [[ $state != Z* ]]
}

member_running() {
    local pid
    pid=$(member_pid "$1" "$2")
    [ -n "$pid" ] && alive "$pid"
}

# member_answers DIR N: a linearizable read through member N succeeds.
member_answers() {
    local client_url
    client_url=$(member_setting "$1" "$2" client_url)
    ETCDCTL_API=3 etcdctl --endpoints "$client_url" --dial-timeout 1s --command-timeout 1s \
        get --consistency=l health-probe >/dev/null 2>&1
}

# wait_healthy DIR SECONDS: every running member answers a linearizable read.
wait_healthy() {
    local dir=$1 deadline=$((SECONDS + $2)) n pending
    while true; do
        pending=""
        for n in "${members[@]}"; do
            member_running "$dir" "$n" && ! member_answers "$dir" "$n" && pending+=" m$n"
        done
        [ -z "$pending" ] && return 0
        if [ $SECONDS -ge "$deadline" ]; then
            echo "etcd cluster in $dir: no linearizable read through$pending after $2 s (logs: $dir/m*.log)" >&2
            return 1
        fi
        sleep 0.1
    done
}

start_cluster() {
    local dir=$1 n initial_cluster="" endpoints=""
    ensure_etcd
    if [ -f "$dir/endpoints" ]; then
        # A cluster made here before: its data dirs know their peers' ports, so it comes back
        # on the same ones.
        for n in "${members[@]}"; do member_running "$dir" "$n" || run_member "$dir" "$n"; done
        wait_healthy "$dir" 60
        return
    fi
    local -A client peer
    for n in "${members[@]}"; do
        client[$n]="http://127.0.0.1:$(free_port)"
        peer[$n]="http://127.0.0.1:$(free_port)"
        initial_cluster+="${initial_cluster:+,}m$n=${peer[$n]}"
        endpoints+="${endpoints:+,}${client[$n]}"
    done
    for n in "${members[@]}"; do
        printf 'client_url=%s\npeer_url=%s\ninitial_cluster=%s\n' \
            "${client[$n]}" "${peer[$n]}" "$initial_cluster" >"$dir/member-$n.env"
        run_member "$dir" "$n"
    done
    echo "$endpoints" >"$dir/endpoints"
    wait_healthy "$dir" 60
    echo "etcd cluster up in $dir: $endpoints" >&2
}

# signal_member DIR N SIGNAL
signal_member() {
    local pid
    pid=$(member_pid "$1" "$2")
    [ -n "$pid" ] || { echo "no member $2 in $1" >&2; return 1; }
    kill "-$3" "$pid" 2>/dev/null || true
}

wait_exit() { # wait_exit PID SECONDS
    local deadline=$((SECONDS + $2))
    while alive "$1"; do
        [ $SECONDS -ge "$deadline" ] && return 1
        sleep 0.05
    done
}

stop_member() {
    local dir=$1 n=$2 pid
    pid=$(member_pid "$dir" "$n")
    [ -n "$pid" ] || return 0
    kill -KILL "$pid" 2>/dev/null || true
    wait_exit "$pid" 10
}

start_member() {
    local dir=$1 n=$2
    member_running "$dir" "$n" && { echo "member $n in $dir is already running" >&2; return 0; }
    run_member "$dir" "$n"
    wait_healthy "$dir" 60
}

stop_cluster() {
    local dir=$1 n pid
    for n in "${members[@]}"; do
        pid=$(member_pid "$dir" "$n")
        [ -n "$pid" ] || continue
        kill -CONT "$pid" 2>/dev/null || true  # a paused member cannot act on SIGTERM
        kill -TERM "$pid" 2>/dev/null || true
    done
    for n in "${members[@]}"; do
        pid=$(member_pid "$dir" "$n")
        [ -n "$pid" ] || continue
        wait_exit "$pid" 10 || { kill -KILL "$pid" 2>/dev/null || true; wait_exit "$pid" 5; }
    done
}

[ $# -ge 2 ] || usage
command=$1
mkdir -p "$2"
dir=$(cd "$2" && pwd)
case "$command" in
    start) [ $# -eq 2 ] || usage; start_cluster "$dir" ;;
    stop) [ $# -eq 2 ] || usage; stop_cluster "$dir" ;;
    wait-healthy) [ $# -eq 2 ] || usage; wait_healthy "$dir" 60 ;;
    stop-member) [ $# -eq 3 ] || usage; stop_member "$dir" "$3" ;;
    start-member) [ $# -eq 3 ] || usage; start_member "$dir" "$3" ;;
    pause-member) [ $# -eq 3 ] || usage; signal_member "$dir" "$3" STOP ;;
    resume-member) [ $# -eq 3 ] || usage; signal_member "$dir" "$3" CONT ;;
    *) usage ;;
esac
