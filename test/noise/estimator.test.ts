// The antithetic MC estimator: its noise rows, its exactness against the float64 reference fed
// the same pairs, unbiasedness, lower variance than plain MC, and independence of the chunking.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeadRunnerOptions } from '../../src/heads/runner.ts';
import { fillEstimatorRows } from '../../src/noise/estimator.ts';
import { normalRows, STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import { referenceMc, referenceMcIndependent, type Matrix } from '../reference/heads.ts';
import { headRunners } from '../helpers/heads.ts';
import { D, K, R, phi, spec, weights } from '../helpers/small-het-xl.ts';


const newRunner = headRunners();
const runnerFor = (w: HeadWeights, options?: HeadRunnerOptions) => newRunner(spec, w, options);

function antitheticRows(seed: number, stream: number, start: number, count: number, width: number): Float32Array {
  const out = new Float32Array(count * width);
  fillEstimatorRows(out, 'antithetic', seed, stream, start, count, width);
  return out;
}

const asMatrix = (flat: Float32Array, width: number): Matrix =>
  Array.from({ length: flat.length / width }, (_, s) => Array.from(flat.subarray(s * width, (s + 1) * width)));

test('antithetic rows: samples 2m and 2m + 1 are +eps_m and -eps_m, whatever the chunk boundaries', () => {
  const width = 7;
  const all = antitheticRows(11, STREAM_DIAGONAL, 0, 10, width);
  const base = normalRows(11, STREAM_DIAGONAL, 0, 5, width);
  for (let s = 0; s < 10; s++) {
    for (let j = 0; j < width; j++) {
      const expected = (s % 2 === 0 ? 1 : -1) * base[Math.floor(s / 2) * width + j];
      assert.equal(all[s * width + j], expected, `sample ${s} dimension ${j}`);
    }
  }
  // Chunks that start or end inside a pair see the same rows.
  for (const [start, count] of [[3, 4], [1, 1], [4, 6], [9, 1]]) {
    assert.deepEqual(antitheticRows(11, STREAM_DIAGONAL, start, count, width), all.slice(start * width, (start + count) * width), `rows ${start}..${start + count}`);
  }
  // Plain rows are the normal rows themselves.
  const plain = new Float32Array(3 * width);
  fillEstimatorRows(plain, 'plain', 11, STREAM_FACTOR, 2, 3, width);
  assert.deepEqual(plain, normalRows(11, STREAM_FACTOR, 2, 3, width));
});

test('antithetic MC equals the float64 reference fed the same pairs; same seed, same answer; chunking does not matter', async () => {
  const runner = await runnerFor(weights);
  const chunked = await runnerFor(weights, { memoryBudgetBytes: 1500, noiseCacheBytes: 0 });
  const S = 201; // odd: the last sample is unpaired
  assert.ok(chunked.chunksFor(S, 1).some((c) => c.start % 2 === 1), 'a chunk starts inside a pair');
  const options = { samples: S, seed: 77, estimator: 'antithetic' as const };
  const [result] = await runner.mc(phi, 1, options);
  const epsR = asMatrix(antitheticRows(77, STREAM_FACTOR, 0, S, R), R);
  const epsD = asMatrix(antitheticRows(77, STREAM_DIAGONAL, 0, S, D), D);
  const ref = referenceMc(spec, weights, Array.from(phi), epsR, epsD);
  for (let k = 0; k < K; k++) {
    assert.ok(Math.abs(result.probs[k] - ref.probs[k]) < 1e-5, `probs ${k}: ${result.probs[k]} vs ${ref.probs[k]}`);
    assert.ok(Math.abs(result.std[k] - ref.std[k]) < 1e-5, `std ${k}`);
  }
  assert.ok(Math.abs(result.expectedEntropy - ref.expectedEntropy) < 1e-5);

  assert.deepEqual(await runner.mc(phi, 1, options), [result], 'same seed');
  const [fromChunks] = await chunked.mc(phi, 1, options);
  assert.deepEqual(fromChunks.sampleArgmax, result.sampleArgmax);
  for (let k = 0; k < K; k++) assert.ok(Math.abs(fromChunks.probs[k] - result.probs[k]) < 1e-6, `chunked probs ${k}`);

  const [plain] = await runner.mc(phi, 1, { samples: S, seed: 77 });
  assert.notDeepEqual(plain.probs, result.probs, 'antithetic is not plain');
});

test('antithetic MC is unbiased (within 5 standard errors of a 100k-sample reference) and has lower error than plain MC', async () => {
  const runner = await runnerFor(weights);
  const reference = referenceMcIndependent(spec, weights, Array.from(phi), 100_000, 4242);
  const S = 4000;
  const [big] = await runner.mc(phi, 1, { samples: S, seed: 9, estimator: 'antithetic' });
  for (let k = 0; k < K; k++) {
    // The plain-MC standard error bounds the antithetic one here (checked below).
    const se = reference.std[k] * Math.sqrt(1 / S + 1 / 100_000);
    assert.ok(Math.abs(big.probs[k] - reference.probs[k]) <= 5 * se + 1e-6, `class ${k}: ${big.probs[k]} vs ${reference.probs[k]} (se ${se})`);
  }

  // Mean squared error of p_hat over 40 seeds at S = 100, both estimators on the same seeds.
  const squaredError = { plain: 0, antithetic: 0 };
  for (let seed = 0; seed < 40; seed++) {
    for (const estimator of ['plain', 'antithetic'] as const) {
      const [r] = await runner.mc(phi, 1, { samples: 100, seed, estimator });
      for (let k = 0; k < K; k++) squaredError[estimator] += (r.probs[k] - reference.probs[k]) ** 2;
    }
  }
  assert.ok(squaredError.antithetic < 0.8 * squaredError.plain, `MSE antithetic ${squaredError.antithetic} vs plain ${squaredError.plain}`);
});
