#!/usr/bin/env bash
# Replays unchanged "nights" on this host to measure the per-night false-alarm rate of the nightly
# verdict (not part of npm test: it takes about 3 minutes of machine time per night). Each night
# takes the machine lock on its own, so other work can run between nights.
#   NIGHTS   nights to run (default 8)
#   OUT      results root (default results/replay); nights land in $OUT/isolation/<stamp>-<host>
#   INJECT   empty (default) for unchanged nights, or "quota" to cap every guest cgroup of the run
#            at 80% of its CPUs from outside the harness (an injected, real slowdown)
#   LOCK     lock file shared by everything that measures on this machine (default /tmp/vb-machine.lock)
# Then: npx tsx contrib/nightly-false-alarms.ts $OUT/isolation   (old and new verdict per night)
set -uo pipefail
here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
cd "$(dirname "$here")" || exit 2
nights=${NIGHTS:-8}
out=${OUT:-results/replay}
inject=${INJECT:-}
lock=${LOCK:-/tmp/vb-machine.lock}
args=(isolation --profile smoke --platforms baremetal --workloads kernel-compile,filebench --neighbours none --reps 5 --out "$out")

# Caps every cgroup the harness creates under cpu/virtbench at 80% of one period per vCPU (the
# smoke guests have 1 vCPU) while the night runs: the measured guest is slowed from outside.
cap_loop() {
  local root=/sys/fs/cgroup/cpu/${VIRTBENCH_CGROUP:-virtbench} f
  while :; do
    for f in $(find "$root" -mindepth 2 -maxdepth 3 -name cpu.cfs_quota_us 2>/dev/null); do
      [ "$(cat "$f" 2>/dev/null)" = 80000 ] && continue
      echo 100000 >"${f%/*}/cpu.cfs_period_us" 2>/dev/null
      echo 80000 >"$f" 2>/dev/null && echo "capped ${f%/*} at 80%" >&2
    done
    sleep 0.05
  done
}

for i in $(seq 1 "$nights"); do
  echo "night $i of $nights (${inject:-unchanged})"
  if [ "$inject" = quota ]; then
    flock "$lock" bash -c "$(declare -f cap_loop); cap_loop & cap=\$!; npm run -s suite -- ${args[*]}; rc=\$?; kill \$cap; exit \$rc"
  else
    flock "$lock" npm run -s suite -- "${args[@]}"
  fi
  echo "night $i exit $?"
done
