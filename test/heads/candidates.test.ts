// estimator=candidates (src/heads/candidates.ts) on small softmax HET-XL heads, against float64
// references written here from the definitions: the per-class bound against E[sigmoid(x)] by the
// trapezoid reference; the candidates' predictive against the production noise pushed through the
// float64 head (test/reference/heads.ts) and renormalised over the candidates (1e-5: float32 sums
// over S); its unbiasedness against the reference's own noise (4.5 standard errors); and the
// bound against the measured E[TV] between the full and the renormalised softmax samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { selectCandidates, sigmoidExpectationBound } from '../../src/heads/candidates.ts';
import { candidatePrediction } from '../../src/pipelines/predictions.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { defaultWeightScales, randomHeadWeights, referenceLogits, referenceNoiseRows, softmax, type Matrix, type Vector } from '../reference/heads.ts';
import { referenceSigmoidGaussian } from '../reference/sigmoid-gaussian.ts';
import { headRunners, noiseRows } from '../helpers/heads.ts';

const D = 6;
const K = 12;
const R = 3;
const runnerFor = headRunners();
/** Small pre-logit noise, so that a few classes carry the mass (the noise reaches the logits through W). */
const PEAKED = { ...defaultWeightScales, loc: 0.8, scaleKernel: 0.05, scaleBias: 0.1, factorKernel: 0.3, factorBias: 0.1, diagKernel: 0.02, diagBias: 0.05 };
const specOf = (diagonalNoise: HeadSpec['diagonalNoise'], covariance: HeadSpec['covariance']): HeadSpec => ({ type: 'het-xl', covariance, diagonalNoise, D, K, R, tau: 0.6, minScale: 1e-3 });
const KINDS = [specOf('independent', 'param-efficient'), specOf('independent', 'full'), specOf('shared', 'param-efficient'), specOf('shared', 'full')];
const label = (s: HeadSpec) => `het-xl/${s.covariance}/${s.diagonalNoise}`;
const phi = Float32Array.from({ length: D }, (_, i) => 1.5 * Math.sin(1.3 * i + 0.2));
const phiVector: Vector = Array.from(phi);

/** The reference's eps_D rows as the head reads them: shared noise is one scalar per sample, broadcast over D. */
const diagonalRows = (spec: HeadSpec, rows: Matrix): Matrix => (spec.diagonalNoise === 'shared' ? rows.map((r) => new Array<number>(D).fill(r[0])) : rows);

/** Per sample: the full softmax and the one renormalised over `classes`; their TV and the candidates' p. */
function referenceCandidates(spec: HeadSpec, weights: ReturnType<typeof randomHeadWeights>, classes: Int32Array, epsR: Matrix, epsD: Matrix) {
  const S = epsR.length;
  const sum = new Array<number>(classes.length).fill(0);
  const sumSq = new Array<number>(classes.length).fill(0);
  let tv = 0;
  for (let s = 0; s < S; s++) {
    const u = referenceLogits(spec, weights, phiVector, epsR[s], epsD[s]).map((x) => x / spec.tau);
    const full = softmax(u);
    const restricted = softmax(Array.from(classes, (k) => u[k]));
    const inside = Array.from(classes, (k) => full[k]).reduce((a, b) => a + b, 0);
    tv += 1 - inside; // TV(full, renormalised) = T / (A + T) = the mass outside the candidates
    restricted.forEach((p, i) => {
      sum[i] += p;
      sumSq[i] += p * p;
    });
  }
  const probs = sum.map((x) => x / S);
  return { probs, std: sumSq.map((x, i) => Math.sqrt(Math.max(x / S - probs[i] ** 2, 0))), tv: tv / S };
}

test('the per-class bound is at least E[sigmoid(x)] for x ~ N(a, b^2), by the trapezoid reference', () => {
  for (const a of [-60, -30, -15, -8, -4, -2, -1, -0.3, 0, 0.5, 3]) {
    for (const b of [0.01, 0.3, 1, 2, 4, 8, 20]) {
      const expected = referenceSigmoidGaussian(a, b).probability;
      assert.ok(sigmoidExpectationBound(a, b) >= expected - 1e-15, `a=${a} b=${b}: bound ${sigmoidExpectationBound(a, b)} < E ${expected}`);
    }
  }
  // Not vacuous where it matters: far below the top class it is within a factor of a few.
  assert.ok(sigmoidExpectationBound(-30, 2) < 10 * referenceSigmoidGaussian(-30, 2).probability);
});

test('selectCandidates: the top class is in, the left-out terms sum to the bound, at most the tolerance, the set is the smallest', () => {
  const mean = Float32Array.from([0, -40, 3, -2, -25, 2.5, -60]);
  const std = Float32Array.from([1, 1, 0.5, 2, 1, 0.2, 3]);
  const { classes, bound } = selectCandidates({ mean, std }, 1e-3);
  assert.ok(classes.includes(2));
  const left = [...Array(mean.length).keys()].filter((k) => !classes.includes(k));
  const terms = left.map((k) => sigmoidExpectationBound(mean[k] - mean[2], std[k] + std[2]));
  assert.ok(Math.abs(terms.reduce((a, b) => a + b, 0) - bound) < 1e-15);
  assert.ok(bound <= 1e-3);
  assert.deepEqual([...classes], [...classes].sort((a, b) => a - b));
  assert.deepEqual(left, [1, 4, 6]);
});

test('candidates: the predictive over the candidates is the production noise renormalised over them, its bound holds, and it is unbiased', async () => {
  const S = 3000;
  const seed = 13;
  for (const spec of KINDS) {
    const weights = randomHeadWeights(spec, 8, PEAKED);
    const runner = await runnerFor(spec, weights);
    const [answer] = await runner.candidatesMc(phi, 1, { samples: S, seed }, 0.02);
    assert.equal(answer.fallback, false, `${label(spec)}: expected a candidate set`);
    const classes = answer.classes!;
    assert.ok(classes.length < K && classes.length >= 2, `${label(spec)}: ${classes.length} candidates`);
    assert.ok(answer.bound <= 0.02);

    const epsR = noiseRows(seed, S, R, STREAM_FACTOR);
    const epsD = diagonalRows(spec, noiseRows(seed, S, spec.diagonalNoise === 'shared' ? 1 : D, STREAM_DIAGONAL));
    const same = referenceCandidates(spec, weights, classes, epsR, epsD);
    for (let i = 0; i < classes.length; i++) assert.ok(Math.abs(answer.result.probs[i] - same.probs[i]) <= 1e-5, `${label(spec)} class ${classes[i]}: ${answer.result.probs[i]} vs ${same.probs[i]}`);
    assert.ok(same.tv <= answer.bound, `${label(spec)}: measured E[TV] ${same.tv} above the bound ${answer.bound}`);
    assert.ok(same.tv > 0, 'the left-out classes should have some mass');
    console.log(`${label(spec)}: ${classes.length} of ${K} candidates, bound ${answer.bound.toExponential(2)}, measured E[TV] ${same.tv.toExponential(2)}`);

    const own = referenceNoiseRows(spec, 20_000, 99);
    const independent = referenceCandidates(spec, weights, classes, own.epsR, diagonalRows(spec, own.epsD));
    for (let i = 0; i < classes.length; i++) {
      const se = independent.std[i] * Math.sqrt(1 / S + 1 / 20_000);
      assert.ok(Math.abs(answer.result.probs[i] - independent.probs[i]) <= 4.5 * se + 1e-6, `${label(spec)} class ${classes[i]}: ${answer.result.probs[i]} vs ${independent.probs[i]} (se ${se})`);
    }
  }
});

test('candidates: chunk-independent, and a set too large for a gain falls back to the full product (plain MC, same seed)', async () => {
  const spec = KINDS[0];
  const weights = randomHeadWeights(spec, 8, PEAKED);
  const whole = await runnerFor(spec, weights);
  const chunked = await runnerFor(spec, weights, { memoryBudgetBytes: 4096 });
  const [a] = await whole.candidatesMc(phi, 1, { samples: 500, seed: 4 }, 0.02);
  const [b] = await chunked.candidatesMc(phi, 1, { samples: 500, seed: 4 }, 0.02);
  assert.ok(chunked.chunksFor(500, 1).length > 1);
  assert.deepEqual([...a.classes!], [...b.classes!]);
  for (let i = 0; i < a.result.probs.length; i++) assert.ok(Math.abs(a.result.probs[i] - b.result.probs[i]) <= 1e-6);

  const [fallback] = await whole.candidatesMc(phi, 1, { samples: 500, seed: 4 }, 1e-12);
  assert.equal(fallback.fallback, true);
  assert.equal(fallback.classes, undefined);
  const [full] = await whole.mc(phi, 1, { samples: 500, seed: 4 });
  assert.deepEqual([...fallback.result.probs], [...full.probs]);
});

test('candidatePrediction: the candidates at their classes, the others 0, statistics of the candidates, the modal class as a class index', () => {
  const result = { probs: Float32Array.from([0.7, 0.3]), std: Float32Array.from([0.1, 0.1]), expectedEntropy: 0.5, sampleArgmax: Int32Array.from([1, 1, 0, 1]) };
  const prediction = candidatePrediction({ result, classes: Int32Array.from([2, 5]), bound: 1e-4, fallback: false }, 4, 7);
  assert.deepEqual([...prediction.probs].map((p) => Math.round(p * 10) / 10), [0, 0, 0.7, 0, 0, 0.3, 0]);
  assert.deepEqual([...prediction.stdError!].map((p) => Math.round(p * 100) / 100), [0, 0, 0.05, 0, 0, 0.05, 0]);
  assert.deepEqual(prediction.candidates, { count: 2, bound: 1e-4, fallback: false });
  const statistics = prediction.statistics as { maxProbability: number; variationRatio?: number; modalClass?: number };
  assert.ok(Math.abs(statistics.maxProbability - 0.7) < 1e-6);
  assert.equal(statistics.variationRatio, 0.25);
  assert.equal(statistics.modalClass, 5);
});
