// Trained network -> checkpoint v1 folder (docs/checkpoint-format.md): backbone.onnx, head.safetensors
// with edward2 names, labels.txt, manifest.json, written by src/training/common/export.ts.
// The ONNX backbone computes exactly Network.prelogits, so the server sees the training model.
import { resolve } from 'node:path';
import { Value } from '@sinclair/typebox/value';
import { headParamShapes } from '../../format/head-params.ts';
import { FORMAT_VERSION, Manifest, type InputSpec } from '../../format/manifest.ts';
import { buildMlpOnnx, writeCheckpointFolder } from '../common/export.ts';
import { paramValue, TEMPERATURE_PARAM, type ParamValue } from '../common/parameters.ts';
import { BACKBONE_PARAMS, type Network } from './network.ts';

export interface ExportOptions {
  modelsDir: string;
  name: string;
  description: string;
  input: InputSpec;
  labels: string[];
  mc?: { defaultSamples: number; maxSamples: number };
  provenance: Record<string, unknown>;
}

/** backbone.onnx: image -> Flatten -> Gemm -> Relu -> Gemm -> Tanh -> prelogits [B, D]. */
function backboneOnnx(values: Map<string, ParamValue>, input: InputSpec, D: number): Uint8Array {
  return buildMlpOnnx(
    [
      { kernel: paramValue(values, BACKBONE_PARAMS.hiddenKernel), bias: paramValue(values, BACKBONE_PARAMS.hiddenBias), activation: 'Relu' },
      { kernel: paramValue(values, BACKBONE_PARAMS.outKernel), bias: paramValue(values, BACKBONE_PARAMS.outBias), activation: 'Tanh' },
    ],
    input,
    D,
    'MLP backbone trained with tfjs: tanh(relu(flatten(image) W1 + b1) W2 + b2), written by hetxl-serve/src/training/fashion-mnist/export.ts',
  );
}

/** The manifest of a trained network (tau and, when learned, its t and bounds). */
function trainedManifest(network: Network, values: Map<string, ParamValue>, options: ExportOptions): Manifest {
  const t = network.config.temperature;
  const tau = network.tauValue();
  const head = network.headSpec(tau);
  if (t.kind === 'learned') head.temperature = { t: paramValue(values, TEMPERATURE_PARAM).data[0], min: t.min, max: t.max };
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

/** Writes `<modelsDir>/<name>/` and validates it with the server's loader; returns the folder. */
export async function exportCheckpoint(network: Network, options: ExportOptions): Promise<{ dir: string; manifest: Manifest }> {
  if (options.labels.length !== network.config.K) throw new Error(`export: ${options.labels.length} labels for K = ${network.config.K}`);
  const values = network.snapshot();
  const manifest = trainedManifest(network, values, options);
  const dir = resolve(options.modelsDir, options.name);
  await writeCheckpointFolder(dir, {
    manifest,
    values,
    headTensors: headParamShapes(manifest.head),
    backbone: backboneOnnx(values, options.input, network.config.D),
    files: { 'labels.txt': options.labels.join('\n') + '\n' },
  });
  return { dir, manifest };
}
