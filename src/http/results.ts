// Response pieces shared by classify, predictive and zero-shot.
import { topClasses } from '../pipelines/predictions.ts';
import type { Prediction, PredictOptions, ServedModel } from '../pipelines/served-model.ts';
import type { ClassScore, Statistics } from './schemas.ts';

/** Per image: the k most probable of `labels` (the model's classes, or a zero-shot request's labels) and the statistics. */
export function classifyPredictions(predictions: Prediction[], labels: readonly string[], k: number): { classes: ClassScore[]; statistics: Statistics }[] {
  return predictions.map((p) => ({ classes: topClasses(p, labels, k), statistics: p.statistics }));
}

/** Run information of every response (samples, seed and estimator only in MC mode). */
export function runInfo(model: ServedModel, options: PredictOptions) {
  return {
    model: model.name,
    mode: options.mode,
    ...(options.mode === 'mc' ? { samples: options.samples, seed: options.seed, estimator: options.estimator ?? 'plain' } : {}),
    provider: model.metadata.provider,
  };
}
