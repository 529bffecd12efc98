// npm run compare [--] [options] <baseline dir> <candidate dir>
// npm run compare [--] [options] <baseline dir> <earlier night>... <candidate dir>
// npm run compare [--] [options] <candidate dir>          (against the accepted baseline of its suite and host)
// Exit: 0 nothing regressed, 1 a regression, 2 bad input (one line says why), 3 internal error.
import { UsageError } from '../core/errors.ts';
import { resolveBaseline } from '../analysis/baseline.ts';
import { cliMain, intArg, numberArg, parseCli, percentArg } from '../analysis/cli-support.ts';
import { compareDirs } from '../analysis/compare-dirs.ts';
import { loadRun, runHost } from '../analysis/resultdir.ts';

const USAGE = `usage: npm run compare [--] [options] <baseline dir> <candidate dir>
       npm run compare [--] [options] <baseline dir> <earlier night>... <candidate dir>
       npm run compare [--] [options] <candidate dir>     (baseline: the accepted one of its suite and host)

Compares every cell and metric the candidate shares with the baseline: change in percent with a 95%
interval, a p-value and a verdict. With 3 or more reference nights (an accepted baseline and its
history/, or earlier nights given), tonight's mean is judged against the spread of the nights'
means, so drift between nights is noise; with one baseline run, by a permutation test (no drift
accounted for). A regression needs a Holm-adjusted p < alpha (alpha bounds the chance of any false
regression in the whole comparison), a change beyond the metric's noise threshold and the metric's
bad direction; a new DNF is always a regression.
Writes compare.csv and compare.md into the candidate directory (or --out).

options:
  --tolerance FILE     tolerance file (default: tolerance.txt in the baseline directory, if any)
  --alpha P            significance level (default 0.01, or the tolerance file's)
  --threshold PCT      default noise threshold, e.g. 5% (default 5%, or the tolerance file's)
  --seed N             seed of the permutation resampler (default 1)
  --nights K           reference nights at most, the baseline included (default 7)
  --per-test           alpha per test instead of per comparison (no Holm): more false alarms
  --out DIR            where compare.csv and compare.md go (default: the candidate directory)
  --no-write           write no files
  --markdown           print the Markdown report instead of the table
  --results DIR        results root holding baselines/ (default results)
  --allow-partial      accept an interrupted candidate run (its incomplete last line is ignored)
  --vs-reference       compare each neighbour cell of the candidate with its no-neighbour reference
                       cell in the baseline (the same directory works): the slowdown a neighbour causes
  --allow-other-host   compare runs of different hosts or hardware (noted in the report)
  -h, --help           this text
exit code: 0 no regression, 1 regression, 2 bad input, 3 internal error`;

await cliMain(async () => {
  const { values: v, positionals } = parseCli(process.argv.slice(2), {
    tolerance: { type: 'string' },
    alpha: { type: 'string' },
    threshold: { type: 'string' },
    seed: { type: 'string' },
    nights: { type: 'string' },
    'per-test': { type: 'boolean' },
    out: { type: 'string' },
    'no-write': { type: 'boolean' },
    markdown: { type: 'boolean' },
    results: { type: 'string' },
    'allow-partial': { type: 'boolean' },
    'allow-other-host': { type: 'boolean' },
    'vs-reference': { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  });
  if (v.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (positionals.length < 1) throw new UsageError(`expected <baseline dir> <candidate dir> or <candidate dir>, got ${positionals.length} argument(s) (see --help)`);
  let baseline: string;
  let candidate: string;
  let history: string[] | undefined;
  if (positionals.length >= 2) {
    baseline = positionals[0]!;
    candidate = positionals[positionals.length - 1]!;
    if (positionals.length > 2) history = positionals.slice(1, -1);
  } else {
    candidate = positionals[0]!;
    const run = await loadRun(candidate, { allowPartial: v['allow-partial'] });
    baseline = resolveBaseline(run.manifest.suite, runHost(run.manifest), v.results ?? 'results');
  }
  const result = await compareDirs(baseline, candidate, {
    tolerance: v.tolerance,
    alpha: numberArg('alpha', v.alpha, 1e-6, 0.5),
    threshold: percentArg('threshold', v.threshold),
    seed: intArg('seed', v.seed, 0, 2 ** 32 - 1),
    nights: intArg('nights', v.nights, 1, 1000),
    family: v['per-test'] ? 'none' : 'holm',
    ...(history ? { history } : {}),
    out: v['no-write'] ? false : v.out,
    allowPartial: v['allow-partial'],
    allowOtherHost: v['allow-other-host'],
    vsReference: v['vs-reference'],
  });
  if (result.exitCode === 2) {
    process.stderr.write(result.report);
    return 2;
  }
  process.stdout.write(v.markdown ? result.markdown! : result.report);
  for (const f of result.files) process.stderr.write(`wrote ${f}\n`);
  return result.exitCode;
});
