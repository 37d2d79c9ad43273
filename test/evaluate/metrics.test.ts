// Metrics against hand-computed values, and the reliability diagram renders to a PNG.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import { classificationMetrics } from '../../src/evaluate/metrics.ts';
import { reliabilityPng } from '../../src/evaluate/reliability.ts';

const close = (a: number, b: number, msg: string) => assert.ok(Math.abs(a - b) < 1e-9, `${msg}: ${a} vs ${b}`);

test('accuracy, NLL, Brier and ECE on a hand-computed example', () => {
  // 3 examples, K = 2. Confidences 0.9 (right), 0.58 (wrong), 0.95 (right).
  const probs = Float32Array.from([0.9, 0.1, 0.58, 0.42, 0.05, 0.95]);
  const labels = [0, 1, 1];
  const m = classificationMetrics(probs, 2, labels);
  const f = (x: number) => Math.fround(x);
  close(m.accuracy, 2 / 3, 'accuracy');
  close(m.nll, -(Math.log(f(0.9)) + Math.log(f(0.42)) + Math.log(f(0.95))) / 3, 'nll');
  const brier = ((f(0.9) - 1) ** 2 + f(0.1) ** 2 + f(0.58) ** 2 + (f(0.42) - 1) ** 2 + f(0.05) ** 2 + (f(0.95) - 1) ** 2) / 3;
  close(m.brier, brier, 'brier');
  // 15 bins of width 1/15: 0.58 -> bin 8 (0.5333, 0.6], 0.9 -> bin 13 (0.8667, 0.9333], 0.95 -> bin 14.
  assert.equal(m.bins.length, 15);
  assert.deepEqual(m.bins.map((b) => b.count).filter((c) => c > 0), [1, 1, 1]);
  assert.equal(m.bins[8].count, 1);
  assert.equal(m.bins[13].count, 1);
  assert.equal(m.bins[14].count, 1);
  close(m.ece, (Math.abs(0 - f(0.58)) + Math.abs(1 - f(0.9)) + Math.abs(1 - f(0.95))) / 3, 'ece');
});

test('a zero probability for the label gives a finite NLL (clamped), and bad input is refused', () => {
  const m = classificationMetrics(Float32Array.from([1, 0]), 2, [1]);
  close(m.nll, -Math.log(1e-12), 'clamped nll');
  assert.throws(() => classificationMetrics(Float32Array.from([1, 0]), 2, [2]), /label 2/);
  assert.throws(() => classificationMetrics(Float32Array.from([1, 0, 0]), 2, [0]), /3 probabilities/);
});

test('the reliability diagram is a PNG of the expected size', async () => {
  const m = classificationMetrics(Float32Array.from([0.9, 0.1, 0.58, 0.42, 0.05, 0.95]), 2, [0, 1, 1]);
  const png = await reliabilityPng(m, 'test <model> & "title"');
  const meta = await sharp(png).metadata();
  assert.equal(meta.format, 'png');
  assert.ok(meta.width! > 300 && meta.height! > 300);
});
