// Before a run starts: the private image copies its cells will hold at once must fit on the disk
// they go to. A storm of N guests on private images holds N full copies of the platform's image
// until its run ends (runs follow one another, so the largest run per platform is what counts).
// Found out mid-run, a full disk would stop the run; found out here, it is one line and exit 2.
import { existsSync, statfsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { UsageError } from '../core/errors.ts';
import type { Cell } from '../core/types.ts';
import type { Registry } from './registry.ts';

const GiB = 1024 ** 3;
/** An image not built yet is taken to be this large: the guest rootfs with every workload's packages measured 1.2-1.3 GB here. */
export const UNBUILT_IMAGE_BYTES = 1.5 * GiB;
/** Left free beside the copies (results, logs, the guests' own writes). */
export const HEADROOM_BYTES = 1 * GiB;

/** Bytes free (to root) on the file system of `dir`, or of its nearest existing parent. */
export function freeBytes(dir: string): number {
  let p = resolve(dir);
  while (!existsSync(p) && dirname(p) !== p) p = dirname(p);
  const s = statfsSync(p);
  return s.bavail * s.bsize;
}

const gib = (b: number) => `${(b / GiB).toFixed(1)} GiB`;

/** Throws UsageError when a platform's largest private-image run would not fit on its copies' disk. */
export async function checkImageCopies(cells: Cell[], reg: Registry, guestPackages: string[], free: (dir: string) => number = freeBytes): Promise<void> {
  for (const platform of [...new Set(cells.map((c) => c.platform))]) {
    const driver = reg.drivers[platform];
    let worst: { cell: Cell; copies: number } | undefined;
    for (const c of cells.filter((x) => x.platform === platform && x.param !== undefined)) {
      const copies = reg.experiments?.[c.workload]?.imageCopies?.(c.param!) ?? 0;
      if (copies > (worst?.copies ?? 0)) worst = { cell: c, copies };
    }
    if (!worst || !driver?.imageCopyTarget) continue;
    const target = await driver.imageCopyTarget(guestPackages);
    const image = target.bytes ?? UNBUILT_IMAGE_BYTES;
    const need = worst.copies * image + HEADROOM_BYTES;
    const have = free(target.dir);
    if (need > have) {
      throw new UsageError(
        `${worst.cell.id} needs ${worst.copies} private copies of the ${platform} image (${gib(image)}${target.bytes === undefined ? ', estimated: not built yet' : ''} each) plus ${gib(HEADROOM_BYTES)} headroom, ${gib(need)}, but ${target.dir} has ${gib(have)} free: give smaller --storm-sizes or free disk space`,
      );
    }
  }
}
