// Sigmoid-link heads and diagonal-only (R = 0) heads against the float64 references in
// test/reference/ (edward2's MCSigmoidDenseFA semantics), on small shapes. Tolerances: 1e-5 where
// the reference is fed the production noise (float32 rounding of sums over 400 samples), 1e-6
// for mean mode and the logits (one float32 product), and 4.5 combined standard errors where
// the reference draws its own noise.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { randomHeadWeights, referenceLocLogits, referenceMc, referenceMeanProbs, type Vector } from '../reference/heads.ts';
import { binaryEntropy, referenceSigmoidMc, referenceSigmoidMcIndependent, referenceSigmoidMean } from '../reference/sigmoid.ts';
import { assertClose, headRunners, noiseRows } from '../helpers/heads.ts';

const D = 6;
const K = 5;
const BATCH = 2;

type Kind = { type: HeadSpec['type']; covariance?: HeadSpec['covariance'] };
const NOISY: Kind[] = [
  { type: 'het', covariance: 'param-efficient' },
  { type: 'het', covariance: 'full' },
  { type: 'het-xl', covariance: 'param-efficient' },
  { type: 'het-xl', covariance: 'full' },
];
/** A learned temperature as a checkpoint stores it: tau = min + (max - min) * sigmoid(t). */
const LEARNED_TAU = 0.3 + (3 - 0.3) / (1 + Math.exp(0.6)); // t = -0.6, bounds [0.3, 3]

const specOf = (kind: Kind, R: number, link: HeadSpec['link'], tau = 1): HeadSpec => ({
  ...kind,
  D,
  K,
  ...(kind.type === 'det' ? {} : { R }),
  tau,
  minScale: 1e-3,
  link,
});
const label = (s: HeadSpec) => `${s.link} ${s.type}${s.covariance ? `/${s.covariance}` : ''} R=${s.R} tau=${s.tau.toFixed(3)}`;
const noiseWidth = (spec: HeadSpec) => (spec.type === 'het' ? K : D);

const phi = Float32Array.from({ length: BATCH * D }, (_, i) => 1.2 * Math.sin(1.7 * i + 0.4));
const phiOf = (b: number): Vector => Array.from(phi.subarray(b * D, (b + 1) * D));

const runnerFor = headRunners();

test('sigmoid heads: MC, mean mode and logits equal the float64 reference, every head, R = 3 and R = 0, fixed and learned tau', async () => {
  const S = 400;
  const seed = 23;
  for (const kind of NOISY) {
    for (const R of [3, 0]) {
      for (const tau of [1, LEARNED_TAU]) {
        const spec = specOf(kind, R, 'sigmoid', tau);
        const weights = randomHeadWeights(spec, 202);
        const runner = await runnerFor(spec, weights);
        assert.equal(runner.link, 'sigmoid');
        const results = await runner.sigmoidMc(phi, BATCH, { samples: S, seed });
        const epsR = noiseRows(seed, S, R, STREAM_FACTOR);
        const epsD = noiseRows(seed, S, noiseWidth(spec), STREAM_DIAGONAL);
        const means = await runner.mean(phi, BATCH);
        const logits = await runner.logits(phi, BATCH);
        for (let b = 0; b < BATCH; b++) {
          const what = `${label(spec)} image ${b}`;
          const ref = referenceSigmoidMc(spec, weights, phiOf(b), epsR, epsD);
          assertClose(results[b].probs, ref.probs, 1e-5, `${what} probs`);
          assertClose(results[b].std, ref.std, 1e-5, `${what} std`);
          assertClose(results[b].expectedBinaryEntropy, ref.expectedBinaryEntropy, 1e-5, `${what} expected binary entropy`);
          assert.ok(Math.max(...ref.std) > 0.02, `${what}: the test weights should make the noise matter`);
          assertClose(means[b], referenceSigmoidMean(spec, weights, phiOf(b)), 1e-6, `${what} mean mode`);
          assertClose(logits[b], referenceLocLogits(weights, phiOf(b)), 1e-5, `${what} logits`);
        }
      }
    }
  }
});

test('sigmoid MC estimates agree with the reference drawing its own noise, within 4.5 standard errors', async () => {
  const S = 4000;
  for (const kind of NOISY) {
    for (const R of [3, 0]) {
      const spec = specOf(kind, R, 'sigmoid', LEARNED_TAU);
      const weights = randomHeadWeights(spec, 303);
      const [result] = await (await runnerFor(spec, weights)).sigmoidMc(phi.subarray(0, D), 1, { samples: S, seed: 5 });
      const ref = referenceSigmoidMcIndependent(spec, weights, phiOf(0), S, 99);
      for (let k = 0; k < K; k++) {
        const se = Math.sqrt((result.std[k] ** 2 + ref.std[k] ** 2) / S);
        assert.ok(Math.abs(result.probs[k] - ref.probs[k]) <= 4.5 * se + 1e-6, `${label(spec)} class ${k}: ${result.probs[k]} vs ${ref.probs[k]} (se ${se})`);
        const seH = Math.sqrt((2 * ref.binaryEntropyStd[k] ** 2) / S);
        const diff = Math.abs(result.expectedBinaryEntropy[k] - ref.expectedBinaryEntropy[k]);
        assert.ok(diff <= 4.5 * seH + 1e-6, `${label(spec)} class ${k} expected binary entropy: ${result.expectedBinaryEntropy[k]} vs ${ref.expectedBinaryEntropy[k]}`);
      }
    }
  }
});

test('diagonal-only (R = 0) softmax heads: MC and mean mode equal the float64 reference', async () => {
  const S = 400;
  const seed = 31;
  for (const kind of NOISY) {
    const spec = specOf(kind, 0, undefined, 0.8);
    const weights = randomHeadWeights(spec, 404);
    assert.ok(![...weights.keys()].some((name) => name.startsWith('scale_layer')), 'an R = 0 head has no scale layers');
    const runner = await runnerFor(spec, weights);
    const results = await runner.mc(phi, BATCH, { samples: S, seed });
    const epsD = noiseRows(seed, S, noiseWidth(spec), STREAM_DIAGONAL);
    const epsR = epsD.map(() => []);
    const means = await runner.mean(phi, BATCH);
    for (let b = 0; b < BATCH; b++) {
      const ref = referenceMc(spec, weights, phiOf(b), epsR, epsD);
      const what = `${label(spec)} image ${b}`;
      assertClose(results[b].probs, ref.probs, 1e-5, `${what} probs`);
      assertClose(results[b].std, ref.std, 1e-5, `${what} std`);
      assertClose([results[b].expectedEntropy], [ref.expectedEntropy], 1e-5, `${what} expected entropy`);
      assert.ok(Math.max(...ref.std) > 0.01, `${what}: the diagonal noise should matter`);
      assertClose(means[b], referenceMeanProbs(spec, weights, phiOf(b)), 1e-6, `${what} mean mode`);
    }
  }
});

test('softmax heads: logits are W^T phi + b, untempered, for det, het and het-xl', async () => {
  for (const kind of [{ type: 'det' } as Kind, ...NOISY]) {
    const spec = specOf(kind, 2, 'softmax', 0.5);
    const weights = randomHeadWeights(spec, 505);
    const logits = await (await runnerFor(spec, weights)).logits(phi, BATCH);
    for (let b = 0; b < BATCH; b++) assertClose(logits[b], referenceLocLogits(weights, phiOf(b)), 1e-5, `${label(spec)} logits ${b}`);
  }
});

test('sigmoid MC does not depend on the chunking beyond rounding', async () => {
  const spec = specOf(NOISY[2], 3, 'sigmoid');
  const weights = randomHeadWeights(spec, 606);
  const whole = await (await runnerFor(spec, weights)).sigmoidMc(phi, BATCH, { samples: 300, seed: 4 });
  // A budget of a few samples per chunk: 300 samples in many chunks.
  const chunked = await (await runnerFor(spec, weights, { memoryBudgetBytes: 4 * 1024 })).sigmoidMc(phi, BATCH, { samples: 300, seed: 4 });
  for (let b = 0; b < BATCH; b++) {
    assertClose(chunked[b].probs, whole[b].probs, 1e-6, `probs ${b}`);
    assertClose(chunked[b].std, whole[b].std, 1e-6, `std ${b}`);
    assertClose(chunked[b].expectedBinaryEntropy, whole[b].expectedBinaryEntropy, 1e-6, `expected binary entropy ${b}`);
  }
});

test('sigmoid binary entropy stays accurate for saturated classes (|u / tau| up to ~60)', async () => {
  // tau = 0.05 pushes most classes far into the tails, where h(q) ~ |t| e^-|t| is tiny but not 0.
  const spec = specOf(NOISY[3], 2, 'sigmoid', 0.05);
  const weights = randomHeadWeights(spec, 707);
  const S = 200;
  const seed = 8;
  const [result] = await (await runnerFor(spec, weights)).sigmoidMc(phi.subarray(0, D), 1, { samples: S, seed });
  const ref = referenceSigmoidMc(spec, weights, phiOf(0), noiseRows(seed, S, 2, STREAM_FACTOR), noiseRows(seed, S, D, STREAM_DIAGONAL));
  for (let k = 0; k < K; k++) {
    const expected = ref.expectedBinaryEntropy[k];
    const error = Math.abs(result.expectedBinaryEntropy[k] - expected);
    assert.ok(error <= 1e-3 * expected + 1e-12, `class ${k}: ${result.expectedBinaryEntropy[k]} vs ${expected}`);
  }
  assert.ok(Math.min(...ref.expectedBinaryEntropy) < 1e-6, 'some class should be saturated');
});

test('a softmax head refuses sigmoidMc and a sigmoid head refuses mc', async () => {
  const softmax = await runnerFor(specOf(NOISY[0], 2, undefined), randomHeadWeights(specOf(NOISY[0], 2, undefined), 1));
  const sigmoid = await runnerFor(specOf(NOISY[0], 2, 'sigmoid'), randomHeadWeights(specOf(NOISY[0], 2, 'sigmoid'), 1));
  await assert.rejects(softmax.sigmoidMc(phi, BATCH, { samples: 2, seed: 0 }), /link is softmax/);
  await assert.rejects(sigmoid.mc(phi, BATCH, { samples: 2, seed: 0 }), /link is sigmoid/);
});

test('a det sigmoid head: MC is its one noise-free sample, std 0 and E h(q_s) = h(q)', async () => {
  const spec = specOf({ type: 'det' }, 0, 'sigmoid', 0.8);
  const weights = randomHeadWeights(spec, 808);
  const [result] = await (await runnerFor(spec, weights)).sigmoidMc(phi.subarray(0, D), 1, { samples: 7, seed: 0 });
  const q = referenceSigmoidMean(spec, weights, phiOf(0));
  assertClose(result.probs, q, 1e-6, 'probs');
  assertClose(result.std, new Array(K).fill(0), 0, 'std');
  assertClose(result.expectedBinaryEntropy, q.map(binaryEntropy), 1e-6, 'expected binary entropy');
});
