// The lifecycle suite (issue 11) at smoke on bare metal, LXC and Docker with real guests, 2
// repetitions: every launch, storm, footprint and contention cell finishes, each storm guest is a
// sample of its own, the service answers after the guest does, cold launches are compared with
// warm ones, a guest's disk increment and idle memory are measured, a launch beside a fio
// neighbour sees it do I/O, and nothing is left. VM platforms (TCG here) are left to `npm run
// suite lifecycle` (CI budget).
import test from 'ava';
import { leftovers } from './leftovers.ts';
import { smokeRun } from './smoke.ts';

test('lifecycle at smoke on baremetal, lxc and docker: launch cold/warm, storms of 1 and 2, footprint, launch beside 0 and 1 disk stressors, nothing left', async (t) => {
  const run = await smokeRun('lifecycle', ['--platforms', 'baremetal,lxc,docker', '--reps', '2']);
  t.log(`smoke lifecycle on baremetal+lxc+docker, 2 reps: ${run.minutes.toFixed(1)} min`);
  // the figures first, so a failing run still shows them
  const median = (cell: string, metric: string) => run.rows.find((r) => r.cell === cell && r.metric === metric)?.median;
  for (const p of ['baremetal', 'lxc', 'docker']) t.log(`${p}: beside 0/1 fio neighbours ready ${median(`${p}/contention/d0`, 'ready_s')}/${median(`${p}/contention/d1`, 'ready_s')} s, Redis ${median(`${p}/contention/d0`, 'service_s')}/${median(`${p}/contention/d1`, 'service_s')} s, the neighbour's ${median(`${p}/contention/d1`, 'stress_mb_s')} MB/s`);
  for (const p of ['baremetal', 'lxc', 'docker']) t.log(`${p}: ready cold ${median(`${p}/launch/cold`, 'ready_s')} s warm ${median(`${p}/launch/warm`, 'ready_s')} s; Redis cold ${median(`${p}/launch/cold`, 'service_s')} s warm ${median(`${p}/launch/warm`, 'service_s')} s; storm of 2 all ready ${median(`${p}/storm/n2`, 'all_ready_s')} s; disk ${median(`${p}/footprint/idle`, 'disk_bytes')} B, idle memory ${median(`${p}/footprint/idle`, 'memory_bytes')} B`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  const ids = run.manifest.cells.map((c) => c.id);
  for (const p of ['baremetal', 'lxc', 'docker']) for (const c of ['launch/cold', 'launch/warm', 'storm/n1', 'storm/n2', 'footprint/idle']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  for (const p of ['baremetal', 'lxc', 'docker']) for (const c of ['contention/d0', 'contention/d1']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  t.is(ids.length, 21);
  for (const rep of [1, 2]) {
    for (const p of ['baremetal', 'lxc', 'docker']) {
      const of = (cell: string, metric: string) => run.samples.filter((s) => s.cell === `${p}/${cell}` && s.rep === rep && s.metric === metric);
      for (const cache of ['cold', 'warm']) {
        const ready = of(`launch/${cache}`, 'ready_s')[0]!.value!;
        const service = of(`launch/${cache}`, 'service_s')[0]!.value!;
        t.true(ready > 0 && ready < 30 && service > ready, `${p} ${cache} rep ${rep}: ready ${ready} s, Redis ${service} s`);
      }
      const each = of('storm/n2', 'ready_s');
      t.deepEqual(each.map((s) => s.tenant).sort(), [0, 1], `${p} storm n2 rep ${rep}: a sample per guest`);
      t.is(of('storm/n2', 'all_ready_s')[0]!.value, Math.max(...each.map((s) => s.value!)), `${p} storm n2 rep ${rep}: the last guest's time`);
      // a new guest's own directory or layer holds at least a block; an idle guest's memory is far below its 1 GiB
      // (bare metal's "guest" has no process left once idle: its cgroup may hold nothing)
      const disk = of('footprint/idle', 'disk_bytes')[0]!.value!;
      const memory = of('footprint/idle', 'memory_bytes')[0]!.value!;
      t.true(disk >= 4096 && disk < 200e6, `${p} rep ${rep}: disk ${disk} B`);
      t.true((memory > 0 || p === 'baremetal') && memory < 512 * 1024 ** 2, `${p} rep ${rep}: idle memory ${memory} B`);
      // boot under I/O contention: the launch beside one fio neighbour that really did I/O meanwhile
      for (const d of ['d0', 'd1']) {
        const ready = of(`contention/${d}`, 'ready_s')[0]!.value!;
        const service = of(`contention/${d}`, 'service_s')[0]!.value!;
        t.true(ready > 0 && ready < 30 && service > ready, `${p} contention ${d} rep ${rep}: ready ${ready} s, Redis ${service} s`);
      }
      t.is(of('contention/d0', 'stress_mb_s')[0]!.value, 0);
      const stress = of('contention/d1', 'stress_mb_s')[0]!;
      t.true(stress.value! > 1, `${p} contention d1 rep ${rep}: the neighbour did ${stress.value} MB/s (${stress.note})`);
    }
  }
  // summary: a row per cell and metric; cold against warm, n2 against n1
  for (const c of run.manifest.cells) t.true(run.rows.some((r) => r.cell === c.id), `${c.id} summarized`);
  for (const r of run.rows.filter((x) => /launch\/cold|storm\/n2|contention\/d1/.test(x.cell ?? '') && x.metric !== 'stress_mb_s')) t.not(r.ratio, '', `${r.cell} ${r.metric}: a ratio`);
  t.deepEqual(await leftovers(), []);
});
