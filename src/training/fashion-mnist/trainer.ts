// The training loop: seeded shuffling, mini-batches, Adam on the MC NLL (constant or cosine-decayed
// learning rate), the held-out NLL after each epoch when given held-out data, progress with ETA.
// Deterministic for a seed: shuffles and label noise come from src/training/common/random.ts, the MC
// noise from tf.randomNormal with a seed per step, and the wasm backend runs single-threaded.
import type { Network } from './network.ts';
import { recordEpochNll, type CurveOptions, type EpochNll } from './curve.ts';
import type { Progress } from '../common/progress.ts';
import { permutation, stepSeed, uniformStream } from '../common/random.ts';
import { tf } from '../common/tf.ts';

export interface TrainingData {
  /** Normalised inputs, [count, features] row-major. */
  inputs: Float32Array;
  labels: Uint8Array;
  count: number;
  features: number;
}

export interface TrainOptions {
  epochs: number;
  batchSize: number;
  learningRate: number;
  /**
   * Adam learning rate of the temperature's t. Its own, because Adam moves a parameter by about
   * the learning rate per step: at 1e-3 t would drift by ~1 in a 3-epoch run and tau would hardly
   * leave its initial value.
   */
  temperatureLearningRate: number;
  /** MC samples per example in the training loss (het, het-xl). */
  trainSamples: number;
  seed: number;
  /**
   * constant (default): both learning rates fixed. cosine: both scaled by (1 + cos(pi step / steps)) / 2,
   * from the full rate at the first step towards 0 at the last, so late epochs fine-tune (and can
   * memorise noisy labels) instead of bouncing around at the initial rate.
   */
  learningRateSchedule?: LearningRateSchedule;
}

export const LEARNING_RATE_SCHEDULES = ['constant', 'cosine'] as const;
export type LearningRateSchedule = (typeof LEARNING_RATE_SCHEDULES)[number];

/** The factor on the learning rates at `step` of `steps`. */
export function learningRateFactor(schedule: LearningRateSchedule, step: number, steps: number): number {
  return schedule === 'cosine' ? (1 + Math.cos((Math.PI * step) / steps)) / 2 : 1;
}

/** Held-out data whose NLL is recorded after every epoch (curve.ts). */
export interface HeldOut extends CurveOptions {
  data: TrainingData;
}

export interface TrainSummary {
  steps: number;
  seconds: number;
  /** Mean training loss of each epoch. */
  epochLoss: number[];
  /** tau at the end of each epoch. */
  epochTau: number[];
  /** NLL on the held-out data at the end of each epoch; with `heldOut` only. */
  epochHeldOutNll?: EpochNll;
}

/** Rows `order[start..start+n)` of the data as one batch. */
function gatherBatch(data: TrainingData, order: Uint32Array, start: number, n: number): { x: Float32Array; y: Int32Array } {
  const F = data.features;
  const x = new Float32Array(n * F);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const row = order[start + i];
    x.set(data.inputs.subarray(row * F, (row + 1) * F), i * F);
    y[i] = data.labels[row];
  }
  return { x, y };
}

/**
 * tfjs optimizers have no learning-rate schedule; Adam reads its `learningRate` field on every
 * applyGradients (tfjs-core adam_optimizer.js), so setting it before a step schedules it.
 */
function setLearningRate(optimizer: tf.Optimizer, rate: number): void {
  (optimizer as unknown as { learningRate: number }).learningRate = rate;
}

export async function trainNetwork(
  network: Network,
  data: TrainingData,
  options: TrainOptions,
  progress?: (total: number) => Progress,
  heldOut?: HeldOut,
): Promise<TrainSummary> {
  const { epochs, batchSize, trainSamples, seed } = options;
  const K = network.config.K;
  const optimizer = tf.train.adam(options.learningRate);
  const temperatureOptimizer = tf.train.adam(options.temperatureLearningRate);
  const weights = network.weightVariables;
  const t = network.temperatureVariable;
  const stepsPerEpoch = Math.ceil(data.count / batchSize);
  const bar = progress?.(epochs * stepsPerEpoch);
  const started = Date.now();
  const epochLoss: number[] = [];
  const epochTau: number[] = [];
  const epochHeldOutNll: EpochNll | undefined = heldOut && { mean: [] };
  const schedule = options.learningRateSchedule ?? 'constant';
  const totalSteps = epochs * stepsPerEpoch;
  let step = 0;
  try {
    for (let epoch = 0; epoch < epochs; epoch++) {
      const order = permutation(data.count, uniformStream(seed, `shuffle/${epoch}`));
      let lossSum = 0;
      for (let start = 0; start < data.count; start += batchSize) {
        const n = Math.min(batchSize, data.count - start);
        const { x, y } = gatherBatch(data, order, start, n);
        const seeds = { factor: stepSeed(seed, step, 'eps_R'), diagonal: stepSeed(seed, step, 'eps_D') };
        const factor = learningRateFactor(schedule, step, totalSteps);
        setLearningRate(optimizer, options.learningRate * factor);
        setLearningRate(temperatureOptimizer, options.temperatureLearningRate * factor);
        const loss = tf.tidy(() => {
          const xs = tf.tensor2d(x, [n, data.features]);
          const ys = tf.oneHot(tf.tensor1d(y, 'int32'), K) as tf.Tensor2D;
          const { value, grads } = tf.variableGrads(() => network.loss(xs, ys, trainSamples, seeds), t ? [...weights, t] : weights);
          optimizer.applyGradients(weights.map((v) => ({ name: v.name, tensor: grads[v.name] })));
          if (t) temperatureOptimizer.applyGradients([{ name: t.name, tensor: grads[t.name] }]);
          return value;
        });
        const value = (await loss.data())[0];
        loss.dispose();
        if (!Number.isFinite(value)) throw new Error(`training diverged at step ${step} (loss ${value})`);
        lossSum += value * n;
        step++;
        bar?.update(step, `epoch ${epoch + 1}/${epochs} loss ${value.toFixed(4)} tau ${network.tauValue().toFixed(3)}`);
      }
      epochLoss.push(lossSum / data.count);
      epochTau.push(network.tauValue());
      if (heldOut && epochHeldOutNll) {
        recordEpochNll(epochHeldOutNll, network, heldOut.data, heldOut);
        bar?.update(step, `epoch ${epoch + 1}/${epochs} held-out NLL ${epochHeldOutNll.mean.at(-1)!.toFixed(4)}`);
      }
    }
  } finally {
    bar?.stop();
    optimizer.dispose();
    temperatureOptimizer.dispose();
  }
  return { steps: step, seconds: (Date.now() - started) / 1000, epochLoss, epochTau, ...(epochHeldOutNll ? { epochHeldOutNll } : {}) };
}
