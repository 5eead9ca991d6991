#!/usr/bin/env bash
# A real single-node Slurm on this machine for test/slurm.test.ts: Debian's slurmctld + slurmd + munge, the node
# at 127.0.0.1 with the machine's real CPUs (so array tasks run side by side), no systemd, no cgroups, no
# accounting. Run as root. Idempotent: does nothing when the node already answers; starts only the daemons that
# are not running. Exits non-zero with the daemons' logs when Slurm does not come up.
set -euo pipefail

CONF=/etc/slurm/slurm.conf
LOGS=(/var/log/munge/munged.log /var/log/slurm/slurmctld.log /var/log/slurm/slurmd.log)
# The controller must be named as this host calls itself (slurmctld refuses to start otherwise).
NODE=$(hostname -s)
WAIT_S=60

fail() {
  echo "start-slurm: $*" >&2
  for log in "${LOGS[@]}"; do
    echo "---- $log (last 40 lines)" >&2
    tail -n 40 "$log" >&2 2>/dev/null || echo "(no log)" >&2
  done
  exit 1
}

# The node's state as sinfo shows it: idle, mix or alloc when it takes jobs; a trailing * means not responding.
node_state() { sinfo --noheader --nodes="$NODE" --format=%t 2>/dev/null || true; }
node_up() { [[ $(node_state) =~ ^(idle|mix|alloc)$ ]]; }
# A daemon runs when its pid file names a live process of that name (not a stale file, not a reused pid).
running() { [[ -f $1 && $(cat "/proc/$(cat "$1")/comm" 2>/dev/null) == "$2" ]]; }

if command -v sinfo >/dev/null && [[ -f $CONF ]] && running /run/slurmctld.pid slurmctld && running /run/slurmd.pid slurmd && node_up; then
  echo "slurm already up: node $NODE $(node_state)"
  exit 0
fi

if ! command -v slurmctld >/dev/null || ! command -v slurmd >/dev/null || ! command -v sbatch >/dev/null || ! command -v munged >/dev/null; then
  export DEBIAN_FRONTEND=noninteractive
  apt-get update
  # The daemons and clients only (the slurm-wlm metapackage's recommends pull in dozens of -dev packages).
  apt-get install -y --no-install-recommends slurmctld slurmd slurm-client munge
fi

# munge authenticates every Slurm message; its key must belong to the munge user and be private.
if [[ ! -s /etc/munge/munge.key ]]; then
  install -d -o munge -g munge -m 0700 /etc/munge
  mungekey --create --keyfile=/etc/munge/munge.key
fi
chown munge:munge /etc/munge/munge.key
chmod 0400 /etc/munge/munge.key
install -d -o munge -g munge -m 0755 /run/munge
install -d -o munge -g munge -m 0700 /var/log/munge /var/lib/munge
if ! munge -n 2>/dev/null | unmunge >/dev/null 2>&1; then
  # --force: start over a socket left by a munged that died (none answers, as checked just above).
  runuser -u munge -- /usr/sbin/munged --force || fail "munged did not start"
  for _ in $(seq 20); do munge -n 2>/dev/null | unmunge >/dev/null 2>&1 && break; sleep 0.25; done
  munge -n | unmunge >/dev/null || fail "munge credentials do not round-trip"
fi

# The hardware as slurmd sees it (CPUs, sockets, cores, threads), so the node advertises the real cores.
# RealMemory is left out: memory is not a scheduled resource here (CR_CPU), and a measured value that later reads
# a few MB lower would drain the node.
hardware=$(slurmd -C | head -n 1 | tr ' ' '\n' | grep -E '^(CPUs|Boards|SocketsPerBoard|CoresPerSocket|ThreadsPerCore)=' | paste -sd ' ')
[[ $hardware == *CPUs=* ]] || fail "slurmd -C printed no CPUs: $(slurmd -C 2>&1)"

install -d -o slurm -g slurm -m 0755 /var/lib/slurm/slurmctld /var/lib/slurm/slurmd /var/log/slurm
install -d -m 0755 "$(dirname "$CONF")"
cat >"$CONF.new" <<EOF
# Written by flowscan's .ci/start-slurm.sh: one node on 127.0.0.1 for the tests.
ClusterName=flowscan-ci
SlurmctldHost=$NODE(127.0.0.1)
SlurmUser=slurm
AuthType=auth/munge
CredType=cred/munge
# Listen on the resolved address (127.0.0.1) instead of every interface.
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmctldPort=6817
SlurmdPort=6818
StateSaveLocation=/var/lib/slurm/slurmctld
SlurmdSpoolDir=/var/lib/slurm/slurmd
SlurmctldPidFile=/run/slurmctld.pid
SlurmdPidFile=/run/slurmd.pid
SlurmctldLogFile=/var/log/slurm/slurmctld.log
SlurmdLogFile=/var/log/slurm/slurmd.log
# Containers have no writable cgroup tree: track processes through /proc, bind no tasks, gather no accounting.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/none
MpiDefault=none
SchedulerType=sched/backfill
# Each CPU is a slot, so a 1-CPU array task takes one CPU and the tasks run side by side.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
# A node that was down (e.g. slurmd restarted) returns to service as soon as it registers.
ReturnToService=2
NodeName=$NODE NodeHostname=$NODE NodeAddr=127.0.0.1 $hardware State=UNKNOWN
PartitionName=ci Nodes=$NODE Default=YES MaxTime=INFINITE State=UP
EOF
mv "$CONF.new" "$CONF"

running /run/slurmctld.pid slurmctld || slurmctld || fail "slurmctld did not start"
running /run/slurmd.pid slurmd || slurmd || fail "slurmd did not start"

for _ in $(seq $((WAIT_S * 2))); do
  if node_up; then
    echo "slurm up: node $NODE ($hardware) $(node_state)"
    exit 0
  fi
  sleep 0.5
done
fail "node $NODE not idle after ${WAIT_S}s (sinfo: $(sinfo 2>&1 | tr '\n' ' '))"
