// HET-XL: noise in the D-dimensional pre-logit space (docs/method.md):
// z_s = phi + V'(x) eps_R,s + d'(x) * eps_D,s;  u_s = W^T z_s + b;  p_s = softmax(u_s / tau) (or sigmoid).
//
// Independent diagonal noise: phi is added in the D-dimensional space before the one
// [B * Sc, D] x [D, K] product: sharing the noise-free logits W^T phi + b instead would cost an
// extra pass over the [B, Sc, K] logits.
//
// Shared diagonal noise (edward2's JAX layers: eps_D,s is one scalar) makes the logit noise of
// an image rank R + 1: u_s = loc' + eps_R,s L + eps_D,s l_d, with
//   parameter-efficient  V' eps_R = v * (eps_R J + b_J):  L = (J diag(v)) W,  loc' = W^T (phi + v * b_J) + b
//   full                 L = V'^T W [R, K],  loc' = W^T phi + b
//   both                 l_d = W^T d' [K]   (R = 0: l_d alone)
// A per-image graph computes loc', L and l_d in one [B, R + 2, D] x [D, K] product, O(K D (R + 2))
// per image, and the sample graph works in the K-dimensional logit space, O(S K (R + 1)), with
// no copy of W. Its samples are the D-space path's for the same noise, up to float rounding.
import { GraphBuilder } from '../engine/graph.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { addClassifierAndOutputs } from './det.ts';
import { addLinkReductions, addSampledNoise, addScaleGraph, addScales, buildLocModel, scaleTensorsOf } from './graph-parts.ts';
import { CENTER, LOADINGS, LOGITS, PHI, type HeadGraphs, type SampleOutput } from './graph-io.ts';
import { BATCH, EPS_D, EPS_R, SAMPLES } from '../mc/sample-graph.ts';
import { diagonalWidth, linkOf, requireR, requireWeight } from '../format/head-params.ts';
import type { HeadWeights } from '../format/head-params.ts';
import { locBias } from './weights.ts';

function buildHetXlScaleModel(spec: HeadSpec, weights: HeadWeights): Uint8Array {
  const g = new GraphBuilder('het_xl_scales');
  addScaleGraph(g, spec, weights, spec.D, requireR(spec));
  return g.toBytes('HET-XL head, per-image noise scales');
}

function buildHetXlSampleModel(spec: HeadSpec, weights: HeadWeights, output: SampleOutput): Uint8Array {
  const g = new GraphBuilder(`het_xl_${output}`);
  const phi = g.input(CENTER, [BATCH, spec.D]);
  const noise = addSampledNoise(g, spec, weights, spec.D, requireR(spec), 1); // [B, Sc, D]
  const z = g.op('Add', [g.op('Unsqueeze', [phi, g.ints([1])]), noise]);
  addClassifierAndOutputs(g, spec, weights, z, output);
  return g.toBytes(`HET-XL head, ${output}`);
}

/**
 * Shared diagonal noise, per image: phi [B, D] -> CENTER loc' [B, K] and LOADINGS [L; l_d]
 * [B, R + 1, K]: the rows [phi (+ v * b_J); J diag(v) or V'^T; d'] [B, R + 2, D] times W in one
 * product, then b added to the center.
 */
function buildSharedNoiseLoadingsModel(spec: HeadSpec, weights: HeadWeights): Uint8Array {
  const { D, K } = spec;
  const R = requireR(spec);
  const g = new GraphBuilder('het_xl_shared_noise_loadings');
  const phi = g.input(PHI, [BATCH, D]);
  const { d, v, Vt } = addScales(g, spec, weights, phi, D, R);
  const row = (x: string) => g.op('Unsqueeze', [x, g.ints([1])]); // [B, D] -> [B, 1, D]
  let centerRow = phi;
  const factorRows: string[] = [];
  if (v) {
    const J = g.initializer('homoscedastic_kernel', requireWeight(weights, 'scale_layer_homoscedastic/kernel', [R, D]), [R, D]);
    const bJ = g.initializer('homoscedastic_bias', requireWeight(weights, 'scale_layer_homoscedastic/bias', [D]), [D]);
    centerRow = g.op('Add', [phi, g.op('Mul', [v, bJ])]); // the noise's mean v * b_J moves the center
    factorRows.push(g.op('Mul', [row(v), J])); // [B, 1, D] * [R, D] -> J diag(v) [B, R, D]
  } else if (Vt) {
    factorRows.push(Vt);
  }
  const rows = g.op('Concat', [row(centerRow), ...factorRows, row(d)], { axis: 1 }); // [B, R + 2, D]
  const W = g.initializer('loc_kernel', requireWeight(weights, 'loc_layer/kernel', [D, K]), [D, K]);
  const [centerProduct, loadings] = g.opN('Split', [g.op('MatMul', [rows, W]), g.ints([1, R + 1])], 2, { axis: 1 });
  const b = g.initializer('loc_bias', locBias(weights, K), [K]);
  g.output(g.op('Add', [g.op('Squeeze', [centerProduct, g.ints([1])]), b]), CENTER, [BATCH, K]);
  g.output(loadings, LOADINGS, [BATCH, R + 1, K]);
  return g.toBytes('HET-XL head, shared diagonal noise: per-image MC center and logit-space loadings');
}

/**
 * Shared diagonal noise, the sample graph: u = center + [eps_R, eps_D] @ [L; l_d], one
 * [Sc, R + 1] @ [R + 1, K] product per image and one add (separate eps_R L and eps_D l_d terms
 * cost two more passes over [B, Sc, K]: ~17% of the graph's time at Sc = 1000, K = 29,593).
 * Reduction mode folds 1/tau into the center and the loadings. No weights at all.
 */
function buildSharedNoiseSampleModel(spec: HeadSpec, output: SampleOutput): Uint8Array {
  const { K } = spec;
  const R = requireR(spec);
  const g = new GraphBuilder(`het_xl_shared_noise_${output}`);
  const epsD = g.input(EPS_D, [SAMPLES, 1]);
  const eps = R > 0 ? g.op('Concat', [g.input(EPS_R, [SAMPLES, R]), epsD], { axis: 1 }) : epsD; // [Sc, R + 1]
  let center = g.input(CENTER, [BATCH, K]);
  let loadings = g.input(LOADINGS, [BATCH, R + 1, K]);
  if (output === 'reductions') {
    const invTau = g.scalar(1 / spec.tau, 'inv_tau');
    center = g.op('Mul', [center, invTau]);
    loadings = g.op('Mul', [loadings, invTau]);
  }
  // [Sc, R + 1] @ [B, R + 1, K] -> [B, Sc, K], plus the center [B, 1, K]
  const logits = g.op('Add', [g.op('MatMul', [eps, loadings]), g.op('Unsqueeze', [center, g.ints([1])])]);
  if (output === 'logits') g.output(logits, LOGITS, [BATCH, SAMPLES, K]);
  else addLinkReductions(g, spec, logits);
  return g.toBytes(`HET-XL head, shared diagonal noise, ${output}`);
}

/**
 * Shared diagonal noise, mean mode: center [B, K] -> the link's reductions of center / tau at
 * Sc = 1, with no noise inputs: fed through the sample graph, the noise off would be zero
 * loadings, [R + 1, K] floats per image to allocate and multiply.
 */
function buildSharedNoiseMeanModel(spec: HeadSpec): Uint8Array {
  const g = new GraphBuilder('het_xl_shared_noise_mean');
  const tempered = g.op('Mul', [g.input(CENTER, [BATCH, spec.K]), g.scalar(1 / spec.tau, 'inv_tau')]);
  addLinkReductions(g, spec, g.op('Unsqueeze', [tempered, g.ints([1])])); // [B, 1, K]
  return g.toBytes('HET-XL head, shared diagonal noise, mean mode');
}

function buildSharedNoiseGraphs(spec: HeadSpec, weights: HeadWeights): HeadGraphs {
  const R = requireR(spec);
  return {
    type: 'het-xl',
    link: linkOf(spec),
    D: spec.D,
    K: spec.K,
    R,
    noiseWidth: spec.K,
    diagonalWidth: 1,
    centerWidth: spec.K,
    centerFromScaleModel: true,
    scaleModel: buildSharedNoiseLoadingsModel(spec, weights),
    scaleTensors: [{ name: LOADINGS, dims: [R + 1, spec.K] }],
    locModel: buildLocModel(spec, weights),
    meanModel: buildSharedNoiseMeanModel(spec),
    sampleModel: buildSharedNoiseSampleModel(spec, 'reductions'),
    buildLogitsModel: () => buildSharedNoiseSampleModel(spec, 'logits'),
  };
}

export function buildHetXlGraphs(spec: HeadSpec, weights: HeadWeights): HeadGraphs {
  if (spec.diagonalNoise === 'shared') return buildSharedNoiseGraphs(spec, weights);
  const R = requireR(spec);
  return {
    type: 'het-xl',
    link: linkOf(spec),
    D: spec.D,
    K: spec.K,
    R,
    noiseWidth: spec.D,
    diagonalWidth: diagonalWidth(spec, spec.D),
    centerWidth: spec.D,
    scaleModel: buildHetXlScaleModel(spec, weights),
    scaleTensors: scaleTensorsOf(spec, spec.D, R),
    locModel: buildLocModel(spec, weights),
    sampleModel: buildHetXlSampleModel(spec, weights, 'reductions'),
    buildLogitsModel: () => buildHetXlSampleModel(spec, weights, 'logits'),
  };
}
