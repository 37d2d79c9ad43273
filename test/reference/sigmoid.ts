// An independent float64 reference of the sigmoid (multi-label) link of docs/method.md, after
// edward2's MCSigmoidDenseFA: per class q = sigmoid(u / tau) of the same sampled logits u as the
// softmax heads (test/reference/heads.ts), the MC mean and spread of q per class, and the
// per-class binary entropies. Plain loops from the formulas; no production code.
import type { HeadSpec } from '../../src/format/manifest.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import { referenceLocLogits, referenceLogits, referenceNoiseRows, referenceScales, type Matrix, type Vector } from './heads.ts';

export function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** -q ln q - (1 - q) ln(1 - q), straight from the definition (0 ln 0 = 0). */
export function binaryEntropy(q: number): number {
  const term = (x: number) => (x > 0 ? -x * Math.log(x) : 0);
  return term(q) + term(1 - q);
}

/** Mean mode: per class sigmoid((W^T phi + b) / tau). */
export function referenceSigmoidMean(spec: HeadSpec, weights: HeadWeights, phi: Vector): Vector {
  return referenceLocLogits(weights, phi).map((u) => sigmoid(u / spec.tau));
}

export interface ReferenceSigmoidMc {
  /** (1/S) sum_s q_s,k. */
  probs: Vector;
  /** Population std of q_s,k over the samples. */
  std: Vector;
  /** (1/S) sum_s h(q_s,k). */
  expectedBinaryEntropy: Vector;
  /** Population std of h(q_s,k) over the samples (for Monte-Carlo tolerances). */
  binaryEntropyStd: Vector;
}

/** The sigmoid MC predictive for one image, given the noise rows of each sample. */
export function referenceSigmoidMc(spec: HeadSpec, weights: HeadWeights, phi: Vector, epsR: Matrix, epsD: Matrix): ReferenceSigmoidMc {
  const S = epsD.length;
  const K = spec.K;
  const scales = spec.type === 'det' ? undefined : referenceScales(spec, weights, phi);
  const sum = new Array<number>(K).fill(0);
  const sumSq = new Array<number>(K).fill(0);
  const hSum = new Array<number>(K).fill(0);
  const hSqSum = new Array<number>(K).fill(0);
  for (let s = 0; s < S; s++) {
    const u = referenceLogits(spec, weights, phi, epsR[s] ?? [], epsD[s], scales);
    for (let k = 0; k < K; k++) {
      const q = sigmoid(u[k] / spec.tau);
      const h = binaryEntropy(q);
      sum[k] += q;
      sumSq[k] += q * q;
      hSum[k] += h;
      hSqSum[k] += h * h;
    }
  }
  const probs = sum.map((x) => x / S);
  const expectedBinaryEntropy = hSum.map((x) => x / S);
  return {
    probs,
    std: sumSq.map((x, k) => Math.sqrt(Math.max(x / S - probs[k] ** 2, 0))),
    expectedBinaryEntropy,
    binaryEntropyStd: hSqSum.map((x, k) => Math.sqrt(Math.max(x / S - expectedBinaryEntropy[k] ** 2, 0))),
  };
}

/** The sigmoid MC predictive with the reference's own independent noise (referenceNoiseRows). */
export function referenceSigmoidMcIndependent(spec: HeadSpec, weights: HeadWeights, phi: Vector, samples: number, seed: number): ReferenceSigmoidMc {
  const { epsR, epsD } = referenceNoiseRows(spec, samples, seed);
  return referenceSigmoidMc(spec, weights, phi, epsR, epsD);
}
