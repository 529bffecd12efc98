import test from 'ava';
import { UsageError } from '../../core/errors.ts';
import { parseDuration, parseSize, parseSuiteArgs } from '../../core/options.ts';
import { PROFILES } from '../../core/profiles.ts';
import { TCG_SLOWDOWN, platformProfile } from '../../runner/index.ts';
import isolation from '../../suites/isolation.ts';

const known = { platforms: ['baremetal', 'lxc'], workloads: ['filebench', 'kernel-compile'], neighbours: ['kernel-compile', 'filebench', 'fork-bomb', 'bonnie'] };
const parse = (...argv: string[]) => parseSuiteArgs(argv, isolation, known);

test('defaults come from the quick profile', (t) => {
  const o = parse('--seed', '7');
  if (o === 'help') return t.fail();
  t.is(o.profile, 'quick');
  t.is(o.reps, 5);
  t.is(o.warmup, 1);
  t.is(o.seed, 7);
  t.is(o.cpuPolicy, 'cpuset');
  t.is(o.memoryLimit, 'hard');
  t.is(o.platforms, undefined);
});

test('explicit options override the profile', (t) => {
  const o = parse('--profile', 'smoke', '--platforms', 'baremetal,lxc', '--reps', '4', '--warmup', '0', '--timeout', '15m', '--memory', '512M', '--neighbours', 'none,fork-bomb');
  if (o === 'help') return t.fail();
  t.deepEqual(o.platforms, ['baremetal', 'lxc']);
  t.is(o.reps, 4);
  t.is(o.warmup, 0);
  t.is(o.timeoutS, 900);
  t.is(o.memoryBytes, 512 * 1024 ** 2);
  t.deepEqual(o.neighbours, ['none', 'fork-bomb']);
});

test('--help is recognised', (t) => {
  t.is(parse('--help'), 'help');
});

const bad: [string[], RegExp][] = [
  [['--profile', 'huge'], /unknown profile 'huge'; valid: smoke, quick, paper/],
  [['--platforms', 'xen'], /unknown platform 'xen'; valid: baremetal, lxc/],
  [['--workloads', 'spec'], /unknown workload 'spec'; valid: kernel-compile, filebench/],
  [['--neighbours', 'noisy'], /unknown neighbour 'noisy'; valid: none, competing, orthogonal, adversarial, kernel-compile/],
  [['--reps', '0'], /--reps must be between 1/],
  [['--reps', 'three'], /--reps must be a whole number/],
  [['--timeout', 'soon'], /--timeout must look like/],
  [['--cpu-policy', 'pinned'], /unknown cpu policy 'pinned'; valid: cpuset, shares/],
  [['--bogus'], /Unknown option '--bogus'/],
  [['stray'], /positional argument/],
];
for (const [argv, re] of bad) {
  test(`bad input ${argv.join(' ')} is one clear UsageError`, (t) => {
    const err = t.throws(() => parse(...argv), { instanceOf: UsageError });
    t.regex(err!.message, re);
    t.false(err!.message.includes('\n'));
  });
}

test('durations and sizes', (t) => {
  t.is(parseDuration('90'), 90);
  t.is(parseDuration('90s'), 90);
  t.is(parseDuration('2h'), 7200);
  t.is(parseSize('2G'), 2 * 1024 ** 3);
  t.is(parseSize('1.5GiB'), 1.5 * 1024 ** 3);
  t.throws(() => parseSize('10M'), { message: /at least 64M/ });
});

test('guests under TCG get a longer run timeout, unless --timeout was given', (t) => {
  const smoke = PROFILES.smoke;
  t.is(platformProfile(smoke, 'tcg', false).timeoutS, smoke.timeoutS * TCG_SLOWDOWN);
  t.is(platformProfile(smoke, 'kvm', false).timeoutS, smoke.timeoutS);
  t.is(platformProfile(smoke, 'native', false).timeoutS, smoke.timeoutS);
  t.is(platformProfile(smoke, 'tcg', true).timeoutS, smoke.timeoutS, 'an explicit --timeout applies as given');
  const given = parse('--timeout', '90s');
  const dflt = parse();
  if (given === 'help' || dflt === 'help') return t.fail();
  t.true(given.timeoutChosen);
  t.is(dflt.timeoutChosen, undefined);
});

test('--resume refuses options that would change the plan, naming them; --dry-run and --compare-to may go beside it', (t) => {
  const err = t.throws(() => parse('--resume', 'results/x', '--profile', 'quick', '--reps', '9'), { instanceOf: UsageError });
  t.regex(err!.message, /--resume continues results\/x with the configuration in its manifest; --profile, --reps would change that plan/);
  t.throws(() => parse('--resume', 'results/x', '--out', 'elsewhere'), { message: /--out would change that plan/ });
  const o = parse('--resume', 'results/x', '--dry-run', '--compare-to', 'baseline');
  if (o === 'help') return t.fail();
  t.is(o.resume, 'results/x');
  t.true(o.dryRun);
});

test('--memory-budget, --overcommit and --tenants: recorded for suites with tenants, refused elsewhere', async (t) => {
  const { totalmem, cpus } = await import('node:os');
  const overcommit = (await import('../../suites/overcommit.ts')).default;
  const allocation = (await import('../../suites/allocation.ts')).default;
  const k2 = { ...known, platforms: ['lxc', 'kvm', 'lightvm', 'baremetal'], workloads: ['kernel-compile', 'specjbb-like', 'ycsb-redis'] };
  const o = parseSuiteArgs(['--memory-budget', '3G', '--overcommit', '1,2.5'], overcommit, k2);
  if (o === 'help') return t.fail();
  t.is(o.memoryBudget, 3 * 1024 ** 3);
  t.true(o.memoryBudgetChosen);
  t.deepEqual(o.overcommit, [1, 2.5]);
  // the default is recorded too (manifest options): quick = 2 vCPUs and 2 GiB per guest
  const d = parseSuiteArgs([], overcommit, k2);
  if (d === 'help') return t.fail();
  t.is(d.memoryBudget, Math.floor(Math.min(totalmem() / 2, Math.max(1, Math.floor(cpus().length / 2)) * 2 * 1024 ** 3) / (64 * 1024 ** 2)) * 64 * 1024 ** 2);
  const a = parseSuiteArgs(['--tenants', '2'], allocation, k2);
  t.deepEqual(a !== 'help' && a.tenants, [2]);
  const p = parse();
  t.false(p !== 'help' && 'memoryBudget' in p, 'suites without groups record no budget');
  t.throws(() => parse('--memory-budget', '4G'), { instanceOf: UsageError, message: '--memory-budget: suite isolation has no multi-tenant cells' });
  t.throws(() => parse('--overcommit', '2'), { instanceOf: UsageError, message: '--overcommit: suite isolation has no overcommit axis' });
  t.throws(() => parseSuiteArgs(['--memory-budget', 'lots'], overcommit, k2), { instanceOf: UsageError, message: "--memory-budget must look like 512M or 2G, got 'lots'" });
  t.throws(() => parseSuiteArgs(['--memory-budget', '64T'], overcommit, k2), { instanceOf: UsageError, message: /^--memory-budget 65536 GiB is more than this host's memory/ });
  t.throws(() => parseSuiteArgs(['--overcommit', '1,x'], overcommit, k2), { instanceOf: UsageError, message: "--overcommit takes numbers separated by commas, got 'x'" });
  t.throws(() => parseSuiteArgs(['--tenants', '1.5'], allocation, k2), { instanceOf: UsageError, message: /--tenants must be whole numbers/ });
  t.throws(() => parseSuiteArgs(['--cpu-policy', 'shares'], allocation, k2), { instanceOf: UsageError, message: "--cpu-policy: suite allocation sets it per figure (its groups' axes); leave it out" });
});
