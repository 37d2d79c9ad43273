// Seeded standard-normal noise for the MC heads.
//
// Every row (seed, stream, sample index s) owns its own small generator state, derived from
// those three numbers by an integer hash. So the value at (seed, stream, s, j) is a pure
// function of its coordinates: results do not depend on how the samples are chunked, chunks
// could be generated in any order or in parallel, and the noise depends only on the seed and
// the sample index, never on the image or on the batch it came in.
//
// Generator: xoshiro128** (Blackman & Vigna) seeded through murmur3's 32-bit finaliser.
// Gaussian values: the 256-layer ziggurat (Marsaglia & Tsang 2000, in the form rand_distr
// uses: layer index and uniform from disjoint bits), about one 32-bit draw per value; the
// polar method measured 35 ms per million values here, the ziggurat about 5 ms.

/** Stream of eps_R (width R: the low-rank factor noise). */
export const STREAM_FACTOR = 0;
/** Stream of eps_D (width D for HET-XL, K for HET: the independent diagonal noise). */
export const STREAM_DIAGONAL = 1;

const TWO_POW_32 = 4294967296;

/** murmur3 fmix32: a bijective avalanche mix of a 32-bit word. */
function fmix32(h: number): number {
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** The 32-bit hash of one row's coordinates; each word is mixed in before the next. */
function rowHash(seedLow: number, seedHigh: number, stream: number, sample: number): number {
  let h = fmix32((seedLow ^ 0x9e3779b9) >>> 0);
  h = fmix32((h ^ Math.imul(seedHigh ^ 0x7f4a7c15, 0x85ebca77)) >>> 0);
  h = fmix32((h ^ Math.imul(stream + 0x165667b1, 0xc2b2ae3d)) >>> 0);
  h = fmix32((h ^ Math.imul(sample ^ 0x27d4eb2f, 0x9e3779b1)) >>> 0);
  return h;
}

/**
 * A seeded 32-bit word, a pure function of (seed, stream, index): random bits for the noise's
 * other generators (the Sobol scramblings of src/noise/sobol.ts).
 */
export function seededWord(seed: number, stream: number, index: number): number {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  return fmix32((rowHash(seed >>> 0, Math.floor(seed / TWO_POW_32) >>> 0, stream, index) ^ 0x5bd1e995) >>> 0);
}

// xoshiro128** state: four 32-bit words, reseeded for every row. A module-level typed array
// (normalRows runs synchronously, so nothing interleaves); V8 optimises this form about five
// times better than the same generator as a class with numeric fields.
const state = new Uint32Array(4);

/** Seeds the four state words from one hash with a splitmix-style sequence. */
function reseed(h: number): void {
  state[0] = fmix32((h + 0x9e3779b9) >>> 0);
  state[1] = fmix32((h + 0x3c6ef372) >>> 0);
  state[2] = fmix32((h + 0xdaa66d2b) >>> 0);
  state[3] = fmix32((h + 0x78dde6e4) >>> 0);
  if ((state[0] | state[1] | state[2] | state[3]) === 0) state[0] = 1; // the all-zero state is a fixed point
}

/** The next xoshiro128** output as an unsigned 32-bit integer. */
function nextUint32(): number {
  const s1 = state[1];
  let r = Math.imul(s1, 5);
  r = Math.imul((r << 7) | (r >>> 25), 9);
  const t = s1 << 9;
  state[2] ^= state[0];
  state[3] ^= s1;
  state[1] ^= state[2];
  state[0] ^= state[3];
  state[2] ^= t;
  state[3] = (state[3] << 11) | (state[3] >>> 21);
  return r >>> 0;
}

/** A uniform number in the open interval (0, 1). */
function nextOpenUnit(): number {
  return (nextUint32() + 0.5) / TWO_POW_32;
}

// Ziggurat tables for the unnormalised density f(x) = exp(-x^2 / 2): 256 layers of equal area
// ZIG_AREA; X[i] is the right edge of layer i (X[0] the base strip's pseudo-width, X[1] = R,
// X[256] = 0) and F[i] = f(X[i]). Computed once at load with Marsaglia's recursion.
const ZIG_LAYERS = 256;
const ZIG_R = 3.654152885361009;
const ZIG_AREA = 0.00492867323399;
const ZIG_X = new Float64Array(ZIG_LAYERS + 1);
const ZIG_F = new Float64Array(ZIG_LAYERS + 1);
{
  const density = (x: number) => Math.exp(-0.5 * x * x);
  ZIG_X[0] = ZIG_AREA / density(ZIG_R);
  ZIG_X[1] = ZIG_R;
  for (let i = 1; i < ZIG_LAYERS - 1; i++) ZIG_X[i + 1] = Math.sqrt(-2 * Math.log(ZIG_AREA / ZIG_X[i] + density(ZIG_X[i])));
  ZIG_X[ZIG_LAYERS] = 0;
  for (let i = 0; i <= ZIG_LAYERS; i++) ZIG_F[i] = density(ZIG_X[i]);
}

/** Maps the upper 24 bits of a draw to (-1, 1), symmetric and never 0 or +-1. */
const SIGNED_UNIT_FROM_24_BITS = 1 / 8388608; // 2^-23

/**
 * The ziggurat's rare path (about 1% of draws), after the first draw (layer, u) missed its
 * rectangle: resolve that draw, and on rejection start over. Kept out of the hot loop in
 * normalRows so that V8 keeps the fast path small.
 */
function zigguratSlowPath(layer: number, u: number): number {
  for (;;) {
    const x = u * ZIG_X[layer];
    if (Math.abs(x) < ZIG_X[layer + 1]) return x;
    if (layer === 0) {
      // Base strip beyond R: Marsaglia's exact tail method.
      let tail: number;
      let y: number;
      do {
        tail = Math.log(nextOpenUnit()) / ZIG_R;
        y = Math.log(nextOpenUnit());
      } while (-2 * y < tail * tail);
      return u < 0 ? tail - ZIG_R : ZIG_R - tail;
    }
    // The wedge between the rectangle and the curve: accept under the density.
    if (ZIG_F[layer + 1] + (ZIG_F[layer] - ZIG_F[layer + 1]) * nextOpenUnit() < Math.exp(-0.5 * x * x)) return x;
    const bits = nextUint32();
    layer = bits & 0xff;
    u = ((bits >>> 8) + 0.5) * SIGNED_UNIT_FROM_24_BITS - 1;
  }
}

function checkUint32(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0 || value >= TWO_POW_32) throw new RangeError(`${what} must be an integer in [0, 2^32), got ${value}`);
}

/**
 * Standard-normal noise rows [sCount, width], row-major: row i holds the noise of sample
 * sStart + i on the given stream. Any safe integer is a valid seed (negative ones included).
 */
export function normalRows(seed: number, stream: number, sStart: number, sCount: number, width: number): Float32Array {
  const out = new Float32Array(sCount * width);
  fillNormalRows(out, seed, stream, sStart, sCount, width);
  return out;
}

/**
 * normalRows into a caller's buffer (its first sCount * width values). Lets a caller reuse one
 * buffer: allocating a fresh multi-megabyte Float32Array costs here about twice the generation.
 */
export function fillNormalRows(out: Float32Array, seed: number, stream: number, sStart: number, sCount: number, width: number): void {
  if (!Number.isSafeInteger(seed)) throw new RangeError(`seed must be a safe integer, got ${seed}`);
  checkUint32(stream, 'stream');
  checkUint32(sStart, 'sStart');
  checkUint32(sCount, 'sCount');
  checkUint32(width, 'width');
  if (sStart + sCount > TWO_POW_32) throw new RangeError('sample indices must stay below 2^32');
  if (out.length < sCount * width) throw new RangeError(`buffer holds ${out.length} values, need ${sCount * width}`);
  // ToUint32 is exact modulo 2^32 for safe integers, so (low, high) is the seed's 64-bit pattern.
  const seedLow = seed >>> 0;
  const seedHigh = Math.floor(seed / TWO_POW_32) >>> 0;

  for (let row = 0; row < sCount; row++) {
    reseed(rowHash(seedLow, seedHigh, stream, sStart + row));
    // The generator's state in locals (nextUint32 inlined): about 2x faster than going through
    // the typed array on every draw. Written back around the rare slow path, which draws too.
    let s0 = state[0] | 0;
    let s1 = state[1] | 0;
    let s2 = state[2] | 0;
    let s3 = state[3] | 0;
    const base = row * width;
    for (let j = 0; j < width; j++) {
      const mixed = Math.imul(s1, 5);
      const bits = Math.imul((mixed << 7) | (mixed >>> 25), 9) >>> 0;
      const t = s1 << 9;
      s2 ^= s0;
      s3 ^= s1;
      s1 ^= s2;
      s0 ^= s3;
      s2 ^= t;
      s3 = (s3 << 11) | (s3 >>> 21);
      // Ziggurat fast path: the layer index and the uniform come from disjoint bits of one draw.
      const layer = bits & 0xff;
      const u = ((bits >>> 8) + 0.5) * SIGNED_UNIT_FROM_24_BITS - 1;
      const x = u * ZIG_X[layer];
      if (Math.abs(x) < ZIG_X[layer + 1]) {
        out[base + j] = x;
      } else {
        state[0] = s0;
        state[1] = s1;
        state[2] = s2;
        state[3] = s3;
        out[base + j] = zigguratSlowPath(layer, u);
        s0 = state[0] | 0;
        s1 = state[1] | 0;
        s2 = state[2] | 0;
        s3 = state[3] | 0;
      }
    }
  }
}
