// The lifecycle suite's launch, storm and footprint cells on the VM platforms kvm and lightvm at
// smoke with real guests, 1 repetition, under TCG where the host has no KVM (tagged): every run
// finishes, a VM is ready before its Redis answers, a storm's guests are each a sample, a VM's idle
// memory is its QEMU's guest RAM (far more than a container's), and nothing is left. About 2.5
// minutes. lxcvm (two VMs per warm launch, ~15 s each under TCG) and the other lifecycle
// experiments on VMs (contention, image, cow, private storms) are in test/long/lifecycle-vm-all
// (CI budget).
import test from 'ava';
import { existsSync } from 'node:fs';
import { leftovers } from './leftovers.ts';
import { smokeRun } from './smoke.ts';

const VMS = ['kvm', 'lightvm'];

test('lifecycle at smoke on kvm and lightvm: launch cold/warm, a storm of 2, footprint, tagged by accelerator, nothing left', async (t) => {
  const run = await smokeRun('lifecycle', ['--platforms', VMS.join(','), '--workloads', 'launch,storm,footprint', '--storm-sizes', '2', '--storm-images', 'shared', '--reps', '1']);
  t.log(`smoke lifecycle on ${VMS.join('+')}, 1 rep: ${run.minutes.toFixed(1)} min`);
  const value = (cell: string, metric: string) => run.samples.filter((s) => s.cell === cell && s.metric === metric).map((s) => s.value);
  for (const p of VMS) t.log(`${p}: ready cold ${value(`${p}/launch/cold`, 'ready_s')} s warm ${value(`${p}/launch/warm`, 'ready_s')} s; Redis cold ${value(`${p}/launch/cold`, 'service_s')} s; storm of 2 ${value(`${p}/storm/n2`, 'ready_s')} s; disk ${value(`${p}/footprint/idle`, 'disk_bytes')} B, idle memory ${value(`${p}/footprint/idle`, 'memory_bytes')} B`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  const accel = existsSync('/dev/kvm') ? ['kvm', 'tcg'] : ['tcg'];
  for (const s of run.samples) t.true(accel.includes(s.accel), `${s.cell} ${s.metric} tagged accel=${s.accel}`);
  const ids = run.manifest.cells.map((c) => c.id);
  t.is(ids.length, 4 * VMS.length);
  for (const p of VMS) for (const c of ['launch/cold', 'launch/warm', 'storm/n2', 'footprint/idle']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  for (const p of VMS) {
    for (const cache of ['cold', 'warm']) {
      const [ready] = value(`${p}/launch/${cache}`, 'ready_s');
      const [service] = value(`${p}/launch/${cache}`, 'service_s');
      t.true(ready! > 0.5 && ready! < 300 && service! > ready!, `${p} ${cache}: a VM boots in more than half a second; ready ${ready} s, Redis ${service} s`);
    }
    const each = run.samples.filter((s) => s.cell === `${p}/storm/n2` && s.metric === 'ready_s');
    t.deepEqual(each.map((s) => s.tenant).sort(), [0, 1], `${p} storm n2: a sample per guest`);
    t.is(value(`${p}/storm/n2`, 'all_ready_s')[0], Math.max(...each.map((s) => s.value!)));
    const [disk] = value(`${p}/footprint/idle`, 'disk_bytes');
    const [memory] = value(`${p}/footprint/idle`, 'memory_bytes');
    t.true(disk! >= 4096 && disk! < 200e6, `${p}: disk ${disk} B`);
    // QEMU's resident memory: the guest kernel and the RAM it touched while booting, well below the 1 GiB guest
    t.true(memory! > 50 * 1024 ** 2 && memory! < 1024 ** 3, `${p} QEMU memory ${memory} B`);
  }
  t.deepEqual(await leftovers(), []);
});
