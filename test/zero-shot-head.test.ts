// The zero-shot head against a float64 reference written here from method.md's parameter-efficient
// HET-XL formulas, with the image embedding z in the role of phi and text embeddings as W.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalRows, STREAM_DIAGONAL, STREAM_FACTOR } from '../src/noise/normal.ts';
import { zeroShotMc, zeroShotMean, type ZeroShotHeadSpec, type ImageNormalisation } from '../src/zeroshot/head.ts';
import { EmbeddingCache } from '../src/zeroshot/lru.ts';
import { mulberry32 } from './reference.ts';

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
const spec = (imageNormalisation: ImageNormalisation = 'after-noise'): ZeroShotHeadSpec => ({ dim: E, tau, imageNormalisation, noise });

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
  const p = zeroShotMean(z, texts, spec());
  reference(null, null).forEach((r, k) => assert.ok(Math.abs(p[k] - r) < 1e-6, `${k}: ${p[k]} vs ${r}`));
});

for (const normalisation of ['after-noise', 'before-noise'] as const) {
  test(`MC (${normalisation}) with the same noise as the reference: p_hat, std and expected entropy agree (abs 1e-6)`, () => {
    const S = 64, seed = 5;
    const draws = referenceMc(S, seed, normalisation);
    const result = zeroShotMc(z, texts, spec(normalisation), { samples: S, seed });
    for (let k = 0; k < K; k++) {
      const mean = draws.reduce((a, d) => a + d[k], 0) / S;
      const std = Math.sqrt(draws.reduce((a, d) => a + (d[k] - mean) ** 2, 0) / S);
      assert.ok(Math.abs(result.probs[k] - mean) < 1e-6, `p ${k}`);
      assert.ok(Math.abs(result.std[k] - std) < 1e-6, `std ${k}`);
    }
    const expectedEntropy = draws.reduce((a, d) => a - d.reduce((h, p) => h + p * Math.log(p), 0), 0) / S;
    assert.ok(Math.abs(result.expectedEntropy - expectedEntropy) < 1e-6);
    draws.forEach((d, s) => assert.equal(result.sampleArgmax[s], d.indexOf(Math.max(...d))));
    assert.deepEqual(zeroShotMc(z, texts, spec(normalisation), { samples: S, seed }), result, 'same seed, same answer');
  });
}

test('the noise is input-dependent and changes the prediction: MC differs from mean mode', () => {
  const mc = zeroShotMc(z, texts, spec(), { samples: 256, seed: 1 });
  const mean = zeroShotMean(z, texts, spec());
  assert.ok(Math.max(...Array.from(mc.probs, (p, k) => Math.abs(p - mean[k]))) > 1e-3);
});

test('MC at S = 200 lies within 5 standard errors of a 20,000-sample estimate; antithetic too', () => {
  const big = zeroShotMc(z, texts, spec(), { samples: 20000, seed: 99 }).probs;
  for (const estimator of ['plain', 'antithetic'] as const) {
    const S = 200;
    const r = zeroShotMc(z, texts, spec(), { samples: S, seed: 3, estimator });
    for (let k = 0; k < K; k++) assert.ok(Math.abs(r.probs[k] - big[k]) <= 5 * (r.std[k] / Math.sqrt(S)) + 1e-9, `${estimator} ${k}`);
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
