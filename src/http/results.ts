// Response pieces shared by classify, predictive and zero-shot.
import { mostProbable, topClasses } from '../pipelines/predictions.ts';
import type { Prediction, PredictOptions, ServedModel } from '../pipelines/served-model.ts';
import type { Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import { BinaryStatistics, Statistics } from './schemas.ts';

/** Softmax statistics; zero-shot heads are softmax heads (the loader refuses a sigmoid one). */
function softmaxStatistics({ statistics }: Prediction): Static<typeof Statistics> {
  if (statistics.predictiveEntropy === undefined) throw new Error('a sigmoid prediction where only softmax ones exist');
  return statistics as Static<typeof Statistics>;
}

/**
 * The statistics as the response schema has them. The schema's statistics are a union (softmax
 * or sigmoid), and the serialiser picks a branch by validating against each: extra fields
 * (mcStatistics' modalClass) would match neither, where a plain object schema just drops them.
 */
export function responseStatistics({ statistics }: Prediction): Static<typeof Statistics> | Static<typeof BinaryStatistics> {
  return statistics.predictiveEntropy === undefined ? Value.Clean(BinaryStatistics, { ...statistics }) as Static<typeof BinaryStatistics> : Value.Clean(Statistics, { ...statistics }) as Static<typeof Statistics>;
}

/** Zero-shot, per image: the k most probable of the request's labels and the statistics. */
export function classifyPredictions(predictions: Prediction[], labels: readonly string[], k: number, options: PredictOptions) {
  return predictions.map((p) => ({ classes: topClasses(p, labels, k), statistics: softmaxStatistics(p), ...precisionInfo(p, options) }));
}

/**
 * With a precision target: the samples the image took and the largest standard error among the
 * classes the target applied to (options.stopTopK most probable); nothing otherwise.
 */
export function precisionInfo(prediction: Prediction, options: PredictOptions): { samplesUsed?: number; stdErrorReached?: number } {
  const { stdError } = prediction;
  if (options.targetStdError === undefined || !stdError) return {};
  const k = options.stopTopK ?? 1;
  // All classes (predictive, KServe v2): the largest of them, without ranking K classes.
  const reached = k >= stdError.length ? stdError.reduce((a, b) => Math.max(a, b), 0) : Math.max(...mostProbable(prediction.probs, k).map(({ index }) => stdError[index]));
  return { samplesUsed: prediction.samplesUsed, stdErrorReached: reached };
}

/**
 * Classify, per image: the k most probable of the model's labels and the statistics; for a
 * sigmoid head also every label above `threshold`; with include=logits the logits.
 */
export function classifierPredictions(predictions: Prediction[], labels: readonly string[], k: number, threshold: number, options: PredictOptions) {
  return predictions.map((p) => ({
    classes: topClasses(p, labels, k),
    statistics: responseStatistics(p),
    ...(p.binary ? { aboveThreshold: aboveThreshold(p.probs, labels, threshold) } : {}),
    ...(p.logits ? { logits: Array.from(p.logits) } : {}),
    ...precisionInfo(p, options),
    ...(p.candidates ? { candidates: p.candidates } : {}),
  }));
}

/** Sigmoid heads: the classes with probability above `threshold`, most probable first (ties by the lower index). */
export function aboveThreshold(probs: Float32Array, labels: readonly string[], threshold: number): { index: number; label: string; probability: number }[] {
  const count = probs.reduce((n, p) => (p > threshold ? n + 1 : n), 0);
  return mostProbable(probs, count).map(({ index, value }) => ({ index, label: labels[index] ?? String(index), probability: value }));
}

/** Run information of every response (samples, seed and estimator only in MC mode). */
export function runInfo(model: ServedModel, options: PredictOptions) {
  return {
    model: model.name,
    mode: options.mode,
    // exact draws no samples: it reports no samples or seed.
    ...(options.mode === 'mc' ? { ...(options.estimator === 'exact' ? {} : { samples: options.samples, seed: options.seed }), estimator: options.estimator ?? 'plain' } : {}),
    provider: model.metadata.provider,
  };
}

/** Sigmoid heads name their link and the threshold used; softmax responses stay as they were. */
export function linkInfo(model: ServedModel, threshold: number): { link?: 'sigmoid'; threshold?: number } {
  return model.metadata.link === 'sigmoid' ? { link: 'sigmoid', threshold } : {};
}
