// Issue 12's two suites at smoke as a user types them, on lxc and kvm (under TCG where the host has
// no KVM), 1 repetition: `npm run suite scaling -- --profile smoke` (Redis cold, warm, hot, resume;
// lxc's warm and hot cells skipped with CRIU's reason where CRIU fails, as on the development
// host) and `npm run suite migration -- --profile smoke` (idle and ycsb-redis: memory to move
// everywhere, a real live migration on kvm). Every capability verdict is in the manifest, every
// planned run finishes, the figures and tables are written, nothing is left. About 2 + 2 minutes
// here (2026-12-02); the other platforms' cells are the same procedures (CI budget).
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { leftovers } from './leftovers.ts';
import { smokeRun } from './smoke.ts';

const PLATFORMS = ['lxc', 'kvm'];
const accel = existsSync('/dev/kvm') ? ['native', 'kvm', 'tcg'] : ['native', 'tcg'];

test('scaling at smoke on lxc and kvm: capability verdicts recorded, cells without one skipped with its reason, readiness and timelines measured, nothing left', async (t) => {
  const run = await smokeRun('scaling', ['--platforms', PLATFORMS.join(','), '--reps', '1']);
  t.log(`smoke scaling on ${PLATFORMS.join('+')}, 1 rep: ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  const caps = run.manifest.capabilities!;
  t.deepEqual(Object.keys(caps).sort(), [...PLATFORMS].sort());
  for (const p of PLATFORMS) for (const c of ['pause', 'checkpoint', 'migrate', 'clone'] as const) t.true(caps[p]![c].ok || (caps[p]![c].reason ?? '').length > 0, `${p} ${c}: ok or a reason`);
  const ids = run.manifest.cells.map((c) => c.id);
  for (const p of PLATFORMS) {
    for (const [method, need] of [['cold', undefined], ['warm', 'checkpoint'], ['hot', 'clone'], ['resume', 'pause']] as const) {
      const id = `${p}/scale/redis-${method}`;
      const ok = need === undefined || caps[p]![need].ok;
      t.is(ids.includes(id), ok, `${id} planned iff its capability works here`);
    }
  }
  t.true(ids.includes('kvm/scale/redis-warm') && ids.includes('kvm/scale/redis-resume') && ids.includes('lxc/scale/redis-resume'), `kvm checkpoints and pauses, lxc pauses (the freezer): ${JSON.stringify(caps)}`);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  for (const s of run.samples) t.true(accel.includes(s.accel), `${s.cell} tagged ${s.accel}`);
  const value = (cell: string, metric: string) => run.samples.find((s) => s.cell === cell && s.metric === metric)?.value ?? NaN;
  for (const id of ids) {
    t.true(value(id, 'ready_s') >= value(id, 'start_s'), `${id}: ready ${value(id, 'ready_s')} s after start ${value(id, 'start_s')} s`);
    for (const k of [1, 2, 3]) t.true(value(id, `ops_s_t${k}`) > 0, `${id} served in second ${k}`);
    t.true(existsSync(join(run.dir, run.samples.find((s) => s.cell === id)!.artifacts!, 'timeline.csv')), `${id} timeline.csv`);
  }
  t.log(ids.map((id) => `${id}: start ${value(id, 'start_s').toFixed(3)} s, ready ${value(id, 'ready_s').toFixed(3)} s, ${value(id, 'first_ops_s').toFixed(0)} ops/s`).join('\n'));
  t.true(value('kvm/scale/redis-warm', 'image_bytes') > 1e6, 'a VM checkpoint holds its RAM');
  t.true(value('kvm/scale/redis-warm', 'ready_s') < value('kvm/scale/redis-cold', 'ready_s'), 'a warm VM start is ready before a cold boot');
  const figures = await execa(process.execPath, ['--import', 'tsx', 'cli/export.ts', run.dir], { reject: false, all: true });
  t.is(figures.exitCode, 0, figures.all);
  t.true(readFileSync(join(run.dir, 'tables', 'scaling-readiness.csv'), 'utf8').includes('kvm,redis,warm,'));
  t.deepEqual(await leftovers(), []);
});

test('migration at smoke on lxc and kvm: memory to move everywhere, a real live migration of the VM while its workload runs, nothing left', async (t) => {
  const run = await smokeRun('migration', ['--platforms', PLATFORMS.join(','), '--reps', '1']);
  t.log(`smoke migration on ${PLATFORMS.join('+')}, 1 rep: ${run.minutes.toFixed(1)} min`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.manifest.cells.map((c) => c.id).sort(), ['kvm/migrate/idle', 'kvm/migrate/ycsb-redis', 'lxc/migrate/idle', 'lxc/migrate/ycsb-redis']);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  const value = (cell: string, metric: string) => run.samples.find((s) => s.cell === cell && s.metric === metric)?.value;
  for (const id of run.manifest.cells.map((c) => c.id)) t.true((value(id, 'memory_bytes') ?? 0) > 0, `${id} memory_bytes`);
  // a VM's QEMU holds far more than a container's processes (the study's Table 2)
  t.true(value('kvm/migrate/idle', 'memory_bytes')! > 5 * value('lxc/migrate/idle', 'memory_bytes')!);
  if (run.manifest.capabilities?.kvm?.migrate.ok) {
    for (const w of ['idle', 'ycsb-redis']) {
      t.true(value(`kvm/migrate/${w}`, 'total_s')! > 0 && value(`kvm/migrate/${w}`, 'sent_bytes')! > 1e6, `kvm ${w}: a migration that sent its memory`);
      t.true(value(`kvm/migrate/${w}`, 'downtime_ms')! >= 0);
    }
    t.true(value('kvm/migrate/ycsb-redis', 'slowdown') !== undefined, 'the workload slowed is measured');
  }
  t.log(run.samples.map((s) => `${s.cell} ${s.metric}=${s.value}`).join('\n'));
  const exported = await execa(process.execPath, ['--import', 'tsx', 'cli/export.ts', run.dir], { reject: false, all: true });
  t.is(exported.exitCode, 0, exported.all);
  t.true(readFileSync(join(run.dir, 'tables', 'migration-footprint.csv'), 'utf8').includes('kvm,ycsb-redis,'));
  t.deepEqual(await leftovers(), []);
});
