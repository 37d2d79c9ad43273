// The untrained default model, hetxl-fashion-mnist-untrained: a HET-XL head with random weights
// in the Fashion-MNIST input shape. No longer bundled (models/ ships the trained checkpoints of
// `npm run train`); `npm run make-test-checkpoint` still writes it, for tests and benchmarks.
import type { GenerateOptions } from './random-checkpoint.ts';
import type { InputSpec } from '../format/manifest.ts';

export const DEFAULT_MODEL_NAME = 'hetxl-fashion-mnist-untrained';

export const FASHION_MNIST_LABELS = [
  'T-shirt/top',
  'Trouser',
  'Pullover',
  'Dress',
  'Coat',
  'Sandal',
  'Shirt',
  'Sneaker',
  'Bag',
  'Ankle boot',
];

/** 28 x 28 grayscale; mean and std of the Fashion-MNIST training pixels scaled to [0, 1]. */
export const FASHION_MNIST_INPUT: InputSpec = {
  height: 28,
  width: 28,
  channels: 1,
  layout: 'NCHW',
  resize: 'stretch',
  scale: 1 / 255,
  mean: [0.286],
  std: [0.353],
};

export function defaultModelOptions(modelsDir: string): GenerateOptions {
  return {
    modelsDir,
    name: DEFAULT_MODEL_NAME,
    seed: 20230126,
    description:
      'HET-XL (parameter-efficient, D = 64, R = 8) for Fashion-MNIST-shaped input (28 x 28 grayscale). ' +
      'UNTRAINED: the weights are seeded random numbers, so predictions and uncertainties mean nothing; ' +
      'it stands in until trained models ship.',
    head: { type: 'het-xl', covariance: 'param-efficient', D: 64, K: 10, R: 8, tau: 1, minScale: 1e-3 },
    input: FASHION_MNIST_INPUT,
    mc: { defaultSamples: 1000, maxSamples: 10000 },
    labels: FASHION_MNIST_LABELS,
    provenance: { dataset: 'none (random weights; input shape and labels of Fashion-MNIST)', command: 'npm run make-test-checkpoint' },
  };
}
