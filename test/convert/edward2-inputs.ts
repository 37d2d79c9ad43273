// The converter's inputs, written by the tests: an .npz of a flattened Flax tree holding an edward2
// head (random weights from test/reference/heads.ts, stored under edward2's names), its
// head-config, a tiny backbone, labels and the preprocessing. Also the head as the tests expect it
// from edward2's semantics (google/edward2 edward2/jax/nn/heteroscedastic_lib.py), written here
// and not taken from the converter: the reference spec that test/reference/ evaluates.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import sharp from 'sharp';
import { GraphBuilder } from '../../src/engine/graph.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import type { Edward2Options } from '../../src/convert/edward2.ts';
import { randomHeadWeights } from '../reference/heads.ts';
import { npzBytes, type NpzEntry } from '../helpers/npz.ts';

/** The backbone flattens a 1 x 2 x 3 grey image: phi = the 6 normalised pixels, D = 6. */
export const HEIGHT = 2;
export const WIDTH = 3;
export const D = HEIGHT * WIDTH;
export const K = 5;
/** The test image's 8-bit pixels, row-major. */
export const PIXELS = [10, 200, 90, 255, 0, 140];
export const INPUT = { height: HEIGHT, width: WIDTH, channels: 1, layout: 'NCHW', resize: 'stretch', scale: 1 / 255, mean: [0.5], std: [0.25] };
/** phi of the test image under INPUT: (p / 255 - 0.5) / 0.25. */
export const PHI = PIXELS.map((p) => (p / 255 - 0.5) / 0.25);
export const LABELS = ['cat', 'dog', 'tree', 'car', 'sky'];

export interface Edward2Case {
  layer: 'MCSigmoidDenseFA' | 'MCSoftmaxDenseFA';
  /** null: HET; D: HET-XL. */
  latentDim: number | null;
  numFactors: number;
  parameterEfficient: boolean;
  /** A learned temperature: pre_sigmoid_temperature t and the bounds (absent: edward2's 0.3, 3.0). */
  tuned?: { t: number; lower?: number; upper?: number };
  /** A fixed temperature (when not tuned); default 1. */
  temperature?: number;
  /** The head's subtree in the tree ('' for a tree holding the head alone). */
  prefix: string;
  /** Store the arrays as float64 instead of float32. */
  float64?: boolean;
  seed: number;
}

/** The head edward2 computes for the case: the spec test/reference/ evaluates, derived here. */
export function expectedSpec(c: Edward2Case): HeadSpec {
  // compute_temperature: (upper - lower) * sigmoid(t) + lower; defaults TEMPERATURE_LOWER_BOUND 0.3, UPPER 3.0.
  const lower = c.tuned?.lower ?? 0.3;
  const upper = c.tuned?.upper ?? 3.0;
  // The tree stores t as float32, so edward2 computes with fround(t).
  const tau = c.tuned ? (upper - lower) * (1 / (1 + Math.exp(-Math.fround(c.tuned.t)))) + lower : (c.temperature ?? 1);
  return {
    type: c.latentDim === null ? 'het' : 'het-xl',
    covariance: c.parameterEfficient ? 'param-efficient' : 'full',
    D,
    K,
    R: c.numFactors,
    link: c.layer === 'MCSigmoidDenseFA' ? 'sigmoid' : 'softmax',
    // _compute_diagonal_noise_samples: one normal per sample, [B, S, 1], times diag_scale.
    diagonalNoise: 'shared',
    tau,
    minScale: 1e-3, // MIN_SCALE_MONTE_CARLO
  };
}

/** The case's head weights under edward2's names (relative to the subtree). */
export function caseWeights(c: Edward2Case): HeadWeights {
  return randomHeadWeights(expectedSpec(c), c.seed);
}

/** The flattened tree: the head under its prefix, its temperature, and a backbone parameter beside it. */
export function caseArrays(c: Edward2Case): Record<string, NpzEntry> {
  const key = (name: string) => (c.prefix === '' ? name : `${c.prefix}/${name}`);
  const arrays: Record<string, NpzEntry> = {};
  for (const [name, { dims, data }] of caseWeights(c)) arrays[key(name)] = { data: c.float64 ? Float64Array.from(data) : data, shape: dims };
  if (c.tuned) arrays[key('pre_sigmoid_temperature')] = { data: Float32Array.from([c.tuned.t]), shape: [1] };
  if (c.prefix.includes('/')) arrays[`${c.prefix.split('/')[0]}/pre_logits/kernel`] = { data: new Float32Array(4), shape: [2, 2] };
  return arrays;
}

/** The head-config under edward2's field names. */
export function caseConfig(c: Edward2Case): Record<string, unknown> {
  return {
    layer: c.layer,
    [c.layer === 'MCSigmoidDenseFA' ? 'num_outputs' : 'num_classes']: K,
    num_factors: c.numFactors,
    parameter_efficient: c.parameterEfficient,
    latent_dim: c.latentDim,
    temperature: c.temperature ?? (c.tuned ? -1 : 1),
    tune_temperature: c.tuned !== undefined,
    ...(c.tuned?.lower !== undefined ? { temperature_lower_bound: c.tuned.lower } : {}),
    ...(c.tuned?.upper !== undefined ? { temperature_upper_bound: c.tuned.upper } : {}),
    test_mc_samples: 500,
  };
}

/** backbone.onnx: image [B, 1, 2, 3] -> Flatten -> prelogits [B, 6]. */
export function flattenBackbone(): Uint8Array {
  const g = new GraphBuilder('flatten_backbone');
  const image = g.input('image', ['B', 1, HEIGHT, WIDTH]);
  g.output(g.op('Flatten', [image], { axis: 1 }), 'prelogits', ['B', D]);
  return g.toBytes('test: the backbone is the flattened image');
}

/** The test image: a grey PNG of PIXELS. */
export function testImage(): Promise<Buffer> {
  return sharp(Buffer.from(PIXELS), { raw: { width: WIDTH, height: HEIGHT, channels: 1 } }).toColourspace('b-w').png().toBuffer();
}

export interface InputEdits {
  arrays?: (arrays: Record<string, NpzEntry>) => void;
  config?: (config: Record<string, unknown>) => void;
  /** Raw bytes for the --params file instead of the npz. */
  params?: Uint8Array;
  labels?: string[];
  input?: Record<string, unknown>;
}

/** Writes the case's input files into `dir`; returns the converter's options less out and name. */
export async function writeEdward2Inputs(dir: string, c: Edward2Case, edits: InputEdits = {}): Promise<Omit<Edward2Options, 'out' | 'name'>> {
  await mkdir(dir, { recursive: true });
  const arrays = caseArrays(c);
  edits.arrays?.(arrays);
  const config = caseConfig(c);
  edits.config?.(config);
  const files = {
    params: join(dir, 'params.npz'),
    headConfig: join(dir, 'head-config.json'),
    backbone: join(dir, 'backbone.onnx'),
    labels: join(dir, 'labels.txt'),
    input: join(dir, 'input.json'),
  };
  await writeFile(files.params, edits.params ?? npzBytes(arrays));
  await writeFile(files.headConfig, JSON.stringify(config, null, 2) + '\n');
  await writeFile(files.backbone, flattenBackbone());
  await writeFile(files.labels, (edits.labels ?? LABELS).join('\n') + '\n');
  await writeFile(files.input, JSON.stringify(edits.input ?? INPUT, null, 2) + '\n');
  return files;
}

/**
 * The example of docs/conversion.md, committed in test/convert/fixtures/example/ (written by
 * make-example.ts there): a HET-XL MCSigmoidDenseFA with a learned temperature, as
 * uncertainty-baselines names it in a whole-model tree.
 */
export const EXAMPLE_CASE: Edward2Case = { layer: 'MCSigmoidDenseFA', latentDim: D, numFactors: 3, parameterEfficient: true, tuned: { t: 0.25 }, prefix: 'params/multilabel_head', seed: 2026 };
