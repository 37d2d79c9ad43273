// npm run convert -- edward2 --params <file.npz> --head-config <file.json> --backbone <file.onnx>
//   --labels <labels.txt> --input <file.json> --out <models dir> --name <name> [--prefix <subtree>]
// npm run convert -- clip --image-onnx <file> --text-onnx <file> --tokenizer <dir> --input <file.json>
//   --logit-scale <number> [--noise-head <file> --noise-config <file.json>] --out <models dir> --name <name>
// Turns an edward2 head's Flax parameters (src/convert/edward2.ts), or a CLIP-style dual encoder
// exported to ONNX (src/convert/clip.ts), into a checkpoint folder that
// `MODELS_DIR=<models dir> npm start` serves, and prints what it wrote. Guide: docs/conversion.md.
import { pathToFileURL } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { convertClip, type ClipConversion, type ClipOptions } from '../convert/clip.ts';
import { convertEdward2, type Edward2Conversion, type Edward2Options } from '../convert/edward2.ts';
import { IGNORED } from '../convert/edward2-config.ts';
import { ConvertError } from '../convert/errors.ts';
import { CheckpointError } from '../format/errors.ts';

const EDWARD2_USAGE = `usage: npm run convert -- edward2 --params <file.npz> --head-config <file.json> --backbone <file.onnx>
         --labels <labels.txt> --input <file.json> --out <models dir> --name <name> [--prefix <subtree>]

Converts an edward2 MCSoftmaxDenseFA / MCSigmoidDenseFA head (JAX) into <models dir>/<name>/
{manifest.json, backbone.onnx, head.safetensors, labels.txt}. docs/conversion.md is the guide.

  --params <file.npz>       numpy.savez of flax.traverse_util.flatten_dict(params, sep='/')
  --head-config <file.json> the layer's arguments: {"layer", "num_factors", "parameter_efficient",
                            "latent_dim", "temperature", "tune_temperature", "temperature_lower_bound",
                            "temperature_upper_bound", "test_mc_samples"}
  --backbone <file.onnx>    the backbone, image -> pre-logits [B, D]
  --labels <labels.txt>     K class names, one per line
  --input <file.json>       the manifest's input object (size, layout, resize, scale, mean, std, names)
  --out <models dir>        parent folder of the checkpoint
  --name <name>             folder and model name
  --prefix <subtree>        the head's subtree (default: the one subtree holding loc_layer/kernel)
  --help`;

const CLIP_USAGE = `usage: npm run convert -- clip --image-onnx <file.onnx> --text-onnx <file.onnx> --tokenizer <dir>
         --input <file.json> --logit-scale <number> [--noise-head <file.safetensors> --noise-config <file.json>]
         --out <models dir> --name <name>

Converts a CLIP-style dual encoder exported to ONNX (Hugging Face transformers / optimum, open_clip)
into a zero-shot checkpoint <models dir>/<name>/{manifest.json, backbone.onnx, head.safetensors,
text.onnx, tokenizer.json[, tokenizer_config.json]}. docs/conversion.md is the guide.

  --image-onnx <file>       the image tower: pixel_values -> image_embeds [B, E] (other outputs ignored)
  --text-onnx <file>        the text tower: input_ids [+ attention_mask] -> text_embeds [B, E]
  --tokenizer <dir>         holds tokenizer.json and, optionally, tokenizer_config.json (model_max_length, pad_token)
  --input <file.json>       the manifest's input object (size, layout, resize, kernel, scale, mean, std)
  --logit-scale <number>    the learned logit_scale (logits = exp(logit_scale) cos; tau = 1 / exp(logit_scale))
  --noise-head <file>       HET-XL noise on the image embedding: scale_layer_heteroscedastic/*, scale_layer_homoscedastic/*, diag_layer/*
  --noise-config <file>     {"R", "minScale", "imageNormalisation", "defaultSamples", "maxSamples"} of that noise
  --templates <file.json>   default prompt templates with {label} (default: ["a photo of a {label}."])
  --image-input, --image-output, --text-input, --text-mask, --text-output <name>
                            tensor names, when they are not the export names above
  --context-length <n>      the longest prompt in tokens, when tokenizer_config.json and the tower do not say
  --out <models dir>        parent folder of the checkpoint
  --name <name>             folder and model name
  --help`;

const USAGE = `${EDWARD2_USAGE}\n\n${CLIP_USAGE}`;

const COMMON = { input: { type: 'string' }, out: { type: 'string' }, name: { type: 'string' }, help: { type: 'boolean' } } as const;
const OPTIONS = {
  edward2: { ...COMMON, params: { type: 'string' }, 'head-config': { type: 'string' }, backbone: { type: 'string' }, labels: { type: 'string' }, prefix: { type: 'string' } },
  clip: {
    ...COMMON,
    'image-onnx': { type: 'string' },
    'text-onnx': { type: 'string' },
    tokenizer: { type: 'string' },
    'logit-scale': { type: 'string' },
    'noise-head': { type: 'string' },
    'noise-config': { type: 'string' },
    templates: { type: 'string' },
    'image-input': { type: 'string' },
    'image-output': { type: 'string' },
    'text-input': { type: 'string' },
    'text-mask': { type: 'string' },
    'text-output': { type: 'string' },
    'context-length': { type: 'string' },
  },
} as const;
const REQUIRED = {
  edward2: ['params', 'head-config', 'backbone', 'labels', 'input', 'out', 'name'],
  clip: ['image-onnx', 'text-onnx', 'tokenizer', 'input', 'logit-scale', 'out', 'name'],
} as const;
type Converter = keyof typeof OPTIONS;
const CONVERTERS = Object.keys(OPTIONS) as Converter[];

export class UsageError extends Error {}

export type ConvertCommand = { converter: 'edward2'; options: Edward2Options } | { converter: 'clip'; options: ClipOptions };

/** The converter is the first argument; its flags follow. */
export function parseConvertArgs(args: string[]): ConvertCommand | 'help' {
  if (args.length === 0 || args[0] === '--help') return 'help';
  const converter = args[0] as Converter;
  if (!CONVERTERS.includes(converter)) {
    throw new UsageError(`the first argument names the source format: ${CONVERTERS.join(', ')} (got ${args[0].startsWith('-') ? 'none' : `'${args[0]}'`})`);
  }
  let values: Record<string, string | boolean | undefined>;
  try {
    const options: ParseArgsConfig['options'] = OPTIONS[converter];
    values = parseArgs({ args: args.slice(1), strict: true, allowPositionals: false, options }).values as Record<string, string | boolean | undefined>;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (values.help) return 'help';
  const missing = REQUIRED[converter].filter((flag) => values[flag] === undefined || values[flag] === '');
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((f) => `--${f}`).join(', ')}`);
  const text = (flag: string) => values[flag] as string | undefined;
  return converter === 'clip' ? { converter, options: clipOptions(text) } : { converter, options: edward2Options(text) };
}

function clipOptions(text: (flag: string) => string | undefined): ClipOptions {
  const logitScale = Number(text('logit-scale'));
  if (!Number.isFinite(logitScale)) throw new UsageError(`--logit-scale must be a number, got '${text('logit-scale')}'`);
  const length = text('context-length');
  if (length !== undefined && !/^\d+$/.test(length)) throw new UsageError(`--context-length must be a positive integer, got '${length}'`);
  const names = Object.fromEntries(
    (['image-input', 'image-output', 'text-input', 'text-mask', 'text-output'] as const)
      .filter((flag) => text(flag) !== undefined)
      .map((flag) => [flag.replace(/-(\w)/, (_, c: string) => c.toUpperCase()), text(flag)!]),
  );
  const optional = (flag: string, key: keyof ClipOptions) => (text(flag) !== undefined ? { [key]: text(flag) } : {});
  return {
    imageOnnx: text('image-onnx')!,
    textOnnx: text('text-onnx')!,
    tokenizer: text('tokenizer')!,
    input: text('input')!,
    logitScale,
    out: text('out')!,
    name: text('name')!,
    ...optional('noise-head', 'noiseHead'),
    ...optional('noise-config', 'noiseConfig'),
    ...optional('templates', 'templates'),
    ...(length !== undefined ? { contextLength: Number(length) } : {}),
    ...(Object.keys(names).length > 0 ? { names } : {}),
  };
}

function edward2Options(text: (flag: string) => string | undefined): Edward2Options {
  const prefix = text('prefix');
  return {
    params: text('params')!,
    headConfig: text('head-config')!,
    backbone: text('backbone')!,
    labels: text('labels')!,
    input: text('input')!,
    out: text('out')!,
    name: text('name')!,
    ...(prefix !== undefined ? { prefix } : {}),
  };
}

/** What a clip conversion wrote, for people: the towers' contract and where each part came from. */
export function describeClipConversion(c: ClipConversion): string {
  const { head, zeroShot } = c.manifest;
  const mask = c.text.attentionMask !== undefined ? ` + ${c.text.attentionMask}` : '';
  return [
    `wrote ${c.dir} (${c.files.join(', ')})`,
    `  image tower: ${c.image.input} -> ${c.image.output} [B, ${head.D}]`,
    `  text tower: ${c.text.inputIds}${mask} -> ${c.text.embedding} [B, ${head.D}]`,
    `  tensor names: ${c.namesFrom.length > 0 ? `from ${c.namesFrom.join(', ')}, the others the export names` : 'the export names'}`,
    `  context length: ${c.contextLength.value ?? 'none'} (${c.contextLength.from})`,
    `  tau = 1 / exp(${zeroShot!.logitScale}) = ${head.tau}`,
    head.type === 'het-xl'
      ? `  head: het-xl, HET-XL noise on the image embedding, R = ${head.R}, minScale = ${head.minScale}, imageNormalisation ${zeroShot!.imageNormalisation}`
      : '  head: det (no noise head: mean mode only)',
    `  templates: ${JSON.stringify(zeroShot!.templates)}`,
  ].join('\n');
}

/** What was written, for people: the head as served, and where each value came from. */
export function describeConversion(c: Edward2Conversion): string {
  const { head, mc } = c.manifest;
  const tau = head.temperature
    ? `${head.tau} (learned: pre_sigmoid_temperature t = ${head.temperature.t}, bounds [${head.temperature.min}, ${head.temperature.max}])`
    : `${head.tau} (fixed temperature)`;
  const lines = [
    `wrote ${c.dir} (${c.files.join(', ')})`,
    `  from ${c.config.layer}, subtree ${c.prefix || '(the root)'}`,
    `  head: type ${head.type}, K = ${head.K}, D = ${head.D}, R = ${head.R}, link ${head.link}, covariance ${head.covariance}, diagonalNoise ${head.diagonalNoise}`,
    `  tau = ${tau}, minScale = ${head.minScale}`,
    `  mc.defaultSamples = ${mc.defaultSamples} (test_mc_samples), mc.maxSamples = ${mc.maxSamples}`,
  ];
  for (const field of c.config.ignored) lines.push(`  ignored head-config field ${field}: ${IGNORED[field]}`);
  return lines.join('\n');
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseConvertArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`convert: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  try {
    if (options.converter === 'clip') console.log(describeClipConversion(await convertClip(options.options)));
    else console.log(describeConversion(await convertEdward2(options.options)));
    console.log(`serve it with: MODELS_DIR=${options.options.out} npm start`);
  } catch (error) {
    if (!(error instanceof ConvertError || error instanceof CheckpointError)) throw error;
    console.error(`convert: ${error.message}`);
    process.exit(1);
  }
}

// Run only as a command, so that tests can import the argument parser.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
