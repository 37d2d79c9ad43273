// Test reference: every MC sample's p_s of a head in float64, from the estimator's own noise rows
// (the production noise, so a test can compare the loop's float32 merge with sums written here).
import type { HeadWeights } from '../../src/format/head-params.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { fillEstimatorRows, type Estimator } from '../../src/noise/estimator.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { referenceLogits, softmax } from '../reference/heads.ts';

/** p_s (softmax, or per-class sigmoid for a sigmoid link) of samples 0 .. samples - 1. */
export function sampledProbs(spec: HeadSpec, weights: HeadWeights, phi: ArrayLike<number>, estimator: Estimator, samples: number, seed: number): number[][] {
  const R = spec.R ?? 0;
  const width = spec.type === 'het' ? spec.K : spec.D;
  const epsR = new Float32Array(samples * R);
  const epsD = new Float32Array(samples * width);
  fillEstimatorRows(epsR, estimator, seed, STREAM_FACTOR, 0, samples, R);
  fillEstimatorRows(epsD, estimator, seed, STREAM_DIAGONAL, 0, samples, width);
  return Array.from({ length: samples }, (_, s) => {
    const u = referenceLogits(spec, weights, Array.from(phi), Array.from(epsR.subarray(s * R, (s + 1) * R)), Array.from(epsD.subarray(s * width, (s + 1) * width)));
    const t = u.map((x) => x / spec.tau);
    return spec.link === 'sigmoid' ? t.map((x) => 1 / (1 + Math.exp(-x))) : softmax(t);
  });
}
