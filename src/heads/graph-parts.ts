// Pieces of ONNX graph shared by the head builders: the noise-free logits, the per-image noise
// scales (a scale graph's outputs, or tensors inside another graph), the sampled noise, and the
// choice of the link's per-chunk reductions (the reductions themselves are the MC machinery's:
// src/mc/sample-graph.ts).
import { GraphBuilder } from '../engine/graph.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { covarianceOf, diagonalWidth, linkOf } from '../format/head-params.ts';
import { addSampleReductions, addSigmoidSampleReductions, BATCH, EPS_D, EPS_R, SAMPLES } from '../mc/sample-graph.ts';
import { LOC, PHI, SCALE_D, SCALE_V, SCALE_VT, type ScaleTensor } from './graph-io.ts';
import { locBias } from './weights.ts';
import { requireWeight } from '../format/head-params.ts';
import type { HeadWeights } from '../format/head-params.ts';

/** The scale tensors a noisy head of this spec passes from its scale graph to its sample graph. */
export function scaleTensorsOf(spec: HeadSpec, N: number, R: number): ScaleTensor[] {
  if (R === 0) return [{ name: SCALE_D, dims: [N] }];
  return covarianceOf(spec) === 'full'
    ? [{ name: SCALE_VT, dims: [R, N] }, { name: SCALE_D, dims: [N] }]
    : [{ name: SCALE_V, dims: [N] }, { name: SCALE_D, dims: [N] }];
}

/** The per-image noise scales of width N, as tensors of a graph (v and Vt absent when R = 0). */
export interface Scales {
  /** d = softplus(phi W_d + b_d) + minScale  [B, N] */
  d: string;
  /** Parameter-efficient: v = phi W_v + b_v  [B, N] */
  v?: string;
  /** Full: V^T [B, R, N], V = reshape(phi W_V + b_V, [N, R]) (row-major: V[i, r] = flat[i * R + r]). */
  Vt?: string;
}

/** phi [B, D] -> the scales of noise width N (the layers of docs/method.md). */
export function addScales(g: GraphBuilder, spec: HeadSpec, weights: HeadWeights, phi: string, N: number, R: number): Scales {
  const { D } = spec;
  const diagKernel = g.initializer('diag_kernel', requireWeight(weights, 'diag_layer/kernel', [D, N]), [D, N]);
  const diagBias = g.initializer('diag_bias', requireWeight(weights, 'diag_layer/bias', [N]), [N]);
  const d = g.op('Add', [g.op('Softplus', [g.op('Gemm', [phi, diagKernel, diagBias])]), g.scalar(spec.minScale, 'min_scale')]);
  if (R === 0) return { d }; // diagonal only: no low-rank layers
  if (covarianceOf(spec) === 'full') {
    const kernel = g.initializer('scale_kernel', requireWeight(weights, 'scale_layer/kernel', [D, N * R]), [D, N * R]);
    const bias = g.initializer('scale_bias', requireWeight(weights, 'scale_layer/bias', [N * R]), [N * R]);
    const V = g.op('Reshape', [g.op('Gemm', [phi, kernel, bias]), g.ints([-1, N, R])]);
    return { d, Vt: g.op('Transpose', [V], { perm: [0, 2, 1] }) };
  }
  const kernel = g.initializer('v_kernel', requireWeight(weights, 'scale_layer_heteroscedastic/kernel', [D, N]), [D, N]);
  const bias = g.initializer('v_bias', requireWeight(weights, 'scale_layer_heteroscedastic/bias', [N]), [N]);
  return { d, v: g.op('Gemm', [phi, kernel, bias]) };
}

/** Scale graph body: phi [B, D] -> the scale tensors of noise width N (scaleTensorsOf). */
export function addScaleGraph(g: GraphBuilder, spec: HeadSpec, weights: HeadWeights, N: number, R: number): void {
  const { d, v, Vt } = addScales(g, spec, weights, g.input(PHI, [BATCH, spec.D]), N, R);
  g.output(d, SCALE_D, [BATCH, N]);
  if (Vt) g.output(Vt, SCALE_VT, [BATCH, R, N]);
  if (v) g.output(v, SCALE_V, [BATCH, N]);
}

/**
 * Sample graph inputs and noise: declares eps_R [Sc, R], eps_D [Sc, N] and the scale inputs,
 * returns the noise [B, Sc, N] = V eps_R + d * eps_D, where V eps_R is
 * (eps_R J + b_J) * v (parameter-efficient) or eps_R V^T (full). Each scale is first
 * multiplied by `scaleFactor` (HET folds 1/tau in here; 1 leaves them as they are).
 * With R = 0 the noise is d * eps_D alone and the graph has no eps_R input (a [Sc, 0] tensor
 * would be legal ONNX, but there is nothing to feed it).
 */
export function addSampledNoise(g: GraphBuilder, spec: HeadSpec, weights: HeadWeights, N: number, R: number, scaleFactor: number): string {
  const epsR = R > 0 ? g.input(EPS_R, [SAMPLES, R]) : undefined;
  // [Sc, N], or [Sc, 1] for shared diagonal noise: the Mul below broadcasts it over N.
  const epsD = g.input(EPS_D, [SAMPLES, diagonalWidth(spec, N)]);
  const rescale = (t: string) => (scaleFactor === 1 ? t : g.op('Mul', [t, g.scalar(scaleFactor, 'inv_tau')]));
  const d = rescale(g.input(SCALE_D, [BATCH, N]));
  // [B, 1, N] * [Sc, N] broadcasts to [B, Sc, N]: one noise block shared by the whole batch.
  const diagonal = g.op('Mul', [g.op('Unsqueeze', [d, g.ints([1])]), epsD]);
  if (epsR === undefined) return diagonal;

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

/** The sample graph's reductions of tempered logits [B, Sc, K] under the head's link. */
export function addLinkReductions(g: GraphBuilder, spec: HeadSpec, tempered: string): void {
  if (linkOf(spec) === 'sigmoid') addSigmoidSampleReductions(g, tempered, spec.K);
  else addSampleReductions(g, tempered, spec.K);
}

/**
 * phi [B, D] -> loc = W^T phi + b [B, K], untempered: HET's center graph, and every head's
 * noise-free logits (edward2's return_locs).
 */
export function buildLocModel(spec: HeadSpec, weights: HeadWeights): Uint8Array {
  const { D, K } = spec;
  const g = new GraphBuilder(`${spec.type.replace('-', '_')}_loc`);
  const W = g.initializer('loc_kernel', requireWeight(weights, 'loc_layer/kernel', [D, K]), [D, K]);
  const b = g.initializer('loc_bias', locBias(weights, K), [K]);
  g.output(g.op('Gemm', [g.input(PHI, [BATCH, D]), W, b]), LOC, [BATCH, K]);
  return g.toBytes(`${spec.type.toUpperCase()} head, noise-free logits`);
}
