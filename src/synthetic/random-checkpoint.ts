// Writes complete, valid checkpoint folders (format v1) with deterministic seeded random weights:
// the bundled untrained default model, test fixtures, and scale tests (D = 1024, K = 29,593).
// Same options -> byte-identical files. Nothing here is trained; manifests say `untrained: true`.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { GraphBuilder } from '../engine/graph.ts';
import { normalStream } from '../training/common/random.ts';
import { headParamShapes } from '../format/head-params.ts';
import { writeSafetensorsFile, type TensorSpec } from '../format/safetensors.ts';
import {
  BACKBONE_INPUT,
  BACKBONE_OUTPUT,
  FORMAT_VERSION,
  Manifest,
  type Covariance,
  type HeadType,
  type InputSpec,
  type Link,
  type ZeroShotSpec,
} from '../format/manifest.ts';
import { temperatureTau, type TemperatureParameter } from '../format/temperature.ts';
import { buildTextTower } from '../training/common/text-tower.ts';
import { wordLevelTokenizerJson } from '../format/tokenizer.ts';
import { NOISE_SCALE, trainedLookingBias, trainedLookingKernel } from './trained-looking.ts';

const GENERATOR_ID = 'hetxl-serve/src/synthetic/random-checkpoint.ts';

export interface GenerateOptions {
  /** Parent folder; the checkpoint is written to `<modelsDir>/<name>` (created if needed). */
  modelsDir: string;
  name: string;
  seed?: number;
  description?: string;
  head: {
    type: HeadType;
    /** het / het-xl; default 'param-efficient'. */
    covariance?: Covariance;
    D: number;
    K: number;
    /** het / het-xl; default 8; 0 for diagonal-only noise. */
    R?: number;
    /** default softmax (then not written: the manifest reads as before the field). */
    link?: Link;
    /** default 1. */
    tau?: number;
    temperature?: TemperatureParameter;
    /** default 1e-3. */
    minScale?: number;
  };
  /** Defaults: 28 x 28 x 1, NCHW, stretch, scale 1/255, mean 0.5 and std 0.25 per channel. */
  input?: Partial<InputSpec>;
  mc?: { defaultSamples?: number; maxSamples?: number };
  /** K labels; default class_0000 ... */
  labels?: string[];
  /** Merged over { generator, seed }. */
  provenance?: Record<string, unknown>;
  /**
   * 'random' (default): i.i.d. weights, near-flat predictives at large K. 'trained-looking': the
   * loc layer of src/synthetic/trained-looking.ts (clustered classes, log-prior biases), whose
   * predictives over trainedLookingInputs span peaked to flat (a benchmark head, still untrained).
   */
  profile?: WeightProfile;
  /**
   * Makes a zero-shot checkpoint: no labels.txt or loc_layer, a random text tower over this
   * vocabulary (tokenizer.json: WordLevel) with token width `textWidth` (default 8).
   */
  zeroShot?: { vocabulary: string[]; templates?: string[]; imageNormalisation?: ZeroShotSpec['imageNormalisation']; textWidth?: number };
}

export const WEIGHT_PROFILES = ['random', 'trained-looking'] as const;
export type WeightProfile = (typeof WEIGHT_PROFILES)[number];

export interface GeneratedCheckpoint {
  dir: string;
  manifest: Manifest;
  files: string[];
}

// Seeded numbers: each tensor gets its own normal stream from (seed, tensor name), so a tensor's
// values do not depend on which other tensors a head has or in what order they are written.

const CHUNK = 1 << 20;

/** mean + std * N(0, 1), count values, in chunks of at most 1M floats. */
function* gaussianChunks(seed: number, key: string, count: number, mean: number, std: number): Generator<Float32Array> {
  const next = normalStream(seed, key);
  for (let done = 0; done < count; ) {
    const n = Math.min(CHUNK, count - done);
    const chunk = new Float32Array(n);
    for (let i = 0; i < n; i++) chunk[i] = mean + std * next();
    done += n;
    yield chunk;
  }
}

function gaussian(seed: number, key: string, count: number, mean: number, std: number): Float32Array {
  const out = new Float32Array(count);
  let pos = 0;
  for (const c of gaussianChunks(seed, key, count, mean, std)) {
    out.set(c, pos);
    pos += c.length;
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Weight scales. The backbone's tanh keeps phi in (-1, 1) with rms about 0.6 for normalised
// inputs. Logits W^T phi + b get std about 2 (loc kernel N(0, 9/D)): peaked but not one-hot.
// The noise per noise dimension has std about `s`: 0.3 on the pre-logits for HET-XL (about half
// of phi, so about 1 on the logits after W), 1.0 on the logits for HET. The MC predictive then
// differs visibly from mean mode without drowning the signal.

function softplusInverse(y: number): number {
  return Math.log(Math.expm1(y));
}

function weightDistribution(name: string, D: number, R: number, s: number): { mean: number; std: number } {
  switch (name) {
    case 'loc_layer/kernel':
      return { mean: 0, std: 3 / Math.sqrt(D) };
    case 'loc_layer/bias':
      return { mean: 0, std: 0.1 };
    case 'scale_layer_heteroscedastic/kernel':
      return { mean: 0, std: (1.5 * s) / Math.sqrt(D) };
    case 'scale_layer_heteroscedastic/bias':
      return { mean: 0, std: 0.5 * s };
    case 'scale_layer_homoscedastic/kernel':
      return { mean: 0, std: 1 / Math.sqrt(R) };
    case 'scale_layer_homoscedastic/bias':
      return { mean: 0, std: 0.1 };
    case 'scale_layer/kernel':
      return { mean: 0, std: (1.5 * s) / Math.sqrt(D * R) };
    case 'scale_layer/bias':
      return { mean: 0, std: (0.5 * s) / Math.sqrt(R) };
    case 'diag_layer/kernel':
      return { mean: 0, std: 0.5 / Math.sqrt(D) };
    case 'diag_layer/bias':
      // softplus(bias) is about s / 2: the diagonal noise is smaller than the low-rank part.
      return { mean: softplusInverse(0.5 * s), std: 0.1 };
    default:
      throw new Error(`no weight distribution for tensor ${name}`);
  }
}

/** backbone.onnx: image -> Flatten -> MatMul [C*H*W, D] + bias -> Tanh -> prelogits [B, D]. */
export function buildRandomBackbone(input: Pick<InputSpec, 'channels' | 'height' | 'width' | 'layout'>, D: number, seed: number): Uint8Array {
  const { channels: C, height: H, width: W } = input;
  const F = C * H * W;
  const g = new GraphBuilder('random_backbone');
  const image = g.input(BACKBONE_INPUT, input.layout === 'NHWC' ? ['B', H, W, C] : ['B', C, H, W]);
  const flat = g.op('Flatten', [image], { axis: 1 });
  const kernel = g.initializer('backbone_kernel', gaussian(seed, 'backbone/kernel', F * D, 0, 1 / Math.sqrt(F)), [F, D]);
  const bias = g.initializer('backbone_bias', gaussian(seed, 'backbone/bias', D, 0, 0.1), [D]);
  const pre = g.op('Add', [g.op('MatMul', [flat, kernel]), bias]);
  g.output(g.op('Tanh', [pre]), BACKBONE_OUTPUT, ['B', D]);
  return g.toBytes('untrained random backbone: tanh(flatten(image) @ W + b), written by ' + GENERATOR_ID);
}

function syntheticLabels(K: number): string[] {
  const width = Math.max(4, String(K - 1).length);
  return Array.from({ length: K }, (_, k) => `class_${String(k).padStart(width, '0')}`);
}

/** The manifest the options describe, with every default written out. */
function buildManifest(options: GenerateOptions): Manifest {
  const seed = options.seed ?? 0;
  const h = options.head;
  const noisy = h.type !== 'det';
  const channels = options.input?.channels ?? 1;
  const head: Manifest['head'] = {
    type: h.type,
    ...(noisy ? { covariance: h.covariance ?? 'param-efficient' } : {}),
    D: h.D,
    K: h.K,
    ...(noisy ? { R: h.R ?? 8 } : {}),
    ...(h.link ? { link: h.link } : {}),
    tau: h.tau ?? (h.temperature ? temperatureTau(h.temperature) : 1),
    ...(h.temperature ? { temperature: h.temperature } : {}),
    minScale: h.minScale ?? 1e-3,
  };
  const i = options.input ?? {};
  const manifest: Manifest = {
    formatVersion: FORMAT_VERSION,
    name: options.name,
    description:
      options.description ??
      (options.profile === 'trained-looking'
        ? `Untrained ${h.type} benchmark checkpoint with a trained-looking loc layer (clustered classes, log-prior biases; seed ${seed}); its predictions mean nothing.`
        : `Untrained ${h.type} checkpoint with seeded random weights (seed ${seed}); its predictions mean nothing.`),
    task: options.zeroShot ? 'zero-shot' : 'classification',
    untrained: true,
    head,
    input: {
      height: i.height ?? 28,
      width: i.width ?? 28,
      channels,
      layout: i.layout ?? 'NCHW',
      resize: i.resize ?? 'stretch',
      scale: i.scale ?? 1 / 255,
      mean: i.mean ?? Array.from({ length: channels }, () => 0.5),
      std: i.std ?? Array.from({ length: channels }, () => 0.25),
    },
    mc: { defaultSamples: options.mc?.defaultSamples ?? 1000, maxSamples: options.mc?.maxSamples ?? 10000 },
    ...(options.zeroShot
      ? { zeroShot: { templates: options.zeroShot.templates ?? ['{label}'], imageNormalisation: options.zeroShot.imageNormalisation ?? 'after-noise' } }
      : {}),
    provenance: { generator: GENERATOR_ID, seed, ...(options.profile ? { profile: options.profile } : {}), ...(options.provenance ?? {}) },
  };
  if (!Value.Check(Manifest, manifest)) {
    const errors = [...Value.Errors(Manifest, manifest)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new Error(`generateCheckpoint: invalid options: ${errors.join('; ')}`);
  }
  return manifest;
}

/**
 * Writes manifest.json, backbone.onnx, head.safetensors and labels.txt into `<modelsDir>/<name>`;
 * for zero-shot options, text.onnx and tokenizer.json instead of labels.txt.
 */
export async function generateCheckpoint(options: GenerateOptions): Promise<GeneratedCheckpoint> {
  const manifest = buildManifest(options);
  const seed = options.seed ?? 0;
  const { head, input } = manifest;
  const zeroShot = options.zeroShot;
  const labels = options.labels ?? syntheticLabels(head.K);
  if (!zeroShot && labels.length !== head.K) throw new Error(`generateCheckpoint: ${labels.length} labels for K = ${head.K}`);
  if (new Set(labels).size !== labels.length || labels.some((l) => l.trim() === '' || /[\r\n]/.test(l))) {
    throw new Error('generateCheckpoint: labels must be unique, non-empty and single-line');
  }
  if (input.mean.length !== input.channels || input.std.length !== input.channels) {
    throw new Error(`generateCheckpoint: input.mean and input.std need one value per channel (${input.channels})`);
  }

  const dir = resolve(options.modelsDir, manifest.name);
  await mkdir(dir, { recursive: true });

  const R = head.R ?? 1;
  const trainedLooking = options.profile === 'trained-looking';
  const noiseStd = head.type === 'het' ? 1.0 : trainedLooking ? NOISE_SCALE : 0.3;
  const specs: TensorSpec[] = headParamShapes(head)
    .filter((p) => !(zeroShot && p.name.startsWith('loc_layer/')))
    .map((p) => ({ name: p.name, dims: p.dims }));
  await writeSafetensorsFile(join(dir, 'head.safetensors'), specs, (spec) => {
    if (trainedLooking && spec.name === 'loc_layer/kernel') return trainedLookingKernel(seed, head.D, head.K);
    if (trainedLooking && spec.name === 'loc_layer/bias') return [trainedLookingBias(seed, head.K)];
    const { mean, std } = weightDistribution(spec.name, head.D, R, noiseStd);
    return gaussianChunks(seed, spec.name, spec.dims.reduce((a, b) => a * b, 1), mean, std);
  });
  await writeFile(join(dir, 'backbone.onnx'), buildRandomBackbone(input, head.D, seed));
  const files = ['manifest.json', 'backbone.onnx', 'head.safetensors'];
  if (zeroShot) {
    const width = zeroShot.textWidth ?? 8;
    const vocabulary = zeroShot.vocabulary.length + 2; // [PAD], [UNK], then the words
    const tower = buildTextTower({
      tokenEmbeddings: gaussian(seed, 'text/token_embeddings', vocabulary * width, 0, 1),
      projection: gaussian(seed, 'text/projection', width * head.D, 0, 1 / Math.sqrt(width)),
      vocabulary,
      width,
      dim: head.D,
    });
    await writeFile(join(dir, 'text.onnx'), tower);
    await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(wordLevelTokenizerJson(zeroShot.vocabulary)) + '\n');
    files.push('text.onnx', 'tokenizer.json');
  } else {
    await writeFile(join(dir, 'labels.txt'), labels.join('\n') + '\n');
    files.push('labels.txt');
  }
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { dir, manifest, files };
}
