#!/usr/bin/env bash
# Nightly regression run on a lab host: run a suite, compare the run with the accepted baseline of
# its suite and host, keep the last N runs, and leave a report. Exit code:
#   0  nothing regressed        1  a regression (see the report)
#   2  refused (no baseline, different configuration, bad option...: one line in the log says why)
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
#   VIRTBENCH_ACCEPT     1 (default): a night with no regression and no failed run becomes the accepted
#                        baseline (the one it replaces goes to history/), so that the next night is
#                        judged against the spread of the last nights; 0: baselines only by hand
set -uo pipefail

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
dir=${VIRTBENCH_DIR:-$(dirname "$here")}
suite=${VIRTBENCH_SUITE:-isolation}
profile=${VIRTBENCH_PROFILE:-quick}
reps=${VIRTBENCH_REPS:-5}
results=${VIRTBENCH_RESULTS:-$dir/results}
keep=${VIRTBENCH_KEEP:-14}
lock_wait=${VIRTBENCH_LOCK_WAIT:-120}
accept=${VIRTBENCH_ACCEPT:-1}
read -r -a extra <<<"${VIRTBENCH_ARGS:-}"
nightly="$results/nightly"
mkdir -p "$nightly"
cd "$dir" || exit 3

say() { printf '%s virtbench-nightly: %s\n' "$(date -u +%FT%TZ)" "$*"; }

# 1. Run the suite and compare it with the accepted baseline of this suite and host in one step
#    (--compare-to baseline: a missing baseline is refused before anything runs; cells compare
#    suspects are re-run before the verdict; compare.csv and compare.md land in the run directory).
#    Wait while another harness run holds the host (the runner's lock).
log="$nightly/$suite-suite.log"
report="$nightly/$suite-compare.txt"
waited=0
while :; do
  npm run -s suite "$suite" -- --profile "$profile" --reps "$reps" --out "$results" --compare-to baseline "${extra[@]}" >"$report" 2>"$log"
  suite_rc=$?
  if [ "$suite_rc" -eq 2 ] && grep -q 'another virtbench run' "$log" && [ "$waited" -lt "$lock_wait" ]; then
    say "host busy with another run; retrying in 5 minutes"
    sleep 300
    waited=$((waited + 5))
    continue
  fi
  break
done
cat "$log" >&2
cat "$report"
run_dir=$(sed -n 's/^results: //p' "$log" | tail -n 1)
if [ "$suite_rc" -eq 2 ]; then
  # bad input or compare refused (no baseline, different configuration): one line says why
  headline=$(grep '^virtbench: ' "$log" | tail -n 1)
  say "${headline:-the suite refused to run (exit 2); see $log}"
  printf '%s\t%s\t%s\t2\t%s\n' "$(date -u +%FT%TZ)" "$suite" "${run_dir:--}" "$headline" >>"$nightly/history.tsv"
  exit 2
fi
if [ -z "$run_dir" ] || [ ! -f "$run_dir/compare.csv" ]; then
  say "the suite produced no compared run (exit $suite_rc); see $log"
  printf '%s\t%s\t%s\t3\tsuite failed (exit %s)\n' "$(date -u +%FT%TZ)" "$suite" "${run_dir:--}" "$suite_rc" >>"$nightly/history.tsv"
  exit 3
fi
cp "$report" "$run_dir/compare.txt"
# exit 1 means a regression or runs that ended in error: compare.csv tells which
cmp_rc=0
if grep -q ',regression,' "$run_dir/compare.csv"; then cmp_rc=1; fi
headline=$(tail -n 1 "$report")
say "run: $run_dir (suite exit $suite_rc)"

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

# 5. A clean night joins the reference nights: the verdict judges tonight against the last 7 accepted
#    nights (their spread is the host's night-to-night drift); a night that failed never does.
if [ "$accept" = 1 ] && [ "$cmp_rc" -eq 0 ] && [ "$suite_rc" -eq 0 ]; then
  if npm run -s baseline -- accept "$run_dir" --results "$results" --note "nightly, no regression" >/dev/null; then
    say "accepted $run_dir as the baseline (the previous one is in history/)"
  else
    say "could not accept $run_dir as the baseline"
  fi
fi

if [ "$cmp_rc" -ne 0 ]; then exit "$cmp_rc"; fi
if [ "$suite_rc" -ne 0 ]; then
  say "no regression, but the suite exited $suite_rc (failed runs: see 'message' in $run_dir/samples.jsonl)"
  exit 3
fi
exit 0
