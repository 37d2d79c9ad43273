// npm run train-zero-shot -- --out DIR [options]
// Trains the zero-shot dual encoder (image CNN + bag-of-words text tower) contrastively on the
// varied synthetic shapes scenes (tfjs, wasm backend), with or without HET-XL noise on the image
// embedding, evaluates zero-shot over the 28 "colour shape" labels on seen and held-out pairs of
// three renderers (the classic scenes, the varied training renderer, the independent SVG
// renderer), and writes a zero-shot checkpoint v1 folder. `--help` lists the options.
import { readFile, writeFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';
import { createProgress } from '../training/common/progress.ts';
import { tfWasm } from '../training/common/tf.ts';
import { DEFAULT_TEMPLATES, evaluateSplit, type SplitEvaluation } from '../training/zero-shot/evaluate.ts';
import { evaluationSets, type EvaluationSplit, type Renderer } from '../training/zero-shot/evaluation-sets.ts';
import { exportZeroShot, ZERO_SHOT_INPUT } from '../training/zero-shot/export.ts';
import { DualEncoder, type ZeroShotHead } from '../training/zero-shot/model.ts';
import { evaluateServed, loadServed, servedPixels, type ServedSplitEvaluation } from '../training/zero-shot/served.ts';
import { loadCheckpoint } from '../format/checkpoint.ts';
import { HELD_OUT } from '../training/zero-shot/shapes.ts';
import { defaultConfig, shapesTokenizerJson, trainDualEncoder, vocabularySize } from '../training/zero-shot/trainer.ts';
import { generateVariedShapes } from '../training/zero-shot/varied-shapes.ts';
import { nonNegativeInt, numberFlag, positiveInt } from './args.ts';

const HELP = `npm run train-zero-shot -- --out DIR [options]

Trains a zero-shot dual encoder on synthetic coloured-shape scenes with captions, drawn with
varied rendering (src/training/zero-shot/varied-shapes.ts: canvas sizes, shape sizes, positions,
rotations, colours, anti-aliasing, outlines, backgrounds, JPEG) and resized to 32x32 by the
server's preprocessing; seven colour-shape pairs never appear in training. An image CNN (3x3
convolutions, ReLU, max pooling, global mean and max pooling, linear -> E) and a bag-of-words text
tower (token embeddings mean-pooled, linear -> E), with a symmetric contrastive loss over each
batch and a learned temperature
tau = min + (max - min) sigmoid(t). With --head het-xl, HET-XL noise (parameter-efficient, R
factors) perturbs the image embedding before normalisation and the loss averages S softmaxes
inside the log. Then evaluates zero-shot classification over the 28 "colour shape" labels on
seen and held-out pairs of three renderers: the classic scenes (shapes.ts), the varied training
renderer with another seed, and an independent SVG renderer never used in training (svg-shapes.ts)
(mean and MC modes; accuracy, NLL, ECE, Brier), and writes a zero-shot
checkpoint folder DIR (its base name is the model name) with the metrics in its manifest and
evaluation.json. Deterministic for a seed.

  --out DIR             checkpoint folder to write (required), e.g. models/shapes-zero-shot
  --head het-xl|det     HET-XL noise on the image embedding, or none (default het-xl)
  --steps N             training steps (default 1800)       --batch-size N (default 64)
  --lr X                Adam learning rate, all parameters incl. t (default 0.003)
  --seed N              weight init, batch order and noise draws (default 0)
  --samples S           MC samples per image in the training loss (default 8)
  --factors R           low-rank covariance factors (default 4)
  --dim E               embedding width (default 32)
  --widths A,B,..       channels of the image tower's 3x3 convolutions (default 8,16,32,32)
  --tau-min X --tau-max X   bounds of the learned tau (default 0.01, 1)   --tau-init X (default 0.1)
  --diag-init X         initial diagonal noise bias b_diag; scale softplus(X) (default 0, edward2's zero bias)
  --train-count N       training scenes (default 20000)   --data-seed N  training data seed (default 1)
  --eval-count N        scenes per renderer and split (default 1000)
  --eval-samples S      MC samples in the evaluation (default 100)   --eval-seed N (default 0)
  --no-validate         do not check the folder with the server's loader (implies --no-served)
  --no-served           skip the second evaluation through the served path (ZeroShotPipeline)
  --help                this text`;

const { values } = parseArgs({
  options: {
    out: { type: 'string' },
    head: { type: 'string', default: 'het-xl' },
    steps: { type: 'string', default: '1800' },
    'batch-size': { type: 'string', default: '64' },
    lr: { type: 'string', default: '0.003' },
    seed: { type: 'string', default: '0' },
    samples: { type: 'string', default: '8' },
    factors: { type: 'string', default: '4' },
    dim: { type: 'string', default: '32' },
    widths: { type: 'string', default: '8,16,32,32' },
    'tau-min': { type: 'string', default: '0.01' },
    'tau-max': { type: 'string', default: '1' },
    'tau-init': { type: 'string', default: '0.1' },
    'diag-init': { type: 'string', default: '0' },
    'train-count': { type: 'string', default: '20000' },
    'data-seed': { type: 'string', default: '1' },
    'eval-count': { type: 'string', default: '1000' },
    'eval-samples': { type: 'string', default: '100' },
    'eval-seed': { type: 'string', default: '0' },
    'no-validate': { type: 'boolean', default: false },
    'no-served': { type: 'boolean', default: false },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}


type PerRenderer<T> = Partial<Record<Renderer, Partial<Record<EvaluationSplit, T>>>>;

function f(m: { accuracy: number; nll: number; ece: number }): string {
  return `acc ${m.accuracy.toFixed(3)} nll ${m.nll.toFixed(3)} ece ${m.ece.toFixed(3)}`;
}

async function main(): Promise<void> {
  if (!values.out) throw new Error('--out DIR is required (see --help)');
  const head = values.head as ZeroShotHead;
  if (head !== 'het-xl' && head !== 'det') throw new Error(`--head must be het-xl or det, got "${values.head}"`);
  const seed = numberFlag('seed', values.seed, nonNegativeInt);
  const config = defaultConfig(head, vocabularySize(shapesTokenizerJson()));
  config.convWidths = values.widths.split(',').map((w) => numberFlag('widths', w, positiveInt));
  config.dim = numberFlag('dim', values.dim, positiveInt);
  config.factors = numberFlag('factors', values.factors, positiveInt);
  config.temperature = {
    min: numberFlag('tau-min', values['tau-min'], (v) => v > 0),
    max: numberFlag('tau-max', values['tau-max'], (v) => v > 0),
    init: numberFlag('tau-init', values['tau-init'], (v) => v > 0),
  };
  if (!(config.temperature.min < config.temperature.init && config.temperature.init < config.temperature.max)) {
    throw new Error('need --tau-min < --tau-init < --tau-max');
  }
  config.diagBiasInit = numberFlag('diag-init', values['diag-init']);
  const training = {
    steps: numberFlag('steps', values.steps, positiveInt),
    batchSize: numberFlag('batch-size', values['batch-size'], positiveInt),
    learningRate: numberFlag('lr', values.lr, (v) => v > 0),
    samples: head === 'det' ? 1 : numberFlag('samples', values.samples, positiveInt),
    seed,
  };
  const trainCount = numberFlag('train-count', values['train-count'], positiveInt);
  const dataSeed = numberFlag('data-seed', values['data-seed'], nonNegativeInt);
  const evalCount = numberFlag('eval-count', values['eval-count'], positiveInt);
  const evaluation = { templates: DEFAULT_TEMPLATES, samples: numberFlag('eval-samples', values['eval-samples'], positiveInt), seed: numberFlag('eval-seed', values['eval-seed'], nonNegativeInt) };

  await tfWasm();
  const t0 = Date.now();
  const train = await generateVariedShapes(trainCount, dataSeed, 'train', ZERO_SHOT_INPUT);
  const dataSeconds = (Date.now() - t0) / 1000;
  const model = new DualEncoder(config, seed);
  const summary = await trainDualEncoder(model, train, training, (total) => createProgress('train-zero-shot', total));
  const started = Date.now();
  const sets = await evaluationSets(evalCount);
  const tfjs: PerRenderer<SplitEvaluation & { data: string }> = {};
  for (const set of sets) (tfjs[set.renderer] ??= {})[set.split] = { data: set.data, ...evaluateSplit(model, set.pixels, evaluation) };
  const evalSeconds = (Date.now() - started) / 1000;
  const tau = model.tauValue();
  const R = config.factors;
  const headWords = head === 'det' ? 'no noise (det head)' : `HET-XL noise on the image embedding (parameter-efficient, E = ${config.dim}, R = ${R})`;
  const tower = `CNN 3x3 convolutions ${config.convWidths.join(', ')} (ReLU, 2x2 max pooling between them), global mean + max pooling, linear -> ${config.dim}`;
  const name = basename(values.out);
  const metrics = {
    chance: 1 / 28,
    labels: 28,
    templates: DEFAULT_TEMPLATES,
    mcSamples: head === 'det' ? undefined : evaluation.samples,
    mcSeed: head === 'det' ? undefined : evaluation.seed,
    renderers: tfjs,
    seconds: evalSeconds,
    path: 'tfjs forward of the trained model; the served path figures are under served',
  };
  const { dir } = await exportZeroShot(model, {
    dir: values.out,
    description:
      `Zero-shot demo dual encoder for coloured-shape images (resized to 32x32): image ${tower} and a bag-of-words text tower, ` +
      `trained contrastively with tfjs on varied renderings with ${headWords} and a learned temperature (tau ${tau.toFixed(4)}); labels such as "red circle" ` +
      `(7 colours x 4 shapes; ${HELD_OUT.map((p) => p.join(' ')).join(', ')} never seen in training). Seed ${seed}.`,
    templates: DEFAULT_TEMPLATES,
    validate: !values['no-validate'],
    provenance: {
      command: `npm run train-zero-shot -- ${process.argv.slice(2).join(' ')}`.trim(),
      seed,
      data: {
        generator: 'hetxl-serve/src/training/zero-shot/varied-shapes.ts (encoded as PNG or JPEG, then the server\'s preprocessing to 32x32)',
        train: `generateVariedShapes(${trainCount}, ${dataSeed}, 'train')`,
        seconds: dataSeconds,
        heldOutPairs: HELD_OUT.map((p) => p.join(' ')),
      },
      steps: summary.steps,
      training: {
        model: { imageTower: tower, textTower: `token embeddings ${config.vocabulary} x ${config.tokenWidth}, mean over tokens, linear -> ${config.dim}` },
        head: head === 'det' ? 'det' : { type: 'het-xl', covariance: 'param-efficient', R, diagBiasInit: config.diagBiasInit, minScale: config.minScale },
        loss: 'symmetric contrastive (image -> caption and caption -> image within the batch), -log max(mean_s softmax, 1e-7)',
        optimizer: `Adam ${training.learningRate}`,
        batchSize: training.batchSize,
        samples: training.samples,
        temperature: config.temperature,
        curve: summary.curve,
        seconds: summary.seconds,
      },
      evaluation: metrics,
    },
  });
  // The same evaluation through the served path (loader, the server's image decoding for the SVG
  // renderer's PNG / JPEG files, ONNX towers, the server's zero-shot head and noise), written next
  // to the tfjs figures.
  let served: { renderers: PerRenderer<ServedSplitEvaluation>; seconds: number; path: string } | undefined;
  if (!values['no-validate'] && !values['no-served']) {
    const t1 = Date.now();
    const model = await loadServed(dir);
    const renderers: PerRenderer<ServedSplitEvaluation> = {};
    try {
      for (const set of sets) {
        const pixels = set.encoded ? { images: await servedPixels(model, set.encoded), scenes: set.pixels.scenes } : set.pixels;
        (renderers[set.renderer] ??= {})[set.split] = await evaluateServed(model, pixels, evaluation.samples, evaluation.seed);
      }
    } finally {
      await model.dispose();
    }
    served = {
      renderers,
      seconds: (Date.now() - t1) / 1000,
      path: 'served: loadCheckpoint + ZeroShotPipeline (svg: its own decoding of the PNG and JPEG files; classic and varied: predictPixels), ONNX Runtime CPU, the server noise streams with the same seed',
    };
    const manifestFile = join(dir, 'manifest.json');
    const manifest = JSON.parse(await readFile(manifestFile, 'utf8'));
    manifest.provenance.evaluation.served = served;
    await writeFile(manifestFile, JSON.stringify(manifest, null, 2) + '\n');
    await loadCheckpoint(dir);
  }
  await writeFile(join(dir, 'evaluation.json'), JSON.stringify({ tau, ...metrics, served }, null, 2) + '\n');
  console.log(`wrote ${dir} (${name}; ${Math.round(dataSeconds)} s data, ${summary.steps} steps, ${Math.round(summary.seconds)} s training, ${Math.round(evalSeconds)} s evaluation, tau ${tau.toFixed(4)})`);
  for (const [renderer, splits] of Object.entries(tfjs)) {
    for (const [split, e] of Object.entries(splits)) {
      console.log(`tfjs   ${renderer.padEnd(8)}${split.padEnd(8)} mean: ${f(e.mean)}${e.mc ? ` | mc: ${f(e.mc)}` : ''}`);
      const s = served?.renderers[renderer as Renderer]?.[split as EvaluationSplit];
      if (s) console.log(`served ${renderer.padEnd(8)}${split.padEnd(8)} mean: ${f(s.mean)}${s.mc ? ` | mc: ${f(s.mc)}` : ''}`);
    }
  }
  console.log(`chance ${(1 / 28).toFixed(3)}`);
  model.dispose();
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
