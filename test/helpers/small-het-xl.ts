// The small HET-XL head the estimator tests share (K = 5, D = 6, R = 3, seeded weights) and one
// input: small enough for float64 references, and the same head everywhere so the estimators'
// measured errors compare.
import type { HeadSpec } from '../../src/format/manifest.ts';
import { randomHeadWeights } from '../reference/heads.ts';

export const D = 6;
export const K = 5;
export const R = 3;
export const spec: HeadSpec = { type: 'het-xl', covariance: 'param-efficient', D, K, R, tau: 0.8, minScale: 1e-3 };
export const weights = randomHeadWeights(spec, 303);
export const phi = Float32Array.from({ length: D }, (_, i) => 1.2 * Math.sin(1.7 * i + 0.4));
