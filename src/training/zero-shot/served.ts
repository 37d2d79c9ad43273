// Zero-shot evaluation through the served path: the exported folder loaded by the server's
// loader and run by ZeroShotPipeline (ONNX Runtime towers and zero-shot head, the server's own
// seeded noise), over the 28 "colour shape" labels with the manifest's templates.
import { classificationMetrics, metricSummary, type MetricSummary } from '../../evaluate/metrics.ts';
import { loadCheckpoint } from '../../format/checkpoint.ts';
import { loadConfig, modelLimitsOf } from '../../config.ts';
import { ZeroShotPipeline } from '../../pipelines/zero-shot.ts';
import { labelIndex, type LabelledPixels } from './evaluate.ts';
import { allLabels } from './shapes.ts';
import { PIXELS } from './trainer.ts';

const SERVED_LIMITS = modelLimitsOf(loadConfig({}, { maxImagePixels: 1 << 20, headMemoryBudgetMB: 64, textCacheSize: 1024 }));

export async function loadServed(dir: string): Promise<ZeroShotPipeline> {
  return ZeroShotPipeline.load(await loadCheckpoint(dir), { provider: 'cpu', threads: 0 }, SERVED_LIMITS);
}

/** Predictive probabilities [N, 28] of the served model; samples 0 = mean mode. */
export async function servedProbs(model: ZeroShotPipeline, images: Float32Array, samples: number, seed: number, batch = 100): Promise<Float32Array> {
  const labels = allLabels();
  const K = labels.length;
  const n = images.length / PIXELS;
  const out = new Float32Array(n * K);
  for (let i = 0; i < n; i += batch) {
    const m = Math.min(batch, n - i);
    const options = samples === 0 ? { mode: 'mean' as const, samples: 1, seed } : { mode: 'mc' as const, samples, seed };
    const predictions = await model.predictPixels(images.subarray(i * PIXELS, (i + m) * PIXELS), m, labels, model.metadata.zeroShot!.templates, options);
    predictions.forEach((p, b) => out.set(p.probs, (i + b) * K));
  }
  return out;
}

export interface ServedSplitEvaluation {
  count: number;
  mean: MetricSummary;
  mc?: MetricSummary;
}

/** Encoded images (PNG, JPEG) through the served model's own decoding and resize, as a client's uploads go. */
export async function servedPixels(model: ZeroShotPipeline, images: Buffer[]): Promise<Float32Array> {
  return (await model.preprocess(model.prepare({ images, labels: allLabels() }))).data;
}

export async function evaluateServed(model: ZeroShotPipeline, data: LabelledPixels, samples: number, seed: number): Promise<ServedSplitEvaluation> {
  const truth = data.scenes.map(labelIndex);
  const summary = (probs: Float32Array): MetricSummary => metricSummary(classificationMetrics(probs, allLabels().length, truth));
  const result: ServedSplitEvaluation = { count: truth.length, mean: summary(await servedProbs(model, data.images, 0, seed)) };
  if (model.metadata.supportsMc) result.mc = summary(await servedProbs(model, data.images, samples, seed));
  return result;
}
