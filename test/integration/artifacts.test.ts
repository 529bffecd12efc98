// Every measured run leaves what a reader needs to defend its number: calibration and monitor
// summaries on the samples, and runs/<cell>#<rep>/ with the exact command, its environment, the
// tool's output and the monitors' samples; explain reads them back. One small real run: bare
// metal and LXC, the smoke kernel compile, one rep each (about a minute here).
import test from 'ava';
import { execa } from 'execa';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { Manifest } from '../../core/results.ts';
import type { Sample } from '../../core/types.ts';
import { leftovers } from './leftovers.ts';
import { tempDir } from '../tmp.ts';

const cli = (name: string, args: string[]) => execa(process.execPath, ['--import', 'tsx', `cli/${name}.ts`, ...args], { reject: false, all: true, env: { CI: '1' } });

test('artifacts, calibration and monitors for every run; explain shows them', async (t) => {
  const out = tempDir('vb-artifacts-');
  const t0 = Date.now();
  const r = await cli('suite', ['baseline', '--profile', 'smoke', '--platforms', 'baremetal,lxc', '--workloads', 'kernel-compile', '--reps', '1', '--out', out, '--seed', '3']);
  t.log(`run: ${((Date.now() - t0) / 1000).toFixed(0)} s`);
  t.is(r.exitCode, 0, (r.all ?? '').split('\n').slice(-20).join('\n'));
  const dir = join(out, 'baseline', readdirSync(join(out, 'baseline'))[0]!);
  const manifest = JSON.parse(readFileSync(join(dir, 'manifest.json'), 'utf8')) as Manifest;
  t.is(manifest.monitors?.enabled, true);
  t.truthy(manifest.guestMitigations?.label.startsWith('host'));
  t.truthy(manifest.harnessCpus);
  const samples = readFileSync(join(dir, 'samples.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l) as Sample);
  t.deepEqual([...new Set(samples.map((s) => s.metric))], ['wall_s', 'cpu_s', 'user_s', 'sys_s']);
  for (const s of samples) {
    t.is(s.status, 'ok', s.message);
    t.true(s.calibration!.cpuMs > 0 && s.calibration!.memMs > 0, 'calibrated');
    t.true(s.context!.host_busy_pct_mean! > 0, 'host CPU split');
    t.true(s.context!.target_cpu_user_s! > 0, "the guest group's user CPU time");
    // recorded and plausible; the 0.5% goal is measured by contrib/monitor-overhead.ts, not asserted
    // here: on a busy 2-core host one smoke run's share swings (0.7% seen in CI beside other work)
    t.true(s.context!.monitor_cost_pct! >= 0 && s.context!.monitor_cost_pct! < 5, `monitor cost ${s.context!.monitor_cost_pct}% of a CPU`);
    const run = join(dir, s.artifacts!);
    for (const f of ['command.json', 'make.log', 'time.txt', 'monitor.jsonl', 'run.json']) t.true(existsSync(join(run, f)), `${s.artifacts}/${f}`);
    const cmd = JSON.parse(readFileSync(join(run, 'command.json'), 'utf8')) as { commands: { script: string; env: Record<string, string> }[] };
    t.regex(cmd.commands[0]!.script, /time make -s -C /);
    t.deepEqual(Object.keys(cmd.commands[0]!.env).sort(), ['HOME', 'LANG', 'PATH'], 'the same minimal environment on both platforms');
    t.true(readFileSync(join(run, 'monitor.jsonl'), 'utf8').trim().split('\n').length >= 1);
  }
  // bare metal's build really ran with only that environment: nothing of the harness's leaks in
  const bm = samples.find((s) => s.platform === 'baremetal')!;
  t.regex(readFileSync(join(dir, bm.artifacts!, 'time.txt'), 'utf8'), /^vb-time /m);
  const csv = readFileSync(join(dir, 'summary.csv'), 'utf8');
  t.regex(csv.split('\n')[0]!, /,ratio_ci95_high,round_ratio,round_ratio_ci95_low,round_ratio_ci95_high,round_pairs,calib_spread,/);
  const ex = await cli('explain', [dir, 'lxc']);
  t.is(ex.exitCode, 0, ex.all);
  t.regex(ex.stdout, /^cell #1 .* runs\/lxc_kernel-compile_none_none_cpuset_hard_x1#1$/m);
  t.regex(ex.stdout, /^ref  #1 /m);
  t.deepEqual(await leftovers(), []);
});
