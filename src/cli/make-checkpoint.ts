// npm run make-checkpoint -- --out <dir> [--classes 29593 --dim 1024 --factors 50 --head het-xl ...]
// Writes a deterministic random-weight checkpoint of any size (src/synthetic/random-checkpoint.ts) into
// <dir>/<name>, so that `MODELS_DIR=<dir> npm start` serves it. Untrained: for scale and speed
// tests, not for predictions. Defaults are the paper's JFT setting (K = 29,593, D = 1024, R = 50).
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCheckpoint, WEIGHT_PROFILES, type GenerateOptions, type WeightProfile } from '../synthetic/random-checkpoint.ts';
import { loadCheckpoint } from '../format/checkpoint.ts';
import type { Covariance, HeadType } from '../format/manifest.ts';

const USAGE = `usage: npm run make-checkpoint -- --out <models dir> [options]

Writes <models dir>/<name>/{manifest.json, backbone.onnx, head.safetensors, labels.txt}.
Keep <models dir> outside the git tree (the JFT-size head is ~121 MB).

  --out <dir>            parent folder (required)
  --name <name>          folder and model name (default: <head>-k<classes>-d<dim>-r<factors>)
  --head <type>          det | het | het-xl (default het-xl)
  --covariance <c>       param-efficient | full (default param-efficient)
  --classes <K>          number of classes (default 29593)
  --dim <D>              pre-logit dimension (default 1024)
  --factors <R>          low-rank factors (default 50; ignored for det)
  --tau <t>              softmax temperature (default 1)
  --seed <n>             weight seed (default 0)
  --profile <p>          random | trained-looking (default random): trained-looking gives the loc
                         layer clustered classes and log-prior biases, so that predictives over
                         src/synthetic/trained-looking.ts's inputs span peaked to flat (benchmarks)
  --image <H>x<W>x<C>    backbone input, C = 1 or 3 (default 28x28x1)
  --default-samples <S>  manifest mc.defaultSamples (default 1000)
  --max-samples <S>      manifest mc.maxSamples (default 10000)
  --help`;

export class UsageError extends Error {}

function positiveInteger(raw: string | undefined, name: string, fallback: number): number {
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < 1 || !Number.isSafeInteger(Number(raw))) throw new UsageError(`--${name} must be a positive integer, got '${raw}'`);
  return Number(raw);
}

function oneOf<T extends string>(raw: string | undefined, name: string, choices: readonly T[], fallback: T): T {
  if (raw === undefined) return fallback;
  if (!(choices as readonly string[]).includes(raw)) throw new UsageError(`--${name} must be one of ${choices.join(', ')}, got '${raw}'`);
  return raw as T;
}

function imageShape(raw: string | undefined): { height: number; width: number; channels: 1 | 3 } {
  if (raw === undefined) return { height: 28, width: 28, channels: 1 };
  const match = /^(\d+)x(\d+)x([13])$/.exec(raw);
  if (!match) throw new UsageError(`--image must look like 28x28x1 or 224x224x3, got '${raw}'`);
  return { height: Number(match[1]), width: Number(match[2]), channels: Number(match[3]) as 1 | 3 };
}

export function parseMakeCheckpointArgs(args: string[]): GenerateOptions | 'help' {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        out: { type: 'string' },
        name: { type: 'string' },
        head: { type: 'string' },
        covariance: { type: 'string' },
        classes: { type: 'string' },
        dim: { type: 'string' },
        factors: { type: 'string' },
        tau: { type: 'string' },
        seed: { type: 'string' },
        profile: { type: 'string' },
        image: { type: 'string' },
        'default-samples': { type: 'string' },
        'max-samples': { type: 'string' },
        help: { type: 'boolean' },
      },
    }).values;
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
  if (parsed.help) return 'help';
  if (!parsed.out) throw new UsageError('--out <models dir> is required');
  const type = oneOf<HeadType>(parsed.head, 'head', ['det', 'het', 'het-xl'], 'het-xl');
  const covariance = oneOf<Covariance>(parsed.covariance, 'covariance', ['param-efficient', 'full'], 'param-efficient');
  const K = positiveInteger(parsed.classes, 'classes', 29593);
  const D = positiveInteger(parsed.dim, 'dim', 1024);
  const R = positiveInteger(parsed.factors, 'factors', 50);
  const tau = parsed.tau === undefined ? 1 : Number(parsed.tau);
  if (!(tau > 0) || !Number.isFinite(tau)) throw new UsageError(`--tau must be a positive number, got '${parsed.tau}'`);
  const seed = parsed.seed === undefined ? 0 : Number(parsed.seed);
  if (!/^\d+$/.test(parsed.seed ?? '0') || !Number.isSafeInteger(seed)) throw new UsageError(`--seed must be a non-negative integer, got '${parsed.seed}'`);
  const profile = oneOf<WeightProfile>(parsed.profile, 'profile', WEIGHT_PROFILES, 'random');
  const defaultSamples = positiveInteger(parsed['default-samples'], 'default-samples', 1000);
  const maxSamples = positiveInteger(parsed['max-samples'], 'max-samples', 10000);
  if (defaultSamples > maxSamples) throw new UsageError(`--default-samples (${defaultSamples}) exceeds --max-samples (${maxSamples})`);
  const suffix = profile === 'random' ? '' : `-${profile}`;
  const name = parsed.name ?? (type === 'det' ? `det-k${K}-d${D}${suffix}` : `${type}-k${K}-d${D}-r${R}${suffix}`);
  const input = imageShape(parsed.image);
  const channels = input.channels;
  return {
    modelsDir: parsed.out,
    name,
    seed,
    head: { type, covariance, D, K, R, tau },
    input: { ...input, mean: Array.from({ length: channels }, () => 0.5), std: Array.from({ length: channels }, () => 0.25) },
    mc: { defaultSamples, maxSamples },
    ...(profile === 'random' ? {} : { profile }),
    provenance: { command: `npm run make-checkpoint -- ${args.join(' ')}` },
  };
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseMakeCheckpointArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`make-checkpoint: ${error.message}\n\n${USAGE}`);
    process.exit(2);
  }
  if (options === 'help') {
    console.log(USAGE);
    return;
  }
  const started = performance.now();
  const written = await generateCheckpoint(options);
  await loadCheckpoint(written.dir); // the loader's validation is the acceptance test
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  console.log(`wrote ${written.dir} (${written.files.join(', ')}) in ${seconds} s`);
  console.log(`serve it with: MODELS_DIR=${options.modelsDir} npm start`);
}

// Run only as a command, so that tests can import the argument parser.
if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) await main();
