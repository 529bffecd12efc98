// After a killed run, the experiments' scratch directories (checkpoints, image builds, cow tars)
// are emptied by the next suite run; the directories themselves and anything beside them stay.
import test from 'ava';
import { existsSync, mkdirSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { sweepScratch } from '../../runner/experiment.ts';
import { tempDir } from '../tmp.ts';

test('sweepScratch empties every scratch directory, names what it removed, and leaves the rest', async (t) => {
  const root = tempDir('vb-scratch-');
  const a = join(root, 'checkpoints');
  const b = join(root, 'image-build');
  mkdirSync(join(a, 'run-1-x', 'cp-1'), { recursive: true });
  writeFileSync(join(a, 'run-1-x', 'cp-1', 'state'), 'x'.repeat(1000));
  mkdirSync(join(b, 'lxc-abc'), { recursive: true });
  writeFileSync(join(root, 'keep'), 'k');
  const gone = await sweepScratch([a, b, join(root, 'absent')]);
  t.deepEqual(gone.sort(), [`scratch directory ${join(a, 'run-1-x')}`, `scratch directory ${join(b, 'lxc-abc')}`]);
  t.deepEqual(readdirSync(a), []);
  t.deepEqual(readdirSync(b), []);
  t.true(existsSync(join(root, 'keep')));
  t.deepEqual(await sweepScratch([a, b]), [], 'nothing left to sweep the second time');
});
