#!/usr/bin/env bash
# Nightly regression runs on a Slurm cluster, one per hardware class: for every class in
# VB_CLASSES (Slurm node features), submit the suite as an array of VB_SHARDS exclusive shards on
# nodes of that class plus a merge job that compares the merged run with the accepted baseline of
# the suite and class (the cluster form of 'npm run suite ... --compare-to baseline') and accepts it
# when nothing regressed. Run from cron or a systemd timer on the login node, from a virtbench checkout.
# Settings (environment, e.g. /etc/default/virtbench-slurm-nightly):
#   VB_CLASSES     node features, one run per class, e.g. "xeon-e5 epyc-7302" (required)
#   VB_RESULTS     shared results root: nightly runs in $VB_RESULTS/nightly/<class>/<UTC stamp>/,
#                  baselines in $VB_RESULTS/baselines/<suite>/<class>/ (required)
#   VB_SUITE       suite (default isolation)      VB_SHARDS    shards per class (default 4)
#   VB_ARGS        suite options (default "--profile quick --reps 5"; add --platforms a,b)
#   VB_COMMIT      harness commit (default: HEAD of this checkout after 'git pull', if VB_PULL=1)
#   VB_REPO, VB_CHECKOUT, VB_PARTITION, VB_TIME: as submit.sh's --repo, --checkout, --partition, --time
#   VB_ACCEPT      1 (default): a night with no regression becomes the class's baseline; 0: never
# The verdict of each class is its merge job's exit code (sacct) and
# $VB_RESULTS/nightly-slurm-history.tsv (time, suite, class, merged run, compare's exit code).
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
: "${VB_CLASSES:?VB_CLASSES: the node features of the hardware classes to run on}"
: "${VB_RESULTS:?VB_RESULTS: the shared results root}"
suite=${VB_SUITE:-isolation}
shards=${VB_SHARDS:-4}
read -r -a args <<<"${VB_ARGS:---profile quick --reps 5}"
top=$(git -C "$here" rev-parse --show-toplevel)
if [ "${VB_PULL:-0}" = 1 ]; then git -C "$top" pull -q --ff-only; fi
commit=${VB_COMMIT:-$(git -C "$top" rev-parse HEAD)}
opt=()
[ -n "${VB_REPO:-}" ] && opt+=(--repo "$VB_REPO")
[ -n "${VB_CHECKOUT:-}" ] && opt+=(--checkout "$VB_CHECKOUT")
[ -n "${VB_PARTITION:-}" ] && opt+=(--partition "$VB_PARTITION")
[ -n "${VB_TIME:-}" ] && opt+=(--time "$VB_TIME")
night=$(date -u +%Y-%m-%dT%H-%M-%SZ)
status=0
for class in $VB_CLASSES; do
  # a class without an accepted baseline yet is refused here, before any node is used
  if [ ! -f "$VB_RESULTS/baselines/$suite/$class/manifest.json" ]; then
    echo "virtbench-slurm-nightly: no accepted baseline for $suite on class $class in $VB_RESULTS/baselines/$suite/$class: run contrib/slurm/submit.sh once without --compare-to, then npm run baseline -- accept <out>/merged --results $VB_RESULTS" >&2
    status=2
    continue
  fi
  "$here/submit.sh" --suite "$suite" --shards "$shards" --constraint "$class" --name "$class" --commit "$commit" \
    --out "$VB_RESULTS/nightly/$class/$night" --results "$VB_RESULTS" --compare-to baseline "${opt[@]}" -- "${args[@]}" || status=$?
done
exit "$status"
