// What the harness might leave behind on this host: containers, cgroups, the bridge, processes.
// Every integration test asserts this is empty after it ran.
import { execa } from 'execa';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { BRIDGE } from '../../drivers/bridge.ts';
import { CONTROLLERS, HARNESS_GROUP, cgroupLayout } from '../../drivers/cgroups.ts';
import { LXC_PATH } from '../../drivers/lxc.ts';
import { GUESTS_DIR } from '../../core/host.ts';

export async function leftovers(): Promise<string[]> {
  const found: string[] = [];
  if (existsSync(LXC_PATH)) for (const n of readdirSync(LXC_PATH)) found.push(`lxc dir ${n}`);
  if (existsSync(GUESTS_DIR)) for (const n of readdirSync(GUESTS_DIR)) found.push(`baremetal dir ${n}`);
  const layout = cgroupLayout();
  for (const c of CONTROLLERS) {
    const mount = layout.mounts[c];
    if (!mount) continue;
    const group = join(mount, HARNESS_GROUP);
    if (existsSync(group)) for (const e of readdirSync(group, { withFileTypes: true })) if (e.isDirectory()) found.push(`cgroup ${c}/${HARNESS_GROUP}/${e.name}`);
    for (const e of readdirSync(mount, { withFileTypes: true })) if (e.isDirectory() && /^lxc\.(payload|monitor)\.vb/.test(e.name)) found.push(`cgroup ${c}/${e.name}`);
  }
  const link = await execa('ip', ['link', 'show', BRIDGE], { reject: false });
  if (link.exitCode === 0) found.push(`bridge ${BRIDGE}`);
  const ps = await execa('pgrep', ['-a', '-f', `^\\[lxc monitor\\] ${LXC_PATH} `], { reject: false });
  for (const l of ps.stdout.split('\n').filter(Boolean)) found.push(`process ${l}`);
  return [...new Set(found)];
}
