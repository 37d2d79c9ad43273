// Structured label noise on the training labels: within each group of look-alike classes a label
// is replaced, with probability `rate`, by another member of its group chosen uniformly. This is
// the input-dependent, class-correlated noise heteroscedastic heads are meant to model; test
// labels are never touched.
import { uniformStream } from '../common/random.ts';

export interface LabelNoiseSpec {
  /** Probability that a label in a group is flipped to another class of that group. */
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

export interface NoisyLabels {
  labels: Uint8Array;
  /** How many labels differ from the clean ones. */
  flipped: number;
}

/** The noisy copy of `clean`; deterministic for the spec's seed. */
export function applyLabelNoise(clean: Uint8Array, spec: LabelNoiseSpec): NoisyLabels {
  if (!(spec.rate >= 0 && spec.rate <= 1)) throw new Error(`label-noise rate must be in [0, 1], got ${spec.rate}`);
  const groupOf = new Map<number, number[]>();
  for (const group of spec.groups) for (const c of group) groupOf.set(c, group);
  const next = uniformStream(spec.seed, 'label-noise');
  const labels = new Uint8Array(clean);
  let flipped = 0;
  for (let i = 0; i < labels.length; i++) {
    // Two draws per label whatever happens, so label i's fate does not depend on earlier ones.
    const flip = next() < spec.rate;
    const pick = next();
    const group = groupOf.get(clean[i]);
    if (!flip || !group) continue;
    const others = group.filter((c) => c !== clean[i]);
    labels[i] = others[Math.floor(pick * others.length)];
    flipped++;
  }
  return { labels, flipped };
}
