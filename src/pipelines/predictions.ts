// Predictions from a head's output, and the ranking of their classes: shared by both pipelines
// and by whoever shapes a response.
import type { CandidateMcResult } from '../heads/candidates.ts';
import type { McResult, SigmoidMcResult } from '../mc/types.ts';
import { mcBinaryStatistics, meanBinaryStatistics } from '../uncertainty/binary.ts';
import { meanStatistics, mcStatistics, topK } from '../uncertainty/statistics.ts';
import type { Prediction, PredictionStatistics } from './served-model.ts';

/** A mean-mode prediction from its probabilities. */
export function meanPrediction(probs: Float32Array): Prediction {
  return { probs, statistics: meanStatistics(probs) };
}

/** An MC prediction from the head's result over S samples. */
export function mcPrediction(result: McResult, samples: number): Prediction {
  const samplesUsed = result.samplesUsed ?? samples;
  const { stdError, ...statistics } = mcStatistics(result, samplesUsed);
  return { probs: result.probs, std: result.std, stdError, statistics, samplesUsed };
}

/** A sigmoid head's mean-mode prediction: per-class probabilities and binary entropies. */
export function sigmoidMeanPrediction(probs: Float32Array): Prediction {
  const { statistics, perClass } = meanBinaryStatistics(probs);
  return { probs, statistics, binary: perClass };
}

/** A sigmoid head's MC prediction over S samples. */
export function sigmoidMcPrediction(result: SigmoidMcResult, samples: number): Prediction {
  const samplesUsed = result.samplesUsed ?? samples;
  const { statistics, perClass, stdError } = mcBinaryStatistics(result, samplesUsed);
  return { probs: result.probs, std: result.std, stdError, statistics, binary: perClass, samplesUsed };
}

/**
 * A sigmoid head's exact prediction (estimator=exact): the result of quadrature on the logits'
 * marginals, in the MC shape; no sampling error, so stdError is 0.
 */
export function sigmoidExactPrediction(result: SigmoidMcResult): Prediction {
  const { statistics, perClass } = mcBinaryStatistics(result, 1); // its stdError (S = 1) is not used
  return { probs: result.probs, std: result.std, stdError: new Float32Array(result.probs.length), statistics, binary: perClass };
}

/**
 * estimator=candidates: the MC prediction over the candidate classes, placed among all K (the
 * others 0: bounded by `bound`, not sampled); the statistics are those of the renormalised
 * candidates' predictive, which the zeros do not change. On fallback, the full-K MC prediction.
 */
export function candidatePrediction({ result, classes, bound, fallback }: CandidateMcResult, samples: number, K: number): Prediction {
  const prediction = mcPrediction(result, samples);
  if (!classes) return { ...prediction, candidates: { count: K, bound, fallback } };
  const statistics = prediction.statistics as PredictionStatistics & { modalClass?: number };
  const spread = (values: Float32Array) => {
    const all = new Float32Array(K);
    classes.forEach((k, i) => (all[k] = values[i]));
    return all;
  };
  return {
    probs: spread(prediction.probs),
    std: spread(prediction.std!),
    stdError: spread(prediction.stdError!),
    // mcStatistics' modal class is a position among the candidates.
    statistics: { ...statistics, ...(statistics.modalClass !== undefined ? { modalClass: classes[statistics.modalClass] } : {}) },
    candidates: { count: classes.length, bound, fallback },
  };
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
