// estimator=exact's sigmoid moments (src/uncertainty/sigmoid-quadrature.ts: the rules of
// src/uncertainty/quadrature.ts in float32 ORT graphs) against the float64 reference of
// test/reference/sigmoid-gaussian.ts (the trapezoid rule over the whole Gaussian), at the
// float32 values of (m, s) the graphs are fed. The documented bound is 1e-6 absolute; the test
// asserts 5e-7 (the rules alone, in float64, are within 6e-8; float32 adds ~2e-7).
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { gaussHermiteRule, gaussLaguerreRule, normalCdf } from '../../src/uncertainty/quadrature.ts';
import { SigmoidQuadrature } from '../../src/uncertainty/sigmoid-quadrature.ts';
import { referenceSigmoidGaussian as reference } from '../reference/sigmoid-gaussian.ts';
import { sigmoid } from '../reference/sigmoid.ts';

const TOLERANCE = 5e-7;
const KEYS = ['probability', 'std', 'expectedBinaryEntropy'] as const;
let quadrature: SigmoidQuadrature;
before(async () => (quadrature = await SigmoidQuadrature.create({ provider: 'cpu', threads: 0 })));
after(() => quadrature.release());

/** The graphs' moments of each (m, s), as one image of that many classes. */
async function moments(pairs: [number, number][]) {
  const [result] = await quadrature.predictive([{ mean: pairs.map(([m]) => m), std: pairs.map(([, s]) => s) }]);
  return pairs.map((_, k) => ({ probability: result.probs[k], std: result.std[k], expectedBinaryEntropy: result.expectedBinaryEntropy[k] }));
}

/** Asserts every pair against the reference at the float32 (m, s) it was fed; returns the worst errors. */
async function assertNearReference(pairs: [number, number][]) {
  const worst = { probability: 0, std: 0, expectedBinaryEntropy: 0 };
  const actual = await moments(pairs);
  pairs.forEach(([m, s], i) => {
    const expected = reference(Math.fround(m), Math.fround(s));
    for (const key of KEYS) {
      const error = Math.abs(actual[i][key] - expected[key]);
      worst[key] = Math.max(worst[key], error);
      assert.ok(error <= TOLERANCE, `m=${m} s=${s} ${key}: ${actual[i][key]} vs reference ${expected[key]} (error ${error.toExponential(2)})`);
    }
  });
  return worst;
}

const MEANS = [-200, -60, -40, -25, -15, -10, -6, -4, -3, -2, -1.5, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2, 3, 5, 8, 12, 20, 35, 60, 200];
const SCALES = [0, 1e-3, 0.01, 0.1, 0.3, 0.6, 1, 1.2, 1.4, 1.5, 1.6, 1.8, 2, 2.5, 3, 5, 8, 13, 20, 40, 80, 150, 300, 600, 1000];

test('the reference converges: halving its step changes nothing at 1e-12', () => {
  for (const [m, s] of [[-3, 0.4], [2, 1.5], [0.7, 30], [-5, 700]]) {
    const coarse = reference(m, s);
    const fine = reference(m, s, Math.min(0.125, s / 10) / 2);
    for (const key of ['probability', 'std', 'expectedBinaryEntropy'] as const) {
      assert.ok(Math.abs(coarse[key] - fine[key]) < 1e-12, `m=${m} s=${s} ${key}: ${coarse[key]} vs ${fine[key]}`);
    }
  }
});

test('sigmoid Gaussian moments: within 5e-7 of the reference over means -200 .. 200 and scales 0 .. 1000', async () => {
  const worst = await assertNearReference(SCALES.flatMap((s) => MEANS.map((m): [number, number] => [m, s])));
  console.log(`worst absolute errors: probability ${worst.probability.toExponential(1)}, std ${worst.std.toExponential(1)}, expected binary entropy ${worst.expectedBinaryEntropy.toExponential(1)}`);
});

test('near the split between the rules (s = 1.5), every m in [-40, 40] by 0.25: within 5e-7', async () => {
  const pairs: [number, number][] = [];
  for (const s of [1.4, 1.45, 1.5, 1.51, 1.55, 1.6]) for (let m = -40; m <= 40; m += 0.25) pairs.push([m, s]);
  await assertNearReference(pairs);
});

test('symmetry: E[sigmoid] at m = 0 is 1/2, and m -> -m flips the probability and keeps std and entropy', async () => {
  for (const s of [0.5, 1.5, 1.6, 7, 400]) {
    const [zero, a, b] = await moments([[0, s], [2.5, s], [-2.5, s]]);
    assert.ok(Math.abs(zero.probability - 0.5) < 1e-7, `s=${s}`);
    assert.ok(Math.abs(a.probability + b.probability - 1) < 1e-7);
    assert.ok(Math.abs(a.std - b.std) < 1e-7);
    assert.ok(Math.abs(a.expectedBinaryEntropy - b.expectedBinaryEntropy) < 1e-7);
  }
});

test('the rules are Gaussian: exact for polynomials up to degree 2n - 1', () => {
  const n = 32;
  const hermite = gaussHermiteRule(n);
  const laguerre = gaussLaguerreRule(n);
  // E[x^2k] = (2k - 1)!! under N(0, 1);  int_0^inf e^-t t^k dt = k!
  let doubleFactorial = 1;
  let factorial = 1;
  for (let k = 0; k <= 10; k++) {
    if (k > 0) {
      doubleFactorial *= 2 * k - 1;
      factorial *= k;
    }
    const even = hermite.weights.reduce((sum, w, i) => sum + w * hermite.nodes[i] ** (2 * k), 0);
    const odd = hermite.weights.reduce((sum, w, i) => sum + w * hermite.nodes[i] ** (2 * k + 1), 0);
    const moment = laguerre.weights.reduce((sum, w, i) => sum + w * laguerre.nodes[i] ** k, 0);
    assert.ok(Math.abs(even / doubleFactorial - 1) < 1e-11, `Hermite E[x^${2 * k}] = ${even}`);
    assert.ok(Math.abs(odd) < 1e-9 * doubleFactorial, `Hermite E[x^${2 * k + 1}] = ${odd}`);
    assert.ok(Math.abs(moment / factorial - 1) < 1e-11, `Laguerre moment ${k} = ${moment}`);
  }
});

test('normalCdf against published values (relative 1e-12)', () => {
  const values: [number, number][] = [
    [-20, 2.7536241186062337e-89],
    [-10, 7.619853024160525e-24],
    [-5, 2.866515718791939e-7],
    [-3, 0.0013498980316300946],
    [-2, 0.02275013194817921],
    [-1, 0.15865525393145705],
    [-0.5, 0.3085375387259869],
    [0, 0.5],
    [1.5, 0.9331927987311419],
  ];
  for (const [x, expected] of values) assert.ok(Math.abs(normalCdf(x) / expected - 1) < 1e-12, `Phi(${x}) = ${normalCdf(x)}, expected ${expected}`);
});

test('predictive: one result per image in the MC result shape, classes in their order; bad marginals are refused', async () => {
  const images = [{ mean: [-1, 0, 3], std: [0.5, 2, 0] }, { mean: [4, -30], std: [40, 1e-3] }];
  const [first, second] = await quadrature.predictive(images);
  assert.equal(first.probs.length, 3);
  assert.equal(second.probs.length, 2);
  assert.ok(Math.abs(first.probs[1] - 0.5) < 1e-7);
  assert.ok(Math.abs(first.probs[2] - sigmoid(3)) < 1e-7);
  assert.ok(first.std[2] < 1e-7);
  assert.ok(Math.abs(first.expectedBinaryEntropy[0] - reference(-1, 0.5).expectedBinaryEntropy) < TOLERANCE);
  assert.ok(Math.abs(second.probs[0] - reference(4, 40).probability) < TOLERANCE);
  assert.ok(Math.abs(second.probs[1] - sigmoid(-30)) < 1e-7);
  assert.deepEqual(await quadrature.predictive([]), []);
  await assert.rejects(quadrature.predictive([{ mean: [0], std: [-1] }]), /std of a logit/);
  await assert.rejects(quadrature.predictive([{ mean: [0], std: [Number.NaN] }]), /std of a logit/);
  await assert.rejects(quadrature.predictive([{ mean: [0, 1], std: [1] }]), /classes/);
});

test('more classes than one graph run takes (2^16): the same moments as class by class', async () => {
  const K = 70_000;
  const mean = Float32Array.from({ length: K }, (_, k) => 12 * Math.sin(0.37 * k));
  const std = Float32Array.from({ length: K }, (_, k) => 3 * Math.abs(Math.cos(0.11 * k)));
  const [all] = await quadrature.predictive([{ mean, std }]);
  for (const k of [0, 1, 65_535, 65_536, 65_537, 69_999]) {
    const [one] = await quadrature.predictive([{ mean: [mean[k]], std: [std[k]] }]);
    assert.equal(all.probs[k], one.probs[0], `class ${k}`);
    assert.equal(all.std[k], one.std[0], `class ${k}`);
  }
});
