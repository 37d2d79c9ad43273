// Pieces of ONNX graph shared by the head builders: the per-image noise scales, the sampled
// noise, and the per-chunk reductions of the sampled softmaxes.
import type { Dim, GraphBuilder } from '../engine/graph.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { covarianceOf } from '../format/head-params.ts';
import { BATCH, EPS_D, EPS_R, PHI, SAMPLES, SCALE_D, SCALE_V, SCALE_VT, SHIFT, SUM_DEV, SUM_SQ_DEV, ENTROPY, ARGMAX, type ScaleTensor } from './graph-io.ts';
import { requireWeight } from './weights.ts';
import type { HeadWeights } from './types.ts';

/** The scale tensors a noisy head of this spec passes from its scale graph to its sample graph. */
export function scaleTensorsOf(spec: HeadSpec, N: number, R: number): ScaleTensor[] {
  return covarianceOf(spec) === 'full'
    ? [{ name: SCALE_VT, dims: [R, N] }, { name: SCALE_D, dims: [N] }]
    : [{ name: SCALE_V, dims: [N] }, { name: SCALE_D, dims: [N] }];
}

/**
 * Scale graph body: phi [B, D] -> the scale tensors of noise width N.
 * d = softplus(phi W_d + b_d) + minScale; parameter-efficient v = phi W_v + b_v;
 * full V = reshape(phi W_V + b_V, [N, R]) (row-major: V[i, r] = flat[i * R + r]), output as V^T.
 */
export function addScaleGraph(g: GraphBuilder, spec: HeadSpec, weights: HeadWeights, N: number, R: number): void {
  const { D } = spec;
  const phi = g.input(PHI, [BATCH, D]);
  const diagKernel = g.initializer('diag_kernel', requireWeight(weights, 'diag_layer/kernel', [D, N]), [D, N]);
  const diagBias = g.initializer('diag_bias', requireWeight(weights, 'diag_layer/bias', [N]), [N]);
  const d = g.op('Add', [g.op('Softplus', [g.op('Gemm', [phi, diagKernel, diagBias])]), g.scalar(spec.minScale, 'min_scale')]);
  g.output(d, SCALE_D, [BATCH, N]);

  if (covarianceOf(spec) === 'full') {
    const kernel = g.initializer('scale_kernel', requireWeight(weights, 'scale_layer/kernel', [D, N * R]), [D, N * R]);
    const bias = g.initializer('scale_bias', requireWeight(weights, 'scale_layer/bias', [N * R]), [N * R]);
    const flat = g.op('Gemm', [phi, kernel, bias]);
    const V = g.op('Reshape', [flat, g.ints([-1, N, R])]);
    g.output(g.op('Transpose', [V], { perm: [0, 2, 1] }), SCALE_VT, [BATCH, R, N]);
  } else {
    const kernel = g.initializer('v_kernel', requireWeight(weights, 'scale_layer_heteroscedastic/kernel', [D, N]), [D, N]);
    const bias = g.initializer('v_bias', requireWeight(weights, 'scale_layer_heteroscedastic/bias', [N]), [N]);
    g.output(g.op('Gemm', [phi, kernel, bias]), SCALE_V, [BATCH, N]);
  }
}

/**
 * Sample graph inputs and noise: declares eps_R [Sc, R], eps_D [Sc, N] and the scale inputs,
 * returns the noise [B, Sc, N] = V eps_R + d * eps_D, where V eps_R is
 * (eps_R J + b_J) * v (parameter-efficient) or eps_R V^T (full). Each scale is first
 * multiplied by `scaleFactor` (HET folds 1/tau in here; 1 leaves them as they are).
 */
export function addSampledNoise(g: GraphBuilder, spec: HeadSpec, weights: HeadWeights, N: number, R: number, scaleFactor: number): string {
  const epsR = g.input(EPS_R, [SAMPLES, R]);
  const epsD = g.input(EPS_D, [SAMPLES, N]);
  const rescale = (t: string) => (scaleFactor === 1 ? t : g.op('Mul', [t, g.scalar(scaleFactor, 'inv_tau')]));
  const d = rescale(g.input(SCALE_D, [BATCH, N]));
  // [B, 1, N] * [Sc, N] broadcasts to [B, Sc, N]: one noise block shared by the whole batch.
  const diagonal = g.op('Mul', [g.op('Unsqueeze', [d, g.ints([1])]), epsD]);

  let lowRank: string;
  if (covarianceOf(spec) === 'full') {
    const Vt = rescale(g.input(SCALE_VT, [BATCH, R, N]));
    lowRank = g.op('MatMul', [epsR, Vt]); // [Sc, R] @ [B, R, N] -> [B, Sc, N]
  } else {
    const J = g.initializer('homoscedastic_kernel', requireWeight(weights, 'scale_layer_homoscedastic/kernel', [R, N]), [R, N]);
    const bJ = g.initializer('homoscedastic_bias', requireWeight(weights, 'scale_layer_homoscedastic/bias', [N]), [N]);
    const factor = g.op('Gemm', [epsR, J, bJ]); // eps_R J + b_J  [Sc, N]
    const v = rescale(g.input(SCALE_V, [BATCH, N]));
    lowRank = g.op('Mul', [g.op('Unsqueeze', [v, g.ints([1])]), factor]);
  }
  return g.op('Add', [lowRank, diagonal]);
}

/**
 * Per-chunk reductions of the sampled softmaxes, from tempered logits t = u / tau [B, Sc, K]
 * (K a number, or a symbolic name when the classes come with the request, as in zero-shot).
 * Written for speed on ORT's CPU kernels (measured at S x K = 1000 x 29,593, 2 threads):
 * - p_s = Softmax(t_s): one fused kernel (~11 ms).
 * - Sums over the samples as a product with a row of ones: ReduceSum along the middle axis
 *   took ~46 ms, the MatMul ~1 ms.
 * - Moments about a shift c = p of the chunk's first sample: sum_s (p_s - c) and
 *   sum_s (p_s - c)^2. E[p^2] - E[p]^2 from raw float32 sums would lose the variance of
 *   low-noise classes to cancellation.
 * - H[p_s] = logsumexp(t_s) - sum_k p_k t_k, with logsumexp(t) = max t - log max p (exact for
 *   the arg max class, and max p >= 1/K so the log is well conditioned): ReduceLogSumExp
 *   took ~120 ms, and the sum_k p_k log p_k form needs a log over all S x K.
 * - argmax_k t_s (the first on ties), for the variation ratio, and max_k t_s, both from TopK
 *   with k = 1 (~7 ms; ArgMax took ~19 ms); max p is gathered at that index (ReduceMax ~3 ms).
 */
export function addSampleReductions(g: GraphBuilder, tempered: string, K: Dim): void {
  const p = g.op('Softmax', [tempered], { axis: -1 });

  // ones [1, Sc]: sums over the chunk's samples as ones @ x, x [B, Sc, K] -> [B, 1, K].
  const sampleCount = g.op('Shape', [tempered], { start: 1, end: 2 });
  const ones = g.op('ConstantOfShape', [g.op('Concat', [g.ints([1]), sampleCount], { axis: 0 })], { value: { tensor: new Float32Array([1]), dims: [1] } });
  const sumOverSamples = (x: string) => g.op('Squeeze', [g.op('MatMul', [ones, x]), g.ints([1])]);

  const shift = g.op('Gather', [p, g.ints([0])], { axis: 1 }); // [B, 1, K]
  const deviation = g.op('Sub', [p, shift]);
  g.output(g.op('Squeeze', [shift, g.ints([1])]), SHIFT, [BATCH, K]);
  g.output(sumOverSamples(deviation), SUM_DEV, [BATCH, K]);
  g.output(sumOverSamples(g.op('Mul', [deviation, deviation])), SUM_SQ_DEV, [BATCH, K]);

  const [topValue, topIndex] = g.opN('TopK', [tempered, g.ints([1])], 2, { axis: -1, largest: 1, sorted: 1 });
  const maxT = g.op('Squeeze', [topValue, g.ints([2])]);
  // p at the arg max, gathered ([B, Sc, 1]): a ReduceMax over p would be one more pass over S x K.
  const maxP = g.op('Squeeze', [g.op('GatherElements', [p, topIndex], { axis: 2 }), g.ints([2])]);
  const logSumExp = g.op('Sub', [maxT, g.op('Log', [maxP])]);
  const expectedT = g.op('ReduceSum', [g.op('Mul', [p, tempered]), g.ints([2])], { keepdims: 0 });
  g.output(g.op('Sub', [logSumExp, expectedT]), ENTROPY, [BATCH, SAMPLES]);
  // TopK breaks ties by the lower index, as ArgMax does.
  g.output(g.op('Squeeze', [topIndex, g.ints([2])]), ARGMAX, [BATCH, SAMPLES], 'int64');
}
