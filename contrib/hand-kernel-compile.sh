#!/usr/bin/env bash
# The quick profile's kernel compile by hand, without the harness: the same template copy and the
# same `make` command as workloads/kernel-compile.ts, from a minimal environment, in no cgroup of
# the harness. Compare its times with the harness's bare-metal cell (issue 15: the harness may
# cost at most 1% over this). Usage: contrib/hand-kernel-compile.sh [runs] [jobs] [config] [target]
# (default 1 run, -j2, tinyconfig, the whole kernel; the smoke profile is: N 1 tinyconfig kernel/printk/,
# with PIN=0 to pin it to host CPU 0 as the smoke guest is); prints one line per run:
# hand <i> <wall s> <user s> <sys s> <UTC time>.
set -euo pipefail
runs=${1:-1}
jobs=${2:-2}
config=${3:-tinyconfig}
target=${4:-}
pin=${PIN:+taskset -c $PIN}
root=$(ls -d /var/cache/virtbench/linux/*/ | sort | tail -1)
src=$(ls -d "$root"linux-source-* | head -1)
template="$root/template-$config"
[ -f "$template/.vb-ready" ] || { echo "no configured tree $template: run the harness's kernel-compile once first" >&2; exit 2; }
work=/var/tmp/virtbench-hand
mkdir -p "$work"
trap 'rm -rf "$work"' EXIT
for i in $(seq 1 "$runs"); do
  rm -rf "$work/linux-build" && cp -a "$template" "$work/linux-build"
  t=$(env -i PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin HOME=/root LANG=C.UTF-8 $pin bash -c \
    "TIMEFORMAT='%R %U %S'; { time make -s -C '$src' O='$work/linux-build' -j$jobs $target > '$work/linux-build.log' 2>&1; } 2>&1")
  echo "hand $i $t $(date -u +%H:%M:%S)"
done
