// The zero-shot head (docs/method.md, "Contrastive learning and zero-shot classification"): text
// embeddings t_k are the class weights, tau the learned temperature. Mean mode, here in JS
// (K x E multiply-adds per image): softmax(<z / |z|, t_k> / tau), noise off. The MC mode, with
// HET-XL noise on the image embedding, runs on ONNX Runtime: src/heads/zero-shot-mc.ts.

import { normaliseInPlace } from '../text/unit-norm.ts';
import type { ZeroShotSpec } from '../format/manifest.ts';

/** Where the image embedding is L2-normalised relative to the noise (the manifest's zeroShot.imageNormalisation). */
export type ImageNormalisation = ZeroShotSpec['imageNormalisation'];

export interface ZeroShotHeadSpec {
  /** Embedding width E. */
  dim: number;
  tau: number;
}

/**
 * Mean-mode probabilities over the labels for one image embedding z [E] (noise off, so both
 * image normalisations give softmax(<z / |z|, t_k> / tau)). texts: unit label embeddings, [K, E].
 */
export function zeroShotMean(z: Float32Array, texts: Float32Array, spec: ZeroShotHeadSpec): Float32Array {
  const E = spec.dim;
  const K = texts.length / E;
  const u = Float64Array.from(z);
  normaliseInPlace(u);
  const p = new Float64Array(K);
  let max = -Infinity;
  for (let k = 0; k < K; k++) {
    let dot = 0;
    for (let e = 0; e < E; e++) dot += u[e] * texts[k * E + e];
    p[k] = dot / spec.tau;
    if (p[k] > max) max = p[k];
  }
  let sum = 0;
  for (let k = 0; k < K; k++) sum += p[k] = Math.exp(p[k] - max);
  for (let k = 0; k < K; k++) p[k] /= sum;
  return Float32Array.from(p);
}
