// `npm run convert -- edward2`: a Flax parameter tree of an edward2 heteroscedastic head (an .npz
// of flax.traverse_util.flatten_dict(params, sep='/')), the layer's constructor arguments, a
// backbone exported to ONNX, labels and the preprocessing -> a checkpoint folder (format v1) that
// loadCheckpoint loads. docs/conversion.md is the guide.
import { basename } from 'node:path';
import { FORMAT_VERSION } from '../format/manifest.ts';
import { NpzError, npzKeys, readNpz } from '../format/npz.ts';
import { parseHeadConfig, type Edward2HeadConfig } from './edward2-config.ts';
import { convertHeadParams, findHeadPrefix, subtreeNames } from './edward2-params.ts';
import { ConvertError } from './errors.ts';
import { readBytes, readJson } from './read-input.ts';
import { writeCheckpoint, type WrittenCheckpoint } from './write-checkpoint.ts';

const CONVERTER_ID = 'hetxl-serve/src/convert/edward2.ts';
/** mc.maxSamples of a converted checkpoint, unless test_mc_samples is larger (the manifest's default). */
const MAX_SAMPLES = 10000;

export interface Edward2Options {
  /** The .npz of the flattened parameter tree. */
  params: string;
  /** JSON: the layer's constructor arguments (edward2's names). */
  headConfig: string;
  backbone: string;
  labels: string;
  /** JSON: the manifest's `input` object (preprocessing). */
  input: string;
  /** The models folder; the checkpoint is written to <out>/<name>. */
  out: string;
  name: string;
  /** The head's subtree; found automatically when exactly one subtree holds loc_layer/kernel. */
  prefix?: string;
}

export interface Edward2Conversion extends WrittenCheckpoint {
  /** The subtree converted ('' for the root). */
  prefix: string;
  config: Edward2HeadConfig;
}

/** Reads the parameters of the head's subtree only: a whole model's tree may be much larger. */
function readHeadArrays(bytes: Uint8Array, options: Edward2Options) {
  try {
    const keys = npzKeys(bytes);
    const prefix = findHeadPrefix(keys, options.prefix, options.params);
    const wanted = new Set(subtreeNames(keys, prefix).values());
    return { prefix, arrays: readNpz(bytes, (key) => wanted.has(key)) };
  } catch (e) {
    if (e instanceof NpzError) throw new ConvertError(`${options.params}: ${e.message}`);
    throw e;
  }
}

/** Converts and writes the checkpoint; throws ConvertError (or CheckpointError) naming the file and key. */
export async function convertEdward2(options: Edward2Options): Promise<Edward2Conversion> {
  const rawConfig = await readJson(options.headConfig, 'head-config');
  const config = parseHeadConfig(rawConfig, options.headConfig);
  const input = await readJson(options.input, 'input (preprocessing) object');
  const { prefix, arrays } = readHeadArrays(await readBytes(options.params, 'parameters (.npz)'), options);
  const { head, tensors } = convertHeadParams(arrays, config, prefix, options.params);
  const source = `${basename(options.params)}${prefix ? `, subtree ${prefix}` : ''}`;
  const manifest = {
    formatVersion: FORMAT_VERSION,
    name: options.name,
    description: `edward2 ${config.layer} head converted from ${source}`,
    task: 'classification',
    head,
    input,
    mc: { defaultSamples: config.testMcSamples, maxSamples: Math.max(MAX_SAMPLES, config.testMcSamples) },
    provenance: { converter: CONVERTER_ID, params: basename(options.params), prefix, headConfig: rawConfig, backbone: basename(options.backbone) },
  };
  const labelsBytes = await readBytes(options.labels, 'labels');
  let labelsText: string;
  try {
    labelsText = new TextDecoder('utf-8', { fatal: true }).decode(labelsBytes);
  } catch {
    throw new ConvertError(`${options.labels}: the labels are not valid UTF-8 text`);
  }
  const written = await writeCheckpoint({
    modelsDir: options.out,
    name: options.name,
    manifest,
    backbone: new Uint8Array(await readBytes(options.backbone, 'backbone (ONNX)')),
    backboneFile: options.backbone,
    tensors,
    labelsText,
    labelsFile: options.labels,
  });
  return { ...written, prefix, config };
}
