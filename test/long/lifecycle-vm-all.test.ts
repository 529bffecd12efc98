// `npm run suite lifecycle -- --profile smoke` on the three VM platforms with every experiment
// (launch, shared and private storms, footprint, contention, image, cow), 1 repetition, under TCG
// where KVM cannot boot a guest (outside CI's budget: 8.1 minutes on 2 cores, 28 cells). Every cell a
// platform has runs and finishes, every sample of a guest is tagged with its accelerator, lxcvm's footprint is
// its container's and says so, and nothing is left.
import test from 'ava';
import { existsSync } from 'node:fs';
import { leftovers, vmLeftovers } from '../integration/leftovers.ts';
import { smokeRun } from '../integration/smoke.ts';

test('the whole lifecycle smoke on kvm, lightvm and lxcvm', async (t) => {
  const run = await smokeRun('lifecycle', ['--platforms', 'kvm,lightvm,lxcvm', '--reps', '1']);
  t.log(`smoke lifecycle on kvm+lightvm+lxcvm, every experiment, 1 rep: ${run.minutes.toFixed(1)} min, ${run.manifest.cells.length} cells`);
  for (const c of run.manifest.cells) t.log(`${c.id}: ${run.samples.filter((s) => s.cell === c.id).map((s) => `${s.metric}${s.tenant !== undefined ? `[${s.tenant}]` : ''}=${s.value ?? s.status}`).join(' ')}`);
  t.is(run.exitCode, 0, run.tail);
  t.deepEqual(run.samples.filter((s) => s.status !== 'ok').map((s) => `${s.cell} ${s.metric} ${s.status} ${s.message}`), [], 'every run finishes');
  const accel = existsSync('/dev/kvm') ? ['kvm', 'tcg'] : ['tcg'];
  // an image build boots no guest (it makes a disk image or directory on the host): its samples are native
  for (const s of run.samples) t.true(s.workload === 'image' ? s.accel === 'native' : accel.includes(s.accel), `${s.cell} ${s.metric} tagged accel=${s.accel}`);
  const ids = run.manifest.cells.map((c) => c.id);
  for (const p of ['kvm', 'lightvm', 'lxcvm']) for (const c of ['launch/cold', 'launch/warm', 'storm/n1', 'storm/n2', 'footprint/idle']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  for (const p of ['kvm', 'lightvm']) for (const c of ['storm/n2-private', 'contention/d0', 'contention/d1', 'image/build', 'cow/plain', 'cow/layer']) t.true(ids.includes(`${p}/${c}`), `${p}/${c} planned`);
  const nested = run.samples.filter((s) => s.cell === 'lxcvm/footprint/idle');
  t.true(nested.length > 0 && nested.every((s) => /VM the containers share/.test(s.note ?? '')), 'lxcvm footprint samples say the shared VM is not counted');
  t.deepEqual(await leftovers(), []);
  t.deepEqual(await vmLeftovers(), []);
});
