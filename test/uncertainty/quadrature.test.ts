// The exact sigmoid moments (src/uncertainty/quadrature.ts) against the float64 reference of
// test/reference/sigmoid-gaussian.ts (the trapezoid rule over the whole Gaussian). The
// documented bound is 1e-6 absolute; the test asserts 1e-7 (measured: 6e-8 at worst, at the split
// between the two rules).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { exactSigmoidResult, gaussHermiteRule, gaussLaguerreRule, normalCdf, sigmoidGaussianMoments } from '../../src/uncertainty/quadrature.ts';
import { referenceSigmoidGaussian as reference } from '../reference/sigmoid-gaussian.ts';
import { sigmoid } from '../reference/sigmoid.ts';

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

test('sigmoid Gaussian moments: within 1e-7 of the reference over means -200 .. 200 and scales 0 .. 1000', () => {
  const worst = { probability: 0, std: 0, expectedBinaryEntropy: 0 };
  for (const s of SCALES) {
    for (const m of MEANS) {
      const actual = sigmoidGaussianMoments(m, s);
      const expected = reference(m, s);
      for (const key of ['probability', 'std', 'expectedBinaryEntropy'] as const) {
        const error = Math.abs(actual[key] - expected[key]);
        worst[key] = Math.max(worst[key], error);
        assert.ok(error <= 1e-7, `m=${m} s=${s} ${key}: ${actual[key]} vs reference ${expected[key]} (error ${error.toExponential(2)})`);
      }
    }
  }
  console.log(`worst absolute errors: probability ${worst.probability.toExponential(1)}, std ${worst.std.toExponential(1)}, expected binary entropy ${worst.expectedBinaryEntropy.toExponential(1)}`);
});

test('near the split between the rules (s = 1.5), every m in [-40, 40] by 0.25: within 1e-7', () => {
  for (const s of [1.4, 1.45, 1.5, 1.51, 1.55, 1.6]) {
    for (let m = -40; m <= 40; m += 0.25) {
      const actual = sigmoidGaussianMoments(m, s);
      const expected = reference(m, s);
      for (const key of ['probability', 'std', 'expectedBinaryEntropy'] as const) {
        assert.ok(Math.abs(actual[key] - expected[key]) <= 1e-7, `m=${m} s=${s} ${key}: ${actual[key]} vs ${expected[key]}`);
      }
    }
  }
});

test('symmetry: E[sigmoid] at m = 0 is 1/2, and m -> -m flips the probability and keeps std and entropy', () => {
  for (const s of [0.5, 1.5, 1.6, 7, 400]) {
    assert.ok(Math.abs(sigmoidGaussianMoments(0, s).probability - 0.5) < 1e-12, `s=${s}`);
    const a = sigmoidGaussianMoments(2.5, s);
    const b = sigmoidGaussianMoments(-2.5, s);
    assert.ok(Math.abs(a.probability + b.probability - 1) < 1e-12);
    assert.ok(Math.abs(a.std - b.std) < 1e-12);
    assert.ok(Math.abs(a.expectedBinaryEntropy - b.expectedBinaryEntropy) < 1e-12);
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

test('exactSigmoidResult: one class per marginal, in the MC result shape; a negative std is refused', () => {
  const result = exactSigmoidResult([-1, 0, 3], [0.5, 2, 0]);
  assert.equal(result.probs.length, 3);
  assert.ok(Math.abs(result.probs[1] - 0.5) < 1e-7);
  assert.ok(Math.abs(result.probs[2] - sigmoid(3)) < 1e-7);
  assert.ok(result.std[2] < 1e-12);
  assert.ok(Math.abs(result.expectedBinaryEntropy[0] - reference(-1, 0.5).expectedBinaryEntropy) < 1e-7);
  assert.throws(() => exactSigmoidResult([0], [-1]), /std of a logit/);
  assert.throws(() => exactSigmoidResult([0, 1], [1]), /classes/);
});
