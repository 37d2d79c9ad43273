// Uncertainty statistics of a sigmoid (multi-label) head, docs/method.md: each class is its own
// yes/no question, so the statistics are per class (binary entropies in nats) and their sums over
// the classes. The softmax statistics (H over the K classes, margin, variation ratio) assume one
// label per image and are not defined here.
import type { SigmoidMcResult } from '../mc/types.ts';

/** h(p) = -p log p - (1 - p) log(1 - p) in nats, 0 at p = 0 and p = 1 (log1p keeps small p exact). */
export function binaryEntropy(p: number): number {
  if (!(p > 0 && p < 1)) return 0;
  return -p * Math.log(p) - (1 - p) * Math.log1p(-p);
}

/** Summaries over the K classes. */
export interface BinaryStatistics {
  /** max_k p_hat_k. */
  maxProbability: number;
  /** sum_k h(p_hat_k): total uncertainty over all the labels. */
  binaryEntropySum: number;
  /** MC only: sum_k (1/S) sum_s h(q_s,k), the aleatoric part. */
  expectedBinaryEntropySum?: number;
  /** MC only: sum_k of the per-class mutual information. */
  mutualInformationSum?: number;
  // The softmax statistics are absent, so that code reading them from either kind reads undefined.
  predictiveEntropy?: never;
  margin?: never;
  expectedEntropy?: never;
  mutualInformation?: never;
  variationRatio?: never;
}

/** Per class, length K. */
export interface BinaryClassStatistics {
  /** h(p_hat_k). */
  binaryEntropy: Float64Array;
  /** MC only: (1/S) sum_s h(q_s,k). */
  expectedBinaryEntropy?: Float64Array;
  /** MC only: h(p_hat_k) - (1/S) sum_s h(q_s,k) >= 0 (rounding below 0 is clamped). */
  mutualInformation?: Float64Array;
}

function maxOf(values: ArrayLike<number>): number {
  let max = 0;
  for (let k = 0; k < values.length; k++) if (values[k] > max) max = values[k];
  return max;
}

function sumOf(values: Float64Array): number {
  let sum = 0;
  for (const v of values) sum += v;
  return sum;
}

/** Mean mode: the per-class binary entropies of q = sigmoid((W^T phi + b) / tau). */
export function meanBinaryStatistics(probs: ArrayLike<number>): { statistics: BinaryStatistics; perClass: BinaryClassStatistics } {
  const h = Float64Array.from(probs as ArrayLike<number>, binaryEntropy);
  return { statistics: { maxProbability: maxOf(probs), binaryEntropySum: sumOf(h) }, perClass: { binaryEntropy: h } };
}

/** MC: per class h(p_hat), E_s h(q_s), their difference, and the sums; stdError the estimator's, else std / sqrt(S). */
export function mcBinaryStatistics(
  result: SigmoidMcResult,
  samples: number,
): { statistics: BinaryStatistics; perClass: BinaryClassStatistics; stdError: Float32Array } {
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  const h = Float64Array.from(result.probs, binaryEntropy);
  const expected = result.expectedBinaryEntropy;
  const mutualInformation = h.map((x, k) => Math.max(x - expected[k], 0));
  const rootS = Math.sqrt(samples);
  return {
    statistics: {
      maxProbability: maxOf(result.probs),
      binaryEntropySum: sumOf(h),
      expectedBinaryEntropySum: sumOf(expected),
      mutualInformationSum: sumOf(mutualInformation),
    },
    perClass: { binaryEntropy: h, expectedBinaryEntropy: expected, mutualInformation },
    stdError: result.stdError ?? result.std.map((s) => s / rootS),
  };
}
