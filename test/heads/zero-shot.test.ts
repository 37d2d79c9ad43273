// The zero-shot head (mean mode in JS, MC on ONNX Runtime) against a float64 reference written here
// from docs/method.md's parameter-efficient HET-XL formulas, with the image embedding z in the role of
// phi and the text embeddings as W.
import assert from 'node:assert/strict';
import { after, test } from 'node:test';
import { normalRows, STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { zeroShotMean, type ImageNormalisation } from '../../src/heads/zero-shot-mean.ts';
import { ZeroShotMcHead } from '../../src/heads/zero-shot-mc.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import { EmbeddingCache } from '../../src/text/embedding-cache.ts';
import { mulberry32 } from '../reference/heads.ts';

const E = 6, R = 2, K = 5, tau = 0.2, minScale = 1e-3;
const uniform = mulberry32(11);
const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * (2 * uniform() - 1));
const z = rand(E, 1);
const noise = {
  factors: R,
  hetKernel: rand(E * E, 0.4),
  hetBias: rand(E, 0.2),
  homKernel: rand(R * E, 0.8),
  homBias: rand(E, 0.1),
  diagKernel: rand(E * E, 0.3),
  diagBias: rand(E, 0.5),
  minScale,
};
const texts = rand(K * E, 1);
for (let k = 0; k < K; k++) {
  const row = texts.subarray(k * E, (k + 1) * E);
  const n = Math.hypot(...row);
  for (let e = 0; e < E; e++) row[e] /= n;
}
const weights: HeadWeights = new Map([
  ['scale_layer_heteroscedastic/kernel', { dims: [E, E], data: noise.hetKernel }],
  ['scale_layer_heteroscedastic/bias', { dims: [E], data: noise.hetBias }],
  ['scale_layer_homoscedastic/kernel', { dims: [R, E], data: noise.homKernel }],
  ['scale_layer_homoscedastic/bias', { dims: [E], data: noise.homBias }],
  ['diag_layer/kernel', { dims: [E, E], data: noise.diagKernel }],
  ['diag_layer/bias', { dims: [E], data: noise.diagBias }],
]);
const heads = new Map<string, ZeroShotMcHead>();
/** An ORT MC head with this normalisation and memory budget (a small budget forces many chunks). */
async function mcHead(imageNormalisation: ImageNormalisation = 'after-noise', memoryBudgetBytes = 64 << 20): Promise<ZeroShotMcHead> {
  const key = `${imageNormalisation} ${memoryBudgetBytes}`;
  if (!heads.has(key)) {
    heads.set(key, await ZeroShotMcHead.create({ dim: E, factors: R, tau, minScale, imageNormalisation, memoryBudgetBytes }, weights, { provider: 'cpu', threads: 1 }));
  }
  return heads.get(key)!;
}
after(async () => {
  for (const h of heads.values()) await h.dispose();
});
const mc = async (samples: number, seed: number, o: { normalisation?: ImageNormalisation; estimator?: 'plain' | 'antithetic'; budget?: number } = {}) =>
  (await (await mcHead(o.normalisation, o.budget)).mc(z, 1, texts, { samples, seed, estimator: o.estimator }))[0];

const unit = (v: number[]) => {
  const n = Math.hypot(...v);
  return v.map((x) => x / n);
};

/** Float64 reference for one noise draw; epsR = epsD = null means mean mode (noise off). */
function reference(epsR: ArrayLike<number> | null, epsD: ArrayLike<number> | null, normalisation: ImageNormalisation = 'after-noise'): number[] {
  const x = normalisation === 'before-noise' ? unit(Array.from(z)) : Array.from(z);
  let zs = x;
  if (epsR && epsD) {
    const affine = (W: Float32Array, b: Float32Array) => Array.from({ length: E }, (_, j) => x.reduce((a, xi, i) => a + xi * W[i * E + j], b[j]));
    const v = affine(noise.hetKernel, noise.hetBias);
    const d = affine(noise.diagKernel, noise.diagBias).map((a) => Math.log(1 + Math.exp(a)) + minScale);
    zs = x.map((xe, e) => {
      let a = noise.homBias[e];
      for (let r = 0; r < R; r++) a += epsR[r] * noise.homKernel[r * E + e];
      return xe + a * v[e] + d[e] * epsD[e];
    });
  }
  const u = normalisation === 'after-noise' || !(epsR && epsD) ? unit(zs) : zs;
  const logits = Array.from({ length: K }, (_, k) => u.reduce((a, ue, e) => a + ue * texts[k * E + e], 0) / tau);
  const m = Math.max(...logits);
  const ex = logits.map((l) => Math.exp(l - m));
  const s = ex.reduce((a, b) => a + b, 0);
  return ex.map((x) => x / s);
}

function referenceMc(S: number, seed: number, normalisation: ImageNormalisation = 'after-noise') {
  const epsR = normalRows(seed, STREAM_FACTOR, 0, S, R);
  const epsD = normalRows(seed, STREAM_DIAGONAL, 0, S, E);
  return Array.from({ length: S }, (_, s) => reference(epsR.subarray(s * R, (s + 1) * R), epsD.subarray(s * E, (s + 1) * E), normalisation));
}

test('mean mode equals the float64 reference without noise (abs 1e-6)', () => {
  const p = zeroShotMean(z, texts, { dim: E, tau });
  reference(null, null).forEach((r, k) => assert.ok(Math.abs(p[k] - r) < 1e-6, `${k}: ${p[k]} vs ${r}`));
});

for (const normalisation of ['after-noise', 'before-noise'] as const) {
  test(`MC (${normalisation}) with the same noise as the reference: p_hat, std and expected entropy agree (abs 1e-5, float32 graph)`, async () => {
    const S = 64, seed = 5;
    const draws = referenceMc(S, seed, normalisation);
    const result = await mc(S, seed, { normalisation });
    for (let k = 0; k < K; k++) {
      const mean = draws.reduce((a, d) => a + d[k], 0) / S;
      const std = Math.sqrt(draws.reduce((a, d) => a + (d[k] - mean) ** 2, 0) / S);
      assert.ok(Math.abs(result.probs[k] - mean) < 1e-5, `p ${k}: ${result.probs[k]} vs ${mean}`);
      assert.ok(Math.abs(result.std[k] - std) < 1e-5, `std ${k}`);
    }
    const expectedEntropy = draws.reduce((a, d) => a - d.reduce((h, p) => h + p * Math.log(p), 0), 0) / S;
    assert.ok(Math.abs(result.expectedEntropy - expectedEntropy) < 1e-5);
    draws.forEach((d, s) => assert.equal(result.sampleArgmax[s], d.indexOf(Math.max(...d))));
    assert.deepEqual(await mc(S, seed, { normalisation }), result, 'same seed, same answer');
  });
}

test('the noise is input-dependent and changes the prediction: MC differs from mean mode', async () => {
  const result = await mc(256, 1);
  const mean = zeroShotMean(z, texts, { dim: E, tau });
  assert.ok(Math.max(...Array.from(result.probs, (p, k) => Math.abs(p - mean[k]))) > 1e-3);
});

test('results do not depend on the chunk size (a 1 KB budget forces chunks of one sample)', async () => {
  const one = await mc(50, 4, { budget: 1024 });
  const whole = await mc(50, 4);
  for (let k = 0; k < K; k++) assert.ok(Math.abs(one.probs[k] - whole.probs[k]) < 1e-6 && Math.abs(one.std[k] - whole.std[k]) < 1e-6);
  assert.deepEqual(one.sampleArgmax, whole.sampleArgmax);
});

test('an aborted signal stops the MC loop between chunks', async () => {
  const head = await mcHead('after-noise', 1024); // chunks of one sample
  const client = new AbortController();
  const run = head.mc(z, 1, texts, { samples: 50, seed: 3, signal: client.signal });
  setImmediate(() => client.abort());
  await assert.rejects(run, { name: 'AbortError' });
  await assert.rejects(head.mc(z, 1, texts, { samples: 5, seed: 3, signal: AbortSignal.abort() }), { name: 'AbortError' });
});

test('a batch of images shares the noise block: each image equals its own run', async () => {
  const z2 = rand(E, 1);
  const head = await mcHead();
  const [a, b] = await head.mc(Float32Array.from([...z, ...z2]), 2, texts, { samples: 30, seed: 8 });
  const alone = (await head.mc(z2, 1, texts, { samples: 30, seed: 8 }))[0];
  assert.deepEqual(a.sampleArgmax, (await mc(30, 8)).sampleArgmax);
  for (let k = 0; k < K; k++) assert.ok(Math.abs(b.probs[k] - alone.probs[k]) < 1e-6);
});

test('MC at S = 200 lies within 5 standard errors of a 20,000-sample estimate; antithetic too', async () => {
  const big = (await mc(20000, 99)).probs;
  for (const estimator of ['plain', 'antithetic'] as const) {
    const S = 200;
    const r = await mc(S, 3, { estimator });
    for (let k = 0; k < K; k++) assert.ok(Math.abs(r.probs[k] - big[k]) <= 5 * (r.std[k] / Math.sqrt(S)) + 1e-6, `${estimator} ${k}`);
  }
});

test('embedding cache evicts the least recently used prompt', () => {
  const cache = new EmbeddingCache(2);
  cache.set('a', new Float32Array([1]));
  cache.set('b', new Float32Array([2]));
  assert.ok(cache.get('a'));
  cache.set('c', new Float32Array([3]));
  assert.equal(cache.get('b'), undefined);
  assert.ok(cache.get('a') && cache.get('c'));
  assert.equal(cache.size, 2);
});
