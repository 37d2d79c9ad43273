// Zero-shot evaluation in tfjs: the 28 "colour shape" labels as prompts (templates averaged as
// CLIP does: t_k = normalise(mean_j normalise(g(template_j(label_k))))), mean mode (noise off)
// and the MC predictive, accuracy / NLL / ECE (15 bins) / Brier via src/evaluate/metrics.ts,
// on seen and held-out colour–shape pairs separately.
import { classificationMetrics, metricSummary, type MetricSummary } from '../../evaluate/metrics.ts';
import { stepSeed } from '../common/random.ts';
import { tf } from '../common/tf.ts';
import { fillTemplates } from '../../text/prompts.ts';
import { DualEncoder, l2normalise } from './model.ts';
import { allLabels, COLOUR_NAMES, SHAPE_NAMES } from './shapes.ts';
import { encodeTexts, PIXELS, textEncoder } from './trainer.ts';

/** Default prompt templates: only words the captions use, varying the attributes a label omits. */
export const DEFAULT_TEMPLATES = [
  'a {label}',
  'a small {label}',
  'a large {label}',
  'a {label} on a black background',
  'a {label} on a grey background',
  'a {label} on a white background',
];

/** Scenes as the backbone sees them: preprocessed pixels [N, 32, 32, 3] and each scene's colour and shape. */
export interface LabelledPixels {
  images: Float32Array;
  scenes: readonly { colour: string; shape: string }[];
}

/** Index of a scene's "colour shape" in allLabels() (colour-major). */
export function labelIndex(scene: { colour: string; shape: string }): number {
  return COLOUR_NAMES.indexOf(scene.colour as never) * SHAPE_NAMES.length + SHAPE_NAMES.indexOf(scene.shape as never);
}

/** Unit label embeddings [K, E]: per label, the renormalised mean of its normalised template embeddings. */
export function labelEmbeddings(model: DualEncoder, labels: string[], templates: string[]): tf.Tensor2D {
  const enc = textEncoder();
  const prompts = labels.flatMap((l) => fillTemplates(l, templates));
  return tf.tidy(() => {
    const e = l2normalise(model.textEmbedding(tf.tensor2d(encodeTexts(prompts, enc), [prompts.length, enc.vocabulary])));
    const mean = tf.mean(tf.reshape(e, [labels.length, templates.length, model.config.dim]), 1) as tf.Tensor2D;
    return l2normalise(mean);
  });
}

/** Image embeddings z [N, E] in chunks. */
export function imageEmbeddings(model: DualEncoder, images: Float32Array, chunk = 500): tf.Tensor2D {
  const n = images.length / PIXELS;
  const parts: tf.Tensor2D[] = [];
  for (let i = 0; i < n; i += chunk) {
    const m = Math.min(chunk, n - i);
    parts.push(tf.tidy(() => model.imageEmbedding(tf.tensor2d(images.subarray(i * PIXELS, (i + m) * PIXELS), [m, PIXELS]))));
  }
  const z = tf.concat(parts, 0);
  parts.forEach((p) => p.dispose());
  return z;
}

/**
 * Predictive probabilities [N, K] from image embeddings z [N, E] and unit label embeddings.
 * samples 0: mean mode softmax(<z/|z|, t_k>/tau); else the MC average over `samples` draws
 * (chunks of 25 samples, noise seeded by (seed, chunk)).
 */
export function zeroShotProbs(model: DualEncoder, z: tf.Tensor2D, texts: tf.Tensor2D, samples: number, seed: number): Float32Array {
  const [N, E] = z.shape;
  const K = texts.shape[0];
  if (samples === 0 || model.config.head === 'det') {
    return tf.tidy(() => tf.softmax(tf.div(tf.matMul(l2normalise(z), texts, false, true), model.tau())).dataSync() as Float32Array);
  }
  const acc = new Float32Array(N * K);
  const CHUNK = 25;
  for (let s0 = 0, c = 0; s0 < samples; s0 += CHUNK, c++) {
    const S = Math.min(CHUNK, samples - s0);
    const seeds = { factor: stepSeed(seed, c, 'zero-shot/eval/eps_R'), diagonal: stepSeed(seed, c, 'zero-shot/eval/eps_D') };
    const sum = tf.tidy(() => {
      const u = l2normalise(tf.reshape(model.noisyEmbeddings(z, S, seeds), [S * N, E]));
      const p = tf.softmax(tf.div(tf.matMul(u, texts, false, true), model.tau()));
      return tf.sum(tf.reshape(p, [S, N, K]), 0).dataSync() as Float32Array;
    });
    for (let i = 0; i < acc.length; i++) acc[i] += sum[i];
  }
  for (let i = 0; i < acc.length; i++) acc[i] /= samples;
  return acc;
}

/** Mean over images of sqrt(mean_s |z_s - z|^2) / |z| with 25 noise draws. */
function noiseToSignal(model: DualEncoder, z: tf.Tensor2D, seed: number): number {
  return tf.tidy(() => {
    const S = 25;
    const seeds = { factor: stepSeed(seed, 0, 'zero-shot/eval/ratio/eps_R'), diagonal: stepSeed(seed, 0, 'zero-shot/eval/ratio/eps_D') };
    const noise = tf.sub(model.noisyEmbeddings(z, S, seeds), z); // [S, N, E]
    const rms = tf.sqrt(tf.mean(tf.sum(tf.square(noise), 2), 0)); // [N]
    return tf.mean(tf.div(rms, tf.norm(z, 'euclidean', 1))).dataSync()[0];
  });
}

export interface SplitEvaluation {
  count: number;
  mean: MetricSummary;
  /** Absent for DET. */
  mc?: MetricSummary;
  /** Mean mode with the single template "a {label}" (no prompt ensembling). */
  meanSingleTemplate: MetricSummary;
  /** het-xl: mean over images of sqrt(mean_s |z_s - z|^2) / |z| (25 draws): the noise relative to the embedding. */
  noiseToSignal?: number;
}

export interface EvaluationOptions {
  templates: string[];
  samples: number;
  seed: number;
}

export function evaluateSplit(model: DualEncoder, data: LabelledPixels, options: EvaluationOptions): SplitEvaluation {
  const labels = allLabels();
  const truth = data.scenes.map(labelIndex);
  const K = labels.length;
  const z = imageEmbeddings(model, data.images);
  const texts = labelEmbeddings(model, labels, options.templates);
  const single = labelEmbeddings(model, labels, ['a {label}']);
  try {
    const result: SplitEvaluation = {
      count: truth.length,
      mean: metricSummary(classificationMetrics(zeroShotProbs(model, z, texts, 0, 0), K, truth)),
      meanSingleTemplate: metricSummary(classificationMetrics(zeroShotProbs(model, z, single, 0, 0), K, truth)),
    };
    if (model.config.head !== 'det') {
      result.mc = metricSummary(classificationMetrics(zeroShotProbs(model, z, texts, options.samples, options.seed), K, truth));
      result.noiseToSignal = noiseToSignal(model, z, options.seed);
    }
    return result;
  } finally {
    z.dispose();
    texts.dispose();
    single.dispose();
  }
}
