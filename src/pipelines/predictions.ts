// Predictions from a head's output, and the ranking of their classes: shared by both pipelines
// and by whoever shapes a response.
import type { McResult } from '../mc/types.ts';
import { meanStatistics, mcStatistics, topK } from '../uncertainty/statistics.ts';
import type { Prediction } from './served-model.ts';

/** A mean-mode prediction from its probabilities. */
export function meanPrediction(probs: Float32Array): Prediction {
  return { probs, statistics: meanStatistics(probs) };
}

/** An MC prediction from the head's result over S samples. */
export function mcPrediction(result: McResult, samples: number): Prediction {
  const { stdError, ...statistics } = mcStatistics(result, samples);
  return { probs: result.probs, std: result.std, stdError, statistics };
}

export interface RankedClass {
  index: number;
  label: string;
  probability: number;
  /** MC only. */
  std?: number;
  stdError?: number;
}

/** The n most probable classes, by decreasing probability, ties by the lower index. */
export function mostProbable(probs: ArrayLike<number>, n: number): { index: number; value: number }[] {
  return topK(probs, n);
}

/** The k most probable of `labels` with their probability (and in MC mode std and standard error). */
export function topClasses(prediction: Prediction, labels: readonly string[], k: number): RankedClass[] {
  return mostProbable(prediction.probs, k).map(({ index, value }) => ({
    index,
    label: labels[index] ?? String(index),
    probability: value,
    ...(prediction.std ? { std: prediction.std[index] } : {}),
    ...(prediction.stdError ? { stdError: prediction.stdError[index] } : {}),
  }));
}
