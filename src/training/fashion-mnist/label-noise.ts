// Structured label noise on the training labels: within each group of look-alike classes a label
// is replaced by another member of its group chosen uniformly. Two kinds decide how likely a flip is:
// - 'class': with probability `rate` for every image of a grouped class (class-conditional: a
//   deterministic softmax can represent p(noisy label | x) for it exactly);
// - 'input': with probability rate * sigmoid(INPUT_NOISE_SLOPE * z(x)), z a fixed random projection
//   of the image's pixels standardised within its class, so within every class one part of input
//   space is noisy (flip probability near `rate`) and another nearly clean: the input-dependent
//   noise the heteroscedastic heads target.
// Test labels are never touched.
import { normalStream, uniformStream } from '../common/random.ts';

export const LABEL_NOISE_KINDS = ['class', 'input'] as const;
export type LabelNoiseKind = (typeof LABEL_NOISE_KINDS)[number];

/** Steepness of the 'input' kind's sigmoid: |z| > 0.75 gives a flip probability above 0.95 rate or below 0.05 rate. */
export const INPUT_NOISE_SLOPE = 4;

export interface LabelNoiseSpec {
  /** Default 'class'. */
  kind?: LabelNoiseKind;
  /** 'class': the probability that a label in a group is flipped; 'input': its maximum. */
  rate: number;
  /** Groups of classes flipped among each other; a class may be in at most one group. */
  groups: number[][];
  seed: number;
}

/** Fashion-MNIST look-alikes: tops (T-shirt/top, Pullover, Coat, Shirt) and footwear (Sandal, Sneaker, Ankle boot). */
export const FASHION_MNIST_NOISE_GROUPS: number[][] = [
  [0, 2, 4, 6],
  [5, 7, 9],
];

/** "0,2,4,6;5,7,9" -> [[0,2,4,6],[5,7,9]]. */
export function parseNoiseGroups(text: string, K: number): number[][] {
  const groups = text.split(';').map((g) => g.split(',').map((c) => Number(c.trim())));
  const seen = new Set<number>();
  for (const group of groups) {
    if (group.length < 2) throw new Error(`label-noise group "${group.join(',')}" needs at least two classes`);
    for (const c of group) {
      if (!Number.isInteger(c) || c < 0 || c >= K) throw new Error(`label-noise class ${c} is not an integer in 0..${K - 1}`);
      if (seen.has(c)) throw new Error(`label-noise class ${c} is in more than one group`);
      seen.add(c);
    }
  }
  return groups;
}

/**
 * The 'input' kind's projection of image x of clean class y: z(x) = (sum_j w_j x_j / 255 -
 * center[y]) / scale[y], w_j ~ N(0, 1).
 */
export interface NoiseProjection {
  /** Where the weights come from (normalStream of the seed and this key, one per pixel in order). */
  weights: string;
  slope: number;
  /** Per clean class: mean and standard deviation of the raw projection over that class's images (0 and 1 for a class absent). */
  center: number[];
  scale: number[];
}

export interface NoisyLabels {
  labels: Uint8Array;
  /** How many labels differ from the clean ones. */
  flipped: number;
  /** 1 where the label was flipped: what flipped-label detection is scored against. */
  mask: Uint8Array;
  /** 'input' kind: the projection, and each image's flip probability if its class is in a group. */
  projection?: NoiseProjection;
  flipProbability?: Float64Array;
}

const PROJECTION_KEY = 'label-noise-projection';

/**
 * rate * sigmoid(slope * z) per image; `pixels` is [count, features] of 8-bit levels. z is
 * standardised within each clean class: a raw projection differs between garments far more than
 * within one (a sneaker is not a coat), so standardised over all images it would make some classes
 * nearly all noisy and others clean, class-conditional noise again. Within each class, then, about
 * half of the images are on the noisy side and the class's flip rate is about rate / 2 for every
 * class: what changes from the 'class' kind is which images flip, not how many per class.
 */
export function inputFlipProbabilities(pixels: Uint8Array, clean: Uint8Array, rate: number, seed: number): { probability: Float64Array; projection: NoiseProjection } {
  const count = clean.length;
  const features = pixels.length / count;
  if (!Number.isInteger(features)) throw new Error(`label noise: ${pixels.length} pixels do not split into ${count} images`);
  const normal = normalStream(seed, PROJECTION_KEY);
  const weights = Float64Array.from({ length: features }, () => normal());
  const raw = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    let z = 0;
    for (let j = 0; j < features; j++) z += weights[j] * (pixels[i * features + j] / 255);
    raw[i] = z;
  }
  const classes = clean.reduce((a, y) => Math.max(a, y + 1), 0);
  const n = new Float64Array(classes);
  const sum = new Float64Array(classes);
  const sumSq = new Float64Array(classes);
  clean.forEach((y, i) => {
    n[y]++;
    sum[y] += raw[i];
  });
  const center = Array.from(n, (m, y) => (m > 0 ? sum[y] / m : 0));
  clean.forEach((y, i) => (sumSq[y] += (raw[i] - center[y]) ** 2));
  // A class whose images all project alike (scale 0, or one image) sits at z = 0: rate / 2.
  const scale = Array.from(n, (m, y) => (m > 0 && sumSq[y] > 0 ? Math.sqrt(sumSq[y] / m) : 1));
  const probability = raw.map((v, i) => rate / (1 + Math.exp((-INPUT_NOISE_SLOPE * (v - center[clean[i]])) / scale[clean[i]])));
  return { probability, projection: { weights: `N(0, 1) per pixel, stream "${PROJECTION_KEY}" of the seed`, slope: INPUT_NOISE_SLOPE, center, scale } };
}

/**
 * The noisy copy of `clean`; deterministic for the spec's seed. The 'input' kind needs the images'
 * `pixels` ([count, features], 8-bit levels).
 */
export function applyLabelNoise(clean: Uint8Array, spec: LabelNoiseSpec, pixels?: Uint8Array): NoisyLabels {
  if (!(spec.rate >= 0 && spec.rate <= 1)) throw new Error(`label-noise rate must be in [0, 1], got ${spec.rate}`);
  const kind = spec.kind ?? 'class';
  if (kind === 'input' && !pixels) throw new Error('input-dependent label noise needs the images');
  const input = kind === 'input' ? inputFlipProbabilities(pixels!, clean, spec.rate, spec.seed) : undefined;
  const groupOf = new Map<number, number[]>();
  for (const group of spec.groups) for (const c of group) groupOf.set(c, group);
  const next = uniformStream(spec.seed, 'label-noise');
  const labels = new Uint8Array(clean);
  const mask = new Uint8Array(clean.length);
  let flipped = 0;
  for (let i = 0; i < labels.length; i++) {
    // Two draws per label whatever happens, so label i's fate does not depend on earlier ones
    // (and the 'class' kind draws exactly what it drew before the 'input' kind existed).
    const flip = next() < (input ? input.probability[i] : spec.rate);
    const pick = next();
    const group = groupOf.get(clean[i]);
    if (!flip || !group) continue;
    const others = group.filter((c) => c !== clean[i]);
    labels[i] = others[Math.floor(pick * others.length)];
    mask[i] = 1;
    flipped++;
  }
  return { labels, flipped, mask, ...(input ? { projection: input.projection, flipProbability: input.probability } : {}) };
}
