// The contention experiment (experiments/contention.ts) without guests: its neighbour counts per
// profile and host memory, its check of disk room before a run (through the CLI with a hand-made
// fake platform named lxc: exit 2, one line, nothing provisioned, no result directory), and the
// parsing of fio's periodic status on real captured output.
import test from 'ava';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { isRoot } from '../../core/host.ts';
import type { Driver, DiskRoom } from '../../core/types.ts';
import contention, { MARGIN_BYTES, STRESS_FILE_BYTES, contentionParams, contentionPreflight, mbPerS, parseFioStatus, stressScript } from '../../experiments/contention.ts';
import type { Registry } from '../../runner/registry.ts';
import { runSuite } from '../../runner/suite.ts';
import lifecycle from '../../suites/lifecycle.ts';
import { tempDir } from '../tmp.ts';

const MiB = 1024 ** 2;
const GiB = 1024 ** 3;

test('neighbour counts by profile, d0 the reference, capped by host memory with one line', (t) => {
  t.is(contention.reference, 'd0');
  t.deepEqual(contentionParams({ profile: 'smoke', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB }), { params: ['d0', 'd1'] });
  t.deepEqual(contentionParams({ profile: 'quick', memoryBytes: 2 * GiB, hostMemoryBytes: 24 * GiB }), { params: ['d0', 'd1', 'd2', 'd4'] });
  // paper: 4 GiB guests, 18 GiB usable: d8 needs 9 guests
  t.deepEqual(contentionParams({ profile: 'paper', memoryBytes: 4 * GiB, hostMemoryBytes: 24 * GiB }), {
    params: ['d0', 'd1', 'd2'],
    note: "contention: d = 4, 8 left out: 5 guests of 4.00 GiB exceed 3/4 of this host's 24.0 GiB memory",
  });
  t.deepEqual(contentionParams({ profile: 'paper', memoryBytes: 1 * GiB, hostMemoryBytes: 24 * GiB }).params, ['d0', 'd1', 'd2', 'd4', 'd8']);
});

test('preflight: the largest cell\'s stressor files plus the margin must fit where each platform\'s guests write', (t) => {
  const room = (freeBytes: number): DiskRoom => ({ dir: '/var/lib/virtbench/lxc', freeBytes });
  const need = 4 * STRESS_FILE_BYTES.quick + MARGIN_BYTES;
  const params = { lxc: ['d0', 'd1', 'd2', 'd4'] };
  t.is(contentionPreflight({ profile: 'quick', params, room: { lxc: room(need) } }), undefined);
  t.is(
    contentionPreflight({ profile: 'quick', params, room: { lxc: room(need - 1) } }),
    'contention: the 4 disk stressors of lxc/contention/d4 write 4.00 GiB where lxc guests write (/var/lib/virtbench/lxc), whose file system has 5.00 GiB free and needs 1.00 GiB more beside them; free some space or leave contention out (--workloads)',
  );
  // d0 alone writes nothing: never refused
  t.is(contentionPreflight({ profile: 'quick', params: { lxc: ['d0'] }, room: { lxc: room(0) } }), undefined);
});

/** A hand-made platform named lxc whose guests' disk has `freeBytes` left; it records provisions. */
function fakeLxc(freeBytes: number) {
  const provisioned: string[] = [];
  const driver: Driver = {
    name: 'lxc',
    description: 'hand-made fake platform',
    hostPackages: [],
    probe: async () => ({ ok: true, accel: 'native' }),
    guestDiskRoom: async () => ({ dir: '/fake/guests', freeBytes }),
    provision: async (spec) => {
      provisioned.push(spec.name);
      throw new Error('the fake provisions nothing');
    },
  };
  const registry: Registry = { drivers: { lxc: driver }, workloads: {}, neighbours: {} };
  return { registry, provisioned };
}

const only = { ...lifecycle, platforms: ['lxc'] };

test('--dry-run: the contention cells at smoke (d1 against d0) when the disk has room', async (t) => {
  const f = fakeLxc(10 * GiB);
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSuite(only, ['--dry-run', '--profile', 'smoke', '--workloads', 'contention', '--seed', '1'], { out: (l) => out.push(l), err: (l) => err.push(l) }, f.registry);
  t.is(code, 0, err.join('\n'));
  t.deepEqual(out.filter((l) => l.startsWith('  ')), ['  lxc/contention/d0', '  lxc/contention/d1   (vs lxc/contention/d0)']);
  t.deepEqual(f.provisioned, []);
});

test('a disk stressor on a nearly full disk: one line, exit 2, nothing started (dry run and real run)', async (t) => {
  const f = fakeLxc(STRESS_FILE_BYTES.smoke + MARGIN_BYTES - 1);
  const err: string[] = [];
  const io = { out: (l: string) => err.push(l), err: (l: string) => err.push(l) };
  t.is(await runSuite(only, ['--dry-run', '--profile', 'smoke', '--workloads', 'contention'], io, f.registry), 2);
  t.deepEqual(err, [
    `virtbench: contention: the 1 disk stressors of lxc/contention/d1 write 0.13 GiB where lxc guests write (/fake/guests), whose file system has ${((STRESS_FILE_BYTES.smoke + MARGIN_BYTES - 1) / GiB).toFixed(2)} GiB free and needs 1.00 GiB more beside them; free some space or leave contention out (--workloads)`,
  ]);
  // the real run is refused before the host lock, the package installs and any guest
  if (!isRoot()) return t.log('not root: the real run would be refused for that first; checked by the dry run only');
  const out = tempDir('vb-contention-');
  err.length = 0;
  t.is(await runSuite(only, ['--profile', 'smoke', '--workloads', 'contention', '--out', out], io, f.registry), 2);
  t.is(err.length, 1, err.join('\n'));
  t.regex(err[0]!, /^virtbench: contention: the 1 disk stressors of lxc\/contention\/d1 write/);
  t.deepEqual(f.provisioned, []);
  t.false(existsSync(join(out, 'lifecycle')), 'no result directory');
});

test('the stressor: fio randrw on its own file of the profile\'s size, direct I/O when the guest\'s file system takes it, bounded in time twice', (t) => {
  const s = stressScript({ dir: '/var/tmp/virtbench/contention', fileBytes: 128 * MiB, limitS: 180 });
  t.regex(s, /oflag=direct .*then direct=1; else direct=0/);
  t.regex(s, /exec timeout -s KILL 180 fio --name=stress --filename=stress\.dat --size=134217728 --rw=randrw .*--direct=\$direct .*--time_based --runtime=180 /);
  t.regex(s, /--status-interval=1 --output-format=json --output=status\.json/);
});

test('fio status: every complete report of real fio 3.33 output, cut ones skipped, and MB/s between two', (t) => {
  const text = readFileSync(join(import.meta.dirname, '../fixtures/contention/fio-3.33-status.json'), 'utf8');
  const reports = parseFioStatus(text);
  t.true(reports.length >= 3, `${reports.length} reports`);
  for (let i = 1; i < reports.length; i++) {
    t.true(reports[i]!.runtimeMs > reports[i - 1]!.runtimeMs, 'run time grows');
    t.true(reports[i]!.ioBytes >= reports[i - 1]!.ioBytes, 'bytes grow');
  }
  t.true(reports.at(-1)!.ioBytes > 0);
  const rate = mbPerS(reports[0]!, reports.at(-1)!);
  t.true(rate > 0 && rate < 20_000, `${rate} MB/s`);
  // the tail of the file as the experiment reads it: a report cut at its start is skipped, the rest kept
  const cut = parseFioStatus(text.slice(Math.floor(text.length / 2)));
  t.deepEqual(cut, reports.slice(reports.length - cut.length));
  t.true(cut.length < reports.length);
  // and one cut at its end (fio still writing it)
  t.deepEqual(parseFioStatus(text.slice(0, text.lastIndexOf('}') - 1)), reports.slice(0, -1));
  t.true(Number.isNaN(mbPerS(reports[0]!, reports[0]!)));
});
