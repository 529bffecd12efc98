#!/usr/bin/env bash
# The harness's bare metal against a hand run of the same kernel compile (issue 15: the harness may
# cost at most 1% over a hand run), side by side: ROUNDS rounds, each running, in a random order,
#   hand    contrib/hand-kernel-compile.sh: the same template copy and make command, no harness
#   cgroup  the same hand run inside a cgroup with bare metal's limits (cpuset, shares, memory,
#           blkio, pids), to tell the cost of the cgroup from the cost of the harness around it
#   harness one measured run of `npm run suite baseline` on bare metal (calibration and monitors on)
# Each run gets the machine alone (flock $LOCK around each). Quick profile's build: tinyconfig,
# whole kernel, -j2 (about 75-90 s here). Prints one line per run and writes $OUT/bare-vs-hand.tsv
# (round variant wall_s cpu_s). Not part of npm test.
set -euo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(dirname "$here")"
rounds=${ROUNDS:-4}
out=${OUT:-results/bare-vs-hand}
lock=${LOCK:-/tmp/vb-machine.lock}
mkdir -p "$out"
tsv="$out/bare-vs-hand.tsv"
[ -f "$tsv" ] || printf 'round\tvariant\twall_s\tcpu_s\tutc\n' >"$tsv"
ncpu=$(nproc)
mem=$((2 * 1024 * 1024 * 1024))

# bare metal's quick-profile limits (drivers/cgroups.ts): all CPUs by cpuset, 1024 shares, 2 GiB
# hard memory limit, blkio weight 500, pids 1024; v1 only (this host)
mimic_cgroup() {
  local g=vb-hand c
  for c in cpu cpuacct cpuset memory blkio pids; do mkdir -p "/sys/fs/cgroup/$c/$g"; done
  echo "0-$((ncpu - 1))" >/sys/fs/cgroup/cpuset/$g/cpuset.cpus
  cat /sys/fs/cgroup/cpuset/cpuset.mems >/sys/fs/cgroup/cpuset/$g/cpuset.mems
  echo 1024 >/sys/fs/cgroup/cpu/$g/cpu.shares
  echo $mem >/sys/fs/cgroup/memory/$g/memory.limit_in_bytes
  echo 500 >/sys/fs/cgroup/blkio/$g/blkio.bfq.weight 2>/dev/null || true
  echo 1024 >/sys/fs/cgroup/pids/$g/pids.max
}
remove_cgroup() {
  local c
  for c in cpu cpuacct cpuset memory blkio pids; do rmdir "/sys/fs/cgroup/$c/vb-hand" 2>/dev/null || true; done
}
trap remove_cgroup EXIT

hand() { # prints "wall cpu"
  bash contrib/hand-kernel-compile.sh 1 "$ncpu" tinyconfig | awk '{printf "%s %.2f\n", $3, $4 + $5}'
}
in_cgroup() {
  mimic_cgroup
  bash -c 'for c in cpu cpuacct cpuset memory blkio pids; do echo $$ > /sys/fs/cgroup/$c/vb-hand/cgroup.procs; done; exec bash contrib/hand-kernel-compile.sh 1 '"$ncpu"' tinyconfig' | awk '{printf "%s %.2f\n", $3, $4 + $5}'
  remove_cgroup
}
harness() {
  local before after dir
  npm run -s suite baseline -- --platforms baremetal --workloads kernel-compile --profile quick --reps 1 --warmup 0 --out "$out/runs" >"$out/harness.log" 2>&1
  dir=$(ls -d "$out"/runs/baseline/*/ | sort | tail -1)
  node -e 'const l=require("fs").readFileSync(process.argv[1],"utf8").trim().split("\n").map(JSON.parse);const v=(m)=>l.find(s=>s.metric===m).value;console.log(v("wall_s")+" "+v("cpu_s"))' "$dir/samples.jsonl"
}

for r in $(seq 1 "$rounds"); do
  for v in $(printf 'hand\ncgroup\nharness\n' | shuf); do
    case $v in
      hand) res=$(flock "$lock" bash -c "$(declare -f hand); ncpu=$ncpu; hand") ;;
      cgroup) res=$(flock "$lock" bash -c "$(declare -f mimic_cgroup remove_cgroup in_cgroup); ncpu=$ncpu; mem=$mem; in_cgroup") ;;
      harness) res=$(flock "$lock" bash -c "$(declare -f harness); out=$out; harness") ;;
    esac
    line="$r	$v	${res% *}	${res#* }	$(date -u +%H:%M:%S)"
    echo "$line" | tee -a "$tsv"
  done
done
