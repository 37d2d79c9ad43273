// The part of checkpoint export (docs/checkpoint-format.md) both trainers share: an MLP as
// backbone.onnx, head.safetensors with edward2 names copied from the trained parameters,
// manifest.json, and the server's loader as the acceptance test of the written folder.
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { GraphBuilder } from '../../engine/graph.ts';
import { loadCheckpoint } from '../../format/checkpoint.ts';
import type { ParamShape } from '../../format/head-params.ts';
import { BACKBONE_INPUT, BACKBONE_OUTPUT, type InputSpec, type Manifest } from '../../format/manifest.ts';
import { writeSafetensors } from '../../format/safetensors.ts';
import { paramValue, type ParamValue } from './parameters.ts';

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

export async function writeManifest(dir: string, manifest: Manifest): Promise<void> {
  await writeFile(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
}

export interface CheckpointContents {
  manifest: Manifest;
  /** The trained parameters' host copies, by name. */
  values: ReadonlyMap<string, ParamValue>;
  /** The head tensors the checkpoint holds, in file order; their names are the parameters' (edward2's). */
  headTensors: ParamShape[];
  backbone: Uint8Array;
  /** The task's other files (labels.txt, or text.onnx and tokenizer.json), by file name. */
  files: Record<string, string | Uint8Array>;
}

/** Writes the checkpoint folder `dir` and, unless `validate` is false, loads it with the server's loader. */
export async function writeCheckpointFolder(dir: string, contents: CheckpointContents, validate = true): Promise<void> {
  await mkdir(dir, { recursive: true });
  const head = contents.headTensors.map((p): [string, ParamValue] => [p.name, paramValue(contents.values, p.name)]);
  await writeFile(join(dir, 'head.safetensors'), writeSafetensors(head));
  await writeFile(join(dir, 'backbone.onnx'), contents.backbone);
  for (const [file, data] of Object.entries(contents.files)) await writeFile(join(dir, file), data);
  await writeManifest(dir, contents.manifest);
  if (validate) await loadCheckpoint(dir);
}
