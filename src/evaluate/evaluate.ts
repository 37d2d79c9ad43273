// Evaluates a checkpoint folder through the served path (loadCheckpoint -> ClassifierPipeline ->
// predictPixels on ONNX Runtime), in mean mode and, for noisy heads, with the MC predictive.
// So the numbers describe exactly what `npm start` serves, not the training-time graph.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, relative, resolve } from 'node:path';
import { loadCheckpoint } from '../format/checkpoint.ts';
import { ClassifierPipeline } from '../pipelines/classifier.ts';
import type { PredictMode } from '../pipelines/served-model.ts';
import { loadConfig, modelLimitsOf } from '../config.ts';
import { normalisePixels } from '../image/normalise.ts';
import { classificationMetrics, metricSummary, type Metrics, type MetricSummary } from './metrics.ts';
import { reliabilityPng } from './reliability.ts';

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
  seconds: number;
}

export interface EvaluationReport {
  checkpoint: string;
  name: string;
  head: { type: string; D: number; K: number; R?: number; tau: number };
  data: { description: string; count: number };
  modes: ModeReport[];
}

/** Each mode's metrics without the per-bin table (metricSummary), by mode: what a manifest's provenance keeps. */
export function reportSummary(report: EvaluationReport): Record<string, Omit<MetricSummary, 'count'> & { samples?: number }> {
  return Object.fromEntries(
    report.modes.map((m) => {
      // The report states the data's count once (report.data), so the modes leave it out.
      const { count: _count, ...figures } = metricSummary(m);
      return [m.mode, { ...figures, ...(m.samples ? { samples: m.samples } : {}) }];
    }),
  );
}

export async function evaluateCheckpoint(dir: string, data: ImageSet, description: string, options: EvaluateOptions): Promise<EvaluationReport> {
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
  const modes: ModeReport[] = [];
  try {
    for (const mode of model.metadata.supportsMc ? (['mean', 'mc'] as const) : (['mean'] as const)) {
      const started = Date.now();
      const probs = new Float32Array(data.count * K);
      for (let start = 0; start < data.count; start += batchSize) {
        const n = Math.min(batchSize, data.count - start);
        const batch = inputs.subarray(start * pixelsPerImage, (start + n) * pixelsPerImage);
        const predictions = await model.predictPixels(batch, n, { mode, samples: options.samples, seed: options.seed });
        predictions.forEach((p, i) => probs.set(p.probs, (start + i) * K));
      }
      const metrics = classificationMetrics(probs, K, data.labels);
      const seconds = (Date.now() - started) / 1000;
      modes.push({ mode, ...(mode === 'mc' ? { samples: options.samples, seed: options.seed } : {}), ...metrics, seconds });
    }
  } finally {
    await model.dispose();
  }
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
