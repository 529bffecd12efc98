// The harness's own network: a bridge and a /24 that no host route uses, created on first need
// and removed by the cleanup stack. Guests get static addresses from it; nothing is routed out.
import { execa } from 'execa';
import { onCleanup } from '../core/cleanup.ts';

export const BRIDGE = process.env.VIRTBENCH_BRIDGE ?? 'vbbr0';
const CANDIDATES = ['10.213.77', '10.214.78', '172.29.213', '192.168.213'];

export interface HarnessNet {
  bridge: string;
  prefix: string;
  hostAddress: string;
  allocate(): string;
}

let net: HarnessNet | undefined;

/** Pick the first candidate /24 that overlaps no route of the host. */
export function pickSubnet(routes: string): string {
  for (const c of CANDIDATES) {
    const [a, b] = c.split('.');
    const clash = routes.split('\n').some((l) => {
      const dst = l.split(' ')[0] ?? '';
      if (dst === 'default' || dst === '') return false;
      const [ip = '', len = '32'] = dst.split('/');
      const [x, y, z] = ip.split('.');
      const n = Number(len);
      if (n <= 8) return x === a;
      if (n <= 16) return x === a && y === b;
      return `${x}.${y}.${z}` === c;
    });
    if (!clash) return c;
  }
  throw new Error('no free private /24 for the harness bridge: every candidate overlaps a host route');
}

async function ip(...args: string[]) {
  await execa('ip', args);
}

let creating: Promise<HarnessNet> | undefined;

/** The harness bridge, created once: guests provisioned at the same time (a boot storm) share one creation. */
export function ensureBridge(): Promise<HarnessNet> {
  if (net) return Promise.resolve(net);
  creating ??= createBridge().finally(() => {
    creating = undefined;
  });
  return creating;
}

async function createBridge(): Promise<HarnessNet> {
  const routes = (await execa('ip', ['-4', 'route'])).stdout;
  await execa('ip', ['link', 'del', BRIDGE], { reject: false });
  const prefix = pickSubnet(routes);
  await ip('link', 'add', BRIDGE, 'type', 'bridge');
  const remove = onCleanup(`bridge ${BRIDGE}`, async () => {
    await execa('ip', ['link', 'del', BRIDGE], { reject: false });
    net = undefined;
  });
  try {
    await ip('addr', 'add', `${prefix}.1/24`, 'dev', BRIDGE);
    await ip('link', 'set', BRIDGE, 'up');
  } catch (err) {
    await remove();
    throw err;
  }
  let next = 10;
  net = {
    bridge: BRIDGE,
    prefix,
    hostAddress: `${prefix}.1`,
    allocate: () => {
      if (next > 250) next = 10;
      return `${prefix}.${next++}`;
    },
  };
  return net;
}

/** Remove a bridge an interrupted earlier run left. */
export async function sweepBridge(): Promise<string[]> {
  const r = await execa('ip', ['link', 'del', BRIDGE], { reject: false });
  return r.exitCode === 0 ? [`bridge ${BRIDGE}`] : [];
}
