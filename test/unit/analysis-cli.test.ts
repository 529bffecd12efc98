// The analysis commands as a user runs them: exit codes, one-line errors, no stack traces.
import test from 'ava';
import { execa } from 'execa';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { tempDir } from '../tmp.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const fixtures = join(root, 'test', 'fixtures', 'compare');

function run(cli: string, args: string[]) {
  return execa(process.execPath, ['--import', 'tsx', join(root, 'cli', `${cli}.ts`), ...args], { cwd: root, reject: false });
}

function oneLine(t: import('ava').ExecutionContext, stderr: string, re: RegExp): void {
  const lines = stderr.trim().split('\n');
  t.is(lines.length, 1, stderr);
  t.regex(lines[0]!, re);
  t.notRegex(stderr, /\n\s+at /);
}

test('compare: 0 for no change, 1 for a regression, 2 for bad input', async (t) => {
  const same = await run('compare', ['--no-write', join(fixtures, 'base'), join(fixtures, 'base')]);
  t.is(same.exitCode, 0, same.stderr);
  t.regex(same.stdout, /no regression in 2 cell metrics/);
  // 5 against 5 runs of 2 cells: per test the 20% slowdown fails; over the family (Holm, the
  // default) 5+5 runs cannot reach the level, and the report says so
  const slower = await run('compare', ['--no-write', '--per-test', join(fixtures, 'base'), join(fixtures, 'slower')]);
  t.is(slower.exitCode, 1, slower.stderr);
  t.regex(slower.stdout, /REGRESSION/);
  const family = await run('compare', ['--no-write', join(fixtures, 'base'), join(fixtures, 'slower')]);
  t.is(family.exitCode, 0, family.stderr);
  t.regex(family.stdout, /only a DNF can fail this comparison/);

  const bad: [string[], RegExp][] = [
    [[join(fixtures, 'not-a-result'), join(fixtures, 'base')], /^virtbench: .*not-a-result is not a result directory: no manifest\.json$/],
    [[join(fixtures, 'base'), join(fixtures, 'truncated')], /^virtbench: .*truncated\/samples\.jsonl:10: incomplete last line: the run was interrupted; finish it with/],
    [[join(fixtures, 'base'), join(fixtures, 'other-suite')], /^virtbench: cannot compare .* different suites \('isolation' vs 'overcommit'\)$/],
    [['--tolerance', join(fixtures, 'tolerance-unknown-metric.txt'), join(fixtures, 'base'), join(fixtures, 'slower')], /tolerance-unknown-metric\.txt:4: unknown metric 'wal_s'/],
    [['--alpha', '2', join(fixtures, 'base'), join(fixtures, 'slower')], /^virtbench: --alpha must be a number between/],
    [['--frobnicate', 'x'], /^virtbench: Unknown option '--frobnicate'.* \(see --help\)$/],
    [[], /^virtbench: expected <baseline dir> <candidate dir> or <candidate dir>/],
    [['--results', join(fixtures, 'nowhere'), join(fixtures, 'base')], /^virtbench: no accepted baseline for suite 'isolation' on host 'lab1'/],
  ];
  for (const [args, re] of bad) {
    const r = await run('compare', ['--no-write', ...args]);
    t.is(r.exitCode, 2, `${args.join(' ')}: ${r.stderr}`);
    oneLine(t, r.stderr, re);
  }
  const help = await run('compare', ['--help']);
  t.is(help.exitCode, 0);
  t.regex(help.stdout, /exit code: 0 no regression, 1 regression, 2 bad input/);
});

test('baseline accept, then compare <candidate> against it', async (t) => {
  const results = tempDir('virtbench-cli-baseline-');
  const acc = await run('baseline', ['accept', join(fixtures, 'base'), '--results', results, '--note', 'known good']);
  t.is(acc.exitCode, 0, acc.stderr);
  t.regex(acc.stdout, /accepted .*base as the baseline of suite 'isolation' on host 'lab1'/);
  t.regex(acc.stdout, /wrote a tolerance file with the defaults/);
  const path = await run('baseline', ['path', 'isolation', 'lab1', '--results', results]);
  t.is(path.stdout.trim(), join(results, 'baselines', 'isolation', 'lab1'));
  const list = await run('baseline', ['list', '--results', results]);
  t.regex(list.stdout, /^isolation\tlab1\taccepted .* \(known good\)/);
  const out = tempDir('virtbench-cli-out-');
  const cmp = await run('compare', ['--per-test', '--results', results, '--out', out, join(fixtures, 'slower')]);
  t.is(cmp.exitCode, 1, cmp.stderr);
  t.true(existsSync(join(out, 'compare.csv')));
  t.regex(await readFile(join(out, 'compare.md'), 'utf8'), /REGRESSION/);
  const bad = await run('baseline', ['accept', join(fixtures, 'truncated'), '--results', results]);
  t.is(bad.exitCode, 2);
  oneLine(t, bad.stderr, /incomplete last line/);
  const unknown = await run('baseline', ['promote']);
  t.is(unknown.exitCode, 2);
  oneLine(t, unknown.stderr, /unknown command 'promote'; valid: accept, list, path/);
});

test('figures and export of a result directory', async (t) => {
  const out = tempDir('virtbench-cli-figs-');
  const figs = await run('figures', [join(fixtures, 'base'), '--out', join(out, 'figures')]);
  t.is(figs.exitCode, 0, figs.stderr);
  t.true(existsSync(join(out, 'figures', 'kernel-compile-wall_s-by-neighbour-relative.svg')));
  t.true(existsSync(join(out, 'figures', 'index.md')));
  const exp = await run('export', [join(fixtures, 'base'), '--out', join(out, 'tables'), '--latex', '--digits', '3']);
  t.is(exp.exitCode, 0, exp.stderr);
  const csv = await readFile(join(out, 'tables', 'kernel-compile-wall_s-by-neighbour-relative.csv'), 'utf8');
  t.regex(csv, /^neighbour,baremetal rel_perf \[x\],/);
  t.regex(csv, /competing: kernel-compile,0\.\d{3},/);
  t.true(existsSync(join(out, 'tables', 'kernel-compile-wall_s-by-neighbour-relative.tex')));
  const bad = await run('figures', [join(fixtures, 'truncated')]);
  t.is(bad.exitCode, 2);
  oneLine(t, bad.stderr, /incomplete last line/);
  const none = await run('export', [join(fixtures, 'not-a-result')]);
  t.is(none.exitCode, 2);
  oneLine(t, none.stderr, /not a result directory/);
});

test('suite --compare-to: a missing or unusable baseline is one line and exit 2 before anything runs', async (t) => {
  const empty = tempDir('virtbench-cli-nobase-');
  const cases: [string, RegExp][] = [
    ['baseline', /^virtbench: no accepted baseline for suite 'isolation' on host '.*'.*npm run baseline accept/],
    [join(fixtures, 'other-suite'), /^virtbench: --compare-to .*other-suite holds a 'overcommit' run, not 'isolation'$/],
    [join(fixtures, 'not-a-result'), /^virtbench: .*not-a-result is not a result directory: no manifest\.json$/],
    [join(fixtures, 'base'), /^virtbench: --compare-to .*base was measured on 'lab1', not on this host/],
  ];
  for (const [to, re] of cases) {
    const r = await run('suite', ['isolation', '--dry-run', '--profile', 'smoke', '--platforms', 'baremetal', '--out', empty, '--compare-to', to]);
    t.is(r.exitCode, 2, `${to}: ${r.stderr}`);
    oneLine(t, r.stderr.split('\n').filter((l) => !/^npm warn/.test(l)).join('\n'), re);
    t.is(r.stdout, '', 'no plan printed');
  }
});
