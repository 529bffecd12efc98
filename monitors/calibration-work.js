// The calibration's fixed work, run as its own process pinned to one host CPU (plain JS so that
// no TypeScript loader is started for it). Prints one JSON line: median milliseconds of the
// integer loop, of the memory pass and of the kernel work (2 process starts of /bin/true and 2000
// stat calls: what a build does besides computing) over 5 repetitions each (the median drops JIT
// tier-up and a stray interrupt). Same work every time: a slower host shows as larger numbers.
// The kernel part exists because a host's syscall and process-creation speed can step by a third
// while its integer speed stays put (seen on the development hosts).
import { spawnSync } from 'node:child_process';
import { statSync } from 'node:fs';

const REPS = 5;
const LOOP = 20_000_000;
const BYTES = 32 * 1024 * 1024;

function loop() {
  let x = 0x9e3779b9 | 0;
  let acc = 0;
  for (let i = 0; i < LOOP; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    acc = (acc + (x & 0xff)) | 0;
  }
  return acc;
}

const buf = new Int32Array(BYTES / 4);
function memoryPass(seed) {
  for (let i = 0; i < buf.length; i++) buf[i] = i ^ seed;
  let acc = 0;
  for (let i = 0; i < buf.length; i += 16) acc = (acc + buf[i]) | 0;
  return acc;
}

function kernelWork() {
  for (let i = 0; i < 2; i++) spawnSync('/bin/true');
  let n = 0;
  for (let i = 0; i < 2000; i++) n += statSync('/').nlink;
  return n;
}

function median(xs) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function timed(fn, arg) {
  const t0 = process.hrtime.bigint();
  const r = fn(arg);
  return { ms: Number(process.hrtime.bigint() - t0) / 1e6, r };
}

let sink = 0;
const cpu = [];
const mem = [];
const sys = [];
for (let i = 0; i < REPS; i++) {
  const a = timed(loop);
  cpu.push(a.ms);
  sink ^= a.r;
  const b = timed(memoryPass, i);
  mem.push(b.ms);
  sink ^= b.r;
}
// after the memory passes: a process start forks this one, which would make the buffer's pages
// copy-on-write and the next pass slow
for (let i = 0; i < REPS; i++) {
  const c = timed(kernelWork);
  sys.push(c.ms);
  sink ^= c.r;
}
process.stdout.write(JSON.stringify({ cpuMs: median(cpu), memMs: median(mem), sysMs: median(sys), sink }) + '\n');
