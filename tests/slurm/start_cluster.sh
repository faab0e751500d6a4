#!/usr/bin/env bash
# Start a private single-node SLURM cluster (munged + slurmctld + slurmd) for tests.
#
#   eval "$(tests/slurm/start_cluster.sh STATE_DIR)"   # sets SLURM_CONF and PATH
#   tests/slurm/stop_cluster.sh  STATE_DIR     # stops exactly the daemons started here
#
# Everything lives in STATE_DIR: munge key and socket, slurm.conf, gres.conf, spool,
# logs and one pid file per daemon; the system's /etc/slurm and munge are not touched,
# ports are private (SLURM_TEST_PORT, default 16817/16818).  No job accounting
# (slurmdbd): Snakemake's slurm executor reads job states with `squeue`, which sees
# finished jobs for MinJobAge seconds (600 here).  The node advertises
# SLURM_TEST_GPUS (default 2) fake `gpu` GRES so `--gpus=1` requests schedule
# (and are limited to that many at a time) on a machine without GPUs.
#
# Missing packages are installed with apt when running as root and
# SLURM_TEST_INSTALL is not 0.  Exit codes: 0 up, 3 packages missing / not
# installable, 4 a daemon did not come up (details in STATE_DIR/*.log).
set -euo pipefail

state=${1:?usage: start_cluster.sh STATE_DIR}
mkdir -p "$state"
state=$(cd "$state" && pwd)
port=${SLURM_TEST_PORT:-16817}
gpus=${SLURM_TEST_GPUS:-2}

need=(munged mungekey slurmctld slurmd sbatch squeue scontrol srun)
missing() { for b in "${need[@]}"; do command -v "$b" >/dev/null 2>&1 || PATH=$PATH:/usr/sbin command -v "$b" >/dev/null 2>&1 || { echo "$b"; return 0; }; done; return 1; }
export PATH=$PATH:/usr/sbin
if missing >/dev/null; then
    if [[ $(id -u) -ne 0 || ${SLURM_TEST_INSTALL:-1} == 0 ]] || ! command -v apt-get >/dev/null; then
        echo "missing $(missing) and cannot install (need root + apt-get, SLURM_TEST_INSTALL!=0)" >&2
        exit 3
    fi
    # policy-rc.d keeps the packages' own service scripts from starting system daemons
    export DEBIAN_FRONTEND=noninteractive
    { apt-get update -q && apt-get install -y -q --no-install-recommends \
        munge slurmctld slurmd slurm-client; } >"$state/apt.log" 2>&1 \
        || { echo "apt-get install failed (see $state/apt.log)" >&2; exit 3; }
fi

for d in munged slurmctld slurmd; do
    if [[ -f $state/$d.pid ]] && kill -0 "$(cat "$state/$d.pid")" 2>/dev/null; then
        echo "$d already running from $state (pid $(cat "$state/$d.pid")); stop_cluster.sh first" >&2
        exit 4
    fi
done

host=$(hostname -s)
cpus=$(nproc)
# leave the OS some memory; SLURM rejects a node whose RealMemory exceeds what it has
mem_mb=$(( $(awk '/MemTotal/ {print $2}' /proc/meminfo) / 1024 * 9 / 10 ))
mkdir -p "$state/spool/ctld" "$state/spool/d" "$state/munge" "$state/logs"
chmod 700 "$state/munge"

[[ -f $state/munge/munge.key ]] || mungekey --create --keyfile="$state/munge/munge.key" >/dev/null
chmod 400 "$state/munge/munge.key"

cat >"$state/slurm.conf" <<CONF
ClusterName=mtltest
SlurmctldHost=$host
SlurmctldPort=$port
SlurmdPort=$((port + 1))
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$state/munge/munge.socket
CredType=cred/munge
StateSaveLocation=$state/spool/ctld
SlurmdSpoolDir=$state/spool/d
SlurmctldPidFile=$state/slurmctld.pid.slurm
SlurmdPidFile=$state/slurmd.pid.slurm
SlurmctldLogFile=$state/slurmctld.log
SlurmdLogFile=$state/slurmd.log
SlurmctldDebug=info
SlurmdDebug=info
# containers: no cgroups, processes tracked through /proc
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
# finished jobs stay visible to squeue this long (the executor's status query)
MinJobAge=600
SchedulerParameters=sched_interval=2
InactiveLimit=0
KillWait=5
GresTypes=gpu
NodeName=$host CPUs=$cpus RealMemory=$mem_mb Gres=gpu:$gpus State=UNKNOWN
PartitionName=debug Nodes=$host Default=YES MaxTime=INFINITE State=UP
CONF
# gres/gpu needs device files: character devices aliasing /dev/null (regular files
# where mknod is not allowed: slurmd logs an error but still counts them)
mkdir -p "$state/dev"
for i in $(seq 0 $((gpus - 1))); do
    [[ -e $state/dev/gpu$i ]] || mknod "$state/dev/gpu$i" c 1 3 2>/dev/null || touch "$state/dev/gpu$i"
done
echo "NodeName=$host Name=gpu File=$state/dev/gpu[0-$((gpus - 1))]" >"$state/gres.conf"
export SLURM_CONF=$state/slurm.conf

# Snakemake's slurm-jobstep plugin drops SLURM_* variables, SLURM_CONF included, before
# the `srun` inside each job; real clusters keep slurm.conf at the default path, this
# private one is found through an `srun` on PATH that sets it again.
mkdir -p "$state/bin"
printf '#!/bin/sh\nSLURM_CONF=%s exec %s "$@"\n' "$SLURM_CONF" "$(command -v srun)" >"$state/bin/srun"
chmod +x "$state/bin/srun"

# Start a daemon in the foreground (-D/-F) in the background and record its pid.
start() {
    local name=$1; shift
    "$@" >>"$state/$name.out" 2>&1 &
    echo $! >"$state/$name.pid"
}
start munged munged -F --force --key-file="$state/munge/munge.key" \
    --socket="$state/munge/munge.socket" --pid-file="$state/munge/munged.pid" \
    --log-file="$state/munged.log" --seed-file="$state/munge/munge.seed"
for _ in $(seq 50); do [[ -S $state/munge/munge.socket ]] && break; sleep 0.1; done
[[ -S $state/munge/munge.socket ]] || { echo "munged did not start (see $state/munged.log)" >&2; exit 4; }
start slurmctld slurmctld -D -i -f "$state/slurm.conf"
start slurmd slurmd -D -f "$state/slurm.conf"

# up = the node is idle and accepts jobs
for _ in $(seq 60); do
    st=$(sinfo -h -n "$host" -o %t 2>/dev/null || true)
    [[ $st == idle* ]] && { echo "export SLURM_CONF=$state/slurm.conf PATH=$state/bin:\$PATH"; exit 0; }
    for d in munged slurmctld slurmd; do
        kill -0 "$(cat "$state/$d.pid")" 2>/dev/null || { echo "$d exited (see $state/$d.log, $state/$d.out)" >&2; exit 4; }
    done
    sleep 0.5
done
echo "node $host not idle after 30 s (state: ${st:-none}; see $state/slurmctld.log)" >&2
exit 4
