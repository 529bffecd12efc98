// What LXC's CRIU checkpoints need beside CRIU's images: the command lines of lxc-checkpoint, and a
// record of the container's disk state and origin, so that a restore gets the same root filesystem
// and refuses a checkpoint written by another harness, kernel or CRIU. CRIU saves processes and
// memory, not files: a checkpoint directory holds CRIU's images (criu/), a copy of the container's
// writable layer taken while it was frozen or stopped (upper/ or, for a private image, rootfs/), and
// checkpoint.json.
import { readFile } from 'node:fs/promises';
import { release } from 'node:os';
import { join } from 'node:path';
import type { Checkpoint, GuestSpec } from '../core/types.ts';

export const CHECKPOINT_META = 'checkpoint.json';

export interface LxcCheckpointMeta {
  /** The container it was taken of. */
  source: string;
  spec: GuestSpec;
  /** The shared root filesystem its overlay was over (absent: a private image, copied whole into rootfs/). */
  lowerRootfs?: string;
  /** Its address on the harness bridge at the dump (CRIU restores the network namespace with it). */
  address?: string;
  stamp: Checkpoint['stamp'];
}

/** Where in a checkpoint directory each part lies. */
export const checkpointParts = (dir: string) => ({
  images: join(dir, 'criu'),
  upper: join(dir, 'upper'),
  rootfs: join(dir, 'rootfs'),
  meta: join(dir, CHECKPOINT_META),
});

/**
 * lxc-checkpoint's arguments. 'dump': checkpoint, the container goes on (CRIU --leave-running);
 * 'dump-stop': checkpoint and stop it; 'pre-dump': memory only, it goes on (the next dump sends
 * only what changed since, `predumpDir` relative to `dir`); 'restore': start a container from the images.
 */
export function lxcCheckpointArgs(o: {
  lxcPath: string;
  name: string;
  dir: string;
  mode: 'dump' | 'dump-stop' | 'pre-dump' | 'restore';
  log: string;
  predumpDir?: string;
}): string[] {
  const common = ['-P', o.lxcPath, '-n', o.name, '-D', o.dir, '-o', o.log, '-l', 'INFO', '-v'];
  switch (o.mode) {
    case 'dump':
      return [...common, ...(o.predumpDir ? ['--predump-dir', o.predumpDir] : [])];
    case 'dump-stop':
      return [...common, '-s', ...(o.predumpDir ? ['--predump-dir', o.predumpDir] : [])];
    case 'pre-dump':
      return [...common, '-p', ...(o.predumpDir ? ['--predump-dir', o.predumpDir] : [])];
    case 'restore':
      return [...common, '-r', '-d'];
  }
}

/** The stamp of a checkpoint written here and now. */
export function stampNow(harness: string, tool: string): Checkpoint['stamp'] {
  return { harness, kernel: release(), tool };
}

/** Why a checkpoint cannot be restored here (one line), or undefined when harness, kernel and tool are the same. */
export function stampMismatch(theirs: Checkpoint['stamp'], ours: Checkpoint['stamp']): string | undefined {
  for (const k of ['harness', 'kernel', 'tool'] as const) {
    if (theirs[k] !== ours[k]) return `the checkpoint was written by another ${k} (${theirs[k]}; here ${ours[k]}): not restored`;
  }
  return undefined;
}

export async function readCheckpointMeta(dir: string): Promise<LxcCheckpointMeta> {
  const file = checkpointParts(dir).meta;
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch {
    throw new Error(`${dir} is not an lxc checkpoint of this harness (no ${CHECKPOINT_META})`);
  }
  const meta = JSON.parse(text) as LxcCheckpointMeta;
  if (!meta.source || !meta.stamp || !meta.spec) throw new Error(`${file} is incomplete: not an lxc checkpoint of this harness`);
  return meta;
}

/**
 * Shell lines run inside a restored container to give it its own address: CRIU restores the
 * network namespace of the source, addresses included.
 */
export function readdressScript(o: { address: string; gateway: string }): string {
  const bcast = o.address.replace(/\.\d+$/, '.255');
  return `ip -4 addr flush dev eth0 && ip addr add ${o.address}/24 broadcast ${bcast} dev eth0 && ip route replace default via ${o.gateway}`;
}
