import test from 'ava';
import { readFileSync } from 'node:fs';
import { BUILD_PLANS, buildScript, parseBuildTime } from '../../workloads/kernel-compile.ts';

test('the timing line of a real smoke build', (t) => {
  const text = readFileSync(new URL('../fixtures/kernel-compile/bash-time-smoke.txt', import.meta.url), 'utf8');
  t.deepEqual(parseBuildTime(text), { wallS: 10.424, userS: 8.117, sysS: 2.103 });
  t.deepEqual(parseBuildTime('make: warning\nvb-time 91.5 170.25 12\n'), { wallS: 91.5, userS: 170.25, sysS: 12 });
  t.throws(() => parseBuildTime('make: *** [Makefile:1] Error 2'), { message: /no timing line/ });
});

test('build plans: paper is the whole defconfig kernel, smoke a few subtrees of tinyconfig', (t) => {
  t.deepEqual(BUILD_PLANS.paper, { config: 'defconfig', targets: [] });
  t.is(BUILD_PLANS.quick.config, 'tinyconfig');
  t.true(BUILD_PLANS.smoke.targets.length > 0);
});

test('build script: fresh copy of the template, only make is timed, failures keep the log tail', (t) => {
  const s = buildScript({ srcDir: '/src/linux', templateDir: '/cache/t', buildDir: '/w/b', jobs: 2, targets: ['kernel/'] });
  const lines = s.split('\n');
  t.is(lines[0], "rm -rf '/w/b' && cp -a '/cache/t' '/w/b' || exit 1");
  t.regex(lines[2]!, /^time make -s -C '\/src\/linux' O='\/w\/b' -j'2' 'kernel\/' > '\/w\/b.log' 2>&1$/);
  t.regex(s, /grep -m2 -E 'error\|not found\|No such file' '\/w\/b.log'; tail -2 '\/w\/b.log'; \} >&2; exit \$rc/);
});
