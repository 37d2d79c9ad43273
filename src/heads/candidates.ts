// estimator=candidates for softmax HET-XL heads (docs/estimators.md): per image, the classes that
// can matter, chosen from the logits' marginals with a bound on what leaving the others out
// costs, then the MC predictive over those m classes alone, from exactly the samples of plain MC.
//
// The bound. For one sample with logits u and a candidate set C holding j, the total variation
// between softmax(u) and softmax(u) renormalised over C is T / (A + T), T = sum_{k not in C} e^{u_k},
// A = sum_{k in C} e^{u_k}, and each e^{u_k} / (A + T) <= e^{u_k} / (e^{u_j} + e^{u_k}), so
//   TV <= sum_{k not in C} sigmoid(x_k),   x_k = (u_k - u_j) / tau ~ N(a_k, b_k^2),
// a_k = mean_k - mean_j and b_k the std of the difference, from the covariances
// (LogitMarginals.differenceStd; without them the upper bound s_k + s_j). With sigmoid(x) <=
// min(1, e^x) <= e^{theta x} for any theta in [0, 1], E[sigmoid(x_k)] <= min_theta
// exp(theta a + theta^2 b^2 / 2), which grows with b, so an upper bound on b is safe too:
//   a >= 0: 1;   -b^2 <= a < 0: exp(-a^2 / (2 b^2));   a < -b^2: exp(a + b^2 / 2).
// E[TV] is at most the sum of these over the classes left out (j: the class of largest mean).
// The candidate set is the smallest that the sorted terms allow: the classes of smallest term are
// left out while their sum stays within the tolerance.
//
// The samples. u_C of sample s is W_C^T z_s + b_C with z_s of plain MC's noise rows (same seed,
// same streams, chunk-independent), so the candidates' p_s is the full-K p_s restricted to C and
// renormalised, and the m-class estimate is unbiased for that. HET-XL only: HET's logit-space
// diagonal noise is one normal per class and sample, O(S K) to draw whatever the candidates are.
import { GraphBuilder } from '../engine/graph.ts';
import { requireR, requireWeight, type HeadWeights } from '../format/head-params.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { addSampleReductions, BATCH, EPS_D, EPS_R, SAMPLES } from '../mc/sample-graph.ts';
import type { McResult } from '../mc/types.ts';
import { addSampledNoise } from './graph-parts.ts';
import { CENTER, LOADINGS } from './graph-io.ts';
import type { LogitMarginals } from './marginals.ts';
import { locBias, scaled } from './weights.ts';

/** Sample-graph input: the candidate classes, int64 [m] (HET-XL with independent diagonal noise). */
export const CANDIDATES = 'candidates';
/** Symbolic dimension: the number m of candidate classes. */
export const CANDIDATE_CLASSES = 'candidate_classes';
/** The default tolerance on the bound of the expected total variation. */
export const DEFAULT_TOLERANCE = 1e-3;
/**
 * Above this share of K the candidates' product saves too little against the marginals' cost
 * (O(K D R)) and the gathers: the full product runs instead (fallback).
 */
export const CANDIDATE_FRACTION = 0.5;

export interface CandidateSet {
  /** The candidate classes, ascending. */
  classes: Int32Array;
  /** Upper bound on E[TV] between the full predictive's samples and the candidates' (the left-out terms' sum). */
  bound: number;
}

/** Per image, what estimator=candidates computed. */
export interface CandidateMcResult {
  /** The MC estimate over the candidates (m classes, in `classes` order), or over all K on fallback. */
  result: McResult;
  /** The candidate classes; absent on fallback (the result is over all K). */
  classes?: Int32Array;
  /** The bound on E[TV]; 0 on fallback. */
  bound: number;
  /** The candidate set would have been too large for a gain: the full product ran. */
  fallback: boolean;
}

/** E[sigmoid(x)] <= min over theta in [0, 1] of E[e^{theta x}] for x ~ N(a, b^2). */
export function sigmoidExpectationBound(a: number, b: number): number {
  if (a >= 0) return 1;
  const b2 = b * b;
  return a >= -b2 ? Math.exp((-a * a) / (2 * b2)) : Math.exp(a + b2 / 2);
}

/** The smallest candidate set whose bound on E[TV] is at most `tolerance` (marginals of the tempered logits). */
export function selectCandidates({ mean, std, top: givenTop, differenceStd }: LogitMarginals, tolerance: number): CandidateSet {
  const K = mean.length;
  let top = givenTop ?? 0;
  if (givenTop === undefined) for (let k = 1; k < K; k++) if (mean[k] > mean[top]) top = k;
  const terms = new Float64Array(K);
  for (let k = 0; k < K; k++) {
    const b = differenceStd ? differenceStd[k] : std[k] + std[top];
    terms[k] = k === top ? Infinity : sigmoidExpectationBound(mean[k] - mean[top], b);
  }
  const order = Array.from({ length: K }, (_, k) => k).sort((x, y) => terms[x] - terms[y]);
  let bound = 0;
  let left = 0;
  while (left < K && bound + terms[order[left]] <= tolerance) bound += terms[order[left++]];
  return { classes: Int32Array.from(order.slice(left)).sort(), bound };
}

/**
 * The sample graph over the candidates, tempered logits -> the softmax reductions over m classes.
 * Independent diagonal noise: phi, the D-space scales, eps and CANDIDATES -> z = phi + noise,
 * u_C = z @ (W / tau)[:, C] + (b / tau)[C] (W gathered inside: the graph holds W / tau).
 * Shared diagonal noise: CENTER [B, m] and LOADINGS [B, R + 1, m], the candidates' columns of the
 * loadings graph's outputs (gathered by the runner), -> u_C = (center + [eps_R, eps_D] @ L) / tau.
 */
export function buildCandidateSampleModel(spec: HeadSpec, weights: HeadWeights): Uint8Array {
  const { D, K } = spec;
  const R = requireR(spec);
  const g = new GraphBuilder(`het_xl_candidates_${spec.diagonalNoise === 'shared' ? 'shared' : 'independent'}`);
  let tempered: string;
  if (spec.diagonalNoise === 'shared') {
    const epsD = g.input(EPS_D, [SAMPLES, 1]);
    const eps = R > 0 ? g.op('Concat', [g.input(EPS_R, [SAMPLES, R]), epsD], { axis: 1 }) : epsD; // [Sc, R + 1]
    const center = g.input(CENTER, [BATCH, CANDIDATE_CLASSES]);
    const loadings = g.input(LOADINGS, [BATCH, R + 1, CANDIDATE_CLASSES]);
    const logits = g.op('Add', [g.op('MatMul', [eps, loadings]), g.op('Unsqueeze', [center, g.ints([1])])]);
    tempered = g.op('Mul', [logits, g.scalar(1 / spec.tau, 'inv_tau')]);
  } else {
    const phi = g.input(CENTER, [BATCH, D]);
    const z = g.op('Add', [g.op('Unsqueeze', [phi, g.ints([1])]), addSampledNoise(g, spec, weights, D, R, 1)]); // [B, Sc, D]
    const candidates = g.input(CANDIDATES, [CANDIDATE_CLASSES], 'int64');
    const W = g.initializer('loc_kernel', scaled(requireWeight(weights, 'loc_layer/kernel', [D, K]), 1 / spec.tau), [D, K]);
    const b = g.initializer('loc_bias', scaled(locBias(weights, K), 1 / spec.tau), [K]);
    const columns = g.op('Gather', [W, candidates], { axis: 1 }); // [D, m]
    tempered = g.op('Add', [g.op('MatMul', [z, columns]), g.op('Gather', [b, candidates], { axis: 0 })]);
  }
  addSampleReductions(g, tempered, CANDIDATE_CLASSES);
  return g.toBytes('HET-XL head, the MC predictive over candidate classes');
}

/** Image b's columns `classes` of a [B, rows, K] tensor, as [1, rows, m]. */
export function gatherColumns(data: Float32Array, b: number, rows: number, K: number, classes: Int32Array): Float32Array {
  const m = classes.length;
  const out = new Float32Array(rows * m);
  for (let r = 0; r < rows; r++) {
    const from = (b * rows + r) * K;
    for (let i = 0; i < m; i++) out[r * m + i] = data[from + classes[i]];
  }
  return out;
}
