// Per-night false-alarm rate of the old and the new nightly verdict on nights replayed with nothing
// changed (contrib/nightly-replay.sh), and whether an injected slowdown is caught. Not part of npm
// test. Usage:
//   npx tsx contrib/nightly-false-alarms.ts <dir of unchanged nights> [<dir of injected nights>]
// where each dir holds result directories (e.g. results/replay/unchanged/isolation).
// Old verdict: compare A B as before issue 14: one baseline night, permutation test, alpha per test.
// New verdict: tonight against up to 7 other accepted nights (their spread is the between-night
// noise), Holm over every cell and metric of the night.
import { readdirSync, existsSync } from 'node:fs';
import { join, basename } from 'node:path';
import { compareDirs } from '../analysis/compare-dirs.ts';

function nightsIn(dir: string): string[] {
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, 'samples.jsonl')) && existsSync(join(dir, d, 'manifest.json')))
    .sort()
    .map((d) => join(dir, d));
}

async function verdict(base: string, cand: string, history: string[], family: 'holm' | 'none') {
  const r = await compareDirs(base, cand, { out: false, history, nights: history.length + 1, family });
  if (r.exitCode === 2) throw new Error(r.report);
  const flagged = r.comparison!.rows.filter((x) => x.verdict === 'regression').map((x) => `${x.cell.split('/').slice(0, 2).join('/')} ${x.metric} ${x.changePct.toFixed(1)}%`);
  return { failed: r.exitCode === 1, flagged, tests: r.comparison!.rows.length };
}

const pct = (a: number, b: number) => `${a}/${b} = ${((100 * a) / b).toFixed(0)}%`;

const [unchangedDir, injectedDir] = process.argv.slice(2);
if (!unchangedDir) {
  process.stderr.write('usage: npx tsx contrib/nightly-false-alarms.ts <dir of unchanged nights> [<dir of injected nights>]\n');
  process.exit(2);
}
const nights = nightsIn(unchangedDir);
if (nights.length < 3) {
  process.stderr.write(`need at least 3 unchanged nights in ${unchangedDir}, found ${nights.length}\n`);
  process.exit(2);
}
console.log(`${nights.length} unchanged nights in ${unchangedDir}`);

// old: each night against the night before (what a nightly job comparing with last night sees), and
// against every other night (every ordered pair)
let oldPrev = 0;
for (let i = 1; i < nights.length; i++) {
  const v = await verdict(nights[i - 1]!, nights[i]!, [], 'none');
  if (v.failed) oldPrev++;
  console.log(`old  ${basename(nights[i]!)} vs previous night: ${v.failed ? `FAIL (${v.flagged.join('; ')})` : 'pass'}`);
}
let oldPairs = 0;
let pairs = 0;
for (const a of nights) {
  for (const b of nights) {
    if (a === b) continue;
    pairs++;
    if ((await verdict(a, b, [], 'none')).failed) oldPairs++;
  }
}
// intermediate: one baseline night with Holm (what compare A B does now)
let holmPairs = 0;
for (const a of nights) for (const b of nights) if (a !== b && (await verdict(a, b, [], 'holm')).failed) holmPairs++;
// new: each night against every other night as its reference nights (leave one out, at most 7;
// with fewer than 3 others the verdict falls back to one baseline night, and says so)
let newLoo = 0;
for (const n of nights) {
  const others = nights.filter((x) => x !== n).reverse().slice(0, 7);
  const v = await verdict(others[0]!, n, others.slice(1), 'holm');
  if (v.failed) newLoo++;
  console.log(`new  ${basename(n)} vs ${others.length} other nights: ${v.failed ? `FAIL (${v.flagged.join('; ')})` : 'pass'} (${v.tests} tests)`);
}
console.log('');
console.log(`old verdict (per-test alpha 0.01, one baseline night): nights failed vs the previous night ${pct(oldPrev, nights.length - 1)}; over every ordered pair ${pct(oldPairs, pairs)}`);
console.log(`Holm, one baseline night (compare A B now):            over every ordered pair ${pct(holmPairs, pairs)}`);
console.log(`new verdict (Holm, other nights as reference):        nights failed ${pct(newLoo, nights.length)}`);

if (injectedDir) {
  const injected = nightsIn(injectedDir);
  const refs = nights.slice().reverse().slice(0, 7);
  for (const n of injected) {
    const v = await verdict(refs[0]!, n, refs.slice(1), 'holm');
    console.log(`injected ${basename(n)}: new verdict against ${refs.length} nights: ${v.failed ? `FAIL (${v.flagged.join('; ')})` : 'pass'}`);
    let old = 0;
    for (const b of nights) if ((await verdict(b, n, [], 'none')).failed) old++;
    console.log(`injected ${basename(n)}: old verdict against each unchanged night: failed ${pct(old, nights.length)}`);
  }
}
