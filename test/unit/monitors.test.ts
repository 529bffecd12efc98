import test from 'ava';
import { readFileSync } from 'node:fs';
import { cpuSplit, parseCgroupCpu, parseCgroupIo, parsePressure, parseProcStat } from '../../monitors/proc.ts';
import { intervalValues, summarizeSeries } from '../../monitors/sampler.ts';
import { parseCalibrationLine } from '../../monitors/calibration.ts';

// files captured unedited from this project's 2-core Debian host (kernel 6.18, cgroup v1 + unified v2)
const fixture = (name: string) => readFileSync(new URL(`../fixtures/monitors/${name}`, import.meta.url), 'utf8');

test('PSI: the host files and a unified-hierarchy group file, total= counters in microseconds', (t) => {
  t.deepEqual(parsePressure(fixture('proc-pressure-cpu')), { someUs: 84232521, fullUs: 0 });
  t.deepEqual(parsePressure(fixture('proc-pressure-io')), { someUs: 8972692, fullUs: 6284231 });
  t.deepEqual(parsePressure(fixture('proc-pressure-memory')), { someUs: 0, fullUs: 0 });
  t.deepEqual(parsePressure(fixture('unified-io.pressure')), { someUs: 9175951, fullUs: 6291208 });
  // hand-made: a kernel before 5.13 has no full line in the host's cpu file
  t.deepEqual(parsePressure('some avg10=1.00 avg60=0.50 avg300=0.10 total=1234\n'), { someUs: 1234 });
  t.throws(() => parsePressure('user 1\n'), { message: /not a pressure file/ });
});

test('/proc/stat: the aggregate cpu line and context switches', (t) => {
  const s = parseProcStat(fixture('proc-stat'));
  t.deepEqual(s, { user: 22951, nice: 0, system: 18749, idle: 42348, iowait: 934, irq: 0, softirq: 486, steal: 0, ctxt: 1481992 });
  t.throws(() => parseProcStat('intr 1 2 3\n'), { message: /no aggregate cpu line/ });
});

test('CPU split between two readings, by hand', (t) => {
  const a = parseProcStat('cpu  100 0 50 800 10 0 0 0 0 0\nctxt 5\n');
  const b = parseProcStat('cpu  160 0 70 900 20 0 10 40 0 0\nctxt 105\n');
  // deltas: user 60, system 20, idle 100, iowait 10, softirq 10, steal 40: total 240
  const s = cpuSplit(a, b);
  t.is(s.userPct, 25);
  t.is(s.sysPct, 12.5);
  t.is(Math.round(s.iowaitPct * 1e6) / 1e6, 4.166667);
  t.is(Math.round(s.stealPct * 1e6) / 1e6, 16.666667);
  t.is(s.busyPct, 37.5); // user + system + softirq: 90 of 240
  t.true(Number.isNaN(cpuSplit(a, a).busyPct));
});

test('cgroup CPU and I/O counters: v1 files captured here, v2 hand-made', (t) => {
  t.deepEqual(parseCgroupCpu(fixture('v1-cpuacct.stat'), 1), { userS: 231.6, sysS: 194.12 });
  t.deepEqual(parseCgroupCpu('usage_usec 3000000\nuser_usec 2000000\nsystem_usec 1000000\n', 2), { userS: 2, sysS: 1 });
  // this host does not account v1 blkio: the real file says only "Total 0"
  t.deepEqual(parseCgroupIo(fixture('v1-blkio.throttle.io_service_bytes_recursive'), 1), { readBytes: 0, writeBytes: 0 });
  t.deepEqual(parseCgroupIo('8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 1\n8:16 Read 1\n8:16 Write 0\nTotal 12289\n', 1), { readBytes: 4097, writeBytes: 8192 });
  t.deepEqual(parseCgroupIo('8:0 rbytes=100 wbytes=200 rios=1 wios=2 dbytes=0 dios=0\n259:0 rbytes=1 wbytes=2 rios=1 wios=1\n', 2), { readBytes: 101, writeBytes: 202 });
});

test('interval values: stall percentages of wall time, CPU split, context switch rate, a guest group', (t) => {
  const stat = (user: number, idle: number, ctxt: number) => ({ user, nice: 0, system: 0, idle, iowait: 0, irq: 0, softirq: 0, steal: 0, ctxt });
  const a = { atMs: 0, host: { pressure: { cpu: { someUs: 0, fullUs: 0 }, io: { someUs: 100, fullUs: 50 } }, stat: stat(0, 0, 1000) }, guests: { target: { pressure: { cpu: { someUs: 0, fullUs: 0 } }, memBytes: 10, cpu: { userS: 1, sysS: 1 } } } };
  const b = { atMs: 2000, host: { pressure: { cpu: { someUs: 500_000, fullUs: 0 }, io: { someUs: 200_100, fullUs: 100_050 } }, stat: stat(150, 50, 3000) }, guests: { target: { pressure: { cpu: { someUs: 1_000_000, fullUs: 400_000 } }, memBytes: 20, cpu: { userS: 3, sysS: 2 } } } };
  const v = intervalValues(a, b);
  t.is(v.host_psi_cpu_some_pct, 25); // 0.5 s of 2 s
  t.false('host_psi_cpu_full_pct' in v); // undefined for a whole host
  t.is(v.host_psi_io_some_pct, 10);
  t.is(v.host_psi_io_full_pct, 5);
  t.is(v.host_busy_pct, 75);
  t.is(v.host_ctxt_per_s, 1000);
  t.is(v.target_psi_cpu_some_pct, 50);
  t.is(v.target_psi_cpu_full_pct, 20);
  t.is(v.target_mem_bytes, 20);
  t.is(v.target_cpu_pct, 150); // 3 CPU-seconds in 2 s
  const sum = summarizeSeries([v, { ...v, host_psi_cpu_some_pct: 75 }], a, b);
  t.is(sum.host_psi_cpu_some_pct_mean, 50);
  t.is(sum.host_psi_cpu_some_pct_max, 75);
  t.is(sum.target_cpu_user_s, 2);
  t.is(sum.target_cpu_sys_s, 1);
});

test('calibration output line', (t) => {
  t.deepEqual(parseCalibrationLine('{"cpuMs":51.2,"memMs":12.3,"sink":1}\n'), { cpuMs: 51.2, memMs: 12.3 });
  t.deepEqual(parseCalibrationLine('{"cpuMs":52.0,"memMs":7.4,"sysMs":47.0,"sink":1746550378}'), { cpuMs: 52, memMs: 7.4, sysMs: 47 });
  t.throws(() => parseCalibrationLine('{"cpuMs":0,"memMs":1}'), { message: /not a calibration result/ });
});
