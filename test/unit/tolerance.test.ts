import test from 'ava';
import { UsageError } from '../../core/errors.ts';
import { globToRegExp, ignoredBy, parseTolerance, thresholdOf, toleranceTemplate } from '../../analysis/tolerance.ts';

const ctx = { metrics: ['wall_s', 'ops_s', 'latency_ms'], cells: ['baremetal/kc/none:none/cpuset/hard/x1', 'lxc/fb/adversarial:bonnie/cpuset/hard/x1'] };

test('every setting, with comments and blank lines', (t) => {
  const tol = parseTolerance(
    ['# nightly on lab1', '', 'alpha 0.05', 'threshold 4%   # default', 'threshold wall_s 8.5%', 'ignore latency_ms', 'ignore * lxc/*/adversarial:*'].join('\n'),
    'tolerance.txt',
    ctx,
  );
  t.is(tol.alpha, 0.05);
  t.is(tol.threshold, 0.04);
  t.is(thresholdOf(tol, 'wall_s'), 0.085);
  t.is(thresholdOf(tol, 'ops_s'), 0.04);
  t.is(ignoredBy(tol, ctx.cells[0]!, 'latency_ms')?.source, 'tolerance.txt:6');
  t.is(ignoredBy(tol, ctx.cells[0]!, 'wall_s'), undefined);
  t.is(ignoredBy(tol, ctx.cells[1]!, 'ops_s')?.source, 'tolerance.txt:7');
});

test('mistakes name the file and line', (t) => {
  const bad: [string, RegExp][] = [
    ['alpha 0.01\nthreshold wal_s 8%', /^t\.txt:2: unknown metric 'wal_s'; metrics of the runs compared: latency_ms, ops_s, wall_s$/],
    ['ignore iops', /^t\.txt:1: unknown metric 'iops'/],
    ['\n\nthreshold 5', /^t\.txt:3: threshold must be a percentage such as 5% or 2\.5%, got '5'$/],
    ['alpha 1.5', /^t\.txt:1: alpha must be a number in \(0, 0\.5\]/],
    ['alpha 0.01\nalpha 0.05', /^t\.txt:2: 'alpha' is already set on line 1$/],
    ['thresold 5%', /^t\.txt:1: unknown setting 'thresold'; valid: alpha, threshold, ignore$/],
    ['ignore * kvm/*', /^t\.txt:1: cell pattern 'kvm\/\*' matches no cell of the runs compared$/],
    ['ignore *', /^t\.txt:1: 'ignore \*' needs a cell pattern/],
  ];
  for (const [text, re] of bad) {
    const err = t.throws(() => parseTolerance(text, 't.txt', ctx), { instanceOf: UsageError });
    t.regex(err!.message, re);
  }
});

test('glob patterns match whole cell ids', (t) => {
  t.true(globToRegExp('lxc/*').test('lxc/fb/none:none/cpuset/hard/x1'));
  t.false(globToRegExp('lxc/*').test('lxcvm/fb/none:none'));
  t.true(globToRegExp('*/x1.5').test('kvm/kc/none:none/cpuset/hard/x1.5'));
  t.false(globToRegExp('*/x1.5').test('kvm/kc/none:none/cpuset/hard/x105'));
});

test('the template parses to the defaults and lists the metrics', (t) => {
  const text = toleranceTemplate(['wall_s', 'ops_s']);
  t.regex(text, /metrics of this baseline: ops_s, wall_s/);
  const tol = parseTolerance(text, 'x', ctx);
  t.is(tol.alpha, 0.01);
  t.is(tol.threshold, 0.05);
  t.deepEqual(tol.ignore, []);
});
