// One training run end to end: label noise -> network -> training (with the test NLL after each
// epoch when there is test data) -> checkpoint v1 export ->
// evaluation through the served path (and, with label noise, flipped-label detection on the
// training set) -> metrics and provenance written into the manifest.
// Data comes in already loaded, so tests can pass generated sets.
import { tf } from '../common/tf.ts';
import { applyLabelNoise, type LabelNoiseSpec, type NoisyLabels } from './label-noise.ts';
import { Network, type NetworkConfig } from './network.ts';
import { exportCheckpoint } from './export.ts';
import { writeManifest } from '../common/export.ts';
import { createProgress } from '../common/progress.ts';
import { portableProvenance } from '../common/provenance.ts';
import { trainNetwork, type TrainOptions, type TrainSummary } from './trainer.ts';
import { evaluateCheckpoint, evaluateFlippedLabels, reportSummary, writeEvaluation, type EvaluateOptions, type EvaluationReport, type ImageSet } from '../../evaluate/evaluate.ts';
import type { InputSpec, Manifest } from '../../format/manifest.ts';
import { normalisePixels } from '../../image/normalise.ts';

/**
 * Training images served for flipped-label detection by default: all 60,000 cost about as much as
 * the training itself here (mean + MC at S = 1000: ~150 s on the shared 2 cores), and 10,000 (with
 * ~1,400 flipped at rate 0.4) give an AUROC to about 0.01 (one standard error).
 */
export const FLIPPED_LABEL_IMAGES = 10000;

/**
 * MC samples per test image for the per-epoch MC NLL of noisy heads: the curve's job is its shape
 * across epochs (same noise each epoch), not the S = 1000 figure evaluation.json gives at the end.
 */
export const CURVE_SAMPLES = 32;

export interface RunOptions {
  network: Omit<NetworkConfig, 'inputSize' | 'K'>;
  training: TrainOptions;
  /** Applied to the training labels only; rate 0 or absent: clean labels. */
  labelNoise?: Omit<LabelNoiseSpec, 'seed'>;
  input: InputSpec;
  labels: string[];
  modelsDir: string;
  name: string;
  description: string;
  /** Merged into the manifest's provenance (command, dataset, ...); paths are kept as their last component (provenance.ts). */
  provenance: Record<string, unknown>;
  /**
   * Evaluated after export when given; with label noise, also flipped-label detection on the first
   * `flippedLabelImages` training images (default FLIPPED_LABEL_IMAGES; 0: none).
   */
  evaluation?: EvaluateOptions & { data: ImageSet; description: string; flippedLabelImages?: number; curveSamples?: number; curveImages?: number };
  /** Progress lines/bar on stderr (default true). */
  progress?: boolean;
}

export interface RunResult {
  dir: string;
  manifest: Manifest;
  network: Network;
  summary: TrainSummary;
  /** The noisy labels and their flip mask; absent for clean labels. */
  noisy?: NoisyLabels;
  report?: EvaluationReport;
}

/** Trains and exports; the caller disposes `network` (tests compare it with the export). */
export async function runTraining(train: ImageSet, options: RunOptions): Promise<RunResult> {
  const K = options.labels.length;
  const noise = options.labelNoise && options.labelNoise.rate > 0 ? { ...options.labelNoise, seed: options.training.seed } : undefined;
  const noisy = noise ? applyLabelNoise(train.labels, noise, train.pixels) : undefined;
  const features = train.rows * train.cols;
  const network = new Network({ ...options.network, inputSize: features, K }, options.training.seed);
  const data = { inputs: normalisePixels(train.pixels, options.input), labels: noisy?.labels ?? train.labels, count: train.count, features };
  const test = options.evaluation?.data;
  // The first curveImages test images (default all): the per-epoch pass over them is the curve's cost.
  const curveCount = test ? Math.min(test.count, options.evaluation?.curveImages ?? test.count) : 0;
  const heldOut = test && {
    data: {
      inputs: normalisePixels(test.pixels.subarray(0, curveCount * test.rows * test.cols), options.input),
      labels: test.labels.subarray(0, curveCount),
      count: curveCount,
      features: test.rows * test.cols,
    },
    samples: options.evaluation?.curveSamples ?? CURVE_SAMPLES,
    seed: options.evaluation?.seed ?? 0,
  };
  const summary_ = await trainNetwork(
    network,
    data,
    options.training,
    options.progress === false ? undefined : (total) => createProgress(options.name, total),
    heldOut,
  );
  const provenance: Record<string, unknown> = portableProvenance({
    ...options.provenance,
    seed: options.training.seed,
    labelNoise: noise && noisy ? labelNoiseProvenance(noise, noisy, train.labels) : { rate: 0, note: 'clean training labels' },
    training: {
      framework: `@tensorflow/tfjs ${tf.version.tfjs} (${tf.getBackend()} backend)`,
      backbone: `MLP ${features} -> ${options.network.hidden} ReLU -> ${options.network.D} tanh`,
      optimizer: 'adam',
      ...options.training,
      temperature: options.network.temperature,
      trainExamples: train.count,
      steps: summary_.steps,
      seconds: Math.round(summary_.seconds),
      epochLoss: summary_.epochLoss,
      epochTau: summary_.epochTau,
      ...(summary_.epochHeldOutNll ? { epochTestNll: { data: `${curveCount === test?.count ? '' : `the first ${curveCount} images of `}${options.evaluation?.description}, tfjs graph after each epoch`, count: curveCount, ...summary_.epochHeldOutNll } } : {}),
    },
  });
  const exported = await exportCheckpoint(network, { ...options, provenance });
  let report: EvaluationReport | undefined;
  if (options.evaluation) {
    report = await evaluateCheckpoint(exported.dir, options.evaluation.data, options.evaluation.description, options.evaluation);
    const flipCount = Math.min(train.count, options.evaluation.flippedLabelImages ?? FLIPPED_LABEL_IMAGES);
    if (noisy && flipCount > 0) {
      const images = { ...train, count: flipCount, pixels: train.pixels.subarray(0, flipCount * features), labels: noisy.labels.subarray(0, flipCount) };
      const description = `the first ${flipCount} training images with the noisy labels they were trained on`;
      report.flippedLabels = await evaluateFlippedLabels(exported.dir, images, noisy.mask.subarray(0, flipCount), description, options.evaluation);
    }
    await writeEvaluation(report, exported.dir);
    exported.manifest.provenance = portableProvenance({ ...provenance, evaluation: { data: report.data, ...reportSummary(report) } });
    await writeManifest(exported.dir, exported.manifest);
  }
  return { dir: exported.dir, manifest: exported.manifest, network, summary: summary_, noisy, report };
}

/**
 * What the manifest records of the noise. The 'class' kind keeps the fields it always had (no
 * `kind`: a manifest without one is class-conditional), so earlier runs' provenance is unchanged.
 */
function labelNoiseProvenance(noise: LabelNoiseSpec, noisy: NoisyLabels, clean: Uint8Array): Record<string, unknown> {
  const common = { rate: noise.rate, groups: noise.groups, seed: noise.seed, flipped: noisy.flipped, flippedShare: noisy.flipped / clean.length, appliedTo: 'training labels only' };
  if (!noisy.projection || !noisy.flipProbability) return common;
  const inGroups = new Set(noise.groups.flat());
  let sum = 0;
  let n = 0;
  noisy.flipProbability.forEach((p, i) => {
    if (inGroups.has(clean[i])) {
      sum += p;
      n++;
    }
  });
  return {
    kind: 'input',
    ...common,
    flipProbability: 'rate * sigmoid(slope * (projection - center[clean class]) / scale[clean class])',
    projection: noisy.projection,
    meanFlipProbabilityInGroups: n > 0 ? sum / n : 0,
  };
}
