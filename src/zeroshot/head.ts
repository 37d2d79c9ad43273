// The zero-shot HET-XL head in embedding space (parameter-efficient form of ../shared/docs/method.md):
//   z_s = z + V eps_R + d ⊙ eps_D,   logits_k = <normalise(z_s), normalise(t_k)> / tau.
// Normalisation comes after the noise: the noise perturbs the image embedding before the cosine
// similarity, as in the paper's contrastive setup, and the trainer does the same. Mean mode
// switches the noise off; MC mode averages the S softmaxes. Noise rows come from
// src/noise/normal.ts, so a (seed, sample) pair gives the same eps as the classifier heads.
//
// Computed in JS rather than an ONNX graph: E and R are small (tens), so S * K * E multiply-adds
// per image stay in the millisecond range for the label counts a request may carry.

import { normalRows, STREAM_DIAGONAL, STREAM_FACTOR } from '../noise/normal.ts';

export interface ZeroShotNoise {
  /** Embedding width E. */
  dim: number;
  /** Number of low-rank factors R. */
  factors: number;
  /** V, row-major [E, R]. */
  scaleFactors: Float32Array;
  /** d, [E] (already positive: softplus applied at load). */
  scaleDiagonal: Float32Array;
}

/** Scales v to unit L2 norm in place (a zero vector stays zero). */
export function normaliseInPlace(v: Float32Array | Float64Array): void {
  let sq = 0;
  for (let i = 0; i < v.length; i++) sq += v[i] * v[i];
  const inv = sq > 0 ? 1 / Math.sqrt(sq) : 0;
  for (let i = 0; i < v.length; i++) v[i] *= inv;
}

/** Softmax of logits <u, t_k> / tau for a unit u, added with weight w into acc. */
function addSoftmax(u: Float64Array, texts: Float32Array, labels: number, tau: number, w: number, acc: Float64Array): void {
  const E = u.length;
  const logits = new Float64Array(labels);
  let max = -Infinity;
  for (let k = 0; k < labels; k++) {
    let dot = 0;
    for (let e = 0; e < E; e++) dot += u[e] * texts[k * E + e];
    logits[k] = dot / tau;
    if (logits[k] > max) max = logits[k];
  }
  let sum = 0;
  for (let k = 0; k < labels; k++) sum += logits[k] = Math.exp(logits[k] - max);
  for (let k = 0; k < labels; k++) acc[k] += (w * logits[k]) / sum;
}

/**
 * Predictive probabilities over the labels for one image embedding z [E].
 * texts: unit text embeddings, row-major [K, E]. samples = 0 means mean mode (noise off).
 */
export function zeroShotPredictive(
  z: Float32Array, texts: Float32Array, tau: number, noise: ZeroShotNoise, samples: number, seed: number,
): Float64Array {
  const E = noise.dim;
  const labels = texts.length / E;
  const acc = new Float64Array(labels);
  const u = new Float64Array(E);
  if (samples === 0) {
    u.set(z);
    normaliseInPlace(u);
    addSoftmax(u, texts, labels, tau, 1, acc);
    return acc;
  }
  const R = noise.factors;
  const epsR = normalRows(seed, STREAM_FACTOR, 0, samples, R);
  const epsD = normalRows(seed, STREAM_DIAGONAL, 0, samples, E);
  for (let s = 0; s < samples; s++) {
    for (let e = 0; e < E; e++) {
      let v = z[e] + noise.scaleDiagonal[e] * epsD[s * E + e];
      for (let r = 0; r < R; r++) v += noise.scaleFactors[e * R + r] * epsR[s * R + r];
      u[e] = v;
    }
    normaliseInPlace(u);
    addSoftmax(u, texts, labels, tau, 1 / samples, acc);
  }
  return acc;
}
