// An independent float64 reference of the heads in docs/method.md: plain number arrays and loops,
// written from the formulas, sharing no code with the ONNX graphs in src/heads/.
// Also: a seeded reference RNG (mulberry32 + Box-Muller, unrelated to src/noise) and random
// test weights.
import type { HeadSpec } from '../../src/format/manifest.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';

export type Vector = number[];
export type Matrix = number[][]; // rows

// ---------------------------------------------------------------------------------------------
// Random numbers for the reference's own samples and for test weights

/** mulberry32: a tiny seeded 32-bit generator; returns uniforms in [0, 1). */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normals by Box-Muller from a uniform source. */
export function gaussianSource(seed: number): () => number {
  const uniform = mulberry32(seed);
  let spare: number | undefined;
  return () => {
    if (spare !== undefined) {
      const value = spare;
      spare = undefined;
      return value;
    }
    const u1 = 1 - uniform(); // (0, 1]
    const u2 = uniform();
    const radius = Math.sqrt(-2 * Math.log(u1));
    spare = radius * Math.sin(2 * Math.PI * u2);
    return radius * Math.cos(2 * Math.PI * u2);
  };
}

export interface WeightScales {
  loc: number;
  locBias: number;
  scaleKernel: number;
  scaleBias: number;
  factorKernel: number;
  factorBias: number;
  diagKernel: number;
  diagBias: number;
}

export const defaultWeightScales: WeightScales = {
  loc: 0.8,
  locBias: 0.3,
  scaleKernel: 0.4,
  scaleBias: 0.5,
  factorKernel: 0.6,
  factorBias: 0.3,
  diagKernel: 0.3,
  diagBias: 0.2,
};

/** Random weights for every tensor the spec needs (the shapes of docs/method.md and docs/checkpoint-format.md). */
export function randomHeadWeights(spec: HeadSpec, seed: number, scales: WeightScales = defaultWeightScales): HeadWeights {
  const normal = gaussianSource(seed);
  const { D, K } = spec;
  const R = spec.R ?? 0;
  const N = spec.type === 'het' ? K : D;
  const weights: HeadWeights = new Map();
  const add = (name: string, dims: number[], std: number, mean = 0) => {
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = mean + std * normal();
    weights.set(name, { dims, data });
  };
  add('loc_layer/kernel', [D, K], scales.loc);
  add('loc_layer/bias', [K], scales.locBias);
  if (spec.type === 'det') return weights;
  if (R === 0) {
    // Diagonal noise only: no low-rank layers at all.
  } else if (spec.covariance === 'full') {
    add('scale_layer/kernel', [D, N * R], scales.scaleKernel / Math.sqrt(R));
    add('scale_layer/bias', [N * R], scales.scaleBias / Math.sqrt(R));
  } else {
    add('scale_layer_heteroscedastic/kernel', [D, N], scales.scaleKernel);
    add('scale_layer_heteroscedastic/bias', [N], scales.scaleBias);
    add('scale_layer_homoscedastic/kernel', [R, N], scales.factorKernel);
    add('scale_layer_homoscedastic/bias', [N], scales.factorBias);
  }
  add('diag_layer/kernel', [D, N], scales.diagKernel);
  add('diag_layer/bias', [N], scales.diagBias, -1);
  return weights;
}

// ---------------------------------------------------------------------------------------------
// The heads, in float64

/** A weight as a [rows][cols] matrix (a 1-D tensor becomes one row). */
function matrix(weights: HeadWeights, name: string): Matrix {
  const tensor = weights.get(name);
  if (!tensor) throw new Error(`reference: missing ${name}`);
  const cols = tensor.dims[tensor.dims.length - 1];
  const rows = tensor.data.length / cols;
  const out: Matrix = [];
  for (let r = 0; r < rows; r++) out.push(Array.from(tensor.data.subarray(r * cols, (r + 1) * cols), Number));
  return out;
}

function vector(weights: HeadWeights, name: string): Vector {
  return matrix(weights, name)[0];
}

/** x^T M + bias for x [rows of M]. */
function affine(x: Vector, M: Matrix, bias: Vector): Vector {
  const out = bias.slice();
  for (let i = 0; i < x.length; i++) for (let j = 0; j < out.length; j++) out[j] += x[i] * M[i][j];
  return out;
}

function softplus(x: number): number {
  return x > 0 ? x + Math.log1p(Math.exp(-x)) : Math.log1p(Math.exp(x));
}

export interface ReferenceScales {
  /** Parameter-efficient: v(x) [N]. v and V are both absent when R = 0 (no low-rank part). */
  v?: Vector;
  /** Full: V(x) [N][R], V[i][r] = (phi W_V + b_V)[i * R + r]. */
  V?: Matrix;
  /** d(x) = softplus(phi W_d + b_d) + minScale [N]. */
  d: Vector;
}

export function referenceScales(spec: HeadSpec, weights: HeadWeights, phi: Vector): ReferenceScales {
  const d = affine(phi, matrix(weights, 'diag_layer/kernel'), vector(weights, 'diag_layer/bias')).map((x) => softplus(x) + spec.minScale);
  if (spec.R === 0) return { d };
  if (spec.covariance === 'full') {
    const R = spec.R!;
    const flat = affine(phi, matrix(weights, 'scale_layer/kernel'), vector(weights, 'scale_layer/bias'));
    const V: Matrix = [];
    for (let i = 0; i < d.length; i++) V.push(flat.slice(i * R, (i + 1) * R));
    return { V, d };
  }
  return { v: affine(phi, matrix(weights, 'scale_layer_heteroscedastic/kernel'), vector(weights, 'scale_layer_heteroscedastic/bias')), d };
}

/** The noise vector [N] of one sample: V eps_R + d * eps_D. */
export function referenceNoise(spec: HeadSpec, weights: HeadWeights, scales: ReferenceScales, epsR: Vector, epsD: Vector): Vector {
  const N = scales.d.length;
  const noise: Vector = new Array(N).fill(0);
  if (scales.V) {
    for (let i = 0; i < N; i++) for (let r = 0; r < epsR.length; r++) noise[i] += scales.V[i][r] * epsR[r];
  } else if (scales.v) {
    // (eps_R J + b_J) * v
    const factor = affine(epsR, matrix(weights, 'scale_layer_homoscedastic/kernel'), vector(weights, 'scale_layer_homoscedastic/bias'));
    for (let i = 0; i < N; i++) noise[i] += factor[i] * scales.v![i];
  }
  for (let i = 0; i < N; i++) noise[i] += scales.d[i] * epsD[i];
  return noise;
}

/** Noise-free logits W^T phi + b. */
export function referenceLocLogits(weights: HeadWeights, phi: Vector): Vector {
  return affine(phi, matrix(weights, 'loc_layer/kernel'), vector(weights, 'loc_layer/bias'));
}

/** Untempered logits u of one sample (DET ignores the noise). */
export function referenceLogits(spec: HeadSpec, weights: HeadWeights, phi: Vector, epsR: Vector, epsD: Vector, scales?: ReferenceScales): Vector {
  if (spec.type === 'det') return referenceLocLogits(weights, phi);
  const s = scales ?? referenceScales(spec, weights, phi);
  const noise = referenceNoise(spec, weights, s, epsR, epsD);
  if (spec.type === 'het') return referenceLocLogits(weights, phi).map((u, k) => u + noise[k]);
  return referenceLocLogits(weights, phi.map((x, i) => x + noise[i]));
}

export function softmax(logits: Vector): Vector {
  const max = Math.max(...logits);
  const e = logits.map((u) => Math.exp(u - max));
  const z = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / z);
}

export function entropy(p: Vector): number {
  return -p.reduce((h, x) => (x > 0 ? h + x * Math.log(x) : h), 0);
}

/** First index of the maximum. */
export function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

/** Mean mode: softmax((W^T phi + b) / tau), noise off. */
export function referenceMeanProbs(spec: HeadSpec, weights: HeadWeights, phi: Vector): Vector {
  return softmax(referenceLocLogits(weights, phi).map((u) => u / spec.tau));
}

export interface ReferenceMc {
  probs: Vector;
  /** Population std of p_s per class. */
  std: Vector;
  expectedEntropy: number;
  /** Population std of H[p_s] across samples. */
  entropyStd: number;
  sampleArgmax: number[];
  /** Per sample, the gap between the two largest tempered logits (to excuse argmax near-ties). */
  top2Gap: number[];
}

/** The MC predictive for one image, given the noise rows of each sample. */
export function referenceMc(spec: HeadSpec, weights: HeadWeights, phi: Vector, epsR: Matrix, epsD: Matrix): ReferenceMc {
  const S = epsR.length;
  const K = spec.K;
  const scales = spec.type === 'det' ? undefined : referenceScales(spec, weights, phi);
  const sum: Vector = new Array(K).fill(0);
  const sumSq: Vector = new Array(K).fill(0);
  let entropySum = 0;
  let entropySqSum = 0;
  const sampleArgmax: number[] = [];
  const top2Gap: number[] = [];
  for (let s = 0; s < S; s++) {
    const t = referenceLogits(spec, weights, phi, epsR[s], epsD[s], scales).map((u) => u / spec.tau);
    const p = softmax(t);
    for (let k = 0; k < K; k++) {
      sum[k] += p[k];
      sumSq[k] += p[k] * p[k];
    }
    const h = entropy(p);
    entropySum += h;
    entropySqSum += h * h;
    const best = argmax(t);
    sampleArgmax.push(best);
    top2Gap.push(t[best] - Math.max(...t.filter((_, k) => k !== best)));
  }
  const probs = sum.map((x) => x / S);
  const std = sumSq.map((x, k) => Math.sqrt(Math.max(x / S - probs[k] * probs[k], 0)));
  const expectedEntropy = entropySum / S;
  const entropyStd = Math.sqrt(Math.max(entropySqSum / S - expectedEntropy * expectedEntropy, 0));
  return { probs, std, expectedEntropy, entropyStd, sampleArgmax, top2Gap };
}

/** The reference's own independent noise (mulberry32 + Box-Muller): eps_R and eps_D of each sample, in turn. */
export function referenceNoiseRows(spec: HeadSpec, samples: number, seed: number): { epsR: Matrix; epsD: Matrix } {
  const normal = gaussianSource(seed);
  const R = spec.R ?? 0;
  const N = spec.type === 'het' ? spec.K : spec.D;
  const epsR: Matrix = [];
  const epsD: Matrix = [];
  for (let s = 0; s < samples; s++) {
    epsR.push(Array.from({ length: R }, normal));
    epsD.push(Array.from({ length: N }, normal));
  }
  return { epsR, epsD };
}

/** The MC predictive with the reference's own independent noise. */
export function referenceMcIndependent(spec: HeadSpec, weights: HeadWeights, phi: Vector, samples: number, seed: number): ReferenceMc {
  const { epsR, epsD } = referenceNoiseRows(spec, samples, seed);
  return referenceMc(spec, weights, phi, epsR, epsD);
}

export interface Gaussian {
  mean: Vector;
  covariance: Matrix;
}

/**
 * The distribution of the untempered logits u. HET-XL: mean W^T (phi + mu') + b, covariance
 * W^T Sigma' W; HET: mean loc + mu, covariance Sigma. Sigma = V V^T + diag(d^2) (full) or
 * diag(v) J^T J diag(v) + diag(d^2) (parameter-efficient, whose noise has mean mu = b_J * v), or
 * diag(d^2) alone when R = 0.
 */
export function referenceLogitDistribution(spec: HeadSpec, weights: HeadWeights, phi: Vector): Gaussian {
  const scales = referenceScales(spec, weights, phi);
  const N = scales.d.length;
  const noiseMean: Vector = new Array(N).fill(0);
  const sigma: Matrix = Array.from({ length: N }, () => new Array(N).fill(0));
  if (scales.V) {
    const V = scales.V;
    for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) for (let r = 0; r < V[i].length; r++) sigma[i][j] += V[i][r] * V[j][r];
  } else if (scales.v) {
    const J = matrix(weights, 'scale_layer_homoscedastic/kernel'); // [R][N]
    const bJ = vector(weights, 'scale_layer_homoscedastic/bias');
    const v = scales.v;
    for (let i = 0; i < N; i++) {
      noiseMean[i] = bJ[i] * v[i];
      for (let j = 0; j < N; j++) {
        let jtj = 0;
        for (let r = 0; r < J.length; r++) jtj += J[r][i] * J[r][j];
        sigma[i][j] = v[i] * jtj * v[j];
      }
    }
  }
  for (let i = 0; i < N; i++) sigma[i][i] += scales.d[i] * scales.d[i];

  if (spec.type === 'het') {
    return { mean: referenceLocLogits(weights, phi).map((u, k) => u + noiseMean[k]), covariance: sigma };
  }
  const W = matrix(weights, 'loc_layer/kernel'); // [D][K]
  const K = spec.K;
  const covariance: Matrix = Array.from({ length: K }, () => new Array(K).fill(0));
  for (let a = 0; a < K; a++) {
    for (let b = 0; b < K; b++) {
      for (let i = 0; i < N; i++) for (let j = 0; j < N; j++) covariance[a][b] += W[i][a] * sigma[i][j] * W[j][b];
    }
  }
  return { mean: referenceLocLogits(weights, phi.map((x, i) => x + noiseMean[i])), covariance };
}
