// The per-class Gaussian marginals of a noisy head's tempered logits, u_k / tau ~ N(mean_k, std_k^2)
// (docs/method.md, "Exact per-class marginals"), for the estimators that need no samples
// (docs/estimators.md): O(K D R) per image, where S samples cost O(S D K).
//
//   HET (noise in logit space): mean = loc + v * b_J (parameter-efficient; loc for full),
//     var = v^2 |J_{:,k}|^2 + d^2 (parameter-efficient), |V_{k,:}|^2 + d^2 (full): from the
//     tensors the sample graph is fed already (loc, v or V^T, d), in JavaScript, O(K R).
//   HET-XL, shared diagonal noise: mean = the MC center loc', var = the column sums of squares
//     of the loadings [L; W^T d']: the scale graph's outputs, in JavaScript, O(K R).
//   HET-XL, independent diagonal noise: mean = W^T (phi + v * b_J) + b,
//     var = |(J diag(v) W)_{:,k}|^2 (or |(V'^T W)_{:,k}|^2) + sum_j W_jk^2 d'_j^2: a graph of its
//     own, one [B, R + 1, D] x [D, K] product and one [B, D] x [D, K] product with W∘W.
// The marginal of one class does not depend on the diagonal-noise semantics except through
// HET-XL's (d'^T W_k)^2 against sum_j W_jk^2 d'_j^2: with the shared scalar, d' is one more loading.
import { GraphBuilder } from '../engine/graph.ts';
import type { Tensor } from '../engine/session.ts';
import { covarianceOf, linkOf, requireR, requireWeight, type HeadWeights } from '../format/head-params.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { BATCH } from '../mc/sample-graph.ts';
import { addScales } from './graph-parts.ts';
import { CENTER, LOADINGS, PHI, SCALE_D, SCALE_V, SCALE_VT } from './graph-io.ts';
import { locBias, scaled } from './weights.ts';

/** Outputs of the marginals graph: the tempered mean and std of each class's logit [B, K]. */
export const MARGINAL_MEAN = 'marginal_mean';
export const MARGINAL_STD = 'marginal_std';
/** Softmax heads: the class of largest mean [B] int64, and the std of each u_k / tau - u_top / tau [B, K]. */
export const MARGINAL_TOP = 'marginal_top';
export const DIFFERENCE_STD = 'difference_std';

/** One image's marginals of the tempered logits u / tau, length K each. */
export interface LogitMarginals {
  mean: Float32Array;
  std: Float32Array;
  /**
   * Softmax HET-XL heads (for estimator=candidates): the class of largest mean, and per class the
   * std of (u_k - u_top) / tau, from the covariances (0 at top itself).
   */
  top?: number;
  differenceStd?: Float32Array;
}

/**
 * How a head's marginals are computed: from the sample graph's own per-image feeds (HET, HET-XL
 * with shared diagonal noise), or by a graph of their own (HET-XL with independent diagonal noise).
 */
export type MarginalsPlan =
  | { kind: 'het'; K: number; R: number; tau: number; covariance: 'param-efficient' | 'full'; factorNormSq?: Float64Array; factorBias?: Float32Array }
  | { kind: 'loadings'; K: number; R: number; tau: number; differences: boolean }
  | { kind: 'graph'; model: Uint8Array };

export function marginalsPlan(spec: HeadSpec, weights: HeadWeights): MarginalsPlan {
  const { K, tau } = spec;
  const R = requireR(spec);
  if (spec.type === 'het-xl') {
    if (spec.diagonalNoise !== 'shared') return { kind: 'graph', model: buildHetXlMarginalsModel(spec, weights) };
    return { kind: 'loadings', K, R, tau, differences: linkOf(spec) === 'softmax' };
  }
  if (spec.type !== 'het') throw new Error(`a ${spec.type} head has no noise, so no logit marginals`);
  const covariance = covarianceOf(spec);
  if (covariance === 'full' || R === 0) return { kind: 'het', K, R, tau, covariance };
  // Per class k: |J_{:,k}|^2 and b_J,k, K numbers each (J itself stays in the sample graph).
  const J = requireWeight(weights, 'scale_layer_homoscedastic/kernel', [R, K]);
  const factorNormSq = new Float64Array(K);
  for (let r = 0; r < R; r++) for (let k = 0; k < K; k++) factorNormSq[k] += J[r * K + k] ** 2;
  return { kind: 'het', K, R, tau, covariance, factorNormSq, factorBias: requireWeight(weights, 'scale_layer_homoscedastic/bias', [K]) };
}

/**
 * HET-XL with independent diagonal noise: phi [B, D] -> MARGINAL_MEAN, MARGINAL_STD [B, K], with
 * 1/tau folded into W and b. Holds W / tau and (W / tau)∘(W / tau): two D x K copies.
 */
function buildHetXlMarginalsModel(spec: HeadSpec, weights: HeadWeights): Uint8Array {
  const { D, K } = spec;
  const R = requireR(spec);
  const g = new GraphBuilder('het_xl_marginals');
  const phi = g.input(PHI, [BATCH, D]);
  const { d, v, Vt } = addScales(g, spec, weights, phi, D, R);
  const W = scaled(requireWeight(weights, 'loc_layer/kernel', [D, K]), 1 / spec.tau);
  const kernel = g.initializer('loc_kernel', W, [D, K]);
  const bias = g.initializer('loc_bias', scaled(locBias(weights, K), 1 / spec.tau), [K]);
  const squaredKernel = g.initializer('loc_kernel_squared', W.map((w) => w * w), [D, K]);
  // sum_j W_jk^2 d_j^2 / tau^2  [B, K]
  let variance = g.op('MatMul', [g.op('Mul', [d, d]), squaredKernel]);
  let mean: string;
  let loadings: string | undefined;
  if (R === 0) {
    mean = g.op('Gemm', [phi, kernel, bias]);
  } else {
    const row = (x: string) => g.op('Unsqueeze', [x, g.ints([1])]); // [B, D] -> [B, 1, D]
    let centerRow = phi;
    let factorRows: string;
    if (v) {
      const J = g.initializer('homoscedastic_kernel', requireWeight(weights, 'scale_layer_homoscedastic/kernel', [R, D]), [R, D]);
      const bJ = g.initializer('homoscedastic_bias', requireWeight(weights, 'scale_layer_homoscedastic/bias', [D]), [D]);
      centerRow = g.op('Add', [phi, g.op('Mul', [v, bJ])]); // the noise's mean v * b_J
      factorRows = g.op('Mul', [row(v), J]); // J diag(v) [B, R, D]
    } else {
      factorRows = Vt!;
    }
    const rows = g.op('Concat', [row(centerRow), factorRows], { axis: 1 }); // [B, R + 1, D]
    const [centerProduct, factorLoadings] = g.opN('Split', [g.op('MatMul', [rows, kernel]), g.ints([1, R])], 2, { axis: 1 });
    loadings = factorLoadings;
    mean = g.op('Add', [g.op('Squeeze', [centerProduct, g.ints([1])]), bias]);
    // The sum over the R loadings as ones [1, R] @ (L∘L): a MatMul, not a ReduceSum along the middle axis.
    const ones = g.initializer('ones', new Float32Array(R).fill(1), [1, R]);
    const loadingVariance = g.op('Squeeze', [g.op('MatMul', [ones, g.op('Mul', [factorLoadings, factorLoadings])]), g.ints([1])]);
    variance = g.op('Add', [variance, loadingVariance]);
  }
  g.output(mean, MARGINAL_MEAN, [BATCH, K]);
  g.output(g.op('Sqrt', [variance]), MARGINAL_STD, [BATCH, K]);
  if (linkOf(spec) === 'softmax') addDifferenceStd(g, { mean, variance, loadings, d, kernel, K, R });
  return g.toBytes('HET-XL head, per-class marginals of the tempered logits');
}

/**
 * Var(u_k - u_j) = var_k + var_j - 2 cov_kj for j the class of largest mean, with
 * cov_kj = L_{:,k} . L_{:,j} + sum_i W_ik W_ij d_i^2 (all tempered): the loadings' column j
 * gathered, and one more [B, D] x [D, K] product with d^2 * W_{:,j}.
 */
function addDifferenceStd(g: GraphBuilder, t: { mean: string; variance: string; loadings?: string; d: string; kernel: string; K: number; R: number }): void {
  const top = g.op('ArgMax', [t.mean], { axis: 1, keepdims: 1 }); // [B, 1] int64
  const topColumn = g.op('Transpose', [g.op('Gather', [t.kernel, g.op('Squeeze', [top, g.ints([1])])], { axis: 1 })], { perm: [1, 0] }); // W_{:,j} [B, D]
  let covariance = g.op('MatMul', [g.op('Mul', [g.op('Mul', [t.d, t.d]), topColumn]), t.kernel]); // [B, K]
  if (t.loadings) {
    const shape = g.op('Concat', [g.op('Shape', [t.loadings], { start: 0, end: 2 }), g.ints([1])], { axis: 0 });
    const topLoadings = g.op('GatherElements', [t.loadings, g.op('Expand', [g.op('Unsqueeze', [top, g.ints([1])]), shape])], { axis: 2 }); // [B, R, 1]
    // L_top^T L as a batched [1, R] x [R, K] product.
    const rowOfTop = g.op('Transpose', [topLoadings], { perm: [0, 2, 1] }); // [B, 1, R]
    covariance = g.op('Add', [covariance, g.op('Squeeze', [g.op('MatMul', [rowOfTop, t.loadings]), g.ints([1])])]);
  }
  const topVariance = g.op('GatherElements', [t.variance, top], { axis: 1 }); // [B, 1]
  const difference = g.op('Sub', [g.op('Add', [t.variance, topVariance]), g.op('Mul', [covariance, g.scalar(2, 'two')])]);
  g.output(g.op('Squeeze', [top, g.ints([1])]), MARGINAL_TOP, [BATCH], 'int64');
  // Rounding can take the difference at (or near) j below 0.
  g.output(g.op('Sqrt', [g.op('Relu', [difference])]), DIFFERENCE_STD, [BATCH, t.K]);
}

/** The marginals graph's outputs, one LogitMarginals per image. */
export function marginalsFromOutputs(outputs: Record<string, Tensor>, K: number, batch: number): LogitMarginals[] {
  const mean = outputs[MARGINAL_MEAN].data as Float32Array;
  const std = outputs[MARGINAL_STD].data as Float32Array;
  // Absent for sigmoid heads.
  const top = outputs[MARGINAL_TOP]?.data as BigInt64Array | undefined;
  const difference = outputs[DIFFERENCE_STD]?.data as Float32Array | undefined;
  return Array.from({ length: batch }, (_, b) => ({
    mean: mean.slice(b * K, (b + 1) * K),
    std: std.slice(b * K, (b + 1) * K),
    ...(top && difference ? { top: Number(top[b]), differenceStd: difference.slice(b * K, (b + 1) * K) } : {}),
  }));
}

/**
 * HET and HET-XL with shared diagonal noise: the marginals from the sample graph's per-image feeds
 * (untempered); softmax HET-XL also the differences to the top class.
 */
export function marginalsFromFeeds(plan: Exclude<MarginalsPlan, { kind: 'graph' }>, feeds: Record<string, Tensor>, batch: number): LogitMarginals[] {
  const { K, R, tau } = plan;
  const data = (name: string) => feeds[name].data as Float32Array;
  const center = data(CENTER);
  return Array.from({ length: batch }, (_, b) => {
    const mean = new Float32Array(K);
    const variance = new Float64Array(K);
    const at = b * K;
    if (plan.kind === 'loadings') {
      const L = data(LOADINGS); // [B, R + 1, K]
      for (let r = 0; r <= R; r++) for (let k = 0, i = (b * (R + 1) + r) * K; k < K; k++, i++) variance[k] += L[i] * L[i];
      for (let k = 0; k < K; k++) mean[k] = center[at + k];
      if (plan.differences) return { ...tempered(mean, variance, tau), ...loadingDifferences(L, b, mean, variance, K, R, tau) };
    } else {
      const d = data(SCALE_D);
      for (let k = 0; k < K; k++) {
        mean[k] = center[at + k];
        variance[k] = d[at + k] ** 2;
      }
      if (R > 0 && plan.covariance === 'full') {
        const Vt = data(SCALE_VT); // [B, R, K]
        for (let r = 0; r < R; r++) for (let k = 0, i = (b * R + r) * K; k < K; k++, i++) variance[k] += Vt[i] * Vt[i];
      } else if (R > 0) {
        const v = data(SCALE_V);
        for (let k = 0; k < K; k++) {
          mean[k] += v[at + k] * plan.factorBias![k];
          variance[k] += v[at + k] ** 2 * plan.factorNormSq![k];
        }
      }
    }
    return tempered(mean, variance, tau);
  });
}

/** Divides the mean by tau in place and returns it with the std of u / tau. */
function tempered(mean: Float32Array, variance: Float64Array, tau: number): LogitMarginals {
  const std = new Float32Array(mean.length);
  for (let k = 0; k < mean.length; k++) {
    mean[k] /= tau;
    std[k] = Math.sqrt(variance[k]) / tau;
  }
  return { mean, std };
}

/**
 * Shared diagonal noise: the std of (u_k - u_top) / tau from the loadings, Var = var_k + var_top
 * - 2 sum_r L_rk L_r,top over the R + 1 rows (`variance` of u; only the arg max of `mean` is used).
 */
function loadingDifferences(L: Float32Array, b: number, mean: Float32Array, variance: Float64Array, K: number, R: number, tau: number): Pick<LogitMarginals, 'top' | 'differenceStd'> {
  let top = 0;
  for (let k = 1; k < K; k++) if (mean[k] > mean[top]) top = k;
  const covariance = new Float64Array(K);
  for (let r = 0; r <= R; r++) {
    const row = (b * (R + 1) + r) * K;
    const atTop = L[row + top];
    for (let k = 0; k < K; k++) covariance[k] += L[row + k] * atTop;
  }
  const differenceStd = new Float32Array(K);
  for (let k = 0; k < K; k++) differenceStd[k] = Math.sqrt(Math.max(variance[k] + variance[top] - 2 * covariance[k], 0)) / tau;
  return { top, differenceStd };
}

/**
 * Estimators that use the marginals, instead of or besides noise samples (docs/estimators.md):
 * exact, the sigmoid predictive by quadrature (sigmoid HET and HET-XL heads); candidates, MC over
 * the classes that can matter, with a bound on the rest (softmax HET-XL heads, src/heads/candidates.ts);
 * control, antithetic MC corrected by control variates of known mean (softmax HET and HET-XL
 * heads, src/mc/control.ts).
 */
export const ANALYTIC_ESTIMATORS = ['exact', 'candidates', 'control'] as const;
export type AnalyticEstimator = (typeof ANALYTIC_ESTIMATORS)[number];
