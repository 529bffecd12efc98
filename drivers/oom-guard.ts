// While an arena overcommits memory, the OOM killer must act on tenants only. The arena's limit
// makes its own OOMs memcg-local (the kernel only picks victims inside the arena), and the
// arena is bounded below host memory + the bounded swap, so the host's services are never
// candidates of those. What is left is a global OOM (something else on the host growing at the
// same time): it must not pick the harness (a dead harness cleans nothing up: guests, swap and
// arena left behind) nor the host's services. So while an arena exists:
//  - the harness takes itself out of the OOM killer's choice (oom_score_adj -1000). That needs
//    CAP_SYS_RESOURCE; where the harness lacks it (a container, a sandbox), it stays as it is;
//  - every guest process it launches gets the harness's original value + 500 (raising needs no
//    privilege): in a global OOM tenants go first, before the harness and the host's services;
//    inside the arena all tenants are shifted alike, so the kernel's choice among them is the same.
// oom_score_adj is inherited, so guest launches go through `unprotected()`: without it they would
// inherit -1000, and a memcg OOM with no killable task hangs the arena instead of killing a tenant.
import { readFileSync, writeFileSync } from 'node:fs';

const SELF = '/proc/self/oom_score_adj';
export const PROTECTED_ADJ = -1000;
/** How much more likely than the harness a tenant is to be chosen by a global OOM. */
export const TENANT_ADJ_RAISE = 500;

let original: number | undefined;
let harnessProtected = false;
let holders = 0;

/**
 * Protect the harness process (and put tenants first); returns the undo (the last undo restores
 * the original value). `protected` says whether the harness itself could go to -1000.
 */
export function protectHarness(): { undo: () => void; protected: boolean } {
  if (holders++ === 0) {
    original = Number(readFileSync(SELF, 'utf8').trim());
    try {
      writeFileSync(SELF, String(PROTECTED_ADJ));
      harnessProtected = true;
    } catch {
      harnessProtected = false; // no CAP_SYS_RESOURCE: tenants first is all there is
    }
  }
  let done = false;
  const undo = () => {
    if (done) return;
    done = true;
    if (--holders === 0 && original !== undefined) {
      if (harnessProtected) writeFileSync(SELF, String(original));
      original = undefined;
      harnessProtected = false;
    }
  };
  return { undo, protected: harnessProtected };
}

/** The value guest processes start with while an arena exists (undefined: none exists, leave them be). */
export function guestOomScoreAdj(): number | undefined {
  return holders > 0 && original !== undefined ? Math.min(1000, original + TENANT_ADJ_RAISE) : undefined;
}

/** A shell prefix giving a guest process its value (empty when no arena exists). */
export function resetOomAdjShell(adj = guestOomScoreAdj()): string {
  return adj === undefined ? '' : `echo ${adj} > /proc/self/oom_score_adj && `;
}

/** Wrap a command so that it runs with the guests' oom_score_adj (pure given `adj`). */
export function unprotected(file: string, args: string[], adj = guestOomScoreAdj()): { file: string; args: string[] } {
  if (adj === undefined) return { file, args };
  return { file: 'sh', args: ['-c', `${resetOomAdjShell(adj)}exec "$@"`, 'sh', file, ...args] };
}
