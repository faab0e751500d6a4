#!/usr/bin/env bash
# Stop the daemons tests/slurm/start_cluster.sh started in STATE_DIR, by their pids:
# cancel this cluster's remaining jobs, then TERM slurmd, slurmctld and munged,
# KILL any still alive after 10 s, then any job process left behind (environment
# SLURM_CONF=STATE_DIR/slurm.conf and a SLURM_JOB_ID).  Safe to run twice.
set -uo pipefail
state=${1:?usage: stop_cluster.sh STATE_DIR}
export PATH=$PATH:/usr/sbin SLURM_CONF=$state/slurm.conf
[[ -f $state/slurmctld.pid ]] && kill -0 "$(cat "$state/slurmctld.pid")" 2>/dev/null \
    && timeout 10 scancel --full --cluster=mtltest --user="$(id -un)" 2>/dev/null
for d in slurmd slurmctld munged; do
    f=$state/$d.pid
    [[ -f $f ]] || continue
    pid=$(cat "$f")
    if kill -0 "$pid" 2>/dev/null; then
        kill -TERM "$pid"
        for _ in $(seq 100); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -0 "$pid" 2>/dev/null && kill -KILL "$pid"
    fi
    rm -f "$f"
done
# job processes the daemons left behind (their environment names this cluster and a job)
for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    [[ $pid == "$$" ]] && continue
    tr '\0' '\n' 2>/dev/null <"$env" | grep -qx "SLURM_CONF=$state/slurm.conf" || continue
    tr '\0' '\n' 2>/dev/null <"$env" | grep -q "^SLURM_JOB_ID=" || continue
    kill -KILL "$pid" 2>/dev/null
done
exit 0
