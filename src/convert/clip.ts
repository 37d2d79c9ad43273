// `npm run convert -- clip`: a CLIP-style dual encoder exported to ONNX (Hugging Face transformers
// or optimum, open_clip), its tokenizer folder, the preprocessing and the learned logit_scale ->
// a zero-shot checkpoint folder (format v1) that loadCheckpoint loads. Without a noise head it is
// a deterministic dual encoder (det: mean mode only); with one, HET-XL noise on the image
// embedding (het-xl, parameter-efficient). docs/conversion.md is the guide.
import { basename, join } from 'node:path';
import { CHECKPOINT_FILES, expectedTensors, validateManifest, validateWeights } from '../format/checkpoint.ts';
import { FORMAT_VERSION } from '../format/manifest.ts';
import { describeOnnx, validateTextTower, type TensorInfo } from '../format/onnx-io.ts';
import { PromptTokenizer, TokenizerError } from '../format/tokenizer.ts';
import { ConvertError } from './errors.ts';
import { parseJson, readBytes, readJson, readOptionalBytes } from './read-input.ts';
import { parseNoiseConfig } from './clip-noise-config.ts';
import { writeCheckpoint, type WrittenCheckpoint } from './write-checkpoint.ts';

const CONVERTER_ID = 'hetxl-serve/src/convert/clip.ts';
/** CLIP's own zero-shot prompt (its paper's ImageNet default), unless --templates gives others. */
export const DEFAULT_TEMPLATES = ['a photo of a {label}.'];
/** The names Hugging Face transformers and optimum give CLIP's exported towers (open_clip exports are usually named alike). */
export const EXPORT_NAMES = { image: 'pixel_values', imageEmbeds: 'image_embeds', inputIds: 'input_ids', attentionMask: 'attention_mask', textEmbeds: 'text_embeds' } as const;

export interface ClipTensorNames {
  imageInput?: string;
  imageOutput?: string;
  textInput?: string;
  textMask?: string;
  textOutput?: string;
}

export interface ClipOptions {
  imageOnnx: string;
  textOnnx: string;
  /** A folder holding tokenizer.json and, optionally, tokenizer_config.json. */
  tokenizer: string;
  /** JSON: the manifest's `input` object (preprocessing); its `names` are set from the tower. */
  input: string;
  /** CLIP's learned logit_scale as trained (logits = exp(logit_scale) cos). */
  logitScale: number;
  noiseHead?: string;
  noiseConfig?: string;
  /** JSON: an array of prompt templates containing {label}. */
  templates?: string;
  /** Tensor names when they are not the export names. */
  names?: ClipTensorNames;
  contextLength?: number;
  out: string;
  name: string;
}

export interface ClipConversion extends WrittenCheckpoint {
  /** The towers' tensor names written, and whether each came from the export names or a flag. */
  image: { input: string; output: string };
  text: { inputIds: string; attentionMask?: string; embedding: string };
  namesFrom: string[];
  contextLength: { value?: number; from: string };
}

const list = (tensors: TensorInfo[]) => `[${tensors.map((t) => t.name).join(', ')}]`;

/** A tensor name: the flag's (which must exist), else the export name when the file has it, else a refusal that says what the file has. */
function pickName(file: string, kind: 'input' | 'output', tensors: TensorInfo[], flag: string | undefined, exportName: string, flagName: string, from: string[]): string {
  if (flag !== undefined) {
    if (!tensors.some((t) => t.name === flag)) throw new ConvertError(`${file}: no ${kind} named "${flag}" (--${flagName}); its ${kind}s are ${list(tensors)}`);
    from.push(`--${flagName}`);
    return flag;
  }
  if (tensors.some((t) => t.name === exportName)) return exportName;
  throw new ConvertError(`${file}: its ${kind}s are ${list(tensors)}, without the export name "${exportName}"; give the ${kind} with --${flagName}`);
}

function staticWidth(file: string, tensor: TensorInfo): number {
  const width = tensor.dims?.[1];
  if (tensor.dims?.length !== 2 || typeof width !== 'number') {
    throw new ConvertError(`${file}: output "${tensor.name}" has shape [${(tensor.dims ?? []).map((d) => d ?? '?').join(', ')}]; expected [batch, E] with a static embedding width E`);
  }
  return width;
}

async function readTokenizer(dir: string, contextLength: number | undefined) {
  const jsonFile = join(dir, CHECKPOINT_FILES.tokenizer);
  const configFile = join(dir, CHECKPOINT_FILES.tokenizerConfig);
  const json = await readBytes(jsonFile, 'tokenizer (tokenizer.json)');
  const config = await readOptionalBytes(configFile, 'tokenizer config (tokenizer_config.json)');
  const parse = (bytes: Buffer, file: string, what: string) => parseJson(bytes, file, what) as Record<string, unknown>;
  try {
    const tokenizer = new PromptTokenizer(parse(json, jsonFile, 'tokenizer'), { ...(config ? { config: parse(config, configFile, 'tokenizer config') } : {}), contextLength });
    return { tokenizer, files: [{ name: CHECKPOINT_FILES.tokenizer, bytes: json }, ...(config ? [{ name: CHECKPOINT_FILES.tokenizerConfig, bytes: config }] : [])] };
  } catch (e) {
    if (e instanceof ConvertError) throw e;
    if (e instanceof TokenizerError) throw new ConvertError(`${e.file === 'manifest.json' ? '--context-length' : join(dir, e.file)}: ${e.message}`);
    throw new ConvertError(`${jsonFile}: not a usable Hugging Face tokenizer (${(e as Error).message})`);
  }
}

async function readTemplates(file: string | undefined): Promise<string[]> {
  if (file === undefined) return DEFAULT_TEMPLATES;
  const templates = await readJson(file, 'templates');
  if (!Array.isArray(templates) || templates.length === 0 || templates.some((t) => typeof t !== 'string')) {
    throw new ConvertError(`${file}: the templates must be a non-empty JSON array of strings, each containing {label}`);
  }
  return templates as string[];
}

/** Converts and writes the checkpoint; throws ConvertError (or CheckpointError) naming the file and the problem. */
export async function convertClip(options: ClipOptions): Promise<ClipConversion> {
  if (!Number.isFinite(options.logitScale)) throw new ConvertError(`--logit-scale must be a number (CLIP's learned logit_scale, e.g. 4.6052 for a scale of 100)`);
  if ((options.noiseHead === undefined) !== (options.noiseConfig === undefined)) throw new ConvertError('--noise-head and --noise-config go together: give both or neither');
  const flags = options.names ?? {};
  const namesFrom: string[] = [];

  const imageBytes = await readBytes(options.imageOnnx, 'image tower (ONNX)');
  const image = describeOnnx(imageBytes, options.imageOnnx);
  const imageInput = pickName(options.imageOnnx, 'input', image.inputs, flags.imageInput, EXPORT_NAMES.image, 'image-input', namesFrom);
  const imageOutput = pickName(options.imageOnnx, 'output', image.outputs, flags.imageOutput, EXPORT_NAMES.imageEmbeds, 'image-output', namesFrom);
  const D = staticWidth(options.imageOnnx, image.outputs.find((o) => o.name === imageOutput)!);

  const textBytes = await readBytes(options.textOnnx, 'text tower (ONNX)');
  const text = describeOnnx(textBytes, options.textOnnx);
  const inputIds = pickName(options.textOnnx, 'input', text.inputs, flags.textInput, EXPORT_NAMES.inputIds, 'text-input', namesFrom);
  const attentionMask =
    flags.textMask !== undefined
      ? pickName(options.textOnnx, 'input', text.inputs, flags.textMask, EXPORT_NAMES.attentionMask, 'text-mask', namesFrom)
      : text.inputs.some((i) => i.name === EXPORT_NAMES.attentionMask)
        ? EXPORT_NAMES.attentionMask
        : undefined;
  const embedding = pickName(options.textOnnx, 'output', text.outputs, flags.textOutput, EXPORT_NAMES.textEmbeds, 'text-output', namesFrom);
  const textWidth = staticWidth(options.textOnnx, text.outputs.find((o) => o.name === embedding)!);
  if (textWidth !== D) throw new ConvertError(`${options.textOnnx}: output "${embedding}" is ${textWidth} wide, but the image tower's "${imageOutput}" is ${D} (${options.imageOnnx}); both project into one embedding space`);

  const { tokenizer, files: tokenizerFiles } = await readTokenizer(options.tokenizer, options.contextLength);
  // A tower with a static length (open_clip's 77) gives the context length when nothing else does.
  const staticLength = text.inputs.find((i) => i.name === inputIds)?.dims?.[1];
  const contextLength =
    options.contextLength !== undefined
      ? { value: options.contextLength, from: '--context-length' }
      : tokenizer.contextLength !== undefined
        ? { value: tokenizer.contextLength, from: "tokenizer_config.json's model_max_length" }
        : typeof staticLength === 'number'
          ? { value: staticLength, from: `the static length of "${inputIds}"` }
          : { from: 'none (prompts of any length; pads to the longest of each batch)' };
  const writeLength = contextLength.value !== undefined && (options.contextLength !== undefined || tokenizer.contextLength === undefined);

  const input = await readJson(options.input, 'input (preprocessing) object');
  if (input === null || typeof input !== 'object' || Array.isArray(input)) throw new ConvertError(`${options.input}: the input (preprocessing) object must be a JSON object`);
  const noise = options.noiseConfig !== undefined ? parseNoiseConfig(await readJson(options.noiseConfig, 'noise config'), options.noiseConfig) : undefined;
  const textSpec = { inputIds, ...(attentionMask !== undefined ? { attentionMask } : {}), embedding, ...(writeLength ? { contextLength: contextLength.value } : {}) };
  const manifest = {
    formatVersion: FORMAT_VERSION,
    name: options.name,
    description: `CLIP-style dual encoder converted from ${basename(options.imageOnnx)} and ${basename(options.textOnnx)}${noise ? `, HET-XL noise on the image embedding (R = ${noise.R})` : ''}`,
    task: 'zero-shot',
    head: noise ? { type: 'het-xl', covariance: 'param-efficient', D, K: 1, R: noise.R, minScale: noise.minScale } : { type: 'det', D, K: 1 },
    input: { ...input, names: { image: imageInput, prelogits: imageOutput } },
    mc: noise?.mc ?? {},
    zeroShot: { templates: await readTemplates(options.templates), imageNormalisation: noise?.imageNormalisation ?? 'after-noise', logitScale: options.logitScale, text: textSpec },
    provenance: {
      converter: CONVERTER_ID,
      imageOnnx: basename(options.imageOnnx),
      textOnnx: basename(options.textOnnx),
      tokenizer: tokenizerFiles.map((f) => f.name),
      logitScale: options.logitScale,
      ...(options.noiseHead ? { noiseHead: basename(options.noiseHead) } : {}),
    },
  };
  // The loader's checks of the manifest and the text tower, naming the user's files, before anything is written.
  const checked = validateManifest(manifest, `${options.name}/${CHECKPOINT_FILES.manifest}`, options.name);
  validateTextTower(textBytes, checked, options.textOnnx, tokenizer.contextLength ?? (writeLength ? contextLength.value : undefined));
  let tensors: { name: string; dims: number[]; data: Float32Array }[] = [];
  if (options.noiseHead) {
    const weights = validateWeights(await readBytes(options.noiseHead, 'noise head (safetensors)'), checked, options.noiseHead);
    tensors = expectedTensors(checked).map(({ name }) => ({ name, ...weights.get(name)! }));
  }
  const written = await writeCheckpoint({
    modelsDir: options.out,
    name: options.name,
    manifest,
    backbone: new Uint8Array(imageBytes),
    backboneFile: options.imageOnnx,
    tensors,
    files: [{ name: CHECKPOINT_FILES.text, bytes: textBytes }, ...tokenizerFiles],
  });
  return { ...written, image: { input: imageInput, output: imageOutput }, text: textSpec, namesFrom, contextLength };
}
