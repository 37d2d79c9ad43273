// Response pieces shared by classify, predictive and zero-shot.
import type { Prediction } from '../pipelines/classifier.ts';
import type { ServedModel } from '../pipelines/registry.ts';
import { topK } from '../uncertainty/statistics.ts';
import type { ResolvedOptions } from './options.ts';
import type { ClassScore } from './schemas.ts';

/** The k most probable of `labels` (the model's classes, or a zero-shot request's labels). */
export function topClasses(labels: readonly string[], prediction: Prediction, k: number): ClassScore[] {
  return topK(prediction.probs, k).map(({ index, value }) => ({
    index,
    label: labels[index] ?? String(index),
    probability: value,
    ...(prediction.std ? { std: prediction.std[index] } : {}),
    ...(prediction.stdError ? { stdError: prediction.stdError[index] } : {}),
  }));
}

/** Run information of every response (samples, seed and estimator only in MC mode). */
export function runInfo(model: ServedModel, options: ResolvedOptions) {
  return {
    model: model.name,
    mode: options.mode,
    ...(options.mode === 'mc' ? { samples: options.samples, seed: options.seed, estimator: options.estimator } : {}),
    provider: model.provider,
  };
}
