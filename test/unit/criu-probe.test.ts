// The CRIU probe's own steps, with a hand-made stand-in for `criu` first on PATH that replays
// CRIU 3.17.1's real output on this project's host (test/fixtures/criu): the verdict is the real
// error line of the step that failed, and the probe's counter process and directory are gone after.
import test from 'ava';
import { chmod, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { readFileSync, readdirSync } from 'node:fs';
import { release, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const FIXTURES = fileURLToPath(new URL('../fixtures/criu', import.meta.url));
const VDSO = 'Error (criu/vdso.c:381): vdso: Unexpected rt vDSO area bounds';

// hand-made: answers like CRIU 3.17.1 did here, from its captured output; `check` passes unless FAKE_CHECK_FAILS
const FAKE = `#!/bin/sh
cmd=$1
log=
while [ $# -gt 0 ]; do [ "$1" = --log-file ] && log=$2; shift; done
case "$cmd" in
  --version) cat "${FIXTURES}/version-3.17.1.txt" ;;
  check) if [ -n "$FAKE_CHECK_FAILS" ]; then cat "${FIXTURES}/check-3.17.1-linux-6.18.txt" >&2; exit 1; fi ;;
  dump) cp "${FIXTURES}/dump-3.17.1-linux-6.18.log.txt" "$log"; exit 1 ;;
  *) exit 1 ;;
esac
`;

function processesMentioning(dir: string): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc').filter((n) => /^\d+$/.test(n))) {
    try {
      if (readFileSync(`/proc/${p}/cmdline`, 'utf8').includes(dir)) out.push(Number(p));
    } catch {
      /* gone */
    }
  }
  return out;
}

test.serial('criu check fails, then a dump fails: the verdict is that step\'s first error line; nothing left', async (t) => {
  const bin = await mkdtemp(join(tmpdir(), 'vb-fake-criu-'));
  const state = await mkdtemp(join(tmpdir(), 'vb-criu-state-'));
  const saved = { PATH: process.env.PATH, VIRTBENCH_STATE: process.env.VIRTBENCH_STATE };
  try {
    await writeFile(join(bin, 'criu'), FAKE);
    await chmod(join(bin, 'criu'), 0o755);
    process.env.PATH = `${bin}:${process.env.PATH}`;
    process.env.VIRTBENCH_STATE = state;
    process.env.FAKE_CHECK_FAILS = '1';
    const { probeCriu } = await import('../../drivers/criu.ts');
    const v = await probeCriu();
    t.false(v.ok);
    t.is(v.version, '3.17.1');
    t.is(v.reason, `criu check failed (CRIU 3.17.1, Linux ${release()}): ${VDSO}`);
    t.deepEqual(await readdir(state), [], 'no dump was tried');

    // check passes, the dump fails: the dump log's error line; the counter it started is killed
    delete process.env.FAKE_CHECK_FAILS;
    const { STATE_DIR } = await import('../../core/host.ts');
    t.is(STATE_DIR, state);
    const v2 = await probeCriu();
    t.false(v2.ok);
    // (the dump is only tried once the counter counts: this reason proves it ran)
    t.is(v2.reason, `criu dump failed (CRIU 3.17.1, Linux ${release()}): ${VDSO}`);
    t.deepEqual((await readdir(STATE_DIR)).filter((n) => n.startsWith('criu-probe-')), [], 'its directory is removed');
    t.deepEqual(processesMentioning(`${STATE_DIR}/criu-probe-`), [], 'its counter process is gone');
  } finally {
    process.env.PATH = saved.PATH;
    if (saved.VIRTBENCH_STATE === undefined) delete process.env.VIRTBENCH_STATE;
    else process.env.VIRTBENCH_STATE = saved.VIRTBENCH_STATE;
    delete process.env.FAKE_CHECK_FAILS;
    await rm(bin, { recursive: true, force: true });
    await rm(state, { recursive: true, force: true });
  }
});
