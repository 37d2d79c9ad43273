// The zero-shot head: HET-XL noise on the image embedding (method.md, parameter-efficient form,
// with the embedding z in the role of the pre-logits phi), text embeddings as the class weights:
//   v = z W_het + b_het,  d = softplus(z W_diag + b_diag) + minScale,
//   z_s = z + (eps_R,s J + b_J) ⊙ v + d ⊙ eps_D,s,
//   after-noise:  logits_k = <z_s / |z_s|, t_k> / tau   (the paper's contrastive setup),
//   before-noise: logits_k = <z / |z| + noise of z / |z|, t_k> / tau   (no renormalisation).
// Mean mode switches the noise off; MC mode averages S softmaxes and returns the same McResult
// as the classifier heads, so the statistics code is shared. A det zero-shot model has no noise.
// Noise rows come from src/noise/estimator.ts, so (seed, sample, estimator) give the same eps
// as the classifier heads and results do not depend on anything but the request.
//
// Computed in JS rather than an ONNX graph: the text embeddings change per request, E and R are
// small for the models this serves (tens to hundreds), and S x K x E multiply-adds per image stay
// in the tens of milliseconds at S = 1000, K = 100, E = 64 (docs/performance.md).

import { fillEstimatorRows, type Estimator } from '../noise/estimator.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../noise/normal.ts';
import type { McResult } from '../heads/types.ts';

export type ImageNormalisation = 'after-noise' | 'before-noise';

/** The HET-XL noise layers in embedding space, row-major, edward2 names in comments. */
export interface ZeroShotNoise {
  /** R, the number of low-rank factors. */
  factors: number;
  /** scale_layer_heteroscedastic/kernel [E, E] and /bias [E]. */
  hetKernel: Float32Array;
  hetBias: Float32Array;
  /** scale_layer_homoscedastic/kernel [R, E] (J) and /bias [E] (b_J). */
  homKernel: Float32Array;
  homBias: Float32Array;
  /** diag_layer/kernel [E, E] and /bias [E]. */
  diagKernel: Float32Array;
  diagBias: Float32Array;
  /** Added to the softplus of the diagonal (edward2 MIN_SCALE_MONTE_CARLO). */
  minScale: number;
}

export interface ZeroShotHeadSpec {
  /** Embedding width E. */
  dim: number;
  tau: number;
  imageNormalisation: ImageNormalisation;
  /** Absent for det zero-shot models. */
  noise?: ZeroShotNoise;
}

export interface ZeroShotMcOptions {
  samples: number;
  seed: number;
  estimator?: Estimator;
}

/** Scales v to unit L2 norm in place (a zero vector stays zero). */
export function normaliseInPlace(v: Float32Array | Float64Array): void {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += v[i] * v[i];
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= inv;
}

function softplus(x: number): number {
  return x > 20 ? x : Math.log1p(Math.exp(x));
}

/** x [E] @ kernel [E, E] + bias. */
function affine(x: Float64Array, kernel: Float32Array, bias: Float32Array): Float64Array {
  const E = bias.length;
  const out = Float64Array.from(bias);
  for (let i = 0; i < E; i++) {
    const xi = x[i];
    if (xi === 0) continue;
    const row = i * E;
    for (let j = 0; j < E; j++) out[j] += xi * kernel[row + j];
  }
  return out;
}

/** softmax(<u, t_k> / tau) over the K text rows, written into p. */
function softmaxOverTexts(u: Float64Array, texts: Float32Array, tau: number, p: Float64Array): void {
  const E = u.length;
  const K = p.length;
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    let dot = 0;
    const row = k * E;
    for (let e = 0; e < E; e++) dot += u[e] * texts[row + e];
    p[k] = dot / tau;
    if (p[k] > max) max = p[k];
  }
  let sum = 0;
  for (let k = 0; k < K; k++) sum += p[k] = Math.exp(p[k] - max);
  for (let k = 0; k < K; k++) p[k] /= sum;
}

/** The embedding the noise is added to: z itself (after-noise) or z / |z| (before-noise). */
function base(z: Float32Array, spec: ZeroShotHeadSpec): Float64Array {
  const x = Float64Array.from(z);
  if (spec.imageNormalisation === 'before-noise') normaliseInPlace(x);
  return x;
}

/**
 * Mean-mode probabilities over the labels for one image embedding z [E].
 * texts: unit label embeddings, row-major [K, E].
 */
export function zeroShotMean(z: Float32Array, texts: Float32Array, spec: ZeroShotHeadSpec): Float32Array {
  const u = base(z, spec);
  normaliseInPlace(u);
  const p = new Float64Array(texts.length / spec.dim);
  softmaxOverTexts(u, texts, spec.tau, p);
  return Float32Array.from(p);
}

/** The MC predictive over the labels for one image embedding z [E], with its per-sample summaries. */
export function zeroShotMc(z: Float32Array, texts: Float32Array, spec: ZeroShotHeadSpec, options: ZeroShotMcOptions): McResult {
  const noise = spec.noise;
  if (!noise) throw new Error('zero-shot MC needs a noise model (det zero-shot models have mean mode only)');
  const E = spec.dim;
  const K = texts.length / E;
  const { samples: S, seed } = options;
  const estimator = options.estimator ?? 'plain';
  const R = noise.factors;

  const x = base(z, spec);
  const v = affine(x, noise.hetKernel, noise.hetBias);
  const d = affine(x, noise.diagKernel, noise.diagBias).map((a) => softplus(a) + noise.minScale);
  const epsR = new Float32Array(S * R);
  const epsD = new Float32Array(S * E);
  fillEstimatorRows(epsR, estimator, seed, STREAM_FACTOR, 0, S, R);
  fillEstimatorRows(epsD, estimator, seed, STREAM_DIAGONAL, 0, S, E);

  // Welford's running mean and squared deviations of p_s per label, in float64.
  const mean = new Float64Array(K);
  const m2 = new Float64Array(K);
  const sampleArgmax = new Int32Array(S);
  let entropySum = 0;
  const zs = new Float64Array(E);
  const p = new Float64Array(K);
  for (let s = 0; s < S; s++) {
    for (let e = 0; e < E; e++) {
      let a = noise.homBias[e];
      for (let r = 0; r < R; r++) a += epsR[s * R + r] * noise.homKernel[r * E + e];
      zs[e] = x[e] + a * v[e] + d[e] * epsD[s * E + e];
    }
    if (spec.imageNormalisation === 'after-noise') normaliseInPlace(zs);
    softmaxOverTexts(zs, texts, spec.tau, p);
    let best = 0;
    let h = 0;
    for (let k = 0; k < K; k++) {
      const delta = p[k] - mean[k];
      mean[k] += delta / (s + 1);
      m2[k] += delta * (p[k] - mean[k]);
      if (p[k] > p[best]) best = k;
      if (p[k] > 0) h -= p[k] * Math.log(p[k]);
    }
    sampleArgmax[s] = best;
    entropySum += h;
  }
  return {
    probs: Float32Array.from(mean),
    std: Float32Array.from(m2, (m) => Math.sqrt(Math.max(m / S, 0))),
    expectedEntropy: entropySum / S,
    sampleArgmax,
  };
}
