// Scrambled Sobol points for the factor noise eps_R (estimator=sobol, randomised quasi-Monte
// Carlo), mapped to standard normals by an accurate inverse normal CDF.
//
// - Sequence: Sobol's, in Gray-code order (Antonov & Saleev 1979), with the direction numbers of
//   Joe & Kuo, "Constructing Sobol sequences with better two-dimensional projections" (SIAM J.
//   Sci. Comput. 30, 2008), file new-joe-kuo-6.21201: the first 64 dimensions, the same table
//   scipy.stats.qmc.Sobol ships (its first unscrambled points are the published ones).
// - Scrambling: Matousek's linear matrix scramble plus a random digital shift ("Random and
//   quasi-random point sets", Springer 1998; scipy's default): each dimension's generating
//   matrix C becomes L C with L random lower-triangular with unit diagonal, then every point is
//   XORed with a random 32-bit shift. Each point is then uniform on the 2^-32 grid, so the
//   estimate is unbiased, while the net's balance is kept.
// - Replicates: sample s belongs to scrambling r = s mod SOBOL_REPLICATES and is its point
//   floor(s / SOBOL_REPLICATES); the scramblings are independent, so the spread of their means is
//   an honest standard error (src/mc/accumulator.ts). Every value is a pure function of (seed,
//   s, dimension), like the plain normals: the chunking does not change the noise.
import { seededWord } from './normal.ts';

/** Independent scramblings a request's samples are spread over (the standard error has 15 degrees of freedom). */
export const SOBOL_REPLICATES = 16;
/**
 * The replicate blocks of a sobol chunk of `count` samples (a multiple of SOBOL_REPLICATES, or
 * fewer: then one sample per replicate).
 */
export function sobolBlocks(count: number): number {
  return Math.min(count, SOBOL_REPLICATES);
}

/** Dimensions of the table: the largest R estimator=sobol takes. */
export const SOBOL_MAX_DIMENSIONS = 64;
const BITS = 32;
/** Stream of the scrambling words (the noise streams are 0 and 1). */
const STREAM_SCRAMBLE = 0x50b0;

// [primitive polynomial with its leading and trailing 1 bits, initial m_1 .. m_degree]. The first
// dimension is van der Corput's (polynomial 1: every m_i = 1).
const JOE_KUO: [number, number[]][] = [
  [1, [1]], [3, [1]], [7, [1, 3]], [11, [1, 3, 1]], [13, [1, 1, 1]], [19, [1, 1, 3, 3]], [25, [1, 3, 5, 13]], [37, [1, 1, 5, 5, 17]],
  [41, [1, 1, 5, 5, 5]], [47, [1, 1, 7, 11, 19]], [55, [1, 1, 5, 1, 1]], [59, [1, 1, 1, 3, 11]], [61, [1, 3, 5, 5, 31]],
  [67, [1, 3, 3, 9, 7, 49]], [91, [1, 1, 1, 15, 21, 21]], [97, [1, 3, 1, 13, 27, 49]], [103, [1, 1, 1, 15, 7, 5]],
  [109, [1, 3, 1, 15, 13, 25]], [115, [1, 1, 5, 5, 19, 61]], [131, [1, 3, 7, 11, 23, 15, 103]], [137, [1, 3, 7, 13, 13, 15, 69]],
  [143, [1, 1, 3, 13, 7, 35, 63]], [145, [1, 3, 5, 9, 1, 25, 53]], [157, [1, 3, 1, 13, 9, 35, 107]], [167, [1, 3, 1, 5, 27, 61, 31]],
  [171, [1, 1, 5, 11, 19, 41, 61]], [185, [1, 3, 5, 3, 3, 13, 69]], [191, [1, 1, 7, 13, 1, 19, 1]], [193, [1, 3, 7, 5, 13, 19, 59]],
  [203, [1, 1, 3, 9, 25, 29, 41]], [211, [1, 3, 5, 13, 23, 1, 55]], [213, [1, 3, 7, 3, 13, 59, 17]], [229, [1, 3, 1, 3, 5, 53, 69]],
  [239, [1, 1, 5, 5, 23, 33, 13]], [241, [1, 1, 7, 7, 1, 61, 123]], [247, [1, 1, 7, 9, 13, 61, 49]], [253, [1, 3, 3, 5, 3, 55, 33]],
  [285, [1, 3, 1, 15, 31, 13, 49, 245]], [299, [1, 3, 5, 15, 31, 59, 63, 97]], [301, [1, 3, 1, 11, 11, 11, 77, 249]],
  [333, [1, 3, 1, 11, 27, 43, 71, 9]], [351, [1, 1, 7, 15, 21, 11, 81, 45]], [355, [1, 3, 7, 3, 25, 31, 65, 79]],
  [357, [1, 3, 1, 1, 19, 11, 3, 205]], [361, [1, 1, 5, 9, 19, 21, 29, 157]], [369, [1, 3, 7, 11, 1, 33, 89, 185]],
  [391, [1, 3, 3, 3, 15, 9, 79, 71]], [397, [1, 3, 7, 11, 15, 39, 119, 27]], [425, [1, 1, 3, 1, 11, 31, 97, 225]],
  [451, [1, 1, 1, 3, 23, 43, 57, 177]], [463, [1, 3, 7, 7, 17, 17, 37, 71]], [487, [1, 3, 1, 5, 27, 63, 123, 213]],
  [501, [1, 1, 3, 5, 11, 43, 53, 133]], [529, [1, 3, 5, 5, 29, 17, 47, 173, 479]], [539, [1, 3, 3, 11, 3, 1, 109, 9, 69]],
  [545, [1, 1, 1, 5, 17, 39, 23, 5, 343]], [557, [1, 3, 1, 5, 25, 15, 31, 103, 499]], [563, [1, 1, 1, 11, 11, 17, 63, 105, 183]],
  [601, [1, 1, 5, 11, 9, 29, 97, 231, 363]], [607, [1, 1, 5, 15, 19, 45, 41, 7, 383]], [617, [1, 3, 7, 7, 31, 19, 83, 137, 221]],
  [623, [1, 1, 1, 3, 23, 15, 111, 223, 83]], [631, [1, 1, 5, 13, 31, 15, 55, 25, 161]], [637, [1, 1, 3, 13, 25, 47, 39, 87, 257]],
];

/**
 * The direction numbers V_1 .. V_32 of dimension `dim` as 32-bit integers, V_j = m_j 2^(32-j):
 * the initial m_j, then Bratley & Fox's recurrence (ACM TOMS 14, 1988) in that form,
 * V_j = a_1 V_(j-1) ^ ... ^ a_(s-1) V_(j-s+1) ^ V_(j-s) ^ (V_(j-s) >> s), a_i the inner
 * coefficients of the degree-s polynomial.
 */
function directionNumbers(dim: number): Uint32Array {
  const [poly, initial] = JOE_KUO[dim];
  const V = new Uint32Array(BITS);
  if (poly === 1) {
    for (let j = 0; j < BITS; j++) V[j] = 2 ** (BITS - 1 - j);
    return V;
  }
  const degree = 31 - Math.clz32(poly);
  for (let j = 0; j < BITS; j++) {
    if (j < degree) {
      V[j] = initial[j] * 2 ** (BITS - 1 - j);
      continue;
    }
    let value = V[j - degree] ^ (V[j - degree] >>> degree);
    for (let k = 1; k < degree; k++) if ((poly >>> (degree - k)) & 1) value ^= V[j - k];
    V[j] = value >>> 0;
  }
  return V;
}

const DIRECTIONS = Array.from({ length: SOBOL_MAX_DIMENSIONS }, (_, d) => directionNumbers(d));

/** Unscrambled coordinate `dim` of point n (Gray-code order) as a 32-bit integer: x / 2^32 in [0, 1). */
export function sobolInteger(n: number, dim: number): number {
  return pointOf(DIRECTIONS[dim], n, 0);
}

function pointOf(directions: Uint32Array, n: number, shift: number): number {
  let gray = (n ^ (n >>> 1)) >>> 0;
  let x = shift;
  for (let j = 0; gray !== 0; j++, gray >>>= 1) if (gray & 1) x ^= directions[j];
  return x >>> 0;
}

/** Parity of the set bits of a 32-bit word. */
function parity(word: number): number {
  let w = word >>> 0;
  w ^= w >>> 16;
  w ^= w >>> 8;
  w ^= w >>> 4;
  w ^= w >>> 2;
  w ^= w >>> 1;
  return w & 1;
}

/** One scrambling: per dimension the direction numbers L V_j and the digital shift. */
interface Scrambling {
  directions: Uint32Array[];
  shifts: Uint32Array;
}

/**
 * Scrambling r of `seed` for dimensions 0 .. width - 1. Digit k of a column (bit 31 - k) becomes
 * the parity of row k of L with the column's digits: row k holds digit k itself and random
 * digits 0 .. k - 1 (lower triangular, unit diagonal).
 */
function scrambling(seed: number, r: number, width: number): Scrambling {
  const directions: Uint32Array[] = [];
  const shifts = new Uint32Array(width);
  for (let d = 0; d < width; d++) {
    const word = (k: number) => seededWord(seed, STREAM_SCRAMBLE, (r * SOBOL_MAX_DIMENSIONS + d) * (BITS + 1) + k);
    const rows = Array.from({ length: BITS }, (_, k) => {
      const diagonal = 2 ** (BITS - 1 - k);
      const above = k === 0 ? 0 : (word(k) >>> (BITS - k)) * 2 ** (BITS - k); // random digits 0 .. k - 1
      return (above + diagonal) >>> 0;
    });
    directions.push(DIRECTIONS[d].map((column) => rows.reduce((out, row, k) => (out | (parity(row & column) << (BITS - 1 - k))) >>> 0, 0)));
    shifts[d] = word(BITS);
  }
  return { directions, shifts };
}

// The last request's scramblings: every chunk of a request uses the same ones.
let cached: { seed: number; width: number; scramblings: Scrambling[] } | undefined;

function scramblingsOf(seed: number, width: number): Scrambling[] {
  if (cached?.seed !== seed || cached.width !== width) {
    cached = { seed, width, scramblings: Array.from({ length: SOBOL_REPLICATES }, (_, r) => scrambling(seed, r, width)) };
  }
  return cached.scramblings;
}

/**
 * Samples sStart .. sStart + sCount - 1 of the scrambled Sobol normals, [sCount, width] row-major
 * in replicate-major order within the block: its rows are the samples s with s mod REPLICATES = 0
 * first (by increasing s), then 1, ...: the sample graph sums each replicate's rows as one block
 * (src/mc/sample-graph.ts). sStart and sCount must be multiples of SOBOL_REPLICATES, or sCount
 * below it (then each row is its own replicate).
 */
export function fillSobolNormals(out: Float32Array, seed: number, sStart: number, sCount: number, width: number): void {
  if (width > SOBOL_MAX_DIMENSIONS) throw new RangeError(`estimator sobol takes at most ${SOBOL_MAX_DIMENSIONS} factor dimensions, got ${width}`);
  const J = SOBOL_REPLICATES;
  if (sStart % J !== 0 || (sCount % J !== 0 && sCount > J)) throw new RangeError(`sobol blocks start at a multiple of ${J} and hold a multiple of ${J} samples (or fewer than ${J})`);
  if (out.length < sCount * width) throw new RangeError(`buffer holds ${out.length} values, need ${sCount * width}`);
  const scramblings = scramblingsOf(seed, width);
  sobolSampleOrder(sStart, sCount).forEach((sample, row) => {
    const { directions, shifts } = scramblings[sample % J];
    const point = Math.floor(sample / J);
    for (let d = 0; d < width; d++) out[row * width + d] = inverseNormalCdf((pointOf(directions[d], point, shifts[d]) + 0.5) / 2 ** BITS);
  });
}

/**
 * The sample index of each row of a sobol block (replicate-major, see fillSobolNormals), so
 * that the other noise streams' rows follow the same samples.
 */
export function sobolSampleOrder(sStart: number, sCount: number): number[] {
  const J = SOBOL_REPLICATES;
  const perReplicate = Math.max(1, sCount / J);
  return Array.from({ length: sCount }, (_, row) => sStart + (row % perReplicate) * J + Math.floor(row / perReplicate));
}

/**
 * The standard normal quantile Phi^-1(p) for p in (0, 1): Wichura's algorithm AS 241 (PPND16,
 * Applied Statistics 37, 1988), about 1e-16 relative error: three rational approximations, for
 * the centre |p - 1/2| <= 0.425, then in r = sqrt(-log(min(p, 1 - p))) up to 5 and beyond.
 */
export function inverseNormalCdf(p: number): number {
  if (!(p > 0 && p < 1)) throw new RangeError(`inverseNormalCdf needs p in (0, 1), got ${p}`);
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (q * horner(CENTRE_NUMERATOR, r)) / horner(CENTRE_DENOMINATOR, r);
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let value: number;
  if (r <= 5) {
    r -= 1.6;
    value = horner(NEAR_NUMERATOR, r) / horner(NEAR_DENOMINATOR, r);
  } else {
    r -= 5;
    value = horner(TAIL_NUMERATOR, r) / horner(TAIL_DENOMINATOR, r);
  }
  return q < 0 ? -value : value;
}

/** c_0 + c_1 x + ... + c_7 x^7. */
function horner(c: readonly number[], x: number): number {
  let value = c[c.length - 1];
  for (let i = c.length - 2; i >= 0; i--) value = value * x + c[i];
  return value;
}

// AS 241's coefficients, constant term first.
const CENTRE_NUMERATOR = [
  3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946, 45921.95393154987, 67265.7709270087,
  33430.57558358813, 2509.0809287301227,
];
const CENTRE_DENOMINATOR = [
  1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597, 39307.89580009271, 28729.085735721943,
  5226.495278852854,
];
const NEAR_NUMERATOR = [
  1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045, 1.2704582524523684, 0.2417807251774506,
  0.022723844989269184, 0.0007745450142783414,
];
const NEAR_DENOMINATOR = [
  1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008, 0.015198666563616457,
  0.0005475938084995345, 1.0507500716444169e-9,
];
const TAIL_NUMERATOR = [
  6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487, 0.026532189526576124, 0.0012426609473880784,
  2.7115555687434876e-5, 2.0103343992922881e-7,
];
const TAIL_DENOMINATOR = [
  1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133, 1.8463183175100548e-5,
  1.421511758316446e-7, 2.0442631033899397e-15,
];
