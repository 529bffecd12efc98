// The lifecycle suite (issue 11) at smoke on bare metal, LXC and Docker with real guests, 1
// repetition: every launch, storm, footprint, contention, image and cow cell finishes, each storm
// guest is a sample of its own, the service answers after the guest does, cold launches are
// compared with warm ones, a guest's disk increment and idle memory are measured, a launch beside
// a fio neighbour sees it do I/O, images are built (fresh, then removed) and measured, the
// copy-on-write write job runs into the root file system and a plain directory, and nothing is
// left. Then a storm of 2 on private images on LXC: each guest holds a whole copy of the image, and
// no copy is left (Docker's private copies, ~40 s more, are in test/long). VM platforms:
// lifecycle-vm.test.ts.
import test from 'ava';
import { leftovers } from './leftovers.ts';
import { smokeRun } from './smoke.ts';
import { PRIVATE_NOTE } from '../../experiments/storm.ts';

test('lifecycle at smoke on baremetal, lxc and docker: launch cold/warm, storms of 1 and 2, footprint, launch beside 0 and 1 disk stressors, image, cow, nothing left', async (t) => {
  // one repetition (CI budget); the private-image storm has a test of its own below
  const run = await smokeRun('lifecycle', ['--platforms', 'baremetal,lxc,docker', '--reps', '1', '--storm-images', 'shared']);
  t.log(`smoke lifecycle on baremetal+lxc+docker, 1 rep: ${run.minutes.toFixed(1)} min`);
  // the figures first, so a failing run still shows them
  const median = (cell: string, metric: string) => run.rows.find((r) => r.cell === cell && r.metric === metric)?.median;
  for (const p of ['baremetal', 'lxc', 'docker']) t.log(`${p}: beside 0/1 fio neighbours ready ${median(`${p}/contention/d0`, 'ready_s')}/${median(`${p}/contention/d1`, 'ready_s')} s, Redis ${median(`${p}/contention/d0`, 'service_s')}/${median(`${p}/contention/d1`, 'service_s')} s, the neighbour's ${median(`${p}/contention/d1`, 'stress_mb_s')} MB/s`);
  for (const p of ['baremetal', 'lxc', 'docker']) t.log(`${p}: ready cold ${median(`${p}/launch/cold`, 'ready_s')} s warm ${median(`${p}/launch/warm`, 'ready_s')} s; Redis cold ${median(`${p}/launch/cold`, 'service_s')} s warm ${median(`${p}/launch/warm`, 'service_s')} s; storm of 2 all ready ${median(`${p}/storm/n2`, 'all_ready_s')} s; disk ${median(`${p}/footprint/idle`, 'disk_bytes')} B, idle memory ${median(`${p}/footprint/idle`, 'memory_bytes')} B`);
  for (const p of ['lxc', 'docker']) t.log(`${p}: image build ${median(`${p}/image/build`, 'build_s')} s, ${median(`${p}/image/build`, 'image_bytes')} B (rootfs ${median(`${p}/image/build`, 'rootfs_s')} s)`);
  for (const p of ['baremetal', 'lxc', 'docker']) t.log(`${p}: cow write plain ${median(`${p}/cow/plain`, 'write_s')} s, layer ${median(`${p}/cow/layer`, 'write_s')} s, ratio ${run.rows.find((r) => r.cell === `${p}/cow/layer` && r.metric === 'write_s')?.ratio}`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  const ids = run.manifest.cells.map((c) => c.id);
  for (const p of ['baremetal', 'lxc', 'docker']) for (const c of ['launch/cold', 'launch/warm', 'storm/n1', 'storm/n2', 'footprint/idle']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  for (const c of ['baremetal/cow/plain', 'lxc/image/build', 'lxc/cow/plain', 'lxc/cow/layer', 'docker/image/build', 'docker/cow/plain', 'docker/cow/layer']) t.true(ids.includes(c), `${c} planned`);
  for (const p of ['baremetal', 'lxc', 'docker']) for (const c of ['contention/d0', 'contention/d1']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  // bare metal has no image and no copy-on-write layer
  t.is(ids.length, 28);
  for (const rep of [1]) {
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
      // on the shared image a storm guest adds a small layer (a private one, below, a whole image)
      for (const s of of('storm/n2', 'disk_bytes')) t.true(s.value! >= 4096 && s.value! < 10e6, `${p} storm n2 rep ${rep} guest ${s.tenant}: disk ${s.value} B`);
      // a new guest's own directory or layer holds at least a block; an idle guest's memory is far below its 1 GiB
      // (bare metal's "guest" has no process left once idle: its cgroup may hold nothing)
      const disk = of('footprint/idle', 'disk_bytes')[0]!.value!;
      const memory = of('footprint/idle', 'memory_bytes')[0]!.value!;
      t.true(disk >= 4096 && disk < 200e6, `${p} rep ${rep}: disk ${disk} B`);
      t.true((memory > 0 || p === 'baremetal') && memory < 512 * 1024 ** 2, `${p} rep ${rep}: idle memory ${memory} B`);
      // an image is at least the smoke subset of the rootfs (docker: its usr/share; lxc: the whole rootfs)
      if (p !== 'baremetal') {
        const bytes = of('image/build', 'image_bytes')[0]!.value!;
        const build = of('image/build', 'build_s')[0]!.value!;
        t.true(bytes > 50e6 && bytes < 20e9 && build > 0, `${p} rep ${rep}: image ${bytes} B built in ${build} s`);
      }
      for (const param of p === 'baremetal' ? ['plain'] : ['plain', 'layer']) {
        const write = of(`cow/${param}`, 'write_s')[0]!.value!;
        t.true(write > 0 && write < 60, `${p} cow ${param} rep ${rep}: ${write} s`);
      }
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
  for (const r of run.rows.filter((x) => /launch\/cold|storm\/n2|cow\/layer|contention\/d1/.test(x.cell ?? '') && x.metric !== 'stress_mb_s')) t.not(r.ratio, '', `${r.cell} ${r.metric}: a ratio`);
  t.deepEqual(await leftovers(), []);
});

test('a storm of 2 on private images at smoke on lxc: each guest on a whole copy of its own, none left', async (t) => {
  const run = await smokeRun('lifecycle', ['--platforms', 'lxc', '--workloads', 'storm', '--storm-sizes', '2', '--storm-images', 'private', '--reps', '1']);
  t.log(`private storm of 2 on lxc, 1 rep: ${run.minutes.toFixed(2)} min`);
  const of = (cell: string, metric: string) => run.samples.filter((s) => s.cell === cell && s.metric === metric);
  for (const p of ['lxc']) t.log(`${p}: private storm of 2 all ready ${of(`${p}/storm/n2-private`, 'all_ready_s')[0]?.value} s; disk per guest ${of(`${p}/storm/n2-private`, 'disk_bytes').map((s) => s.value).join(', ')} B; copies ${of(`${p}/storm/n2-private`, 'copy_s').map((s) => s.value).join(', ')} s`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  t.deepEqual(run.manifest.cells.map((c) => c.id), ['lxc/storm/n2-private']);
  for (const p of ['lxc']) {
    const cell = `${p}/storm/n2-private`;
    const ready = of(cell, 'ready_s');
    t.deepEqual(ready.map((s) => s.tenant).sort(), [0, 1], `${p}: a sample per guest`);
    t.is(of(cell, 'all_ready_s')[0]!.value, Math.max(...ready.map((s) => s.value!)));
    // the copies were made before the start: their seconds are copy_s, not part of ready_s
    for (const s of ready) t.is(s.note, PRIVATE_NOTE);
    const copyS = of(cell, 'copy_s');
    t.deepEqual(copyS.map((s) => s.tenant).sort(), [0, 1], `${p}: copy time per guest`);
    for (const s of copyS) t.true(s.value! > 0.5, `${p}: copy ${s.tenant} took ${s.value} s`);
    // a guest on the shared image adds tens of KiB (the footprint cells above); a private one a whole ~1.2 GB image
    const disk = of(cell, 'disk_bytes');
    t.deepEqual(disk.map((s) => s.tenant).sort(), [0, 1], `${p}: disk per guest`);
    for (const s of disk) t.true(s.value! > 500e6, `${p} private guest ${s.tenant}: ${s.value} B on disk`);
  }
  // no copy left: lxc container directories are part of leftovers()
  t.deepEqual(await leftovers(), []);
});
