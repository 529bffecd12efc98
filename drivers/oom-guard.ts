// While an arena overcommits memory, the OOM killer must act on tenants only. The arena's limit
// makes its own OOMs memcg-local (the kernel only picks victims inside the arena), and the
// arena is bounded below host memory + the bounded swap, so the host's services are never
// candidates. What is left is the harness itself: a global OOM (something else on the host
// growing at the same time) could pick it, and a dead harness cleans nothing up (guests, swap,
// arena left behind). So it takes itself out of the OOM killer's choice (oom_score_adj -1000)
// while an arena exists.
//
// oom_score_adj is inherited: every guest process the harness starts would be unkillable too,
// and a memcg OOM with no killable task hangs the arena instead of killing a tenant. So guest
// launches go through `unprotected()`, which gives the child back the harness's original value.
import { readFileSync, writeFileSync } from 'node:fs';

const SELF = '/proc/self/oom_score_adj';
export const PROTECTED_ADJ = -1000;

let original: number | undefined;
let holders = 0;

/** Protect the harness process; returns the undo (the last undo restores the original value). */
export function protectHarness(): () => void {
  if (holders++ === 0) {
    original = Number(readFileSync(SELF, 'utf8').trim());
    writeFileSync(SELF, String(PROTECTED_ADJ));
  }
  let done = false;
  return () => {
    if (done) return;
    done = true;
    if (--holders === 0 && original !== undefined) {
      writeFileSync(SELF, String(original));
      original = undefined;
    }
  };
}

/** The value guest processes must get back, while the harness is protected. */
export function guestOomScoreAdj(): number | undefined {
  return holders > 0 ? original : undefined;
}

/** A shell prefix giving the process the guests' value back (empty when the harness is not protected). */
export function resetOomAdjShell(adj = guestOomScoreAdj()): string {
  return adj === undefined ? '' : `echo ${adj} > /proc/self/oom_score_adj && `;
}

/** Wrap a command so that it runs with the guests' oom_score_adj (pure given `adj`). */
export function unprotected(file: string, args: string[], adj = guestOomScoreAdj()): { file: string; args: string[] } {
  if (adj === undefined) return { file, args };
  return { file: 'sh', args: ['-c', `${resetOomAdjShell(adj)}exec "$@"`, 'sh', file, ...args] };
}
