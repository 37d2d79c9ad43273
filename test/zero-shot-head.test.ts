import assert from 'node:assert/strict';
import { test } from 'node:test';
import { normalRows, STREAM_DIAGONAL, STREAM_FACTOR } from '../src/noise/normal.ts';
import { zeroShotPredictive, type ZeroShotNoise } from '../src/zeroshot/head.ts';
import { EmbeddingCache } from '../src/zeroshot/lru.ts';
import { mulberry32 } from './reference.ts';

const E = 6, R = 2, K = 5, tau = 0.1;
const uniform = mulberry32(11);
const rand = (n: number, scale: number) => Float32Array.from({ length: n }, () => scale * (2 * uniform() - 1));
const z = rand(E, 1);
const noise: ZeroShotNoise = { dim: E, factors: R, scaleFactors: rand(E * R, 0.5), scaleDiagonal: Float32Array.from(rand(E, 0.3), Math.abs) };
const texts = rand(K * E, 1);
for (let k = 0; k < K; k++) {
  const row = texts.subarray(k * E, (k + 1) * E);
  const n = Math.hypot(...row);
  for (let e = 0; e < E; e++) row[e] /= n;
}

/** Float64 reference for one noise draw (epsR, epsD; zeros = mean mode). */
function reference(epsR: ArrayLike<number>, epsD: ArrayLike<number>): number[] {
  const zs = Array.from({ length: E }, (_, e) => {
    let v = z[e] + noise.scaleDiagonal[e] * epsD[e];
    for (let r = 0; r < R; r++) v += noise.scaleFactors[e * R + r] * epsR[r];
    return v;
  });
  const n = Math.hypot(...zs);
  const logits = Array.from({ length: K }, (_, k) => zs.reduce((a, v, e) => a + (v / n) * texts[k * E + e], 0) / tau);
  const m = Math.max(...logits);
  const ex = logits.map((l) => Math.exp(l - m));
  const s = ex.reduce((a, b) => a + b, 0);
  return ex.map((x) => x / s);
}

test('mean mode equals the float64 reference without noise (abs 1e-6)', () => {
  const p = zeroShotPredictive(z, texts, tau, noise, 0, 1);
  const ref = reference(new Array(R).fill(0), new Array(E).fill(0));
  ref.forEach((r, k) => assert.ok(Math.abs(p[k] - r) < 1e-6, `${k}: ${p[k]} vs ${r}`));
});

test('MC with the same noise fed to the reference agrees (abs 1e-6); same seed same answer', () => {
  const S = 64, seed = 5;
  const epsR = normalRows(seed, STREAM_FACTOR, 0, S, R);
  const epsD = normalRows(seed, STREAM_DIAGONAL, 0, S, E);
  const ref = new Array(K).fill(0);
  for (let s = 0; s < S; s++) reference(epsR.subarray(s * R), epsD.subarray(s * E)).forEach((v, k) => (ref[k] += v / S));
  const p = zeroShotPredictive(z, texts, tau, noise, S, seed);
  ref.forEach((r, k) => assert.ok(Math.abs(p[k] - r) < 1e-6));
  assert.deepEqual(zeroShotPredictive(z, texts, tau, noise, S, seed), p);
});

test('MC at S = 200 lies within 5 standard errors of a 20,000-sample estimate', () => {
  const big = zeroShotPredictive(z, texts, tau, noise, 20000, 99);
  const S = 200, seed = 3;
  const epsR = normalRows(seed, STREAM_FACTOR, 0, S, R);
  const epsD = normalRows(seed, STREAM_DIAGONAL, 0, S, E);
  const draws = Array.from({ length: S }, (_, s) => reference(epsR.subarray(s * R), epsD.subarray(s * E)));
  const p = zeroShotPredictive(z, texts, tau, noise, S, seed);
  for (let k = 0; k < K; k++) {
    const sd = Math.sqrt(draws.reduce((a, d) => a + (d[k] - p[k]) ** 2, 0) / (S - 1));
    assert.ok(Math.abs(p[k] - big[k]) <= 5 * (sd / Math.sqrt(S)) + 1e-9, `${k}`);
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
