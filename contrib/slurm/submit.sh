#!/usr/bin/env bash
# Submit a virtbench suite as a Slurm array (one exclusive node per shard) plus a merge job that runs
# when every shard finished (--dependency=afterok). Run on the login node from a virtbench checkout.
# Prints "array job: ID" and "merge job: ID"; with --wait, waits for the merge job and exits with its code.
set -euo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
usage() {
  cat <<EOF
usage: contrib/slurm/submit.sh --suite NAME --shards N --constraint FEATURE --out SHARED_DIR [options] [-- suite options]

  --suite NAME          suite to run (isolation, baseline, overcommit, allocation, nested, lifecycle...)
  --shards N            number of shards = array tasks = nodes used at once (at most the plan's ratio
                        families; 'npm run suite NAME -- ... --dry-run --shard 1/N' shows the split)
  --constraint FEATURE  Slurm node feature of the hardware class: every shard runs on nodes of it
  --out SHARED_DIR      new directory on a file system every node mounts: shards/, merged/, logs/
  --commit REV          harness commit to run (default HEAD of this checkout); resolved to a full id
  --repo URL            where nodes clone that commit from (default: this checkout's origin URL)
  --checkout DIR        the harness checkout on each node (default /var/tmp/virtbench-<commit>):
                        used as is when it is at the commit, else cloned there from --repo
  --partition P, --time T, --account A   passed to sbatch
  --name NAME           name the merged run is filed under for baselines and compare (default FEATURE)
  --compare-to baseline the nightly: compare the merged run with the accepted baseline of the suite and
                        the hardware class (--results), accept it when nothing regressed (VB_ACCEPT=0: never)
  --results DIR         results root holding baselines/ (shared; default SHARED_DIR/..)
  --wait                wait for the merge job; exit with its code
suite options (after --): e.g. --profile paper --platforms baremetal,lxc,kvm --seed 7. Name
--platforms explicitly so that every node plans the same cells; a --seed is chosen and recorded if
none is given (every shard must use the same one).
EOF
}

suite='' shards='' constraint='' out='' commit=HEAD repo='' checkout='' name='' compare='' results='' wait=0
sb=()
while [ $# -gt 0 ]; do
  case "$1" in
  --suite) suite=$2; shift 2 ;;
  --shards) shards=$2; shift 2 ;;
  --constraint) constraint=$2; shift 2 ;;
  --out) out=$2; shift 2 ;;
  --commit) commit=$2; shift 2 ;;
  --repo) repo=$2; shift 2 ;;
  --checkout) checkout=$2; shift 2 ;;
  --name) name=$2; shift 2 ;;
  --compare-to) compare=$2; shift 2 ;;
  --results) results=$2; shift 2 ;;
  --partition | --time | --account) sb+=("$1=$2"); shift 2 ;;
  --wait) wait=1; shift ;;
  -h | --help) usage; exit 0 ;;
  --) shift; break ;;
  *) echo "submit.sh: unknown option '$1' (see --help)" >&2; exit 2 ;;
  esac
done
args=("$@")
fail() { echo "submit.sh: $*" >&2; exit 2; }
[ -n "$suite" ] && [ -n "$shards" ] && [ -n "$constraint" ] && [ -n "$out" ] || fail "--suite, --shards, --constraint and --out are required (see --help)"
[[ "$shards" =~ ^[1-9][0-9]*$ ]] || fail "--shards must be a whole number of at least 1, got '$shards'"
[[ "$constraint" =~ ^[A-Za-z0-9_.-]+$ ]] || fail "--constraint takes one feature name (letters, digits, . _ -), got '$constraint'"
[ -z "$compare" ] || [ "$compare" = baseline ] || fail "--compare-to takes 'baseline' (the class's accepted baseline), got '$compare'"
[ ! -e "$out" ] || [ -z "$(ls -A "$out")" ] || fail "--out $out exists and is not empty"
for a in "${args[@]}"; do
  case "$a" in --shard | --shard=* | --out | --out=* | --resume | --resume=* | --dry-run) fail "suite option $a is set by submit.sh; leave it out" ;; esac
done

top=$(git -C "$here" rev-parse --show-toplevel)
commit=$(git -C "$top" rev-parse --verify "$commit^{commit}") || fail "unknown commit"
repo=${repo:-$(git -C "$top" remote get-url origin 2>/dev/null || true)}
checkout=${checkout:-/var/tmp/virtbench-$commit}
name=${name:-$constraint}
mkdir -p "$out/logs" "$out/shards"
out=$(cd "$out" && pwd)
results=${results:-$(dirname "$out")}
# one seed for every shard: recorded in each manifest, checked by merge
case " ${args[*]-} " in *" --seed "* | *" --seed="*) ;; *) args+=(--seed "$(od -An -N4 -tu4 /dev/urandom | tr -d ' ')") ;; esac

# the plan must split into N shards: a dry run of the last shard on this checkout says so now, not on a node
# (a warning only: the login node may lack a platform the nodes have)
if ! (cd "$top" && npm run -s suite "$suite" -- "${args[@]}" --shard "$shards/$shards" --dry-run >"$out/logs/plan.txt" 2>&1); then
  echo "submit.sh: warning: a dry run of shard $shards/$shards here failed: $(grep '^virtbench:' "$out/logs/plan.txt" | tail -n 1) (the nodes decide; see $out/logs/plan.txt)" >&2
fi

env_file="$out/job.env"
{
  printf 'VB_REPO=%q\nVB_COMMIT=%q\nVB_CHECKOUT=%q\nVB_SUITE=%q\nVB_SHARDS=%q\nVB_OUT=%q\n' "$repo" "$commit" "$checkout" "$suite" "$shards" "$out"
  printf 'VB_NAME=%q\nVB_COMPARE=%q\nVB_RESULTS=%q\nVB_ACCEPT=%q\n' "$name" "$compare" "$results" "${VB_ACCEPT:-1}"
  printf 'VB_ARGS=('; printf '%q ' "${args[@]}"; printf ')\n'
} >"$env_file"

array=$(sbatch --parsable "${sb[@]}" --exclusive --constraint="$constraint" --array="0-$((shards - 1))" \
  --job-name="vb-$suite" --output="$out/logs/shard-%a.log" --export="ALL,VB_ENV=$env_file" "$here/virtbench.sbatch" shard)
array=${array%%;*}
echo "array job: $array"
merge_args=(--parsable "${sb[@]}" --constraint="$constraint" --dependency="afterok:$array" --kill-on-invalid-dep=yes
  --job-name="vb-$suite-merge" --output="$out/logs/merge.log" --export="ALL,VB_ENV=$env_file")
if [ "$wait" = 1 ]; then
  # --wait: sbatch prints the id, then returns when the job ends, with its exit code
  set +e
  sbatch "${merge_args[@]}" --wait "$here/virtbench.sbatch" merge | sed -u 's/^\([0-9]*\).*/merge job: \1/'
  rc=${PIPESTATUS[0]}
  echo "merge job finished (exit $rc); log: $out/logs/merge.log"
  exit "$rc"
fi
merge=$(sbatch "${merge_args[@]}" "$here/virtbench.sbatch" merge)
echo "merge job: ${merge%%;*}"
echo "results: $out/merged (logs: $out/logs)"
