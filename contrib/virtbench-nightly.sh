#!/usr/bin/env bash
# Nightly regression run on a lab host: run a suite, compare the run with the accepted baseline of
# its suite and host, keep the last N runs, and leave a report. Exit code:
#   0  nothing regressed        1  a regression (see the report)
#   2  compare refused (no baseline, different configuration, ...: one line in the log says why)
#   3  the suite did not produce a complete run (lock held too long, setup failure, interrupted)
# Settings (environment, e.g. from /etc/default/virtbench-nightly):
#   VIRTBENCH_DIR        checkout of virtbench (default: the directory above this script)
#   VIRTBENCH_SUITE      suite to run (default isolation)
#   VIRTBENCH_PROFILE    profile (default quick)
#   VIRTBENCH_REPS       repetitions per cell (default 5; 5 is the least that can reach p < 0.01)
#   VIRTBENCH_ARGS       more suite options, e.g. "--platforms baremetal,lxc"
#   VIRTBENCH_RESULTS    results root (default $VIRTBENCH_DIR/results)
#   VIRTBENCH_KEEP       runs of this suite to keep (default 14; accepted baselines are copies and never pruned)
#   VIRTBENCH_LOCK_WAIT  minutes to wait for another harness run to finish (default 120)
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${VIRTBENCH_DIR:-$(dirname "$here")}
suite=${VIRTBENCH_SUITE:-isolation}
profile=${VIRTBENCH_PROFILE:-quick}
reps=${VIRTBENCH_REPS:-5}
results=${VIRTBENCH_RESULTS:-$dir/results}
keep=${VIRTBENCH_KEEP:-14}
lock_wait=${VIRTBENCH_LOCK_WAIT:-120}
read -r -a extra <<<"${VIRTBENCH_ARGS:-}"
nightly="$results/nightly"
mkdir -p "$nightly"
cd "$dir" || exit 3

say() { printf '%s virtbench-nightly: %s\n' "$(date -u +%FT%TZ)" "$*"; }

# 1. Run the suite; wait while another harness run holds the host (the runner's lock).
log="$nightly/$suite-suite.log"
waited=0
while :; do
  npm run -s suite "$suite" -- --profile "$profile" --reps "$reps" --out "$results" "${extra[@]}" 2>&1 | tee "$log"
  suite_rc=${PIPESTATUS[0]}
  if [ "$suite_rc" -eq 2 ] && grep -q 'another virtbench run' "$log" && [ "$waited" -lt "$lock_wait" ]; then
    say "host busy with another run; retrying in 5 minutes"
    sleep 300
    waited=$((waited + 5))
    continue
  fi
  break
done
run_dir=$(sed -n 's/^results: //p' "$log" | tail -n 1)
if [ -z "$run_dir" ] || [ ! -f "$run_dir/manifest.json" ]; then
  say "the suite produced no result directory (exit $suite_rc); see $log"
  printf '%s\t%s\t%s\t3\tsuite failed (exit %s)\n' "$(date -u +%FT%TZ)" "$suite" "-" "$suite_rc" >>"$nightly/history.tsv"
  exit 3
fi
say "run: $run_dir (suite exit $suite_rc)"

# 2. Compare with the accepted baseline of this suite and host (compare.csv, compare.md in the run).
#    When the suite runner gains --compare-to baseline (re-running suspect cells before the
#    verdict), steps 1 and 2 become one: npm run suite "$suite" -- ... --compare-to baseline
npm run -s compare -- --results "$results" --allow-partial "$run_dir" >"$run_dir/compare.txt" 2>"$nightly/$suite-compare.err"
cmp_rc=$?
cat "$nightly/$suite-compare.err" >&2
if [ "$cmp_rc" -eq 2 ]; then
  headline=$(head -n 1 "$nightly/$suite-compare.err")
else
  headline=$(tail -n 1 "$run_dir/compare.txt")
  cat "$run_dir/compare.txt"
fi

# 3. The report: the latest Markdown report beside the history of verdicts.
[ -f "$run_dir/compare.md" ] && cp "$run_dir/compare.md" "$nightly/$suite-latest.md"
ln -sfn "$run_dir" "$nightly/$suite-latest"
printf '%s\t%s\t%s\t%s\t%s\n' "$(date -u +%FT%TZ)" "$suite" "$run_dir" "$cmp_rc" "$headline" >>"$nightly/history.tsv"
say "$headline"

# 4. Keep the last $keep runs of this suite (newest first by name: <UTC stamp>-<host>).
if [ "$keep" -ge 1 ]; then
  find "$results/$suite" -mindepth 1 -maxdepth 1 -type d -name '20*' -printf '%f\n' | sort -r | tail -n +"$((keep + 1))" | while read -r old; do
    [ "$results/$suite/$old" = "$run_dir" ] && continue
    say "pruning $results/$suite/$old"
    rm -rf -- "${results:?}/$suite/$old"
  done
fi

if [ "$cmp_rc" -ne 0 ]; then exit "$cmp_rc"; fi
if [ "$suite_rc" -ne 0 ]; then
  say "no regression, but the suite exited $suite_rc (failed runs: see 'message' in $run_dir/samples.jsonl)"
  exit 3
fi
exit 0
