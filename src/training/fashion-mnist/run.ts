// One training run end to end: label noise -> network -> training -> checkpoint v1 export ->
// evaluation through the served path -> metrics and provenance written into the manifest.
// Data comes in already loaded, so tests can pass generated sets.
import { tf } from '../common/tf.ts';
import { applyLabelNoise, type LabelNoiseSpec } from './label-noise.ts';
import { Network, type NetworkConfig } from './network.ts';
import { exportCheckpoint } from './export.ts';
import { writeManifest } from '../common/export.ts';
import { createProgress } from '../common/progress.ts';
import { portableProvenance } from '../common/provenance.ts';
import { trainNetwork, type TrainOptions, type TrainSummary } from './trainer.ts';
import { evaluateCheckpoint, reportSummary, writeEvaluation, type EvaluateOptions, type EvaluationReport, type ImageSet } from '../../evaluate/evaluate.ts';
import type { InputSpec, Manifest } from '../../format/manifest.ts';
import { normalisePixels } from '../../image/normalise.ts';

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
  /** Evaluated after export when given. */
  evaluation?: EvaluateOptions & { data: ImageSet; description: string };
  /** Progress lines/bar on stderr (default true). */
  progress?: boolean;
}

export interface RunResult {
  dir: string;
  manifest: Manifest;
  network: Network;
  summary: TrainSummary;
  report?: EvaluationReport;
}

/** Trains and exports; the caller disposes `network` (tests compare it with the export). */
export async function runTraining(train: ImageSet, options: RunOptions): Promise<RunResult> {
  const K = options.labels.length;
  const noise = options.labelNoise && options.labelNoise.rate > 0 ? { ...options.labelNoise, seed: options.training.seed } : undefined;
  const noisy = noise ? applyLabelNoise(train.labels, noise) : { labels: train.labels, flipped: 0 };
  const features = train.rows * train.cols;
  const network = new Network({ ...options.network, inputSize: features, K }, options.training.seed);
  const data = { inputs: normalisePixels(train.pixels, options.input), labels: noisy.labels, count: train.count, features };
  const summary_ = await trainNetwork(
    network,
    data,
    options.training,
    options.progress === false ? undefined : (total) => createProgress(options.name, total),
  );
  const provenance: Record<string, unknown> = portableProvenance({
    ...options.provenance,
    seed: options.training.seed,
    labelNoise: noise
      ? { rate: noise.rate, groups: noise.groups, seed: noise.seed, flipped: noisy.flipped, flippedShare: noisy.flipped / train.count, appliedTo: 'training labels only' }
      : { rate: 0, note: 'clean training labels' },
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
    },
  });
  const exported = await exportCheckpoint(network, { ...options, provenance });
  let report: EvaluationReport | undefined;
  if (options.evaluation) {
    report = await evaluateCheckpoint(exported.dir, options.evaluation.data, options.evaluation.description, options.evaluation);
    await writeEvaluation(report, exported.dir);
    exported.manifest.provenance = portableProvenance({ ...provenance, evaluation: { data: report.data, ...reportSummary(report) } });
    await writeManifest(exported.dir, exported.manifest);
  }
  return { dir: exported.dir, manifest: exported.manifest, network, summary: summary_, report };
}
