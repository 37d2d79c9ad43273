// Trained dual encoder -> zero-shot checkpoint v1 folder (docs/checkpoint-format.md):
//   manifest.json      task "zero-shot", head het-xl (param-efficient, D = E) or det, learned tau
//   backbone.onnx      image [B, 32, 32, 3] NHWC in [0, 1] -> prelogits z [B, E] (unnormalised)
//   text.onnx          input_ids [B, L] int64 (pad 0) -> text_embedding [B, E] (unnormalised)
//   tokenizer.json     WordLevel over the caption vocabulary
//   head.safetensors   the six HET-XL noise tensors (edward2 names, no loc_layer); empty for det
// The folder name is the manifest name. The server's loader validates the folder at the end.
import { mkdir, writeFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { loadCheckpoint } from '../../format/checkpoint.ts';
import { FORMAT_VERSION } from '../../format/manifest.ts';
import { writeSafetensors } from '../../format/safetensors.ts';
import { buildMlpOnnx } from '../fashion-mnist/export.ts';
import { portableProvenance } from '../common/provenance.ts';
import type { ParamValue } from '../fashion-mnist/network.ts';
import { buildTextTower } from '../common/text-tower.ts';
import { headTensorShapes, IMAGE_PARAMS, TEMPERATURE_PARAM, TEXT_PARAMS, type DualEncoder } from './model.ts';
import { allLabels, CHANNELS, IMAGE_SIZE } from './shapes.ts';
import { shapesTokenizerJson } from './trainer.ts';

export const ZERO_SHOT_INPUT = {
  height: IMAGE_SIZE,
  width: IMAGE_SIZE,
  channels: CHANNELS as 3,
  layout: 'NHWC' as const,
  resize: 'stretch' as const,
  scale: 1 / 255,
  mean: [0, 0, 0],
  std: [1, 1, 1],
};

export interface ZeroShotExportOptions {
  /** The checkpoint folder; its base name is the model's name. */
  dir: string;
  description: string;
  templates: string[];
  mc?: { defaultSamples: number; maxSamples: number };
  provenance: Record<string, unknown>;
  /** Validate with the server's loader (default true). */
  validate?: boolean;
}

function param(values: Map<string, ParamValue>, name: string): ParamValue {
  const v = values.get(name);
  if (!v) throw new Error(`export: no parameter ${name}`);
  return v;
}

/** The manifest object of a trained dual encoder (written as JSON; the schema is the lead's ZeroShot manifest). */
export function zeroShotManifest(model: DualEncoder, values: Map<string, ParamValue>, name: string, options: ZeroShotExportOptions): Record<string, unknown> {
  const { head: type, dim: D, factors: R, minScale, temperature } = model.config;
  const t = param(values, TEMPERATURE_PARAM).data[0];
  const tau = temperature.min + (temperature.max - temperature.min) / (1 + Math.exp(-t));
  const temp = { t, min: temperature.min, max: temperature.max };
  const K = allLabels().length;
  const head =
    type === 'det'
      ? { type, D, K, tau, temperature: temp, minScale }
      : { type, covariance: 'param-efficient', D, K, R, tau, temperature: temp, minScale };
  return {
    formatVersion: FORMAT_VERSION,
    name,
    description: options.description,
    task: 'zero-shot',
    head,
    input: ZERO_SHOT_INPUT,
    mc: options.mc ?? { defaultSamples: 100, maxSamples: 10000 },
    zeroShot: { templates: options.templates, imageNormalisation: 'after-noise' },
    // Without the build host's paths (the command's --out folder, for one).
    provenance: portableProvenance(options.provenance),
  };
}

/** backbone.onnx of the image tower: Flatten -> Gemm -> Relu -> Gemm. */
export function imageTowerOnnx(values: Map<string, ParamValue>, D: number): Uint8Array {
  return buildMlpOnnx(
    [
      { kernel: param(values, IMAGE_PARAMS.hiddenKernel), bias: param(values, IMAGE_PARAMS.hiddenBias), activation: 'Relu' },
      { kernel: param(values, IMAGE_PARAMS.outKernel), bias: param(values, IMAGE_PARAMS.outBias) },
    ],
    ZERO_SHOT_INPUT,
    D,
    'zero-shot image tower trained with tfjs: relu(flatten(image) W1 + b1) W2 + b2 (unnormalised embedding), written by hetxl-serve/src/training/zero-shot/export.ts',
  );
}

/** Writes the folder and (unless told not to) validates it with the server's loader. */
export async function exportZeroShot(model: DualEncoder, options: ZeroShotExportOptions): Promise<{ dir: string; manifest: Record<string, unknown> }> {
  const dir = resolve(options.dir);
  const name = basename(dir);
  const values = model.snapshot();
  const manifest = zeroShotManifest(model, values, name, options);
  await mkdir(dir, { recursive: true });
  const head = headTensorShapes(model.config).map((p): [string, ParamValue] => [p.name, param(values, p.name)]);
  await writeFile(join(dir, 'head.safetensors'), writeSafetensors(head));
  await writeFile(join(dir, 'backbone.onnx'), imageTowerOnnx(values, model.config.dim));
  const table = param(values, TEXT_PARAMS.table);
  const projection = param(values, TEXT_PARAMS.projection);
  await writeFile(
    join(dir, 'text.onnx'),
    buildTextTower({ tokenEmbeddings: table.data, projection: projection.data, vocabulary: table.dims[0], width: table.dims[1], dim: projection.dims[1] }),
  );
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify(shapesTokenizerJson(), null, 2) + '\n');
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  if (options.validate ?? true) await loadCheckpoint(dir);
  return { dir, manifest };
}
