// What a VM platform can do with a running guest here, found by doing it once per process with a
// small guest: pause and resume it, checkpoint it to files and restore a second guest from them,
// live-migrate it, clone it and reach the clone at its own address. A step that fails is that
// capability's one-line reason (QEMU's own words where QEMU refused), never a guess.
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { cpus } from 'node:os';
import { join } from 'node:path';
import { CACHE_DIR, STATE_DIR } from '../core/host.ts';
import { PROFILES } from '../core/profiles.ts';
import type { Capabilities, Capability, Driver, Guest, GuestSpec, ProfileName, RunContext } from '../core/types.ts';

const MiB = 1024 * 1024;

const oneLine = (err: unknown) => (err instanceof Error ? err.message : String(err)).replace(/\s+/g, ' ').trim().slice(0, 300);

/** Whether something answers at `address` (an accepted or refused TCP connection: its kernel replied), within timeoutMs. */
export function addressAnswers(address: string, port = 9, timeoutMs = 3000): Promise<boolean> {
  return new Promise((resolve) => {
    const c = createConnection({ host: address, port });
    const done = (ok: boolean) => {
      c.destroy();
      resolve(ok);
    };
    c.once('connect', () => done(true));
    c.once('error', (e: NodeJS.ErrnoException) => done(e.code === 'ECONNREFUSED'));
    c.setTimeout(timeoutMs, () => done(false));
  });
}

/** Retry addressAnswers for a few seconds (a new address needs its ARP). */
export async function addressAnswersSoon(address: string, tries = 5): Promise<boolean> {
  for (let i = 0; i < tries; i++) if (await addressAnswers(address)) return true;
  return false;
}

/** What the VM platforms probe with: the guest calls its driver's methods and the Guest's, nothing else. */
export async function probeVmCapabilities(driver: Driver, profile: ProfileName | undefined, log: (line: string) => void, how: Partial<Record<keyof Capabilities, string>>): Promise<Capabilities> {
  const no = (reason: string): Capability => ({ ok: false, reason });
  const caps: Capabilities = { pause: no('not probed'), checkpoint: no('not probed'), migrate: no('not probed'), clone: no('not probed') };
  const ctx: RunContext = { profile: PROFILES[profile ?? 'smoke'], cacheDir: CACHE_DIR, guestPackages: [], log, signal: new AbortController().signal, timeoutS: 300, tiers: {} };
  const host = cpus().length;
  const base = `vbcaps${process.pid % 100000}`;
  const spec = (suffix: string): GuestSpec => ({
    name: `${base}${suffix}`, vcpus: 1, cpus: Array.from({ length: host }, (_, i) => i), cpuPolicy: 'shares', cpuShares: 1024,
    memoryBytes: 384 * MiB, memoryLimit: 'hard', ioWeight: 500, pidsMax: 256, network: true, shares: [],
  });
  const t0 = Date.now();
  let g: Guest;
  try {
    g = await driver.provision(spec('a'), ctx);
  } catch (err) {
    const why = no(`the probe guest did not start: ${oneLine(err)}`);
    return { pause: why, checkpoint: why, migrate: why, clone: why };
  }
  try {
    try {
      if (!g.pause || !g.resume) throw new Error('not implemented');
      await g.pause();
      await g.resume();
      await g.sh('true', { timeoutMs: 30_000 });
      caps.pause = { ok: true, how: how.pause };
    } catch (err) {
      caps.pause = no(oneLine(err));
    }
    let dir: string | undefined;
    try {
      if (!g.checkpoint) throw new Error(`${driver.name} has no checkpoint`);
      // a fresh host has no state directory before its first run
      await mkdir(STATE_DIR, { recursive: true });
      dir = await mkdtemp(join(STATE_DIR, '.caps-probe-'));
      await g.sh('echo probe > /var/tmp/vbcaps-probe', { timeoutMs: 30_000 });
      const cp = await g.checkpoint(dir, { leaveRunning: true });
      if (!driver.restore) throw new Error(`${driver.name} has no restore`);
      const r = await driver.restore(spec('r'), cp, ctx);
      try {
        const got = await r.sh('cat /var/tmp/vbcaps-probe', { timeoutMs: 30_000 });
        if (got.stdout.trim() !== 'probe') throw new Error('the restored guest lacks a file written before the checkpoint');
      } finally {
        await r.destroy();
      }
      caps.checkpoint = { ok: true, how: how.checkpoint };
    } catch (err) {
      caps.checkpoint = no(oneLine(err));
    } finally {
      if (dir) await rm(dir, { recursive: true, force: true });
    }
    try {
      if (!g.migrate) throw new Error(`${driver.name} has no live migration`);
      await g.migrate({ timeoutS: 120 });
      await g.sh('true', { timeoutMs: 30_000 });
      if (g.address() && !(await addressAnswersSoon(g.address()!))) throw new Error(`the guest's address ${g.address()} does not answer after the migration`);
      caps.migrate = { ok: true, how: how.migrate };
    } catch (err) {
      caps.migrate = no(oneLine(err));
    }
    try {
      if (!driver.clone) throw new Error(caps.migrate.ok ? `${driver.name} has no clone` : `a clone is a migration: ${caps.migrate.reason}`);
      const c = await driver.clone(g, spec('c'), ctx);
      try {
        await c.sh('true', { timeoutMs: 30_000 });
        await g.sh('true', { timeoutMs: 30_000 });
        const addr = c.address();
        if (addr && (addr === g.address() || !(await addressAnswersSoon(addr)))) throw new Error(`the clone's own address ${addr} does not answer`);
      } finally {
        await c.destroy();
      }
      caps.clone = { ok: true, how: how.clone };
    } catch (err) {
      caps.clone = no(oneLine(err));
    }
  } finally {
    await g.destroy();
  }
  log(`${driver.name} capabilities probed in ${((Date.now() - t0) / 1000).toFixed(1)} s: ${Object.entries(caps).map(([k, v]) => `${k} ${v.ok ? 'ok' : `no (${v.reason})`}`).join('; ')}`);
  return caps;
}
