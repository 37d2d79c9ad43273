// Contrastive training of the zero-shot dual encoder on captioned shape scenes (tfjs, wasm backend).
// Deterministic for a seed: weights from seeded per-tensor streams, batch order from
// src/training/common/random.ts, the MC noise from tf.randomNormal with a seed per step.
import type { Progress } from '../common/progress.ts';
import { permutation, stepSeed, uniformStream } from '../common/random.ts';
import { tf } from '../common/tf.ts';
import { PromptTokenizer, wordLevelTokenizerJson } from '../../format/tokenizer.ts';
import { bagOfWords, DualEncoder, type DualEncoderConfig } from './model.ts';
import { captionVocabulary, CHANNELS, generateShapes, IMAGE_SIZE, type ShapesDataset, type Split } from './shapes.ts';

export const PIXELS = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;

/** Pixels as a PNG stores them: round(x * 255) / 255, which is what the server feeds the backbone. */
export function quantise(images: Float32Array): Float32Array {
  return images.map((x) => Math.round(x * 255) / 255);
}

/** The shapes scenes of a split with 8-bit pixels. */
export function shapesData(count: number, seed: number, split: Split): ShapesDataset {
  const data = generateShapes(count, seed, split);
  return { ...data, images: quantise(data.images) };
}

/** The tokenizer every zero-shot checkpoint of this trainer ships (tokenizer.json). */
export function shapesTokenizerJson(): Record<string, unknown> {
  return wordLevelTokenizerJson(captionVocabulary());
}

export function vocabularySize(json: Record<string, unknown>): number {
  return Object.keys((json.model as { vocab: Record<string, number> }).vocab).length;
}

export interface TrainOptions {
  steps: number;
  batchSize: number;
  learningRate: number;
  /** MC samples per image in the loss (het-xl). */
  samples: number;
  seed: number;
}

export interface TrainSummary {
  steps: number;
  seconds: number;
  /** Mean loss over each block of `logEvery` steps, with the tau at its end. */
  curve: { step: number; loss: number; tau: number }[];
}

export interface CaptionEncoder {
  tokenizer: PromptTokenizer;
  vocabulary: number;
}

export function textEncoder(): CaptionEncoder {
  const json = shapesTokenizerJson();
  return { tokenizer: new PromptTokenizer(json), vocabulary: vocabularySize(json) };
}

/** Bag-of-words rows of some texts. */
export function encodeTexts(texts: string[], enc: CaptionEncoder): Float32Array {
  return bagOfWords(texts.map((t) => enc.tokenizer.encode(t).ids), enc.vocabulary);
}

export function defaultConfig(head: DualEncoderConfig['head'], vocabulary: number): DualEncoderConfig {
  return {
    head,
    imageSize: IMAGE_SIZE,
    imageChannels: CHANNELS,
    convWidths: [8, 16, 32, 32],
    dim: 32,
    vocabulary,
    tokenWidth: 32,
    factors: 4,
    minScale: 1e-3,
    temperature: { min: 0.01, max: 1, init: 0.1 },
    diagBiasInit: 0,
  };
}

/** Training pairs: images [count, 32 * 32 * 3] NHWC in [0, 1] and one caption each. */
export interface CaptionedImages {
  images: Float32Array;
  captions: string[];
}

export async function trainDualEncoder(
  model: DualEncoder,
  data: CaptionedImages,
  options: TrainOptions,
  progress?: (total: number) => Progress,
  logEvery = 100,
): Promise<TrainSummary> {
  const { steps, batchSize: B, samples, seed } = options;
  const count = data.captions.length;
  if (count < B) throw new Error(`training set of ${count} scenes is smaller than a batch of ${B}`);
  const enc = textEncoder();
  if (enc.vocabulary !== model.config.vocabulary) throw new Error('tokenizer and model vocabularies differ');
  const bowAll = encodeTexts(data.captions, enc);
  const V = enc.vocabulary;
  const optimizer = tf.train.adam(options.learningRate);
  const vars = model.variables;
  const batchesPerEpoch = Math.floor(count / B);
  const bar = progress?.(steps);
  const started = Date.now();
  const curve: TrainSummary['curve'] = [];
  let order: Uint32Array = new Uint32Array(0);
  let blockSum = 0;
  let blockN = 0;
  const x = new Float32Array(B * PIXELS);
  const bow = new Float32Array(B * V);
  try {
    for (let step = 0; step < steps; step++) {
      const epoch = Math.floor(step / batchesPerEpoch);
      if (step % batchesPerEpoch === 0) order = permutation(count, uniformStream(seed, `zero-shot/shuffle/${epoch}`));
      const start = (step % batchesPerEpoch) * B;
      for (let i = 0; i < B; i++) {
        const row = order[start + i];
        x.set(data.images.subarray(row * PIXELS, (row + 1) * PIXELS), i * PIXELS);
        bow.set(bowAll.subarray(row * V, (row + 1) * V), i * V);
      }
      const seeds = { factor: stepSeed(seed, step, 'zero-shot/eps_R'), diagonal: stepSeed(seed, step, 'zero-shot/eps_D') };
      const loss = tf.tidy(() => {
        const xs = tf.tensor2d(x, [B, PIXELS]);
        const bs = tf.tensor2d(bow, [B, V]);
        const { value, grads } = tf.variableGrads(() => model.loss(xs, bs, samples, seeds), vars);
        optimizer.applyGradients(vars.map((v) => ({ name: v.name, tensor: grads[v.name] })));
        return value;
      });
      const value = (await loss.data())[0];
      loss.dispose();
      if (!Number.isFinite(value)) throw new Error(`training diverged at step ${step} (loss ${value})`);
      blockSum += value;
      blockN++;
      if ((step + 1) % logEvery === 0 || step + 1 === steps) {
        curve.push({ step: step + 1, loss: blockSum / blockN, tau: model.tauValue() });
        blockSum = 0;
        blockN = 0;
      }
      bar?.update(step + 1, `epoch ${epoch + 1} loss ${value.toFixed(4)} tau ${model.tauValue().toFixed(4)}`);
    }
  } finally {
    bar?.stop();
    optimizer.dispose();
  }
  return { steps, seconds: (Date.now() - started) / 1000, curve };
}
