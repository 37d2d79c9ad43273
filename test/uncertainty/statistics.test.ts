import { test } from 'node:test';
import assert from 'node:assert/strict';
import { entropy, mcStatistics, meanStatistics, topK } from '../../src/uncertainty/statistics.ts';
import type { McResult } from '../../src/mc/types.ts';

const close = (actual: number, expected: number, tolerance = 1e-12, what = '') =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what} ${actual} vs ${expected}`);

test('topK sorts by value, breaks ties by the lower index, clamps k', () => {
  const values = [0.1, 0.3, 0.05, 0.3, 0.25];
  assert.deepEqual(topK(values, 3), [
    { index: 1, value: 0.3 },
    { index: 3, value: 0.3 },
    { index: 4, value: 0.25 },
  ]);
  assert.deepEqual(topK(new Float32Array(values), 10).map((c) => c.index), [1, 3, 4, 0, 2]);
  assert.equal(topK(new Float32Array(values), 1)[0].value, Math.fround(0.3), 'values are read as stored');
  assert.deepEqual(topK(values, 0), []);
  assert.throws(() => topK(values, -1), RangeError);

  // The small-k path and the sorting path (k > 32) agree with a plain sort.
  const many = Array.from({ length: 500 }, (_, i) => Math.round(Math.sin(i * 7.3) * 20) / 20);
  const expected = many.map((v, i) => [v, i] as const).sort((a, b) => b[0] - a[0] || a[1] - b[1]).map(([, i]) => i);
  assert.deepEqual(topK(many, 5).map((c) => c.index), expected.slice(0, 5));
  assert.deepEqual(topK(many, 100).map((c) => c.index), expected.slice(0, 100));
});

test('entropy and the mean-mode statistics on hand-made distributions', () => {
  close(entropy([0.25, 0.25, 0.25, 0.25]), Math.log(4));
  close(entropy([1, 0, 0]), 0);
  close(entropy([0.5, 0.5, 0]), Math.log(2));
  const stats = meanStatistics(new Float32Array([0.1, 0.6, 0.3]));
  close(stats.predictiveEntropy, -(0.1 * Math.log(0.1) + 0.6 * Math.log(0.6) + 0.3 * Math.log(0.3)), 1e-7);
  close(stats.maxProbability, 0.6, 1e-7);
  close(stats.margin, 0.3, 1e-7);
  const single = meanStatistics([1]);
  assert.equal(single.maxProbability, 1);
  assert.equal(single.margin, 1, 'with one class the second probability counts as 0');
});

test('MC statistics follow their definitions', () => {
  // Four samples of a three-class problem: p_1 = p_2 = [0.8, 0.1, 0.1], p_3 = p_4 = [0.1, 0.1, 0.8].
  const samples = [
    [0.8, 0.1, 0.1],
    [0.8, 0.1, 0.1],
    [0.1, 0.1, 0.8],
    [0.1, 0.1, 0.8],
  ];
  const S = samples.length;
  const probs = [0, 1, 2].map((k) => samples.reduce((a, p) => a + p[k], 0) / S); // [0.45, 0.1, 0.45]
  const std = [0, 1, 2].map((k) => Math.sqrt(samples.reduce((a, p) => a + (p[k] - probs[k]) ** 2, 0) / S)); // [0.35, 0, 0.35]
  const sampleEntropy = entropy(samples[0]);
  const result: McResult = {
    probs: Float32Array.from(probs),
    std: Float32Array.from(std),
    expectedEntropy: sampleEntropy,
    sampleArgmax: Int32Array.from([0, 0, 2, 2]),
  };
  const stats = mcStatistics(result, S);
  const predictive = -(2 * 0.45 * Math.log(0.45) + 0.1 * Math.log(0.1));
  close(stats.predictiveEntropy, predictive, 1e-6, 'predictive entropy');
  close(stats.expectedEntropy, sampleEntropy, 0, 'expected entropy');
  close(stats.mutualInformation, predictive - sampleEntropy, 1e-6, 'mutual information');
  close(stats.maxProbability, 0.45, 1e-7);
  close(stats.margin, 0, 1e-7, 'margin of a tie');
  assert.equal(stats.modalClass, 0, 'two classes tie for the mode: the lower index wins');
  close(stats.variationRatio, 0.5, 0);
  close(stats.stdError[0], 0.35 / 2, 1e-7, 'std error');
  close(stats.stdError[1], 0, 0);
  close(stats.stdError[2], 0.35 / 2, 1e-7);

  const unanimous = mcStatistics({ ...result, sampleArgmax: Int32Array.from([2, 2, 2, 1]) }, S);
  assert.equal(unanimous.modalClass, 2);
  close(unanimous.variationRatio, 0.25, 0);
});

test('mutual information is clamped at 0 and S must match the result', () => {
  const result: McResult = {
    probs: Float32Array.from([0.5, 0.5]),
    std: new Float32Array(2),
    expectedEntropy: Math.log(2) + 1e-9, // a rounding excess over H[p_hat]
    sampleArgmax: Int32Array.from([0, 0]),
  };
  assert.equal(mcStatistics(result, 2).mutualInformation, 0);
  assert.throws(() => mcStatistics(result, 3), RangeError);
  assert.throws(() => mcStatistics(result, 0), RangeError);
});
