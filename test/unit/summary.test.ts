import test from 'ava';
import { copyFile, readFile, rm, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Sample } from '../../core/types.ts';
import {
  COLUMN_DOCS,
  SUMMARY_COLUMNS,
  formatNumber,
  readSamplesJsonl,
  summarize,
  writeSummaryCsv,
  type SummaryRow,
} from '../../analysis/summary.ts';
import { tempDir } from '../tmp.ts';

const fixtures = join(dirname(fileURLToPath(import.meta.url)), '..', 'fixtures', 'analysis');

const close = (actual: number, expected: number, tol: number) =>
  Math.abs(actual - expected) <= tol ? true : `${actual} is not within ${tol} of ${expected}`;

let rep = 0;
function sample(over: Partial<Sample> & Pick<Sample, 'cell' | 'metric'>): Sample {
  return {
    suite: 'isolation',
    platform: 'baremetal',
    workload: 'kernel-compile',
    resource: 'cpu',
    neighbourKind: 'none',
    neighbour: 'none',
    cpuPolicy: 'cpuset',
    memoryLimit: 'hard',
    overcommit: 1,
    rep: rep++,
    warmup: false,
    value: 1,
    unit: 's',
    better: 'lower',
    status: 'ok',
    accel: 'native',
    vcpus: 2,
    memoryBytes: 4 * 2 ** 30,
    start: '2025-01-01T00:00:00.000Z',
    end: '2025-01-01T00:00:01.000Z',
    ...over,
  };
}

function row(rows: SummaryRow[], cell: string, metric: string): SummaryRow {
  const r = rows.find((x) => x.cell === cell && x.metric === metric);
  if (!r) throw new Error(`no row for ${cell}/${metric}`);
  return r;
}

async function tempDirWith(fixture: string): Promise<string> {
  const dir = tempDir('virtbench-summary-');
  await copyFile(join(fixtures, fixture), join(dir, 'samples.jsonl'));
  return dir;
}

/** Minimal CSV reader for the test: handles quoted fields with commas and doubled quotes. */
function parseCsv(text: string): string[][] {
  const out: string[][] = [];
  let rowCells: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const ch = text[i]!;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') (field += '"'), i++;
      else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"') quoted = true;
    else if (ch === ',') rowCells.push(field), (field = '');
    else if (ch === '\n') rowCells.push(field), out.push(rowCells), (rowCells = []), (field = '');
    else field += ch;
  }
  if (field !== '' || rowCells.length > 0) rowCells.push(field), out.push(rowCells);
  return out;
}

test('warm-ups are dropped, groups are (cell, metric), rows in order of first appearance', (t) => {
  const rows = summarize([
    sample({ cell: 'b', metric: 'wall_s', warmup: true, value: 1000 }),
    sample({ cell: 'a', metric: 'wall_s', value: 10 }),
    sample({ cell: 'a', metric: 'user_s', value: 5 }),
    sample({ cell: 'b', metric: 'wall_s', value: 1 }),
    sample({ cell: 'a', metric: 'wall_s', warmup: true, value: 1000 }),
    sample({ cell: 'a', metric: 'wall_s', value: 12 }),
    sample({ cell: 'a', metric: 'user_s', value: 7 }),
    sample({ cell: 'a', metric: 'wall_s', value: 14 }),
    sample({ cell: 'c', metric: 'wall_s', warmup: true, value: 3 }),
  ]);
  // Cell 'c' has only a warm-up: no row. 'b' first appears (non-warm-up) after 'a'.
  t.deepEqual(
    rows.map((r) => `${r.cell}/${r.metric}`),
    ['a/wall_s', 'a/user_s', 'b/wall_s'],
  );
  const a = row(rows, 'a', 'wall_s');
  // [10, 12, 14]: mean 12, sd 2, half-width 4.302653 * 2 / sqrt(3) = 4.968276; warm-up 1000 not included.
  t.is(a.n, 3);
  t.is(a.mean, 12);
  t.is(a.sd, 2);
  t.is(a.max, 14);
  t.true(close(a.ci95_low, 7.031724, 1e-5));
  t.true(close(a.ci95_high, 16.968276, 1e-5));
  const u = row(rows, 'a', 'user_s');
  t.is(u.n, 2);
  t.is(u.mean, 6);
  const b = row(rows, 'b', 'wall_s');
  t.is(b.n, 1);
  t.is(b.mean, 1);
  t.true(Number.isNaN(b.sd));
  t.regex(b.note, /n=1/);
});

test('rows follow the suite\'s cell order when given; unlisted cells come after, by first appearance', (t) => {
  const samples = ['z', 'x', 'y', 'w'].map((cell) => sample({ cell, metric: 'wall_s', value: 1 }));
  t.deepEqual(
    summarize(samples, ['y', 'x', 'z']).map((r) => r.cell),
    ['y', 'x', 'z', 'w'],
  );
  t.deepEqual(
    summarize(samples).map((r) => r.cell),
    ['z', 'x', 'y', 'w'],
  );
});

test('dnf and error samples are counted, not included in the statistics', (t) => {
  const rows = summarize([
    sample({ cell: 'x', metric: 'm', value: 3 }),
    sample({ cell: 'x', metric: 'm', value: null, status: 'dnf', message: 'timeout' }),
    sample({ cell: 'x', metric: 'm', value: 5 }),
    sample({ cell: 'x', metric: 'm', value: null, status: 'error', message: 'boom' }),
    sample({ cell: 'x', metric: 'm', value: null, status: 'dnf', message: 'timeout' }),
    sample({ cell: 'x', metric: 'm', value: null, status: 'dnf', warmup: true }),
    sample({ cell: 'y', metric: 'm', value: null, status: 'dnf' }),
  ]);
  const x = row(rows, 'x', 'm');
  t.is(x.n, 2);
  t.is(x.mean, 4);
  t.is(x.dnf, 2);
  t.is(x.errors, 1);
  const y = row(rows, 'y', 'm');
  t.is(y.n, 0);
  t.is(y.dnf, 1);
  t.is(y.errors, 0);
  t.true(Number.isNaN(y.mean));
  t.regex(y.note, /no ok samples/);
});

test('ratio to the reference cell with its Fieller interval, and the accel note', (t) => {
  const rows = summarize([
    ...[10, 12, 14].map((value) => sample({ cell: 'bm', metric: 'wall_s', value })),
    ...[20, 24, 28].map((value) =>
      sample({ cell: 'vm', platform: 'kvm', reference: 'bm', accel: 'tcg', metric: 'wall_s', value }),
    ),
    ...[11, 13].map((value) => sample({ cell: 'lxc', platform: 'lxc', reference: 'bm', metric: 'wall_s', value })),
  ]);
  const bm = row(rows, 'bm', 'wall_s');
  t.is(bm.reference, '');
  t.true(Number.isNaN(bm.ratio));
  t.is(bm.note, '');

  // vm/bm: a = [20, 24, 28] (mean 24, va = 16/3), b = [10, 12, 14] (mean 12, vb = 4/3), r = 2;
  // r^2 vb = 16/3 = va, n = 3 each -> Welch df = 4, t = 2.776445; g = t^2 vb / 144 = 0.0713764;
  // half = (t / 12) sqrt(va (1 - g) + r^2 vb) = 0.2313704 * sqrt(4.952660 + 5.333333) = 0.742046;
  // low = 1.257954 / 0.9286236 = 1.354642, high = 2.742046 / 0.9286236 = 2.952802.
  const vm = row(rows, 'vm', 'wall_s');
  t.is(vm.reference, 'bm');
  t.is(vm.ratio, 2);
  t.true(close(vm.ratio_ci95_low, 1.354642, 5e-6));
  t.true(close(vm.ratio_ci95_high, 2.952802, 5e-6));
  t.is(vm.accel, 'tcg');
  t.regex(vm.note, /ratio compares tcg with native/);

  const lxc = row(rows, 'lxc', 'wall_s');
  t.is(lxc.ratio, 1);
  t.is(lxc.accel, 'native');
  t.notRegex(lxc.note, /ratio compares/);
  t.true(lxc.ratio_ci95_low < 1 && lxc.ratio_ci95_high > 1);
});

test('notes for a mixed-accel cell, a reference without ok samples, a missing reference, an unbounded ratio CI', (t) => {
  const rows = summarize([
    sample({ cell: 'ref', metric: 'm', value: null, status: 'dnf' }),
    sample({ cell: 'ref', metric: 'z', value: -1 }),
    sample({ cell: 'ref', metric: 'z', value: 1 }),
    sample({ cell: 'ref', metric: 'z', value: 3 }),
    sample({ cell: 'mixed', metric: 'm', reference: 'ref', accel: 'kvm', value: 1 }),
    sample({ cell: 'mixed', metric: 'm', reference: 'ref', accel: 'tcg', value: 2 }),
    sample({ cell: 'mixed', metric: 'z', reference: 'ref', value: 10 }),
    sample({ cell: 'mixed', metric: 'z', reference: 'ref', value: 12 }),
    sample({ cell: 'mixed', metric: 'z', reference: 'ref', value: 14 }),
    sample({ cell: 'orphan', metric: 'm', reference: 'gone', value: 1 }),
  ]);
  const mixed = row(rows, 'mixed', 'm');
  t.is(mixed.accel, 'kvm+tcg');
  t.regex(mixed.note, /cell mixes accel kvm\+tcg/);
  t.regex(mixed.note, /reference has no ok samples/);
  t.true(Number.isNaN(mixed.ratio));

  // z: ratio 12 / 1 = 12, but mean(ref) = 1 with vb = 4/3: g >> 1, interval unbounded.
  const z = row(rows, 'mixed', 'z');
  t.is(z.ratio, 12);
  t.true(Number.isNaN(z.ratio_ci95_low) && Number.isNaN(z.ratio_ci95_high));
  t.regex(z.note, /unbounded/);

  const orphan = row(rows, 'orphan', 'm');
  t.is(orphan.reference, 'gone');
  t.regex(orphan.note, /reference gone has no samples for this metric/);
});

test('formatNumber: up to 6 significant digits, non-finite as empty', (t) => {
  t.is(formatNumber(12), '12');
  t.is(formatNumber(1 / 6), '0.166667');
  t.is(formatNumber(7.031724576499337), '7.03172');
  t.is(formatNumber(1234567.8), '1234570');
  t.is(formatNumber(0.000012345678), '0.0000123457');
  t.is(formatNumber(-2.5), '-2.5');
  t.is(formatNumber(NaN), '');
  t.is(formatNumber(Infinity), '');
  t.is(formatNumber(undefined), '');
});

test('SUMMARY_COLUMNS and COLUMN_DOCS cover every row field', (t) => {
  const r = summarize([sample({ cell: 'a', metric: 'm' })])[0]!;
  t.deepEqual([...SUMMARY_COLUMNS].sort(), Object.keys(r).sort());
  t.deepEqual(Object.keys(COLUMN_DOCS).sort(), [...SUMMARY_COLUMNS].sort());
  for (const c of SUMMARY_COLUMNS) t.true(COLUMN_DOCS[c].length > 10, c);
});

test('writeSummaryCsv reads samples.jsonl and writes summary.csv with a header', async (t) => {
  const dir = await tempDirWith('samples-basic.jsonl');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const result = await writeSummaryCsv(dir);
  t.is(result.path, join(dir, 'summary.csv'));
  t.is(result.ignoredLastLine, undefined);
  const csv = parseCsv(await readFile(result.path, 'utf8'));
  t.deepEqual(csv[0], [...SUMMARY_COLUMNS]);
  t.is(csv.length, 3);
  const get = (r: string[], col: string) => r[SUMMARY_COLUMNS.indexOf(col as (typeof SUMMARY_COLUMNS)[number])];
  const [bm, vm] = [csv[1]!, csv[2]!];
  // bm: warm-up 100 dropped; [10, 12, 14].
  t.is(get(bm, 'cell'), 'bm');
  t.is(get(bm, 'n'), '3');
  t.is(get(bm, 'mean'), '12');
  t.is(get(bm, 'sd'), '2');
  t.is(get(bm, 'cv'), '0.166667');
  t.is(get(bm, 'ci95_low'), '7.03172');
  t.is(get(bm, 'ci95_high'), '16.9683');
  t.is(get(bm, 'reference'), '');
  t.is(get(bm, 'ratio'), '');
  t.is(get(bm, 'accel'), 'native');
  t.is(get(bm, 'neighbour_kind'), 'none');
  // vm: warm-up 500 dropped; [20, 24, 28], one dnf, one error; ratio 2 [1.35464, 2.95281].
  t.is(get(vm, 'cell'), 'vm');
  t.is(get(vm, 'platform'), 'kvm');
  t.is(get(vm, 'n'), '3');
  t.is(get(vm, 'mean'), '24');
  t.is(get(vm, 'reference'), 'bm');
  t.is(get(vm, 'ratio'), '2');
  t.is(get(vm, 'ratio_ci95_low'), '1.35464');
  t.is(get(vm, 'ratio_ci95_high'), '2.95281');
  t.is(get(vm, 'dnf'), '1');
  t.is(get(vm, 'errors'), '1');
  t.is(get(vm, 'accel'), 'tcg');
  t.is(get(vm, 'note'), 'statistics over the 3 runs that finished (1 of 5 DNF): conditional on finishing; ratio compares tcg with native');
});

test('a truncated last line of samples.jsonl is ignored and reported', async (t) => {
  const dir = await tempDirWith('samples-truncated.jsonl');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const { samples, ignoredLastLine } = await readSamplesJsonl(join(dir, 'samples.jsonl'));
  t.is(samples.length, 10);
  t.is(ignoredLastLine, 11);
  const result = await writeSummaryCsv(dir);
  t.is(result.ignoredLastLine, 11);
  t.deepEqual(
    result.rows.map((r) => [r.cell, r.n, r.dnf, r.errors]),
    [
      ['bm', 3, 0, 0],
      ['vm', 3, 1, 1],
    ],
  );
});

test('a corrupt line in the middle of samples.jsonl is an error naming file and line', async (t) => {
  const dir = await tempDirWith('samples-corrupt-middle.jsonl');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'samples.jsonl');
  const err = await t.throwsAsync(writeSummaryCsv(dir));
  t.true(err.message.startsWith(`${file}:4: corrupt line`), err.message);
});

test('a line that parses but is not a sample is an error, even when last', async (t) => {
  const dir = tempDir('virtbench-summary-');
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const file = join(dir, 'samples.jsonl');
  const good = JSON.stringify(sample({ cell: 'a', metric: 'm' }));
  await writeFile(file, `${good}\n\n${JSON.stringify({ cell: 'a', metric: 'm' })}\n`);
  const err = await t.throwsAsync(readSamplesJsonl(file));
  t.regex(err.message, new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}:3: not a sample`));
});

test('the tool behind a value is said in the note, and a cell mixing tools is flagged', (t) => {
  const fio = 'fio job equivalent to filebench randomrw';
  const one = summarize([1, 2, 3].map((v) => sample({ cell: 'a', metric: 'ops_s', value: v, note: fio })));
  t.is(one[0]!.note, fio);
  const mixed = summarize([
    sample({ cell: 'b', metric: 'ops_s', value: 1, note: fio }),
    sample({ cell: 'b', metric: 'ops_s', value: 2, note: 'filebench randomrw' }),
  ]);
  t.regex(mixed[0]!.note, new RegExp(`mixes ${fio} and filebench randomrw`));
});

test('multi-tenant cells: one row over tenants and reps, ratio against the cell the group named, tenant columns filled', async (t) => {
  const { expandCells, sampleCellFields } = await import('../../core/matrix.ts');
  const allocation = (await import('../../suites/allocation.ts')).default;
  const cells = expandCells(allocation, { platforms: ['lxc'], workloads: ['specjbb-like'], cpuPolicy: 'cpuset', memoryLimit: 'hard', overcommit: 1, tenancy: { cpus: 2, memoryBytes: 24 * 2 ** 30, swapBytes: 0, memoryBudget: 2 * 2 ** 30, vcpus: 1, guestMemoryBytes: 2 ** 30 } });
  const shares = cells.find((c) => c.cpuPolicy === 'shares' && c.busy === undefined)!;
  const cpuset = cells.find((c) => c.id === shares.reference)!;
  t.is(cpuset.cpuPolicy, 'cpuset');
  const samples: Sample[] = [];
  // 2 tenants x 3 reps each; shares tenants at 120, cpuset tenants at 100 (bops: higher is better)
  for (const [cell, base] of [[cpuset, 100], [shares, 120]] as const) {
    for (let r = 1; r <= 3; r++) for (const tenant of [0, 1]) samples.push(sample({ ...sampleCellFields(cell), suite: 'allocation', workload: 'specjbb-like', metric: 'bops', unit: 'bops', better: 'higher', rep: r, tenant, value: base + tenant + r }));
  }
  const rows = summarize(samples);
  const r = row(rows, shares.id, 'bops');
  t.is(r.n, 6, 'every tenant of every rep');
  t.is(r.reference, cpuset.id);
  t.true(close(r.ratio, 122.5 / 102.5, 1e-9));
  t.like(r, { tenants: 2, busy: 'all', group: 'fig10', cpus_per_tenant: 1, cpu_policy: 'shares' });
  const csv = (await import('../../analysis/summary.ts')).summaryCsv(rows).split('\n');
  const header = csv[0]!.split(',');
  const line = csv.find((l) => l.startsWith(`allocation,${shares.id},`))!.split(',');
  t.deepEqual(['tenants', 'busy', 'group', 'cpus_per_tenant'].map((c) => line[header.indexOf(c)]), ['2', 'all', 'fig10', '1']);
  // a plain cell leaves them empty
  const plain = summarize([sample({ cell: 'a', metric: 'm' })])[0]!;
  t.deepEqual([plain.tenants, plain.busy, plain.group, plain.cpus_per_tenant], [undefined, undefined, undefined, undefined]);
});
