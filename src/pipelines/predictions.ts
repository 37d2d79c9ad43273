// Predictions from a head's output, and the ranking of their classes: shared by both pipelines
// and by whoever shapes a response.
import type { McResult, SigmoidMcResult } from '../mc/types.ts';
import { mcBinaryStatistics, meanBinaryStatistics } from '../uncertainty/binary.ts';
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

/** A sigmoid head's mean-mode prediction: per-class probabilities and binary entropies. */
export function sigmoidMeanPrediction(probs: Float32Array): Prediction {
  const { statistics, perClass } = meanBinaryStatistics(probs);
  return { probs, statistics, binary: perClass };
}

/** A sigmoid head's MC prediction over S samples. */
export function sigmoidMcPrediction(result: SigmoidMcResult, samples: number): Prediction {
  const { statistics, perClass, stdError } = mcBinaryStatistics(result, samples);
  return { probs: result.probs, std: result.std, stdError, statistics, binary: perClass };
}

export interface RankedClass {
  index: number;
  label: string;
  probability: number;
  /** MC only. */
  std?: number;
  stdError?: number;
  /** Sigmoid heads: the class's binary entropy h(p_hat) and, in MC mode, its split. */
  binaryEntropy?: number;
  expectedBinaryEntropy?: number;
  mutualInformation?: number;
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
    ...binaryOf(prediction, index),
  }));
}

/** A sigmoid prediction's binary statistics of class k (nothing for a softmax prediction). */
function binaryOf({ binary }: Prediction, k: number): Pick<RankedClass, 'binaryEntropy' | 'expectedBinaryEntropy' | 'mutualInformation'> {
  if (!binary) return {};
  return {
    binaryEntropy: binary.binaryEntropy[k],
    ...(binary.expectedBinaryEntropy ? { expectedBinaryEntropy: binary.expectedBinaryEntropy[k] } : {}),
    ...(binary.mutualInformation ? { mutualInformation: binary.mutualInformation[k] } : {}),
  };
}
