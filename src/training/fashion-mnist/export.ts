// Trained network -> checkpoint v1 folder (docs/checkpoint-format.md): backbone.onnx built with
// the project's GraphBuilder, head.safetensors with edward2 names, labels.txt, manifest.json.
// The ONNX backbone computes exactly Network.prelogits, so the server sees the training model.
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { headParamShapes } from '../../format/head-params.ts';
import { GraphBuilder } from '../../engine/graph.ts';
import { loadCheckpoint } from '../../format/checkpoint.ts';
import { BACKBONE_INPUT, BACKBONE_OUTPUT, FORMAT_VERSION, Manifest, type InputSpec } from '../../format/manifest.ts';
import { writeSafetensors } from '../../format/safetensors.ts';
import { BACKBONE_PARAMS, TEMPERATURE_PARAM, type Network, type ParamValue } from './network.ts';

export interface ExportOptions {
  modelsDir: string;
  name: string;
  description: string;
  input: InputSpec;
  labels: string[];
  mc?: { defaultSamples: number; maxSamples: number };
  provenance: Record<string, unknown>;
}

function param(values: Map<string, ParamValue>, name: string): ParamValue {
  const v = values.get(name);
  if (!v) throw new Error(`export: no parameter ${name}`);
  return v;
}

/** One dense layer of an MLP backbone: y = act(x kernel + bias), kernel [in, out]. */
export interface DenseLayer {
  kernel: ParamValue;
  bias: ParamValue;
  activation?: 'Relu' | 'Tanh';
}

/**
 * An MLP as backbone.onnx: image (NCHW or NHWC as `input.layout`, dynamic batch) -> Flatten ->
 * (Gemm -> activation) per layer -> prelogits [B, D]. Flatten keeps the layout's memory order,
 * so the first kernel's rows follow it (HWC order for NHWC).
 */
export function buildMlpOnnx(layers: DenseLayer[], input: InputSpec, D: number, docString: string): Uint8Array {
  const { channels: C, height: H, width: W } = input;
  const g = new GraphBuilder('mlp_backbone');
  const image = g.input(BACKBONE_INPUT, input.layout === 'NHWC' ? ['B', H, W, C] : ['B', C, H, W]);
  let x = g.op('Flatten', [image], { axis: 1 });
  for (const { kernel: k, bias: b, activation } of layers) {
    x = g.op('Gemm', [x, g.initializer('kernel', k.data, k.dims), g.initializer('bias', b.data, b.dims)]);
    if (activation) x = g.op(activation, [x]);
  }
  g.output(x, BACKBONE_OUTPUT, ['B', D]);
  return g.toBytes(docString);
}

/** backbone.onnx: image -> Flatten -> Gemm -> Relu -> Gemm -> Tanh -> prelogits [B, D]. */
export function buildBackboneOnnx(values: Map<string, ParamValue>, input: InputSpec, D: number): Uint8Array {
  return buildMlpOnnx(
    [
      { kernel: param(values, BACKBONE_PARAMS.hiddenKernel), bias: param(values, BACKBONE_PARAMS.hiddenBias), activation: 'Relu' },
      { kernel: param(values, BACKBONE_PARAMS.outKernel), bias: param(values, BACKBONE_PARAMS.outBias), activation: 'Tanh' },
    ],
    input,
    D,
    'MLP backbone trained with tfjs: tanh(relu(flatten(image) W1 + b1) W2 + b2), written by hetxl-serve/src/training/fashion-mnist/export.ts',
  );
}

/** The manifest of a trained network (tau and, when learned, its t and bounds). */
export function trainedManifest(network: Network, values: Map<string, ParamValue>, options: ExportOptions): Manifest {
  const t = network.config.temperature;
  const tau = network.tauValue();
  const head = network.headSpec(tau);
  if (t.kind === 'learned') head.temperature = { t: param(values, TEMPERATURE_PARAM).data[0], min: t.min, max: t.max };
  const manifest: Manifest = {
    formatVersion: FORMAT_VERSION,
    name: options.name,
    description: options.description,
    task: 'classification',
    head,
    input: options.input,
    mc: options.mc ?? { defaultSamples: 1000, maxSamples: 10000 },
    provenance: options.provenance,
  };
  if (!Value.Check(Manifest, manifest)) {
    const errors = [...Value.Errors(Manifest, manifest)].slice(0, 5).map((e) => `${e.path || '/'}: ${e.message}`);
    throw new Error(`export: invalid manifest: ${errors.join('; ')}`);
  }
  return manifest;
}

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

/** Writes `<modelsDir>/<name>/` and validates it with the server's loader; returns the folder. */
export async function exportCheckpoint(network: Network, options: ExportOptions): Promise<{ dir: string; manifest: Manifest }> {
  if (options.labels.length !== network.config.K) throw new Error(`export: ${options.labels.length} labels for K = ${network.config.K}`);
  const values = network.snapshot();
  const manifest = trainedManifest(network, values, options);
  const dir = resolve(options.modelsDir, options.name);
  await mkdir(dir, { recursive: true });
  const head = headParamShapes(manifest.head).map((p): [string, ParamValue] => [p.name, param(values, p.name)]);
  await writeFile(join(dir, 'head.safetensors'), writeSafetensors(head));
  await writeFile(join(dir, 'backbone.onnx'), buildBackboneOnnx(values, options.input, network.config.D));
  await writeFile(join(dir, 'labels.txt'), options.labels.join('\n') + '\n');
  await writeManifest(dir, manifest);
  await loadCheckpoint(dir); // the server's validation is the acceptance test
  return { dir, manifest };
}
