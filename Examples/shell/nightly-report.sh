#!/bin/sh
# A cron job that must never run twice at once, even when cron starts it on two hosts:
#   0 2 * * *  RDLM_SERVER=http://locks.internal:8888 /opt/jobs/nightly-report.sh
# rdlm_with holds the lock for as long as the work runs (renewing it); a copy started
# meanwhile skips (JOB_WAIT=0, the default) or queues for up to JOB_WAIT seconds.
# JOB_LOG is where the work writes (default /tmp/nightly-report.log); JOB_RESOURCE names
# the lock (default nightlyreport).
set -u
here=$(cd "$(dirname "$0")" && pwd)
# shellcheck source-path=SCRIPTDIR source=../../Clients/shell/rdlm.sh
. "$here/../../Clients/shell/rdlm.sh"
log=${JOB_LOG:-/tmp/nightly-report.log}

if [ "${1-}" = --work ]; then
    # The work itself, run under the lock. The marker directory catches an overlap: mkdir
    # fails when another run is inside.
    mkdir "$log.running" 2>/dev/null || echo "OVERLAP pid $$" >> "$log"
    echo "start pid $$ at $(date '+%H:%M:%S') token $RDLM_FENCING_TOKEN" >> "$log"
    sleep 2
    echo "end pid $$ at $(date '+%H:%M:%S')" >> "$log"
    rmdir "$log.running"
    exit 0
fi

# The work is this script again, by its full path (so that `sh nightly-report.sh` works from
# its own folder too), run by sh (so that it need not be executable).
rdlm_with "${JOB_RESOURCE:-nightlyreport}" --lifetime 30 --wait "${JOB_WAIT:-0}" -- sh "$here/${0##*/}" --work
status=$?
if [ "$status" -eq "$RDLM_EX_TIMEOUT" ]; then
    echo "skipped pid $$: another run holds the lock" >> "$log"
    exit 0
fi
exit "$status"
