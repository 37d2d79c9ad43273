// Shared by the head tests: the production noise as reference rows, and element-wise closeness.
import assert from 'node:assert/strict';
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
