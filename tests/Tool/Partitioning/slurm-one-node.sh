#!/usr/bin/env bash
# A one-node Slurm cluster on loopback for the Slurm test (tests/Tool/Partitioning/SlurmTests.cs): munged, slurmctld and
# slurmd under WORK, with ProctrackType=proctrack/linuxproc and TaskPlugin=task/none, a node with this machine's CPUs.
#   slurm-one-node.sh start WORK   -> prints the SLURM_CONF to use; exit 77 when Slurm cannot be started (the reason on stderr)
#   slurm-one-node.sh stop WORK    -> stops the daemons it started, by their pids
set -uo pipefail
cmd=$1; work=$2
conf=$work/slurm.conf
case "$cmd" in
stop)
  for d in slurmd slurmctld munged; do
    if [ -f "$work/$d.pid" ]; then
      pid=$(cat "$work/$d.pid")
      kill "$pid" 2>/dev/null
      for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
      kill -9 "$pid" 2>/dev/null
      rm -f "$work/$d.pid"
    fi
  done
  exit 0;;
start) ;;
*) echo "usage: $0 start|stop WORK" >&2; exit 2;;
esac

skip() { echo "$1" >&2; "$0" stop "$work"; exit 77; }
for b in munged slurmctld slurmd sbatch scontrol sinfo; do
  command -v "$b" >/dev/null 2>&1 || skip "$b is not installed (apt-get install slurm-wlm munge)"
done
[ "$(id -u)" = 0 ] || skip "the daemons run as root here, and this is uid $(id -u)"
mkdir -p "$work"/{state,spool,munge,log}
chmod 0700 "$work/munge"
host=$(hostname -s)
cpus=$(nproc)
# Ports away from Slurm's defaults, so a real cluster on this machine is left alone.
base=$((17000 + ($$ % 1000) * 2))

dd if=/dev/urandom of="$work/munge/munge.key" bs=1024 count=1 status=none
chmod 0400 "$work/munge/munge.key"
munged --force --socket="$work/munge/munge.socket" --key-file="$work/munge/munge.key" --pid-file="$work/munged.pid" \
  --log-file="$work/log/munged.log" --seed-file="$work/munge/munge.seed" >"$work/log/munged.out" 2>&1 \
  || skip "munged did not start: $(tail -3 "$work/log/munged.log" "$work/log/munged.out" 2>/dev/null | tr '\n' ' ')"

cat > "$conf" <<CONF
ClusterName=dotnetmerge
SlurmctldHost=$host(127.0.0.1)
SlurmUser=root
SlurmdUser=root
SlurmctldPort=$base
SlurmdPort=$((base + 1))
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$work/munge/munge.socket
StateSaveLocation=$work/state
SlurmdSpoolDir=$work/spool/%n
SlurmctldPidFile=$work/slurmctld.pid
SlurmdPidFile=$work/slurmd.pid
SlurmctldLogFile=$work/log/slurmctld.log
SlurmdLogFile=$work/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
MpiDefault=none
SwitchType=switch/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
SchedulerType=sched/builtin
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
SlurmdTimeout=30
MinJobAge=600
NodeName=$host NodeAddr=127.0.0.1 CPUs=$cpus State=UNKNOWN
PartitionName=local Nodes=$host Default=YES MaxTime=INFINITE State=UP OverSubscribe=YES
CONF
export SLURM_CONF=$conf
slurmctld -c -f "$conf" >"$work/log/slurmctld.out" 2>&1 || skip "slurmctld did not start: $(tail -3 "$work/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
slurmd -f "$conf" -N "$host" >"$work/log/slurmd.out" 2>&1 || skip "slurmd did not start: $(tail -3 "$work/log/slurmd.log" 2>/dev/null | tr '\n' ' ')"
for _ in $(seq 150); do
  state=$(sinfo -h -N -o %t 2>/dev/null | head -1)
  case "$state" in idle*|mix*|alloc*) echo "$conf"; exit 0;; esac
  sleep 0.2
done
skip "the node did not come up (state '${state:-none}'): $(tail -3 "$work/log/slurmd.log" "$work/log/slurmctld.log" 2>/dev/null | tr '\n' ' ')"
