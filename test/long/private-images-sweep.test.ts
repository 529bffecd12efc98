// Private image copies a killed run left (a rootfs copy in an lxc container directory, a docker
// image of its own) are removed by the drivers' sweep, which every suite run starts with: with the
// harness's dockerd still running after the kill, and with no daemon left at all (the sweep then
// starts one for the images, since only a daemon can remove them). About a minute: a docker copy is
// a GB imported. In test/long (npm run test:long), outside CI's budget.
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync } from 'node:fs';
import { rm } from 'node:fs/promises';
import { join } from 'node:path';
import docker, { DOCKER_STATE, privateImageTag, privateImagesOnDisk } from '../../drivers/docker.ts';
import lxc, { LXC_PATH } from '../../drivers/lxc.ts';
import { pidAlive } from '../../core/host.ts';
import { leftovers } from '../integration/leftovers.ts';

async function crashAfterCopies(tag: string): Promise<void> {
  const child = execa(process.execPath, ['--import', 'tsx', 'test/long/private-copy-child.ts', tag], { reject: false, all: true });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => d.toString().includes('COPIED') && resolve());
    void child.then((r) => reject(new Error(`the child ended before its copies were made: ${(r.all ?? '').slice(-500)}`)));
  });
  child.kill('SIGKILL');
  await child;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

test.serial('copies left by a killed run: the sweep removes them, also when no docker daemon is left', async (t) => {
  for (const daemonLeft of [true, false]) {
    const tag = `vbcrash${daemonLeft ? 'd' : 'n'}`;
    await crashAfterCopies(tag);
    t.true(existsSync(join(LXC_PATH, `${tag}-lxc`, 'rootfs')), 'the lxc copy is there after the kill');
    t.true(privateImagesOnDisk().includes(privateImageTag(`${tag}-docker`)), 'the docker image is there after the kill');
    if (!daemonLeft) {
      // the daemon gone too (a reboot, or stopped by hand): only the image and its tag file remain
      const pid = Number(readFileSync(join(DOCKER_STATE, 'dockerd.pid'), 'utf8'));
      process.kill(pid, 'SIGTERM');
      for (let i = 0; i < 150 && pidAlive(pid); i++) await sleep(200);
      await rm(DOCKER_STATE, { recursive: true, force: true });
      t.false((await execa('/usr/bin/docker', ['version'], { reject: false, timeout: 15_000 })).exitCode === 0, 'no daemon answers');
    }
    const swept = [...(await lxc.sweep!()), ...(await docker.sweep!())];
    t.log(`daemon ${daemonLeft ? 'left running' : 'gone'}: swept ${swept.join('; ')}`);
    t.true(swept.includes(`lxc container ${tag}-lxc`));
    t.true(swept.includes(`docker image ${privateImageTag(`${tag}-docker`)}`));
    t.deepEqual(privateImagesOnDisk(), []);
    t.deepEqual(await leftovers(), []);
  }
});
