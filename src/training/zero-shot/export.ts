// Trained dual encoder -> zero-shot checkpoint v1 folder (docs/checkpoint-format.md):
//   manifest.json      task "zero-shot", head het-xl (param-efficient, D = E) or det, learned tau
//   backbone.onnx      image [B, 32, 32, 3] NHWC in [0, 1] -> prelogits z [B, E] (unnormalised): the CNN of model.ts
//   text.onnx          input_ids [B, L] int64 (pad 0) -> text_embedding [B, E] (unnormalised)
//   tokenizer.json     WordLevel over the caption vocabulary
//   head.safetensors   the six HET-XL noise tensors (edward2 names, no loc_layer); empty for det
// The folder name is the manifest name. The server's loader validates the folder at the end.
import { basename, resolve } from 'node:path';
import { GraphBuilder } from '../../engine/graph.ts';
import { BACKBONE_INPUT, BACKBONE_OUTPUT, FORMAT_VERSION, type InputSpec, type Manifest } from '../../format/manifest.ts';
import { temperatureTau } from '../../format/temperature.ts';
import { writeCheckpointFolder } from '../common/export.ts';
import { paramValue, TEMPERATURE_PARAM, type ParamValue } from '../common/parameters.ts';
import { portableProvenance } from '../common/provenance.ts';
import { buildTextTower } from '../common/text-tower.ts';
import { headTensorShapes, IMAGE_PARAMS, TEXT_PARAMS, type DualEncoder, type DualEncoderConfig } from './model.ts';
import { allLabels, CHANNELS, IMAGE_SIZE } from './shapes.ts';
import { shapesTokenizerJson } from './trainer.ts';

/** The manifest's input: what the server's preprocessing makes of an upload, and of every training scene (varied-shapes.ts). */
export const ZERO_SHOT_INPUT: InputSpec = {
  height: IMAGE_SIZE,
  width: IMAGE_SIZE,
  channels: CHANNELS,
  layout: 'NHWC',
  resize: 'stretch',
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

/** The manifest of a trained dual encoder; tau from the exported t, so that the two agree exactly. */
function zeroShotManifest(model: DualEncoder, values: Map<string, ParamValue>, name: string, options: ZeroShotExportOptions): Manifest {
  const { head: type, dim: D, factors: R, minScale, temperature } = model.config;
  const temp = { t: paramValue(values, TEMPERATURE_PARAM).data[0], min: temperature.min, max: temperature.max };
  const tau = temperatureTau(temp);
  const K = allLabels().length;
  const head: Manifest['head'] =
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

/** A tfjs kernel [3, 3, C, F] (HWIO) in ONNX Conv's order [F, C, 3, 3] (OIHW). */
function oihw(kernel: ParamValue): Float32Array {
  const [kh, kw, c, f] = kernel.dims;
  const out = new Float32Array(kernel.data.length);
  for (let i = 0; i < kh; i++) for (let j = 0; j < kw; j++) for (let ci = 0; ci < c; ci++) for (let fo = 0; fo < f; fo++) {
    out[((fo * c + ci) * kh + i) * kw + j] = kernel.data[((i * kw + j) * c + ci) * f + fo];
  }
  return out;
}

/**
 * backbone.onnx of the image tower: Transpose to NCHW, then per layer Conv 3x3 (pads 1) -> Relu
 * (-> MaxPool 2x2 but after the last), GlobalAveragePool and GlobalMaxPool concatenated, Gemm.
 */
function imageTowerOnnx(values: Map<string, ParamValue>, config: DualEncoderConfig): Uint8Array {
  const { imageSize: n, imageChannels: C, convWidths, dim } = config;
  const g = new GraphBuilder('cnn_image_tower');
  let h = g.op('Transpose', [g.input(BACKBONE_INPUT, ['B', n, n, C])], { perm: [0, 3, 1, 2] });
  convWidths.forEach((_, l) => {
    const kernel = paramValue(values, IMAGE_PARAMS.convKernel(l));
    const [kh, kw, cin, f] = kernel.dims;
    const weights = g.initializer('kernel', oihw(kernel), [f, cin, kh, kw]);
    h = g.op('Relu', [g.op('Conv', [h, weights, g.initializer('bias', paramValue(values, IMAGE_PARAMS.convBias(l)).data, [f])], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] })]);
    if (l < convWidths.length - 1) h = g.op('MaxPool', [h], { kernel_shape: [2, 2], strides: [2, 2] });
  });
  const mean = g.op('Flatten', [g.op('GlobalAveragePool', [h])], { axis: 1 });
  const max = g.op('Flatten', [g.op('GlobalMaxPool', [h])], { axis: 1 });
  const out = paramValue(values, IMAGE_PARAMS.outKernel);
  const z = g.op('Gemm', [g.op('Concat', [mean, max], { axis: 1 }), g.initializer('kernel', out.data, out.dims), g.initializer('bias', paramValue(values, IMAGE_PARAMS.outBias).data, [dim])]);
  g.output(z, BACKBONE_OUTPUT, ['B', dim]);
  return g.toBytes(
    `zero-shot image tower trained with tfjs: ${convWidths.length} 3x3 convolutions (${convWidths.join(', ')} channels, ReLU, 2x2 max pooling between them), global mean and max pooling, linear to E = ${dim} (unnormalised embedding), written by hetxl-serve/src/training/zero-shot/export.ts`,
  );
}

/** Writes the folder and (unless told not to) validates it with the server's loader. */
export async function exportZeroShot(model: DualEncoder, options: ZeroShotExportOptions): Promise<{ dir: string; manifest: Manifest }> {
  const dir = resolve(options.dir);
  const values = model.snapshot();
  const manifest = zeroShotManifest(model, values, basename(dir), options);
  const table = paramValue(values, TEXT_PARAMS.table);
  const projection = paramValue(values, TEXT_PARAMS.projection);
  const textTower = buildTextTower({ tokenEmbeddings: table.data, projection: projection.data, vocabulary: table.dims[0], width: table.dims[1], dim: projection.dims[1] });
  await writeCheckpointFolder(
    dir,
    {
      manifest,
      values,
      headTensors: headTensorShapes(model.config),
      backbone: imageTowerOnnx(values, model.config),
      files: { 'text.onnx': textTower, 'tokenizer.json': JSON.stringify(shapesTokenizerJson(), null, 2) + '\n' },
    },
    options.validate ?? true,
  );
  return { dir, manifest };
}
