// The make-checkpoint command's arguments: defaults (the paper's JFT head) and usage errors.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMakeCheckpointArgs, UsageError } from '../../src/cli/make-checkpoint.ts';

test('defaults: parameter-efficient HET-XL with K = 29,593, D = 1024, R = 50', () => {
  const options = parseMakeCheckpointArgs(['--out', '/tmp/x']);
  assert.notEqual(options, 'help');
  if (options === 'help') return;
  assert.equal(options.modelsDir, '/tmp/x');
  assert.equal(options.name, 'het-xl-k29593-d1024-r50');
  assert.deepEqual(options.head, { type: 'het-xl', covariance: 'param-efficient', D: 1024, K: 29593, R: 50, tau: 1 });
  const small = parseMakeCheckpointArgs(['--out', 'm', '--classes', '10', '--dim', '8', '--factors', '2', '--head', 'het', '--covariance', 'full', '--image', '32x32x3']);
  assert.ok(small !== 'help' && small.head.K === 10 && small.head.type === 'het' && small.input?.channels === 3 && small.name === 'het-k10-d8-r2');
  assert.equal(parseMakeCheckpointArgs(['--help']), 'help');
});

test('usage errors name the bad argument', () => {
  const cases: [string[], RegExp][] = [
    [[], /--out/],
    [['--out', 'm', '--classes', '0'], /--classes must be a positive integer/],
    [['--out', 'm', '--dim', 'ten'], /--dim must be a positive integer/],
    [['--out', 'm', '--head', 'hetxl'], /--head must be one of det, het, het-xl/],
    [['--out', 'm', '--image', '28x28'], /--image/],
    [['--out', 'm', '--tau', '-1'], /--tau/],
    [['--out', 'm', '--default-samples', '20', '--max-samples', '10'], /exceeds/],
    [['--out', 'm', '--bogus'], /bogus/],
  ];
  for (const [args, message] of cases) assert.throws(() => parseMakeCheckpointArgs(args), (e: Error) => e instanceof UsageError && message.test(e.message), args.join(' '));
});
