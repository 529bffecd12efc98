// The edge cases found in the review of compare, analyze, export and figures (issue 14), each built
// from a small result directory: wrong verdicts, crashes on bad samples, and misleading notes.
import test from 'ava';
import { execa } from 'execa';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { writeSummaryCsv } from '../../analysis/summary.ts';
import { tempDir } from '../tmp.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const base = join(root, 'test', 'fixtures', 'compare', 'base');
const TEMPLATE = JSON.parse(readFileSync(join(base, 'samples.jsonl'), 'utf8').split('\n')[0]!) as Record<string, unknown>;
const KC = 'baremetal/kernel-compile/none:none/cpuset/hard/x1';
const KC_COMP = 'baremetal/kernel-compile/competing:kernel-compile/cpuset/hard/x1';

function manifest(): Record<string, unknown> {
  const m = JSON.parse(readFileSync(join(base, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  delete m.plannedRuns;
  return m;
}

/** One sample line: the fixture's first sample with these fields changed. */
function sample(rep: number, value: number | null, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return { ...TEMPLATE, rep, value, status: value === null ? 'dnf' : 'ok', ...extra };
}

/** A result directory from sample objects (or raw lines), with the fixture's manifest unless given. */
function resultDir(name: string, lines: (Record<string, unknown> | string)[], manifestText?: string): string {
  const dir = join(tempDir('virtbench-edge-'), name);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), manifestText ?? JSON.stringify(manifest(), null, 2));
  writeFileSync(join(dir, 'samples.jsonl'), lines.map((l) => (typeof l === 'string' ? l : JSON.stringify(l))).join('\n') + '\n');
  return dir;
}

const walls = (values: (number | null)[], extra: Record<string, unknown> = {}) => values.map((v, i) => sample(i + 1, v, extra));

function run(cli: string, args: string[]) {
  return execa(process.execPath, ['--import', 'tsx', join(root, 'cli', `${cli}.ts`), ...args], { cwd: root, reject: false });
}

function digest(dir: string): string {
  const h = createHash('sha256');
  for (const f of readdirSync(dir).sort()) h.update(f).update(readFileSync(join(dir, f)));
  return h.digest('hex');
}

/** Exit 2, one line on stderr matching `re`, no stack trace, and the directory left as it was. */
async function refused(t: import('ava').ExecutionContext, cli: string, args: string[], dir: string, re: RegExp): Promise<void> {
  const before = digest(dir);
  const r = await run(cli, args);
  t.is(r.exitCode, 2, `${cli} ${args.join(' ')}: exit ${r.exitCode}\n${r.stdout}\n${r.stderr}`);
  const lines = r.stderr.trim().split('\n');
  t.is(lines.length, 1, r.stderr);
  t.regex(lines[0]!, re);
  t.is(digest(dir), before, `${cli} modified ${dir}`);
}

test('1. a DNF in the baseline does not hide a 99% slowdown of the runs that finished', async (t) => {
  const b = resultDir('base', walls([100, 101, 99, 100, null]));
  const c = resultDir('cand', walls([199, 200, 201, 199, 200]));
  const r = await run('compare', ['--no-write', b, c]);
  t.is(r.exitCode, 1, r.stdout + r.stderr);
  t.regex(r.stdout, /REGRESSION: .*wall_s.*higher/);
});

test('2. a change of exactly the threshold (100 s -> 105 s at 5%) never fails', async (t) => {
  const b = resultDir('base', walls([100, 100, 100, 100, 100]));
  const c = resultDir('cand', walls([105, 105, 105, 105, 105]));
  const r = await run('compare', ['--no-write', '--threshold', '5%', b, c]);
  t.is(r.exitCode, 0, r.stdout + r.stderr);
  t.regex(r.stdout, /wall_s .*\+5\.0% .* no change/);
});

test('3. an infinite value in samples.jsonl: one line and exit 2 in compare, export, figures and analyze', async (t) => {
  const b = resultDir('base', walls([100, 101, 99, 100, 100]));
  const lines = walls([100, 101, 99, 100, 100]).map((s) => JSON.stringify(s));
  lines[2] = lines[2]!.replace(/"value":99/, '"value":1e999');
  const c = resultDir('cand', lines);
  await refused(t, 'compare', ['--no-write', b, c], c, /samples\.jsonl:3: not a sample: field "value" is not a finite number/);
  await refused(t, 'export', [c, '--out', join(tempDir('virtbench-edge-out-'), 'x')], c, /samples\.jsonl:3: .*finite/);
  await refused(t, 'figures', [c, '--out', join(tempDir('virtbench-edge-out-'), 'x')], c, /samples\.jsonl:3: .*finite/);
  await refused(t, 'analyze', [c], c, /samples\.jsonl:3: .*finite/);
});

test('3. a complete last line (ending in a newline) that is not JSON is corruption, not an interrupted write', async (t) => {
  const b = resultDir('base', walls([100, 101, 99, 100, 100]));
  const c = resultDir('cand', [...walls([100, 101, 99, 100]), '{"suite": "isolation", garbage}']);
  await refused(t, 'compare', ['--no-write', '--allow-partial', b, c], c, /samples\.jsonl:5: corrupt line, not valid JSON/);
  // a last line without its newline is still an interrupted write
  const cut = resultDir('cut', walls([100, 101, 99, 100]));
  writeFileSync(join(cut, 'samples.jsonl'), readFileSync(join(cut, 'samples.jsonl'), 'utf8') + '{"suite": "isol');
  await refused(t, 'compare', ['--no-write', b, cut], cut, /samples\.jsonl:5: incomplete last line: the run was interrupted/);
  const partial = await run('compare', ['--no-write', '--allow-partial', b, cut]);
  t.is(partial.exitCode, 0, partial.stderr);
});

test('4. analyze refuses a bad manifest, an empty samples file and warm-ups only, and keeps summary.csv', async (t) => {
  const good = walls([100, 101, 99, 100, 100]);
  const cases: [string, string, (Record<string, unknown> | string)[], RegExp][] = [
    ['not-json', '{"suite": ', good, /manifest\.json: not valid JSON/],
    ['no-suite', JSON.stringify({ ...manifest(), suite: undefined }), good, /manifest\.json: not a virtbench manifest \(no "suite"\)/],
    ['empty', JSON.stringify(manifest()), [], /samples\.jsonl: no measured samples/],
    ['warmups', JSON.stringify(manifest()), walls([100, 101], { warmup: true }), /samples\.jsonl: no measured samples/],
  ];
  for (const [name, m, lines, re] of cases) {
    const dir = resultDir(name, lines, m);
    if (lines.length === 0) writeFileSync(join(dir, 'samples.jsonl'), '');
    writeFileSync(join(dir, 'summary.csv'), 'an earlier summary\n');
    await refused(t, 'analyze', [dir], dir, re);
    t.is(readFileSync(join(dir, 'summary.csv'), 'utf8'), 'an earlier summary\n');
  }
});

test('5. an unknown "better" and non-numeric numeric fields are refused by every command', async (t) => {
  const b = resultDir('base', walls([100, 101, 99, 100, 100]));
  const cases: [string, Record<string, unknown>, RegExp][] = [
    ['better', { better: 'faster' }, /samples\.jsonl:1: not a sample: field "better" is "faster", not lower\|higher/],
    ['rep', { rep: '1' }, /samples\.jsonl:1: not a sample: field "rep" is not a whole number/],
    ['overcommit', { overcommit: 'x1' }, /samples\.jsonl:1: not a sample: field "overcommit" is not a finite number/],
    ['vcpus', { vcpus: null }, /samples\.jsonl:1: not a sample: field "vcpus" is not a finite number/],
    ['boot', { bootSeconds: 'fast' }, /samples\.jsonl:1: not a sample: field "bootSeconds" is not a finite number/],
  ];
  for (const [name, change, re] of cases) {
    const lines = walls([100, 101, 99, 100, 100]);
    lines[0] = { ...lines[0], ...change };
    const c = resultDir(name, lines);
    await refused(t, 'compare', ['--no-write', b, c], c, re);
    // every command reads samples through the same reader: the other three once, on `better`
    if (name !== 'better') continue;
    await refused(t, 'figures', [c, '--out', join(tempDir('virtbench-edge-out-'), 'x')], c, re);
    await refused(t, 'export', [c, '--out', join(tempDir('virtbench-edge-out-'), 'x')], c, re);
    await refused(t, 'analyze', [c], c, re);
  }
});

const competing = (values: (number | null)[]) =>
  values.map((v, i) => sample(i + 1, v, { cell: KC_COMP, neighbourKind: 'competing', neighbour: 'kernel-compile', reference: KC }));

test('6. the unbounded-ratio note names its real cause (a cell of all zeros; n=2 on the other side)', async (t) => {
  const zeros = resultDir('zeros', [...walls([10, 11, 12]), ...competing([0, 0, 0])]);
  const z = (await writeSummaryCsv(zeros)).rows.find((r) => r.cell === KC_COMP)!;
  t.is(z.ratio, 0);
  t.notRegex(z.note, /reference mean not significantly different from 0/);
  t.regex(z.note, /all 0/);

  // the reference alone is clearly above 0 (t at its own 4 df), but the cell's n=2 leaves ~1 df
  const two = resultDir('two', [...walls([60, 100, 140, 80, 120]), ...competing([50, 150])]);
  const w = (await writeSummaryCsv(two)).rows.find((r) => r.cell === KC_COMP)!;
  t.true(Number.isNaN(w.ratio_ci95_low));
  t.notRegex(w.note, /reference mean not significantly different from 0/);
  t.regex(w.note, /ratio CI unbounded: .*degrees of freedom/);

  // where it is the cause, it is still said
  const near0 = resultDir('near0', [...walls([-1, 1, 2, -2, 0.5]), ...competing([1, 1.1, 0.9, 1, 1])]);
  const n = (await writeSummaryCsv(near0)).rows.find((r) => r.cell === KC_COMP)!;
  t.regex(n.note, /reference mean not significantly different from 0/);
});

test('7. a mean over the runs that finished says it is conditional on finishing', async (t) => {
  const dir = resultDir('dnf', walls([100, 101, 99, null, null]));
  const row = (await writeSummaryCsv(dir)).rows[0]!;
  t.is(row.n, 3);
  t.is(row.dnf, 2);
  t.regex(row.note, /statistics over the 3 runs that finished \(2 of 5 DNF\)/);
});
