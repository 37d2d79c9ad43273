// The precision target (McOptions.targetStdError): the chunk plan and checkpoints, where the loop
// stops against a float64 reference of the same samples, the answer at the stop equal to a run
// of exactly that many samples, and the stop independent of the batch and of the chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { MIN_STOP_SAMPLES, planChunks, stopCheckpoints } from '../../src/mc/chunking.ts';
import type { Estimator } from '../../src/noise/estimator.ts';
import { assertClose, headRunners } from '../helpers/heads.ts';
import { sampledProbs } from '../helpers/sampled-probs.ts';
import { D, K, R, phi, spec, weights } from '../helpers/small-het-xl.ts';

const phiA = phi;
const phiB = Float32Array.from({ length: D }, (_, i) => 0.3 * Math.cos(0.9 * i));
const newRunner = headRunners();
const SEED = 21;

test('checkpoints: 64, 128, ... below the cap, then the cap; S alone without a target', () => {
  assert.equal(MIN_STOP_SAMPLES, 64);
  assert.deepEqual(stopCheckpoints(1000, true), [64, 128, 256, 512, 1000]);
  assert.deepEqual(stopCheckpoints(64, true), [64]);
  assert.deepEqual(stopCheckpoints(30, true), [30]);
  assert.deepEqual(stopCheckpoints(1000, false), [1000]);
});

test('planChunks: aligned chunks from a start, the odd remainder alone at the end', () => {
  assert.deepEqual(planChunks(10, 4), [{ start: 0, count: 4 }, { start: 4, count: 3 }, { start: 7, count: 3 }]);
  assert.deepEqual(planChunks(11, 5, 2), [{ start: 0, count: 4 }, { start: 4, count: 4 }, { start: 8, count: 2 }, { start: 10, count: 1 }]);
  assert.deepEqual(planChunks(256, 100, 2, 128), [{ start: 128, count: 64 }, { start: 192, count: 64 }]);
  assert.deepEqual(planChunks(3, 1, 2), [{ start: 0, count: 2 }, { start: 2, count: 1 }]);
});

/** The float64 reference of the rule: p_hat and the estimator's standard error after n samples. */
function referenceAt(p: number[][], n: number, estimator: Estimator): { mean: number[]; se: number[] } {
  const mean = Array.from({ length: K }, (_, k) => p.slice(0, n).reduce((a, row) => a + row[k], 0) / n);
  const se = mean.map((m, k) => {
    if (estimator === 'plain') return Math.sqrt(p.slice(0, n).reduce((a, row) => a + (row[k] - m) ** 2, 0) / n / n);
    const pairs = Array.from({ length: n / 2 }, (_, j) => (p[2 * j][k] + p[2 * j + 1][k]) / 2);
    return Math.sqrt(pairs.reduce((a, x) => a + (x - m) ** 2, 0) / pairs.length / pairs.length);
  });
  return { mean, se };
}

/** The first checkpoint at which every one of the top-k classes has a reference SE <= target. */
function referenceStop(p: number[][], cap: number, target: number, topK: number, estimator: Estimator): number {
  for (const n of stopCheckpoints(cap, true)) {
    const { mean, se } = referenceAt(p, n, estimator);
    const top = [...mean.keys()].sort((a, b) => mean[b] - mean[a]).slice(0, topK);
    if (top.every((k) => se[k] <= target)) return n;
  }
  return cap;
}

for (const estimator of ['plain', 'antithetic'] as const) {
  test(`${estimator}: stops at the reference's checkpoint, with the answer of a run of exactly that many samples`, async () => {
    const runner = await newRunner(spec, weights);
    const cap = 2000;
    const p = sampledProbs(spec, weights, phiA, estimator, cap, SEED);
    // A target between the reference's top-1 error at 128 and at 256 samples: it must stop at 256.
    const top1 = (n: number) => {
      const { mean, se } = referenceAt(p, n, estimator);
      return se[mean.indexOf(Math.max(...mean))];
    };
    const target = Math.sqrt(top1(128) * top1(256));
    const expected = referenceStop(p, cap, target, 1, estimator);
    assert.equal(expected, 256, `the reference stops at ${expected}`);
    const [stopped] = await runner.mc(phiA, 1, { samples: cap, seed: SEED, estimator, targetStdError: target });
    assert.equal(stopped.samplesUsed, 256);
    assert.equal(stopped.sampleArgmax.length, 256);
    const [exact] = await runner.mc(phiA, 1, { samples: 256, seed: SEED, estimator });
    assertClose(stopped.probs, exact.probs, 1e-6, 'p_hat at the stop');
    assertClose(stopped.stdError!, exact.stdError!, 1e-7, 'stdError at the stop');
    assert.ok(Math.max(...stopped.stdError!.filter((_, k) => stopped.probs[k] === Math.max(...stopped.probs))) <= target);
    // Top-5 of K = 5: every class must reach the target, which takes at least as long.
    const all = referenceStop(p, cap, target, K, estimator);
    const [allStopped] = await runner.mc(phiA, 1, { samples: cap, seed: SEED, estimator, targetStdError: target, stopTopK: K });
    assert.equal(allStopped.samplesUsed, all);
    assert.ok(all >= 256);
  });
}

test('each image of a batch stops on its own; the stop does not depend on the batch or the chunking', async () => {
  const big = await newRunner(spec, weights);
  const small = await newRunner(spec, weights, { memoryBudgetBytes: 7 * 4 * (8 * K + 4 * D + R + D) });
  const options = { samples: 3000, seed: SEED, targetStdError: 0.0175, stopTopK: 1 };
  const [aloneA] = await big.mc(phiA, 1, options);
  const [aloneB] = await big.mc(phiB, 1, options);
  const both = new Float32Array([...phiA, ...phiB]);
  const batched = await small.mc(both, 2, options);
  assert.notEqual(aloneA.samplesUsed, aloneB.samplesUsed, 'the two images need different sample counts');
  for (const [alone, inBatch] of [[aloneA, batched[0]], [aloneB, batched[1]]]) {
    assert.equal(inBatch.samplesUsed, alone.samplesUsed);
    assertClose(inBatch.probs, alone.probs, 1e-6, 'p_hat');
  }
});

test('a target out of reach runs to the cap; sigmoid heads stop too', async () => {
  const runner = await newRunner(spec, weights);
  const [capped] = await runner.mc(phiA, 1, { samples: 300, seed: SEED, targetStdError: 1e-9 });
  assert.equal(capped.samplesUsed, 300);
  const sigmoidSpec: HeadSpec = { ...spec, link: 'sigmoid' };
  const sigmoid = await newRunner(sigmoidSpec, weights);
  const [q] = await sigmoid.sigmoidMc(phiA, 1, { samples: 4000, seed: SEED, targetStdError: 0.01, stopTopK: 3 });
  const p = sampledProbs(sigmoidSpec, weights, phiA, 'plain', 4000, SEED);
  assert.equal(q.samplesUsed, referenceStop(p, 4000, 0.01, 3, 'plain'));
  assert.ok(q.samplesUsed! < 4000);
});
