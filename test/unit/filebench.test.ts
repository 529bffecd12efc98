import test from 'ava';
import { readFileSync } from 'node:fs';
import { RANDOMRW, fioJob, filebenchWorkload, parseFilebench, parseFioJson } from '../../workloads/filebench.ts';

const fixture = (f: string) => readFileSync(new URL(`../fixtures/filebench/${f}`, import.meta.url), 'utf8');

test('fio JSON of the randomrw job: ops and bandwidth summed over both jobs, latency weighted by I/O count', (t) => {
  const r = parseFioJson(fixture('fio-3.33-randomrw.json'));
  // rand-read: 128049.79 iops, 1048983880 B/s, 640377 ios, 5816.14 ns; rand-write: 130260.15, 1067091132, 651431, 4183.82
  t.is(r.opsPerS.toFixed(2), (128049.790042 + 130260.14797).toFixed(2));
  t.is(r.mbPerS.toFixed(3), ((1048983880 + 1067091132) / 1e6).toFixed(3));
  const lat = (5816.143539 * 640377 + 4183.82038 * 651431) / (640377 + 651431) / 1e6;
  t.is(r.latencyMs.toFixed(6), lat.toFixed(6));
});

test('fio: warnings before the JSON are skipped; a failed job or no I/O is an error', (t) => {
  const json = fixture('fio-3.33-randomrw.json');
  t.notThrows(() => parseFioJson('fio: some warning\n' + json));
  const failed = JSON.parse(json);
  failed.jobs[1].error = 5;
  t.throws(() => parseFioJson(JSON.stringify(failed)), { message: /rand-write failed with error 5/ });
  t.throws(() => parseFioJson('fio: file not found'), { message: /no JSON/ });
});

test('filebench 1.5 and 1.4 summary lines (MiB/s reported as mb/s)', (t) => {
  const a = parseFilebench(fixture('filebench-1.5-randomrw.txt'));
  t.deepEqual(a, { opsPerS: 43543.158, mbPerS: (340.2 * 1024 * 1024) / 1e6, latencyMs: 0.044 });
  const b = parseFilebench(fixture('filebench-1.4-randomrw.txt'));
  t.deepEqual(b, { opsPerS: 1555.693, mbPerS: (12.2 * 1024 * 1024) / 1e6, latencyMs: 1.2 });
  t.throws(() => parseFilebench('Run took 60 seconds...'), { message: /IO Summary/ });
});

test('the fio job and filebench workload have the randomrw shape at the paper profile', (t) => {
  const p = RANDOMRW.paper;
  t.is(p.fileBytes, 5 * 1024 ** 3);
  t.is(p.ioBytes, 8192);
  const job = fioJob('/w/largefile1', p);
  t.regex(job, /\[rand-read\]\nrw=randread/);
  t.regex(job, /\[rand-write\]\nrw=randwrite/);
  t.regex(job, /bs=8192\n/);
  t.regex(job, /direct=0\n/);
  t.is(job.match(/^\[/gm)?.length, 3, 'global plus exactly two jobs');
  const f = filebenchWorkload('/w', p);
  t.regex(f, /define file name=largefile1,path=\/w,size=5368709120,prealloc/);
  t.regex(f, /flowop read name=rand-read1,filename=largefile1,iosize=8192,random/);
  t.regex(f, /flowop write name=rand-write1,filename=largefile1,iosize=8192,random/);
  t.regex(f, /run 60\n$/);
});
