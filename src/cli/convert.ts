// npm run convert -- edward2 --params <file.npz> --head-config <file.json> --backbone <file.onnx>
//   --labels <labels.txt> --input <file.json> --out <models dir> --name <name> [--prefix <subtree>]
// Turns an edward2 head's Flax parameters (src/convert/edward2.ts) into a checkpoint folder that
// `MODELS_DIR=<models dir> npm start` serves, and prints what it wrote. Guide: docs/conversion.md.
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { convertEdward2, type Edward2Conversion, type Edward2Options } from '../convert/edward2.ts';
import { IGNORED } from '../convert/edward2-config.ts';
import { ConvertError } from '../convert/errors.ts';
import { CheckpointError } from '../format/errors.ts';

const USAGE = `usage: npm run convert -- edward2 --params <file.npz> --head-config <file.json> --backbone <file.onnx>
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

const CONVERTERS = ['edward2'] as const;

export class UsageError extends Error {}

export function parseConvertArgs(args: string[]): Edward2Options | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: true,
      options: {
        params: { type: 'string' },
        'head-config': { type: 'string' },
        backbone: { type: 'string' },
        labels: { type: 'string' },
        input: { type: 'string' },
        out: { type: 'string' },
        name: { type: 'string' },
        prefix: { type: 'string' },
        help: { type: 'boolean' },
      },
    });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length !== 1 || !(CONVERTERS as readonly string[]).includes(positionals[0])) {
    throw new UsageError(`the first argument names the source format: ${CONVERTERS.join(', ')} (got ${positionals.length ? positionals.map((p) => `'${p}'`).join(' ') : 'none'})`);
  }
  const required = ['params', 'head-config', 'backbone', 'labels', 'input', 'out', 'name'] as const;
  const missing = required.filter((flag) => values[flag] === undefined || values[flag] === '');
  if (missing.length > 0) throw new UsageError(`missing ${missing.map((f) => `--${f}`).join(', ')}`);
  return {
    params: values.params!,
    headConfig: values['head-config']!,
    backbone: values.backbone!,
    labels: values.labels!,
    input: values.input!,
    out: values.out!,
    name: values.name!,
    ...(values.prefix !== undefined ? { prefix: values.prefix } : {}),
  };
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
    const conversion = await convertEdward2(options);
    console.log(describeConversion(conversion));
    console.log(`serve it with: MODELS_DIR=${options.out} npm start`);
  } catch (error) {
    if (!(error instanceof ConvertError || error instanceof CheckpointError)) throw error;
    console.error(`convert: ${error.message}`);
    process.exit(1);
  }
}

// Run only as a command, so that tests can import the argument parser.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
