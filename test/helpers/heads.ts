// Shared by the head tests: the production noise as reference rows, and element-wise closeness.
import assert from 'node:assert/strict';
import { after } from 'node:test';
import type { HeadWeights } from '../../src/format/head-params.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { createHeadRunner, type HeadRunnerOptions, type OrtHeadRunner } from '../../src/heads/runner.ts';
import { normalRows } from '../../src/noise/normal.ts';
import type { Matrix } from '../reference/heads.ts';

/** The production noise of samples [0, S) of one stream, as reference rows. */
export function noiseRows(seed: number, S: number, width: number, stream: number): Matrix {
  const flat = normalRows(seed, stream, 0, S, width);
  return Array.from({ length: S }, (_, s) => Array.from(flat.subarray(s * width, (s + 1) * width)));
}

export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++) {
    assert.ok(Math.abs(actual[i] - expected[i]) <= tolerance, `${what}[${i}]: ${actual[i]} vs ${expected[i]} (tolerance ${tolerance})`);
  }
}

/**
 * A maker of head runners on one CPU thread, each disposed when the calling test file ends (it
 * registers node:test's `after`; call it once, at the top level of a test file).
 */
export function headRunners(): (spec: HeadSpec, weights: HeadWeights, options?: HeadRunnerOptions) => Promise<OrtHeadRunner> {
  const runners: OrtHeadRunner[] = [];
  after(async () => {
    for (const runner of runners) await runner.dispose();
  });
  return async (spec, weights, options) => {
    const runner = await createHeadRunner(spec, weights, { provider: 'cpu', threads: 1 }, options);
    runners.push(runner);
    return runner;
  };
}
