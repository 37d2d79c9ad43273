// Evaluates a checkpoint folder through the served path (loadCheckpoint -> ClassifierPipeline ->
// predictPixels on ONNX Runtime), in mean mode and, for noisy heads, with the MC predictive.
// So the numbers describe exactly what `npm start` serves, not the training-time graph.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { loadCheckpoint } from '../format/checkpoint.ts';
import { ClassifierPipeline } from '../pipelines/classifier.ts';
import type { Manifest } from '../format/manifest.ts';
import type { Prediction, PredictMode } from '../pipelines/served-model.ts';
import { loadConfig, modelLimitsOf } from '../config.ts';
import { normalisePixels } from '../image/normalise.ts';
import { argMax, classificationMetrics, metricSummary, type Metrics, type MetricSummary } from './metrics.ts';
import { reliabilityPng } from './reliability.ts';
import { flippedLabelDetection, scoreColumns, uncertaintyQuality, type FlipDetection, type ScoreQuality, type UncertaintyScore } from './uncertainty-quality.ts';

/**
 * Labelled grayscale images (what the Fashion-MNIST reader returns and the trainer takes).
 * Declared here, by the evaluator, so that src/evaluate/ imports nothing of src/training/.
 */
export interface ImageSet {
  /** Raw 8-bit pixels, [count, rows * cols] row-major. */
  pixels: Uint8Array;
  labels: Uint8Array;
  count: number;
  rows: number;
  cols: number;
}

export interface EvaluateOptions {
  /** MC samples S per image. */
  samples: number;
  /** Seed of the served MC noise. */
  seed: number;
  /** Images per predictPixels call. */
  batchSize?: number;
  /** ORT intra-op threads (0: ORT's choice). */
  threads?: number;
}

export interface ModeReport extends Metrics {
  mode: PredictMode;
  samples?: number;
  seed?: number;
  /** Misclassification AUROC and selective prediction per served score (uncertainty-quality.ts). */
  uncertainty: Partial<Record<UncertaintyScore, ScoreQuality>>;
  seconds: number;
}

/** Flipped-label detection on the (noisy) training set, per mode. */
export interface FlippedLabelReport {
  data: { description: string; count: number; flipped: number };
  modes: { mode: PredictMode; auroc: FlipDetection }[];
}

export interface EvaluationReport {
  checkpoint: string;
  name: string;
  head: { type: string; D: number; K: number; R?: number; tau: number };
  data: { description: string; count: number };
  modes: ModeReport[];
  /** Runs trained on noisy labels: how well the scores flag the flipped ones. */
  flippedLabels?: FlippedLabelReport;
}

/** Each mode's metrics without the per-bin table (metricSummary), by mode: what a manifest's provenance keeps. */
export function reportSummary(report: EvaluationReport): Record<string, Omit<MetricSummary, 'count'> & { samples?: number }> {
  return Object.fromEntries(
    report.modes.map((m) => {
      // The report states the data's count once (report.data), so the modes leave it out; the
      // uncertainty figures stay in evaluation.json (uncertaintySummary), so manifests keep their shape.
      const { count: _count, ...figures } = metricSummary(m);
      return [m.mode, { ...figures, ...(m.samples ? { samples: m.samples } : {}) }];
    }),
  );
}

/** One mode's served outputs over a whole image set. */
interface ModeOutputs {
  mode: PredictMode;
  /** [count, K] row-major. */
  probs: Float32Array;
  statistics: Prediction['statistics'][];
  seconds: number;
}

/** Runs every image of `data` through the served pipeline in each mode the checkpoint supports. */
async function servedOutputs(dir: string, data: ImageSet, options: EvaluateOptions): Promise<{ manifest: Manifest; outputs: ModeOutputs[] }> {
  const checkpoint = await loadCheckpoint(dir);
  const { manifest } = checkpoint;
  const pixelsPerImage = data.rows * data.cols;
  const { height, width, channels } = manifest.input;
  if (channels !== 1 || height !== data.rows || width !== data.cols) {
    throw new Error(`${dir}: expects ${channels} x ${height} x ${width} input, the data has 1 x ${data.rows} x ${data.cols}`);
  }
  const model = await ClassifierPipeline.load(
    checkpoint,
    { provider: 'cpu', threads: options.threads ?? 0 },
    modelLimitsOf(loadConfig({}, { maxImagePixels: pixelsPerImage, headMemoryBudgetMB: 256 })),
  );
  const inputs = normalisePixels(data.pixels, manifest.input);
  const K = manifest.head.K;
  const batchSize = options.batchSize ?? 500;
  const outputs: ModeOutputs[] = [];
  try {
    for (const mode of model.metadata.supportsMc ? (['mean', 'mc'] as const) : (['mean'] as const)) {
      const started = Date.now();
      const probs = new Float32Array(data.count * K);
      const statistics: Prediction['statistics'][] = [];
      for (let start = 0; start < data.count; start += batchSize) {
        const n = Math.min(batchSize, data.count - start);
        const batch = inputs.subarray(start * pixelsPerImage, (start + n) * pixelsPerImage);
        const predictions = await model.predictPixels(batch, n, { mode, samples: options.samples, seed: options.seed });
        predictions.forEach((p, i) => {
          probs.set(p.probs, (start + i) * K);
          statistics.push(p.statistics);
        });
      }
      outputs.push({ mode, probs, statistics, seconds: (Date.now() - started) / 1000 });
    }
  } finally {
    await model.dispose();
  }
  return { manifest, outputs };
}

/** 1 where the predicted class of row i (as classificationMetrics counts it) is labels[i]. */
function correctness(probs: Float32Array, K: number, labels: ArrayLike<number>): Uint8Array {
  return Uint8Array.from({ length: labels.length }, (_, i) => (argMax(probs.subarray(i * K, (i + 1) * K)) === labels[i] ? 1 : 0));
}

export async function evaluateCheckpoint(dir: string, data: ImageSet, description: string, options: EvaluateOptions): Promise<EvaluationReport> {
  const { manifest, outputs } = await servedOutputs(dir, data, options);
  const K = manifest.head.K;
  const modes: ModeReport[] = outputs.map(({ mode, probs, statistics, seconds }) => ({
    mode,
    ...(mode === 'mc' ? { samples: options.samples, seed: options.seed } : {}),
    ...classificationMetrics(probs, K, data.labels),
    uncertainty: uncertaintyQuality(scoreColumns(statistics), correctness(probs, K, data.labels)),
    seconds,
  }));
  const { type, D, R, tau } = manifest.head;
  return {
    // Relative to the working directory: the report is committed next to bundled models, and an
    // absolute path would only name the machine it was made on.
    checkpoint: relative(process.cwd(), resolve(dir)) || '.',
    name: manifest.name,
    head: { type, D, K, ...(R !== undefined && type !== 'det' ? { R } : {}), tau },
    data: { description, count: data.count },
    modes,
  };
}

/**
 * How well each served score flags the training examples whose labels were flipped: `data` holds
 * the noisy labels the model was trained on and `flipped` the mask of label-noise.ts.
 */
export async function evaluateFlippedLabels(dir: string, data: ImageSet, flipped: Uint8Array, description: string, options: EvaluateOptions): Promise<FlippedLabelReport> {
  if (flipped.length !== data.count) throw new Error(`flipped-label detection: a mask of ${flipped.length} for ${data.count} images`);
  const { manifest, outputs } = await servedOutputs(dir, data, options);
  const K = manifest.head.K;
  return {
    data: { description, count: data.count, flipped: flipped.reduce((a, v) => a + v, 0) },
    modes: outputs.map(({ mode, probs, statistics }) => ({
      mode,
      auroc: flippedLabelDetection(scoreColumns(statistics), flipped, Float64Array.from({ length: data.count }, (_, i) => probs[i * K + data.labels[i]])),
    })),
  };
}

/** Per mode, per score: the uncertainty-quality figures (what the command-line tools print). */
export function uncertaintySummary(report: EvaluationReport): Record<string, unknown> {
  return {
    ...Object.fromEntries(report.modes.map((m) => [m.mode, m.uncertainty])),
    ...(report.flippedLabels ? { flippedLabels: Object.fromEntries(report.flippedLabels.modes.map((m) => [m.mode, m.auroc])) } : {}),
  };
}

/** evaluation.json and reliability-<mode>.png into `outDir`; returns the written paths. */
export async function writeEvaluation(report: EvaluationReport, outDir: string): Promise<string[]> {
  await mkdir(outDir, { recursive: true });
  const written = [join(outDir, 'evaluation.json')];
  await writeFile(written[0], JSON.stringify(report, null, 2) + '\n');
  for (const m of report.modes) {
    const file = join(outDir, `reliability-${m.mode}.png`);
    const label = m.mode === 'mc' ? `MC predictive, S = ${m.samples}` : 'mean mode';
    await writeFile(file, await reliabilityPng(m, `${report.name}: ${label}`));
    written.push(file);
  }
  return written;
}
