// Uncertainty statistics of docs/method.md, from a head's outputs. Entropies in nats.
import type { McResult } from '../mc/types.ts';

export interface ClassValue {
  index: number;
  value: number;
}

/** Below this k, a single pass with a small sorted buffer beats sorting all K indices. */
const SMALL_K = 32;

/**
 * The k largest values with their class indices, by decreasing value, ties by the lower index
 * (k is clamped to the number of values).
 */
export function topK(values: ArrayLike<number>, k: number): ClassValue[] {
  if (!Number.isInteger(k) || k < 0) throw new RangeError(`k must be a non-negative integer, got ${k}`);
  const n = Math.min(k, values.length);
  // "a before b": larger value first, then lower index.
  const before = (a: number, b: number) => values[a] > values[b] || (values[a] === values[b] && a < b);
  let order: number[];
  if (n <= SMALL_K) {
    order = [];
    for (let i = 0; i < values.length; i++) {
      if (order.length === n && (n === 0 || !before(i, order[n - 1]))) continue;
      let at = order.length === n ? n - 1 : order.length;
      order[at] = i;
      while (at > 0 && before(order[at], order[at - 1])) {
        [order[at], order[at - 1]] = [order[at - 1], order[at]];
        at--;
      }
    }
  } else {
    order = Array.from({ length: values.length }, (_, i) => i);
    order.sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0));
    order.length = n;
  }
  return order.map((index) => ({ index, value: values[index] }));
}

/** Shannon entropy -sum_k p_k log p_k (0 log 0 = 0), summed in float64. */
export function entropy(probs: ArrayLike<number>): number {
  let h = 0;
  for (let k = 0; k < probs.length; k++) {
    const p = probs[k];
    if (p > 0) h -= p * Math.log(p);
  }
  return h;
}

/** Largest value and largest minus second largest (the second is 0 when there is one class). */
function maxAndMargin(probs: ArrayLike<number>): { maxProbability: number; margin: number } {
  const [first, second] = topK(probs, 2).map((c) => c.value);
  return { maxProbability: first ?? 0, margin: (first ?? 0) - (second ?? 0) };
}

export interface MeanStatistics {
  /** H[p] of the deterministic prediction, under the MC result's name so both modes read alike. */
  predictiveEntropy: number;
  maxProbability: number;
  /** top-1 minus top-2 probability. */
  margin: number;
}

export function meanStatistics(probs: ArrayLike<number>): MeanStatistics {
  return { predictiveEntropy: entropy(probs), ...maxAndMargin(probs) };
}

export interface McStatistics {
  /** H[p_hat]: total uncertainty (Fortuna: entropy). */
  predictiveEntropy: number;
  /** (1/S) sum_s H[p_s]: the aleatoric part (Fortuna: aleatoric_entropy). */
  expectedEntropy: number;
  /**
   * H[p_hat] - E_s H[p_s] >= 0: mutual information between the label and the noise sample
   * (Fortuna: epistemic_entropy). Negative values from rounding are clamped to 0.
   */
  mutualInformation: number;
  maxProbability: number;
  /** top-1 minus top-2 of p_hat. */
  margin: number;
  /** The most frequent per-sample argmax (ties by the lower class index). */
  modalClass: number;
  /** 1 - (share of samples whose argmax is the modal class). */
  variationRatio: number;
  /** MC standard error of each p_hat entry: the estimator's (McResult.stdError), else std / sqrt(S). */
  stdError: Float32Array;
}

/** Statistics of an MC result over S samples (S must be the length of result.sampleArgmax). */
export function mcStatistics(result: McResult, samples: number): McStatistics {
  if (!Number.isInteger(samples) || samples < 1) throw new RangeError(`samples must be a positive integer, got ${samples}`);
  if (result.sampleArgmax.length !== samples) throw new RangeError(`result holds ${result.sampleArgmax.length} sample argmaxes, expected ${samples}`);
  const predictiveEntropy = entropy(result.probs);

  const counts = new Map<number, number>();
  for (const k of result.sampleArgmax) counts.set(k, (counts.get(k) ?? 0) + 1);
  let modalClass = -1;
  let modalCount = 0;
  for (const [k, count] of counts) {
    if (count > modalCount || (count === modalCount && k < modalClass)) {
      modalClass = k;
      modalCount = count;
    }
  }

  const rootS = Math.sqrt(samples);
  return {
    predictiveEntropy,
    expectedEntropy: result.expectedEntropy,
    mutualInformation: Math.max(predictiveEntropy - result.expectedEntropy, 0),
    ...maxAndMargin(result.probs),
    modalClass,
    variationRatio: 1 - modalCount / samples,
    stdError: result.stdError ?? result.std.map((s) => s / rootS),
  };
}
