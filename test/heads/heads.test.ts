// The ONNX heads against the float64 reference in test/reference/heads.ts, on small shapes.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createHeadRunner } from '../../src/heads/runner.ts';
import { sampleLogits } from '../helpers/sample-logits.ts';
import { planChunks, maxSamplesPerChunk } from '../../src/mc/chunking.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import type { McResult } from '../../src/mc/types.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import type { EngineOptions } from '../../src/engine/session.ts';
import { eventLoopTurnsDuring } from '../helpers/event-loop.ts';
import {
  gaussianSource,
  randomHeadWeights,
  referenceLogitDistribution,
  referenceLogits,
  referenceMc,
  referenceMcIndependent,
  referenceMeanProbs,
  type Vector,
} from '../reference/heads.ts';
import { assertClose, headRunners, noiseRows } from '../helpers/heads.ts';

const engine: EngineOptions = { provider: 'cpu', threads: 1 };
const D = 6;
const K = 5;
const R = 3;
const BATCH = 2;

type Kind = { type: HeadSpec['type']; covariance?: HeadSpec['covariance'] };
const NOISY: Kind[] = [
  { type: 'het', covariance: 'param-efficient' },
  { type: 'het', covariance: 'full' },
  { type: 'het-xl', covariance: 'param-efficient' },
  { type: 'het-xl', covariance: 'full' },
];
const ALL: Kind[] = [{ type: 'det' }, ...NOISY];

const label = (spec: HeadSpec) => `${spec.type}${spec.covariance ? `/${spec.covariance}` : ''} tau=${spec.tau}`;
const specOf = (kind: Kind, tau = 1): HeadSpec => ({ ...kind, D, K, R: kind.type === 'det' ? undefined : R, tau, minScale: 1e-3 });
const noiseWidth = (spec: HeadSpec) => (spec.type === 'het' ? K : D);

/** Two images' pre-logits [BATCH, D]. */
const phi = Float32Array.from({ length: BATCH * D }, (_, i) => 1.2 * Math.sin(1.7 * i + 0.4));
const phiOf = (b: number): Vector => Array.from(phi.subarray(b * D, (b + 1) * D));

const runnerFor = headRunners();

function maxAbsDifference(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let max = 0;
  for (let i = 0; i < a.length; i++) max = Math.max(max, Math.abs(a[i] - b[i]));
  return max;
}

function assertResultsClose(actual: McResult[], expected: McResult[], tolerance: number, what: string): void {
  for (let b = 0; b < expected.length; b++) {
    assertClose(actual[b].probs, expected[b].probs, tolerance, `${what} probs`);
    assertClose(actual[b].std, expected[b].std, tolerance, `${what} std`);
    assertClose([actual[b].expectedEntropy], [expected[b].expectedEntropy], tolerance, `${what} expected entropy`);
    assert.deepEqual(actual[b].sampleArgmax, expected[b].sampleArgmax, `${what} argmax`);
  }
}

test('(a, e) MC outputs equal the float64 reference fed the same noise, for every head and two temperatures', async () => {
  const S = 400;
  const seed = 17;
  for (const kind of ALL) {
    for (const tau of [1, 0.6]) {
      const spec = specOf(kind, tau);
      const weights = randomHeadWeights(spec, 101);
      const runner = await runnerFor(spec, weights);
      const results = await runner.mc(phi, BATCH, { samples: S, seed });
      const epsR = noiseRows(seed, S, R, STREAM_FACTOR);
      const epsD = noiseRows(seed, S, noiseWidth(spec), STREAM_DIAGONAL);
      for (let b = 0; b < BATCH; b++) {
        const ref = referenceMc(spec, weights, phiOf(b), epsR, epsD);
        const what = `${label(spec)} image ${b}`;
        assertClose(results[b].probs, ref.probs, 1e-5, `${what} probs`);
        assertClose(results[b].std, ref.std, 1e-5, `${what} std`);
        assertClose([results[b].expectedEntropy], [ref.expectedEntropy], 1e-5, `${what} expected entropy`);
        for (let s = 0; s < S; s++) {
          // A float32 near-tie may legitimately pick the other class.
          if (ref.top2Gap[s] > 1e-4) assert.equal(results[b].sampleArgmax[s], ref.sampleArgmax[s], `${what} argmax of sample ${s}`);
        }
        if (spec.type !== 'det') assert.ok(Math.max(...ref.std) > 0.02, `${what}: the test weights should make the noise matter`);
      }
      const means = await runner.mean(phi, BATCH);
      for (let b = 0; b < BATCH; b++) assertClose(means[b], referenceMeanProbs(spec, weights, phiOf(b)), 1e-6, `${label(spec)} mean mode`);
    }
  }
});

test('(e) the temperature changes the results: tau = 0.6 is not tau = 1', async () => {
  for (const kind of ALL) {
    const [cold, warm] = [specOf(kind, 0.6), specOf(kind, 1)];
    const weights = randomHeadWeights(cold, 101);
    const [a, b] = await Promise.all([runnerFor(cold, weights), runnerFor(warm, weights)]);
    const options = { samples: 50, seed: 3 };
    const [ra, rb] = [await a.mc(phi.subarray(0, D), 1, options), await b.mc(phi.subarray(0, D), 1, options)];
    assert.ok(maxAbsDifference(ra[0].probs, rb[0].probs) > 0.01, label(cold));
    assert.ok(ra[0].expectedEntropy < rb[0].expectedEntropy, `${label(cold)}: a lower temperature sharpens every p_s`);
  }
});

test('(b) the MC estimate lies within 5 standard errors of a 100k-sample reference with independent noise', async () => {
  const S = 4000;
  const referenceSamples = 100_000;
  for (const kind of NOISY) {
    const spec = specOf(kind, 0.8);
    const weights = randomHeadWeights(spec, 202);
    const runner = await runnerFor(spec, weights);
    const [result] = await runner.mc(phi.subarray(0, D), 1, { samples: S, seed: 5 });
    const ref = referenceMcIndependent(spec, weights, phiOf(0), referenceSamples, 909);
    for (let k = 0; k < K; k++) {
      const se = Math.sqrt(ref.std[k] ** 2 / S + ref.std[k] ** 2 / referenceSamples);
      assert.ok(Math.abs(result.probs[k] - ref.probs[k]) <= 5 * se + 1e-6, `${label(spec)} class ${k}: ${result.probs[k]} vs ${ref.probs[k]} (se ${se})`);
      // The std estimate itself: relative error ~ 1/sqrt(2S) for near-Gaussian p_s; allow 10%.
      assert.ok(Math.abs(result.std[k] - ref.std[k]) <= 0.1 * ref.std[k] + 1e-4, `${label(spec)} std ${k}: ${result.std[k]} vs ${ref.std[k]}`);
    }
    const entropySe = ref.entropyStd * Math.sqrt(1 / S + 1 / referenceSamples);
    assert.ok(Math.abs(result.expectedEntropy - ref.expectedEntropy) <= 5 * entropySe, `${label(spec)} expected entropy ${result.expectedEntropy} vs ${ref.expectedEntropy}`);
  }
});

test('(c) sampled logits have the mean and covariance the method implies (W^T Sigma\' W for HET-XL)', async () => {
  const S = 20_000;
  for (const kind of NOISY) {
    const spec = specOf(kind, 0.5); // sampleLogits is untempered: tau must not show up
    const weights = randomHeadWeights(spec, 303);
    const logits = await sampleLogits(spec, weights, phi.subarray(0, D), 1, { samples: S, seed: 11 });
    assert.equal(logits.length, S * K);

    // The first samples are exactly the reference's logits for the same noise.
    const epsR = noiseRows(11, 5, R, STREAM_FACTOR);
    const epsD = noiseRows(11, 5, noiseWidth(spec), STREAM_DIAGONAL);
    for (let s = 0; s < 5; s++) {
      assertClose(logits.subarray(s * K, (s + 1) * K), referenceLogits(spec, weights, phiOf(0), epsR[s], epsD[s]), 1e-5, `${label(spec)} logits of sample ${s}`);
    }

    const { mean, covariance } = referenceLogitDistribution(spec, weights, phiOf(0));
    const sampleMean = new Array(K).fill(0);
    for (let s = 0; s < S; s++) for (let k = 0; k < K; k++) sampleMean[k] += logits[s * K + k] / S;
    const sampleCovariance = Array.from({ length: K }, () => new Array(K).fill(0));
    for (let s = 0; s < S; s++) {
      for (let a = 0; a < K; a++) {
        for (let b = 0; b < K; b++) sampleCovariance[a][b] += ((logits[s * K + a] - sampleMean[a]) * (logits[s * K + b] - sampleMean[b])) / S;
      }
    }
    for (let a = 0; a < K; a++) {
      // Gaussian logits: Var(mean_a) = C_aa / S and Var(C^_ab) = (C_aa C_bb + C_ab^2) / S.
      const meanSe = Math.sqrt(covariance[a][a] / S);
      assert.ok(Math.abs(sampleMean[a] - mean[a]) <= 5 * meanSe, `${label(spec)} mean ${a}: ${sampleMean[a]} vs ${mean[a]}`);
      for (let b = 0; b < K; b++) {
        const se = Math.sqrt((covariance[a][a] * covariance[b][b] + covariance[a][b] ** 2) / S);
        assert.ok(Math.abs(sampleCovariance[a][b] - covariance[a][b]) <= 5 * se, `${label(spec)} cov[${a}][${b}]: ${sampleCovariance[a][b]} vs ${covariance[a][b]} (se ${se})`);
      }
    }
    // The implied covariance must be far from diagonal for this test to mean something.
    let largestCorrelation = 0;
    for (let a = 0; a < K; a++) {
      for (let b = 0; b < K; b++) {
        if (a !== b) largestCorrelation = Math.max(largestCorrelation, Math.abs(covariance[a][b]) / Math.sqrt(covariance[a][a] * covariance[b][b]));
      }
    }
    assert.ok(largestCorrelation > 0.2, `${label(spec)}: largest correlation ${largestCorrelation}`);
  }
});

test('(d) HET-XL mean mode equals DET with the same W, b and tau', async () => {
  for (const covariance of ['param-efficient', 'full'] as const) {
    const spec = specOf({ type: 'het-xl', covariance }, 0.7);
    const weights = randomHeadWeights(spec, 404);
    const detWeights: HeadWeights = new Map([...weights].filter(([name]) => name.startsWith('loc_layer/')));
    const [hetXl, det] = await Promise.all([runnerFor(spec, weights), runnerFor(specOf({ type: 'det' }, 0.7), detWeights)]);
    const [a, b] = [await hetXl.mean(phi, BATCH), await det.mean(phi, BATCH)];
    for (let i = 0; i < BATCH; i++) assertClose(a[i], b[i], 1e-6, `${covariance} image ${i}`);
  }
});

test('(g) same seed gives identical results, other chunk sizes the same within 1e-6, another seed differs', async () => {
  for (const kind of NOISY) {
    const spec = specOf(kind, 0.9);
    const weights = randomHeadWeights(spec, 505);
    const runner = await runnerFor(spec, weights);
    // A budget this small forces chunks of a few samples (checked below).
    const chunked = await runnerFor(spec, weights, { memoryBudgetBytes: 2000, noiseCacheBytes: 0 });
    const S = 301;
    assert.equal(runner.chunksFor(S, BATCH).length, 1);
    assert.ok(chunked.chunksFor(S, BATCH).length > 10, `${label(spec)}: ${chunked.chunksFor(S, BATCH).length} chunks`);

    const first = await runner.mc(phi, BATCH, { samples: S, seed: 42 });
    const again = await runner.mc(phi, BATCH, { samples: S, seed: 42 });
    assert.deepEqual(again, first, `${label(spec)}: same seed`);
    assertResultsClose(await chunked.mc(phi, BATCH, { samples: S, seed: 42 }), first, 1e-6, `${label(spec)} chunked`);

    // The noise is shared by the batch: an image's result does not depend on its batch mates.
    const alone = await runner.mc(phi.subarray(D), 1, { samples: S, seed: 42 });
    assertResultsClose(alone, [first[1]], 1e-6, `${label(spec)} alone`);

    const other = await runner.mc(phi, BATCH, { samples: S, seed: 43 });
    assert.ok(maxAbsDifference(other[0].probs, first[0].probs) > 1e-4, `${label(spec)}: another seed`);
    assert.notDeepEqual(other[0].sampleArgmax, first[0].sampleArgmax);

    // A prefix of the samples is the same noise: S = 100 matches the reference on samples 0..99.
    const prefix = await chunked.mc(phi.subarray(0, D), 1, { samples: 100, seed: 42 });
    const ref = referenceMc(spec, weights, phiOf(0), noiseRows(42, 100, R, STREAM_FACTOR), noiseRows(42, 100, noiseWidth(spec), STREAM_DIAGONAL));
    assertClose(prefix[0].probs, ref.probs, 1e-5, `${label(spec)} prefix`);
  }
});

test('DET: MC is the mean prediction repeated, with zero spread', async () => {
  const spec = specOf({ type: 'det' }, 1.3);
  const weights = randomHeadWeights(spec, 606);
  const runner = await runnerFor(spec, weights);
  const [mc] = await runner.mc(phi.subarray(0, D), 1, { samples: 7, seed: 1 });
  const [mean] = await runner.mean(phi.subarray(0, D), 1);
  assert.deepEqual(mc.probs, mean);
  assert.ok(mc.std.every((s) => s === 0));
  const p = referenceMeanProbs(spec, weights, phiOf(0));
  assertClose([mc.expectedEntropy], [-p.reduce((h, x) => h + x * Math.log(x), 0)], 1e-6, 'entropy');
  const best = p.indexOf(Math.max(...p));
  assert.deepEqual(Array.from(mc.sampleArgmax), new Array(7).fill(best));
  const logits = await sampleLogits(spec, weights, phi.subarray(0, D), 1, { samples: 3, seed: 1 });
  assertClose(logits.subarray(2 * K), referenceLogits(spec, weights, phiOf(0), [], []), 1e-5, 'DET logits');
});

test('low-noise classes keep an accurate std (shifted moments)', async () => {
  // Tiny noise scales: p_s barely moves, so E[p^2] - E[p]^2 in float32 would be all rounding.
  const spec = specOf({ type: 'het-xl', covariance: 'param-efficient' });
  const weights = randomHeadWeights(spec, 707, {
    loc: 0.8, locBias: 0.3, scaleKernel: 0.001, scaleBias: 0.001, factorKernel: 0.6, factorBias: 0.3, diagKernel: 0.001, diagBias: 0,
  });
  weights.get('diag_layer/bias')!.data.fill(-12); // d = softplus(-12) + 1e-3 ~ 1e-3
  const runner = await runnerFor(spec, weights, { memoryBudgetBytes: 3000 });
  const S = 500;
  const [result] = await runner.mc(phi.subarray(0, D), 1, { samples: S, seed: 8 });
  const ref = referenceMc(spec, weights, phiOf(0), noiseRows(8, S, R, STREAM_FACTOR), noiseRows(8, S, D, STREAM_DIAGONAL));
  assert.ok(Math.max(...ref.std) < 1e-3, `reference std ${Math.max(...ref.std)}`);
  for (let k = 0; k < K; k++) {
    assert.ok(Math.abs(result.std[k] - ref.std[k]) <= 0.02 * ref.std[k] + 1e-7, `std ${k}: ${result.std[k]} vs ${ref.std[k]}`);
  }
});

test('chunk plans cover the samples in near-equal chunks within the budget', () => {
  for (const [S, max] of [[1000, 500], [1000, 333], [7, 100], [301, 4], [1, 1]] as const) {
    const chunks = planChunks(S, max);
    assert.equal(chunks.reduce((a, c) => a + c.count, 0), S);
    chunks.forEach((c, i) => assert.equal(c.start, i === 0 ? 0 : chunks[i - 1].start + chunks[i - 1].count));
    const sizes = chunks.map((c) => c.count);
    assert.ok(Math.max(...sizes) <= max && Math.max(...sizes) - Math.min(...sizes) <= 1, `${S} / ${max}: ${sizes}`);
    assert.equal(chunks.length, Math.ceil(S / max));
  }
  // 512 MB at JFT scale, one image: two chunks of 500 for S = 1000.
  const max = maxSamplesPerChunk(512 * 1024 * 1024, 1, 29_593, 1024, 50);
  assert.ok(max > 500 && max < 1000, `${max}`);
  assert.equal(maxSamplesPerChunk(1, 8, 29_593, 1024, 50), 1);
});

test('(4) seeded results do not depend on the chunk size at K = 29,593 (one chunk, 84 chunks, one sample per chunk)', async () => {
  // Issue #4 point 4. The noise of sample s is a pure function of (seed, stream, s), so every
  // chunking sees the same samples: per-sample argmaxes are identical, and p_hat, std and the
  // expected entropy agree to float32 rounding (the chunks' float32 sums are split differently).
  const spec: HeadSpec = { type: 'het-xl', covariance: 'param-efficient', D: 16, K: 29_593, R: 4, tau: 1, minScale: 1e-3 };
  const weights = randomHeadWeights(spec, 4004);
  const x = Float32Array.from({ length: 2 * spec.D }, (_, i) => Math.sin(0.7 * i));
  const S = 250;
  const budgets = [512 * 1024 * 1024, 6 * 1024 * 1024, 700 * 1024];
  const results: { chunks: number; result: McResult[] }[] = [];
  for (const memoryBudgetBytes of budgets) {
    const runner = await runnerFor(spec, weights, { memoryBudgetBytes, noiseCacheBytes: 0 });
    results.push({ chunks: runner.chunksFor(S, 2).length, result: await runner.mc(x, 2, { samples: S, seed: 12 }) });
  }
  assert.deepEqual(results.map((r) => r.chunks), [1, 84, 250]);
  for (const { chunks, result } of results.slice(1)) {
    for (let b = 0; b < 2; b++) {
      const [got, want] = [result[b], results[0].result[b]];
      assert.deepEqual(got.sampleArgmax, want.sampleArgmax, `${chunks} chunks: argmaxes`);
      assertClose(got.probs, want.probs, 1e-6, `${chunks} chunks probs`);
      assertClose([got.expectedEntropy], [want.expectedEntropy], 1e-5, `${chunks} chunks expected entropy`);
      // std to float32 rounding of its moments: relative 1e-5 (std reaches 0.3 here).
      for (let k = 0; k < spec.K; k++) assert.ok(Math.abs(got.std[k] - want.std[k]) <= 1e-6 + 1e-5 * want.std[k], `${chunks} chunks std[${k}]: ${got.std[k]} vs ${want.std[k]}`);
    }
  }
});

test('the MC loop returns to the event loop between chunks (other requests are served meanwhile)', async () => {
  // ORT runs on the event-loop thread (onnxruntime-node calls it from a setImmediate), so what
  // keeps the server answering health checks and other requests during a long MC request is
  // that each chunk is its own run: the loop turns at least once between two chunks. A runner
  // that ran all chunks in one go would let the ticker below turn at most once or twice.
  const spec = specOf({ type: 'het-xl', covariance: 'param-efficient' });
  const runner = await runnerFor(spec, randomHeadWeights(spec, 909), { memoryBudgetBytes: 3000 });
  const S = 100;
  const chunks = runner.chunksFor(S, BATCH).length;
  assert.equal(chunks, 20);
  const turns = await eventLoopTurnsDuring(() => runner.mc(phi, BATCH, { samples: S, seed: 4 }));
  assert.ok(turns >= chunks, `the event loop turned ${turns} times during ${chunks} chunks`);
});

test('an aborted signal stops the MC loop between chunks; one never aborted changes nothing', async () => {
  const spec = specOf({ type: 'het-xl', covariance: 'param-efficient' });
  const runner = await runnerFor(spec, randomHeadWeights(spec, 910), { memoryBudgetBytes: 3000 });
  const options = { samples: 100, seed: 6 };
  assert.equal(runner.chunksFor(options.samples, BATCH).length, 20);
  // Aborted after the loop has turned twice: mid-way through the 20 chunks.
  const midway = new AbortController();
  const aborted = runner.mc(phi, BATCH, { ...options, signal: midway.signal });
  setImmediate(() => setImmediate(() => midway.abort()));
  await assert.rejects(aborted, { name: 'AbortError' });
  await assert.rejects(runner.mc(phi, BATCH, { ...options, signal: AbortSignal.abort() }), { name: 'AbortError' });
  const live = new AbortController();
  assert.deepEqual(await runner.mc(phi, BATCH, { ...options, signal: live.signal }), await runner.mc(phi, BATCH, options));
});

test('bad weights and bad calls are rejected with clear errors', async () => {
  const spec = specOf({ type: 'het-xl', covariance: 'param-efficient' });
  const weights = randomHeadWeights(spec, 808);
  const missing = new Map(weights);
  missing.delete('diag_layer/kernel');
  await assert.rejects(createHeadRunner(spec, missing, engine), /diag_layer\/kernel is missing/);
  const misshapen = new Map(weights);
  misshapen.set('scale_layer_homoscedastic/kernel', { dims: [R + 1, D], data: new Float32Array((R + 1) * D) });
  await assert.rejects(createHeadRunner(spec, misshapen, engine), /has shape \[4, 6\], expected \[3, 6\]/);

  const runner = await runnerFor(spec, weights);
  await assert.rejects(runner.mean(phi, 3), RangeError);
  await assert.rejects(runner.mc(phi, BATCH, { samples: 0, seed: 1 }), RangeError);
  await assert.rejects(runner.mc(phi, BATCH, { samples: 10, seed: 0.5 }), RangeError);

  // A checkpoint without a classifier bias (zero-shot style) reads it as zeros.
  const noBias = new Map(weights);
  noBias.delete('loc_layer/bias');
  const zeroBias = new Map(weights);
  zeroBias.set('loc_layer/bias', { dims: [K], data: new Float32Array(K) });
  const [a, b] = await Promise.all([runnerFor(spec, noBias), runnerFor(spec, zeroBias)]);
  assert.deepEqual(await a.mc(phi, BATCH, { samples: 20, seed: 2 }), await b.mc(phi, BATCH, { samples: 20, seed: 2 }));
});

test('test weights are what the reference RNG says (guards the reference against drift)', () => {
  const normal = gaussianSource(1);
  const values = Array.from({ length: 20_000 }, normal);
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const variance = values.reduce((a, b) => a + (b - mean) ** 2, 0) / values.length;
  assert.ok(Math.abs(mean) < 5 / Math.sqrt(values.length) && Math.abs(variance - 1) < 5 * Math.sqrt(2 / values.length));
});
