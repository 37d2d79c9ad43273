// The sigmoid head's statistics (src/uncertainty/binary.ts) against values worked out by hand
// from h(p) = -p ln p - (1 - p) ln(1 - p).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { binaryEntropy, mcBinaryStatistics, meanBinaryStatistics } from '../../src/uncertainty/binary.ts';

test('binary entropy: ln 2 at one half, 0 at 0 and 1, symmetric, accurate for tiny p', () => {
  assert.equal(binaryEntropy(0.5), Math.LN2);
  assert.equal(binaryEntropy(0), 0);
  assert.equal(binaryEntropy(1), 0);
  assert.ok(Math.abs(binaryEntropy(0.2) - binaryEntropy(0.8)) < 1e-15);
  // p = 1e-12: h = p (1 - ln p) + O(p^2).
  const p = 1e-12;
  assert.ok(Math.abs(binaryEntropy(p) / (p * (1 - Math.log(p))) - 1) < 1e-9);
});

test('mean mode: per-class h(p) and their sum, the largest probability', () => {
  const { statistics, perClass } = meanBinaryStatistics(Float32Array.of(0.5, 0.25, 0.875));
  const h = (q: number) => -q * Math.log(q) - (1 - q) * Math.log(1 - q);
  assert.deepEqual(Array.from(perClass.binaryEntropy), [h(0.5), h(0.25), h(0.875)]);
  assert.ok(Math.abs(statistics.binaryEntropySum - (h(0.5) + h(0.25) + h(0.875))) < 1e-15);
  assert.equal(statistics.maxProbability, 0.875);
  assert.equal(statistics.expectedBinaryEntropySum, undefined);
});

test('MC: mutual information per class is h(p_hat) - E h(q_s), clamped at 0; sums; standard errors', () => {
  // Two samples per class: q in {0, 1} (p_hat 0.5, every sample certain) and q in {0.5, 0.5}.
  const result = {
    probs: Float32Array.of(0.5, 0.5),
    std: Float32Array.of(0.5, 0),
    expectedBinaryEntropy: Float64Array.of(0, Math.LN2 + 1e-12),
  };
  const { statistics, perClass, stdError } = mcBinaryStatistics(result, 4);
  assert.deepEqual(Array.from(perClass.mutualInformation!), [Math.LN2, 0]);
  assert.ok(Math.abs(statistics.mutualInformationSum! - Math.LN2) < 1e-15);
  assert.ok(Math.abs(statistics.expectedBinaryEntropySum! - (Math.LN2 + 1e-12)) < 1e-15);
  assert.deepEqual(Array.from(stdError), [0.25, 0]);
  assert.throws(() => mcBinaryStatistics(result, 0), RangeError);
});
