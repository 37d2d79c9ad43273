// The learning curve: the network's NLL on held-out (clean) labels at the end of each epoch,
// computed on the tfjs graph (the exported checkpoint does not exist yet) with the evaluator's
// own NLL (classificationMetrics: p clamped at 1e-12), so the last point matches evaluation.json's
// mean-mode NLL up to float32 rounding between tfjs and ONNX Runtime.
import type { Network } from './network.ts';
import { stepSeed } from '../common/random.ts';
import { tf } from '../common/tf.ts';
import { classificationMetrics } from '../../evaluate/metrics.ts';

/** Normalised held-out inputs [count, features] and their labels (the trainer's TrainingData has this shape). */
export interface LabelledInputs {
  inputs: Float32Array;
  labels: Uint8Array;
  count: number;
  features: number;
}

/** Images per forward pass: bounds the [B * S, D] sample tensor of the MC curve. */
const CURVE_BATCH = 500;

export interface CurveOptions {
  /** MC samples per image for the MC curve of noisy heads (0: mean mode only). */
  samples: number;
  seed: number;
}

export interface EpochNll {
  /** Mean mode (noise off), one per epoch. */
  mean: number[];
  /** MC predictive with `samples` samples, one per epoch; noisy heads with samples > 0 only. */
  mc?: number[];
  samples?: number;
}

function probsOf(network: Network, data: LabelledInputs, mcSamples: number, seed: number): Float32Array {
  const K = network.config.K;
  const probs = new Float32Array(data.count * K);
  for (let start = 0; start < data.count; start += CURVE_BATCH) {
    const n = Math.min(CURVE_BATCH, data.count - start);
    const batch = tf.tidy(() => {
      const x = tf.tensor2d(data.inputs.subarray(start * data.features, (start + n) * data.features), [n, data.features]);
      // The same noise for every epoch (a seed per batch, not per step): epoch-to-epoch changes are the model's.
      const seeds = { factor: stepSeed(seed, start, 'curve_eps_R'), diagonal: stepSeed(seed, start, 'curve_eps_D') };
      return (mcSamples > 0 ? network.mcProbs(x, mcSamples, seeds) : network.meanProbs(x)).dataSync() as Float32Array;
    });
    probs.set(batch, start * K);
  }
  return probs;
}

/** Appends this epoch's held-out NLL(s) to `curve`. */
export function recordEpochNll(curve: EpochNll, network: Network, data: LabelledInputs, options: CurveOptions): void {
  const K = network.config.K;
  curve.mean.push(classificationMetrics(probsOf(network, data, 0, options.seed), K, data.labels).nll);
  if (network.config.head !== 'det' && options.samples > 0) {
    curve.samples = options.samples;
    (curve.mc ??= []).push(classificationMetrics(probsOf(network, data, options.samples, options.seed), K, data.labels).nll);
  }
}
