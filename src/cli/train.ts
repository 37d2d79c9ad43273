// npm run train -- --head het-xl|het|det [options]
// Trains an MLP backbone with a DET / HET / HET-XL head on Fashion-MNIST (tfjs, wasm backend),
// exports a checkpoint v1 folder to <out>/<name>, evaluates it on the test set through the
// served path and writes the metrics into its manifest. `--help` lists the options.
import { parseArgs } from 'node:util';
import { FASHION_MNIST_INPUT, FASHION_MNIST_LABELS } from '../synthetic/default-model.ts';
import { DatasetMissingError, DEFAULT_FASHION_MNIST_DIR, describeDataFiles, loadFashionMnist } from '../training/fashion-mnist/data.ts';
import { FASHION_MNIST_NOISE_GROUPS, LABEL_NOISE_KINDS, parseNoiseGroups, type LabelNoiseKind } from '../training/fashion-mnist/label-noise.ts';
import type { TemperatureConfig } from '../training/fashion-mnist/network.ts';
import { CURVE_SAMPLES, FLIPPED_LABEL_IMAGES, runTraining } from '../training/fashion-mnist/run.ts';
import { LEARNING_RATE_SCHEDULES, type LearningRateSchedule } from '../training/fashion-mnist/trainer.ts';
import { tfWasm } from '../training/common/tf.ts';
import { uncertaintySummary } from '../evaluate/evaluate.ts';
import type { HeadType } from '../format/manifest.ts';
import { nonNegativeInt, numberFlag, positiveInt } from './args.ts';

const HELP = `npm run train -- [options]
  --head het-xl|het|det     head type (default het-xl)
  --name NAME               checkpoint folder name (default hetxl-fashion-mnist, het-fashion-mnist, det-fashion-mnist)
  --out DIR                 parent folder of the checkpoint (default models)
  --data DIR                Fashion-MNIST IDX .gz files (default ${DEFAULT_FASHION_MNIST_DIR})
  --seed N                  init, shuffling, label noise and MC noise (default 0)
  --epochs N                (default 3)      --batch-size N (default 128)   --lr X (default 0.001)
  --lr-schedule S           constant (default) or cosine (both learning rates decayed to 0 over the run)
  --hidden N                MLP hidden width (default 256)   --dim D   pre-logit width (default 64)
  --rank R                  covariance factors (default 8)   --train-samples S   MC samples in the loss (default 16)
  --tau learned|X           learned (tau = min + (max - min) sigmoid(t), t from 0) or fixed X
                            (default learned for het-xl, 1 for het and det)
  --tau-min X --tau-max X   bounds of the learned tau (default 0.05, 5)
  --tau-lr X                Adam learning rate of the learned tau's t (default 0.01)
  --label-noise RATE        flip probability within each look-alike group, training labels only (default 0)
  --label-noise-kind K      class: every image of a grouped class flips with RATE (default);
                            input: image x flips with RATE * sigmoid(4 z(x)), z a fixed random projection
                            of its pixels standardised within its class (docs/results-fashion-mnist.md)
  --noise-groups G          groups as "0,2,4,6;5,7,9" (default: tops 0,2,4,6 and footwear 5,7,9)
  --eval-samples S          MC samples in the evaluation (default 1000)   --eval-seed N (default 0)
  --curve-samples S         MC samples of the per-epoch test NLL of het / het-xl (default ${CURVE_SAMPLES}; 0: mean mode only)
  --curve-images N          test images of the per-epoch test NLL: the first N (default all)
  --flip-eval-images N      with label noise: training images served to score flipped-label detection
                            (default ${FLIPPED_LABEL_IMAGES}; 0: none)
  --no-evaluate             skip the test-set evaluation
  --train-limit N           use only the first N training images (smoke tests; recorded in the manifest)`;

const { values } = parseArgs({
  options: {
    head: { type: 'string', default: 'het-xl' },
    name: { type: 'string' },
    out: { type: 'string', default: 'models' },
    data: { type: 'string', default: DEFAULT_FASHION_MNIST_DIR },
    seed: { type: 'string', default: '0' },
    epochs: { type: 'string', default: '3' },
    'batch-size': { type: 'string', default: '128' },
    lr: { type: 'string', default: '0.001' },
    'lr-schedule': { type: 'string', default: 'constant' },
    'tau-lr': { type: 'string', default: '0.01' },
    hidden: { type: 'string', default: '256' },
    dim: { type: 'string', default: '64' },
    rank: { type: 'string', default: '8' },
    'train-samples': { type: 'string', default: '16' },
    tau: { type: 'string' },
    'tau-min': { type: 'string', default: '0.05' },
    'tau-max': { type: 'string', default: '5' },
    'label-noise': { type: 'string', default: '0' },
    'label-noise-kind': { type: 'string', default: 'class' },
    'noise-groups': { type: 'string' },
    'eval-samples': { type: 'string', default: '1000' },
    'eval-seed': { type: 'string', default: '0' },
    'curve-samples': { type: 'string', default: String(CURVE_SAMPLES) },
    'curve-images': { type: 'string' },
    'flip-eval-images': { type: 'string', default: String(FLIPPED_LABEL_IMAGES) },
    'no-evaluate': { type: 'boolean', default: false },
    'train-limit': { type: 'string' },
    help: { type: 'boolean', default: false },
  },
});

if (values.help) {
  console.log(HELP);
  process.exit(0);
}


async function main(): Promise<void> {
  const head = values.head as HeadType;
  if (!['det', 'het', 'het-xl'].includes(head)) throw new Error(`--head must be det, het or het-xl, got "${values.head}"`);
  const name = values.name ?? `${head.replace('-', '')}-fashion-mnist`;
  const tauText = values.tau ?? (head === 'het-xl' ? 'learned' : '1');
  const temperature: TemperatureConfig =
    tauText === 'learned'
      ? { kind: 'learned', min: numberFlag('tau-min', values['tau-min'], (v) => v > 0), max: numberFlag('tau-max', values['tau-max'], (v) => v > 0), init: 0 }
      : { kind: 'fixed', tau: numberFlag('tau', tauText, (v) => v > 0) };
  if (temperature.kind === 'learned' && !(temperature.min < temperature.max)) throw new Error('--tau-min must be below --tau-max');
  const K = FASHION_MNIST_LABELS.length;
  const rate = numberFlag('label-noise', values['label-noise'], (v) => v >= 0 && v <= 1);
  const kind = values['label-noise-kind'] as LabelNoiseKind;
  if (!LABEL_NOISE_KINDS.includes(kind)) throw new Error(`--label-noise-kind must be ${LABEL_NOISE_KINDS.join(' or ')}, got "${values['label-noise-kind']}"`);
  const groups = values['noise-groups'] ? parseNoiseGroups(values['noise-groups'], K) : FASHION_MNIST_NOISE_GROUPS;
  const seed = numberFlag('seed', values.seed, (v) => Number.isSafeInteger(v) && v >= 0);
  const schedule = values['lr-schedule'] as LearningRateSchedule;
  if (!LEARNING_RATE_SCHEDULES.includes(schedule)) throw new Error(`--lr-schedule must be ${LEARNING_RATE_SCHEDULES.join(' or ')}, got "${values['lr-schedule']}"`);

  await tfWasm();
  const dataDir = values.data;
  let train = await loadFashionMnist(dataDir, 'train');
  const test = values['no-evaluate'] ? undefined : await loadFashionMnist(dataDir, 'test');
  if (values['train-limit']) {
    const n = Math.min(train.count, numberFlag('train-limit', values['train-limit'], positiveInt));
    train = { ...train, count: n, pixels: train.pixels.subarray(0, n * train.rows * train.cols), labels: train.labels.subarray(0, n) };
  }

  const D = numberFlag('dim', values.dim, positiveInt);
  const R = numberFlag('rank', values.rank, positiveInt);
  const tauWords = temperature.kind === 'learned' ? `learned tau in [${temperature.min}, ${temperature.max}]` : `fixed tau ${temperature.tau}`;
  const headWords = head === 'det' ? 'DET (plain softmax)' : `${head === 'het' ? 'HET' : 'HET-XL'} (parameter-efficient, D = ${D}, R = ${R}, ${tauWords})`;
  const groupWords = `groups ${groups.map((g) => g.join(',')).join(' / ')}`;
  const noiseWords =
    rate === 0 ? 'clean labels' : kind === 'input' ? `input-dependent label noise of at most ${Math.round(rate * 100)}% (${groupWords})` : `${Math.round(rate * 100)}% structured label noise (${groupWords})`;
  const result = await runTraining(train, {
    network: {
      hidden: numberFlag('hidden', values.hidden, positiveInt),
      D,
      head,
      R,
      minScale: 1e-3,
      temperature,
    },
    training: {
      epochs: numberFlag('epochs', values.epochs, positiveInt),
      batchSize: numberFlag('batch-size', values['batch-size'], positiveInt),
      learningRate: numberFlag('lr', values.lr, (v) => v > 0),
      temperatureLearningRate: numberFlag('tau-lr', values['tau-lr'], (v) => v > 0),
      // Only a non-default schedule goes into the options (and so the provenance): constant runs keep their manifests.
      ...(schedule !== 'constant' ? { learningRateSchedule: schedule } : {}),
      trainSamples: numberFlag('train-samples', values['train-samples'], positiveInt),
      seed,
    },
    labelNoise: { kind, rate, groups },
    input: FASHION_MNIST_INPUT,
    labels: FASHION_MNIST_LABELS,
    modelsDir: values.out,
    name,
    description: `${headWords} on an MLP backbone, trained with tfjs on Fashion-MNIST (${train.count} training images, ${noiseWords}; seed ${seed}).`,
    provenance: {
      command: `npm run train -- ${process.argv.slice(2).join(' ')}`.trim(),
      dataset: {
        name: 'Fashion-MNIST (Debian package dataset-fashion-mnist)',
        dir: dataDir,
        files: await describeDataFiles(dataDir, test ? ['train', 'test'] : ['train']),
        ...(train.count < 60000 ? { trainLimit: train.count } : {}),
      },
    },
    evaluation: test && {
      data: test,
      description: 'Fashion-MNIST test set (10,000 images, clean labels)',
      samples: numberFlag('eval-samples', values['eval-samples'], positiveInt),
      seed: numberFlag('eval-seed', values['eval-seed'], (v) => Number.isSafeInteger(v) && v >= 0),
      flippedLabelImages: numberFlag('flip-eval-images', values['flip-eval-images'], nonNegativeInt),
      curveSamples: numberFlag('curve-samples', values['curve-samples'], nonNegativeInt),
      ...(values['curve-images'] ? { curveImages: numberFlag('curve-images', values['curve-images'], positiveInt) } : {}),
    },
  });
  result.network.dispose();
  console.log(`wrote ${result.dir} (${result.summary.steps} steps, ${Math.round(result.summary.seconds)} s training, tau ${result.manifest.head.tau.toFixed(4)})`);
  const evaluation = result.manifest.provenance?.evaluation;
  if (evaluation) console.log(JSON.stringify(evaluation));
  if (result.report) console.log(JSON.stringify({ uncertainty: uncertaintySummary(result.report) }));
}

main().catch((error: unknown) => {
  console.error(error instanceof DatasetMissingError ? error.message : error);
  process.exit(1);
});
