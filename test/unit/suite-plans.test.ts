// The three issue-10 suites' --dry-run plans through the runner (no guests, no root, no lock).
import test from 'ava';
import { cpus } from 'node:os';
import { runSuite } from '../../runner/index.ts';
import { DRIVERS } from '../../drivers/index.ts';
import overcommit from '../../suites/overcommit.ts';
import allocation from '../../suites/allocation.ts';
import nested from '../../suites/nested.ts';
import type { SuiteDefinition } from '../../core/matrix.ts';

async function dry(def: SuiteDefinition, args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runSuite(def, ['--dry-run', '--seed', '1', ...args], { out: (l) => out.push(l), err: (l) => err.push(l) });
  return { code, out: out.join('\n'), err };
}

test('allocation smoke plan on baremetal and lxc: 24 cells with tenants, CPUs per tenant, the budget and an estimate', async (t) => {
  const r = await dry(allocation, ['--profile', 'smoke', '--platforms', 'baremetal,lxc', '--memory-budget', '2G']);
  t.is(r.code, 0, r.err.join('\n'));
  t.regex(r.out, /tenants: memory budget M 2\.00 GiB/);
  t.regex(r.out, /24 cells:/);
  t.regex(r.out, /lxc\/specjbb-like\/none:none\/quota\/hard\/x1\/t2\/busy-one\/c1\s+\(vs lxc\/specjbb-like\/none:none\/cpuset\/hard\/x1\/t2\/busy-one\/c1\)\s+\[2 tenants \(1 busy\) x \d+ vCPU/);
  t.regex(r.out, /72 runs, estimated \d+m\d+s/);
});

test('overcommit estimates grow with the factor: more tenants cost more', async (t) => {
  const at = async (f: string) => {
    const r = await dry(overcommit, ['--profile', 'smoke', '--platforms', 'lxc', '--workloads', 'kernel-compile', '--overcommit', f]);
    t.is(r.code, 0, r.err.join('\n'));
    const m = r.out.match(/\d+ runs, estimated (?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$/m)!;
    return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
  };
  const one = await at('1');
  const two = await at('2');
  // smoke (V=1): kernel-compile 5 s, 3 s per guest, 3 reps; 1x = C tenants: (5 + 3 C) x 3; 2x = 2C tenants, twice the work each
  const c = cpus().length;
  t.is(one, (5 + 3 * c) * 3);
  t.is(two, 2 * one);
});

test('bad tenancy input: one line, exit 2, before anything starts', async (t) => {
  const cases: [SuiteDefinition, string[], RegExp][] = [
    [overcommit, ['--overcommit', '0.5'], /^virtbench: --overcommit 0\.5 is below 1/],
    [overcommit, ['--overcommit', '40', '--platforms', 'lxc'], /^virtbench: overcommit 40x of a .* GiB budget needs .* GiB, more than this host's/],
    [overcommit, ['--memory-budget', '100T'], /^virtbench: --memory-budget .* is more than this host's memory/],
    [allocation, ['--tenants', '64', '--platforms', 'lxc'], /^virtbench: 64 tenants cannot each be given an equal whole share of \d+ host CPUs/],
    [allocation, ['--overcommit', '2'], /^virtbench: --overcommit: suite allocation has no overcommit axis$/],
    [nested, ['--tenants', '2'], /^virtbench: --tenants: suite nested has no allocation axis$/],
  ];
  for (const [def, args, re] of cases) {
    const r = await dry(def, ['--profile', 'smoke', ...args]);
    t.is(r.code, 2, `${args.join(' ')}: ${r.err.join(' | ')}`);
    t.is(r.err.length, 1, r.err.join('\n'));
    t.regex(r.err[0]!, re);
  }
});

test.serial('a CPU policy a platform cannot express: refused when chosen, skipped with a line otherwise', async (t) => {
  const lxc = DRIVERS.lxc as { cpuPolicies?: string[] };
  const had = lxc.cpuPolicies;
  lxc.cpuPolicies = ['cpuset', 'shares'];
  try {
    const chosen = await dry(allocation, ['--profile', 'smoke', '--platforms', 'lxc,baremetal']);
    t.is(chosen.code, 2);
    t.deepEqual(chosen.err, ['virtbench: platform lxc cannot express CPU policy quota (it supports cpuset, shares): leave it out of --platforms for suite allocation']);
    const auto = await dry(allocation, ['--profile', 'smoke']);
    t.is(auto.code, 0, auto.err.join('\n'));
    t.true(auto.err.includes('skipping fig10 cells of lxc with quota: platform lxc cannot express CPU policy quota (it supports cpuset, shares)'), auto.err.join('\n'));
    t.notRegex(auto.out, /lxc\/[^ ]*\/quota\//);
    t.regex(auto.out, /baremetal\/[^ ]*\/quota\//);
  } finally {
    lxc.cpuPolicies = had;
  }
});
