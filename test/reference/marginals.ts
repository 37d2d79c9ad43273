// A float64 reference of the per-class marginals of the tempered logits (docs/method.md, "Exact
// per-class marginals"): the full logit covariance of test/reference/heads.ts (written from
// Sigma = V V^T + diag(d^2), W^T Sigma' W), with edward2's shared diagonal scalar as the rank-one
// d d^T in place of diag(d^2); its diagonal, and the std of each logit's difference to the class
// of largest mean. Plain loops; no production code.
import type { HeadSpec } from '../../src/format/manifest.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import { referenceLogitDistribution, referenceScales, type Vector } from './heads.ts';

export interface ReferenceMarginals {
  /** E[u_k] / tau. */
  mean: Vector;
  /** std(u_k) / tau. */
  std: Vector;
  /** The class of largest mean, and std((u_k - u_top) / tau) per class. */
  top: number;
  differenceStd: Vector;
}

export function referenceMarginals(spec: HeadSpec, weights: HeadWeights, phi: Vector): ReferenceMarginals {
  const { mean, covariance } = referenceLogitDistribution(spec, weights, phi);
  const { K, D } = spec;
  if (spec.diagonalNoise === 'shared') {
    // The rank-one d d^T in place of diag(d^2): HET-XL W^T (d d^T - diag(d^2)) W, HET d d^T - diag(d^2).
    const { d } = referenceScales(spec, weights, phi);
    const W = weights.get('loc_layer/kernel')!.data;
    const loading = (k: number) => (spec.type === 'het' ? [d[k]] : Array.from({ length: D }, (_, j) => d[j] * W[j * K + k]));
    for (let a = 0; a < K; a++) {
      const la = loading(a);
      for (let b = 0; b < K; b++) {
        const lb = loading(b);
        let dot = 0;
        for (let j = 0; j < la.length; j++) dot += la[j] * lb[j];
        const sumA = la.reduce((s, x) => s + x, 0);
        const sumB = lb.reduce((s, x) => s + x, 0);
        covariance[a][b] += sumA * sumB - (spec.type === 'het' ? (a === b ? dot : 0) : dot);
      }
    }
  }
  let top = 0;
  for (let k = 1; k < K; k++) if (mean[k] > mean[top]) top = k;
  const variance = covariance.map((row, k) => row[k]);
  return {
    mean: mean.map((m) => m / spec.tau),
    std: variance.map((v) => Math.sqrt(v) / spec.tau),
    top,
    differenceStd: variance.map((v, k) => Math.sqrt(Math.max(v + variance[top] - 2 * covariance[k][top], 0)) / spec.tau),
  };
}
