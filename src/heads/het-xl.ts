// HET-XL: noise in the D-dimensional pre-logit space (docs/method.md):
// z_s = phi + V'(x) eps_R,s + d'(x) * eps_D,s;  u_s = W^T z_s + b;  p_s = softmax(u_s / tau) (or sigmoid).
// phi is added in the D-dimensional space before the one [B * Sc, D] x [D, K] product: sharing
// the noise-free logits W^T phi + b instead would cost an extra pass over the [B, Sc, K] logits.
import { GraphBuilder } from '../engine/graph.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { addClassifierAndOutputs } from './det.ts';
import { addSampledNoise, addScaleGraph, buildLocModel, scaleTensorsOf } from './graph-parts.ts';
import { CENTER, type HeadGraphs, type SampleOutput } from './graph-io.ts';
import { BATCH } from '../mc/sample-graph.ts';
import { diagonalWidth, linkOf, requireR } from '../format/head-params.ts';
import type { HeadWeights } from '../format/head-params.ts';

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

export function buildHetXlGraphs(spec: HeadSpec, weights: HeadWeights): HeadGraphs {
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
