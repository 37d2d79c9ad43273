// A benchmark head that looks trained (issue #15): random weights give near-flat predictives at
// K = 29,593, where no candidate set or precision target can help, which is not what a trained
// large-K classifier serves. This profile replaces the loc layer of a generated checkpoint by one
// with the structure of a trained head, and makes the held-out pre-logit inputs that go with it:
//
// - classes come in clusters of CLUSTER_SIZE related classes (a trained JFT head's columns for
//   "sparrow" and "finch" are close): w_k = sigma (0.8 mu_g(k) + 0.6 delta_k), mu and delta
//   N(0, 1), so columns of one cluster have cosine about 0.64;
// - the biases are log class priors of Zipf form, b_k = -0.3 log(1 + rank_k) (a seeded rank);
// - an input is tanh(x) with x = a (cos t w^_c + sin t w^_c') sqrt(D) + 0.6 xi: a class direction
//   (or a mix with a sibling c') of strength a plus isotropic noise xi. The strengths run from
//   STRONGEST down to 0 over the set, so the predictives go from peaked (top-1 near 1) through
//   confused between siblings to flat (entropy near log K);
// - the noise is twice that of the random profile (per noise dimension std about 0.6 on the
//   pre-logits, NOISE_SCALE), so that the MC predictive of the ambiguous inputs differs from mean mode. Deterministic: same seed, same tensors and inputs.
import { normalStream, permutation, uniformStream } from '../training/common/random.ts';

export const CLUSTER_SIZE = 16;
/** Input strengths a (in units of sqrt(D) along a unit class direction), largest and smallest. */
const STRONGEST = 0.5;
const WEAKEST = 0.1;
const INPUT_NOISE = 0.6;
const ZIPF_SLOPE = 0.3;
/** Noise std per pre-logit dimension (the random profile's is 0.3). */
export const NOISE_SCALE = 0.6;

/** Entry std of W: noise-only inputs (rms of phi about 0.5) get logits of std about 1. */
function kernelScale(D: number): number {
  return 2 / Math.sqrt(D);
}

/** The loc kernel [D, K] row-major, one row of K values per chunk. */
export function* trainedLookingKernel(seed: number, D: number, K: number): Generator<Float32Array> {
  const clusters = Math.ceil(K / CLUSTER_SIZE);
  const centre = normalStream(seed, 'trained-looking/cluster-centres');
  const own = normalStream(seed, 'trained-looking/class-offsets');
  const sigma = kernelScale(D);
  const centreRow = new Float64Array(clusters);
  for (let j = 0; j < D; j++) {
    for (let g = 0; g < clusters; g++) centreRow[g] = centre();
    const row = new Float32Array(K);
    for (let k = 0; k < K; k++) row[k] = sigma * (0.8 * centreRow[Math.floor(k / CLUSTER_SIZE)] + 0.6 * own());
    yield row;
  }
}

/** The loc bias [K]: log priors -ZIPF_SLOPE log(1 + rank), the ranks a seeded permutation. */
export function trainedLookingBias(seed: number, K: number): Float32Array {
  const rank = permutation(K, uniformStream(seed, 'trained-looking/class-ranks'));
  return Float32Array.from(rank, (r) => -ZIPF_SLOPE * Math.log1p(r));
}

export interface TrainedLookingInputs {
  /** Pre-logits [count, D], row-major. */
  phi: Float32Array;
  /** Per input, the class it was drawn towards. */
  classes: Int32Array;
  /** Per input, its strength a in [WEAKEST, STRONGEST]: high is peaked, low is flat. */
  strength: Float64Array;
}

/**
 * `count` held-out pre-logit inputs for a trained-looking head with loc kernel W [D, K]
 * (row-major, as in head.safetensors): strengths evenly from STRONGEST to WEAKEST, every other input
 * mixed with a sibling of its class. `seed` picks the classes and the noise (use one the
 * checkpoint was not generated with, for held-out inputs).
 */
export function trainedLookingInputs(W: Float32Array, D: number, K: number, count: number, seed: number): TrainedLookingInputs {
  if (W.length !== D * K) throw new RangeError(`W holds ${W.length} values, expected D * K = ${D * K}`);
  const uniform = uniformStream(seed, 'trained-looking/inputs');
  const noise = normalStream(seed, 'trained-looking/input-noise');
  const phi = new Float32Array(count * D);
  const classes = new Int32Array(count);
  const strength = new Float64Array(count);
  const column = (k: number): Float64Array => {
    const w = Float64Array.from({ length: D }, (_, j) => W[j * K + k]);
    const norm = Math.hypot(...w);
    return w.map((x) => x / norm);
  };
  for (let i = 0; i < count; i++) {
    const c = Math.min(K - 1, Math.floor(uniform() * K));
    const clusterStart = c - (c % CLUSTER_SIZE);
    const sibling = Math.min(K - 1, clusterStart + ((c - clusterStart + 1 + Math.floor(uniform() * (CLUSTER_SIZE - 1))) % CLUSTER_SIZE));
    const a = count > 1 ? STRONGEST - ((STRONGEST - WEAKEST) * i) / (count - 1) : STRONGEST;
    const t = i % 2 === 1 && sibling !== c ? (Math.PI / 4) * uniform() : 0;
    const [wc, ws] = [column(c), column(sibling)];
    for (let j = 0; j < D; j++) {
      const x = a * Math.sqrt(D) * (Math.cos(t) * wc[j] + Math.sin(t) * ws[j]) + INPUT_NOISE * noise();
      phi[i * D + j] = Math.tanh(x);
    }
    classes[i] = c;
    strength[i] = a;
  }
  return { phi, classes, strength };
}
