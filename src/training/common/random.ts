// Seeded host-side numbers: shuffling, label noise, parameter init, generated checkpoints.
// tfjs has no seedable generator for host-side work, and the MC noise generator
// (src/noise/normal.ts) is counter-based per sample, so this is mulberry32 (32-bit state, period
// 2^32: plenty for a few million draws) with a stream per (seed, key).

/** FNV-1a of a string: turns a purpose ("shuffle", "label-noise") into a stream key. */
function fnv1a(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h;
}

/** mulberry32's 32-bit outputs for (seed, key); the same pair always gives the same stream. */
function bitStream(seed: number, key: string): () => number {
  let state = (fnv1a(key) ^ Math.imul(seed >>> 0, 0x9e3779b1)) >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  };
}

/** Uniform numbers in [0, 1) for (seed, key). */
export function uniformStream(seed: number, key: string): () => number {
  const bits = bitStream(seed, key);
  return () => bits() / 4294967296;
}

/**
 * N(0, 1) numbers for (seed, key) by Box-Muller: initial weights of the trainers and of the
 * generated checkpoints. The uniforms are (bits + 0.5) / 2^32, in (0, 1), so log() never sees 0.
 */
export function normalStream(seed: number, key: string): () => number {
  const bits = bitStream(seed, key);
  const uniform = (): number => (bits() + 0.5) / 4294967296;
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const s = spare;
      spare = undefined;
      return s;
    }
    const r = Math.sqrt(-2 * Math.log(uniform()));
    const a = 2 * Math.PI * uniform();
    spare = r * Math.sin(a);
    return r * Math.cos(a);
  };
}

/** A uniformly random permutation of 0..n-1 (Fisher-Yates). */
export function permutation(n: number, next: () => number): Uint32Array {
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const tmp = order[i];
    order[i] = order[j];
    order[j] = tmp;
  }
  return order;
}

/** The tf.randomNormal seeds of one MC draw: the R factor normals eps_R and the per-dimension normals eps_D. */
export interface NoiseSeeds {
  factor: number;
  diagonal: number;
}

/** A 31-bit seed for tf.randomNormal, distinct per (run seed, step, purpose). */
export function stepSeed(seed: number, step: number, key: string): number {
  const next = uniformStream(seed ^ Math.imul(step + 1, 0x85ebca6b), key);
  return Math.floor(next() * 0x7fffffff);
}
