// HET: noise in the K-dimensional logit space (docs/method.md):
// u_s = W^T phi + b + V(x) eps_R,s + d(x) * eps_D,s;  p_s = softmax(u_s / tau) (or sigmoid).
// The noise-free logits loc = W^T phi + b come from their own small graph, once per image.
import { GraphBuilder } from '../engine/graph.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { addLinkReductions, addSampledNoise, addScaleGraph, buildLocModel, scaleTensorsOf } from './graph-parts.ts';
import { CENTER, LOGITS, type HeadGraphs, type SampleOutput } from './graph-io.ts';
import { BATCH, SAMPLES } from '../mc/sample-graph.ts';
import { diagonalWidth, linkOf, requireR } from '../format/head-params.ts';
import type { HeadWeights } from '../format/head-params.ts';

function buildHetScaleModel(spec: HeadSpec, weights: HeadWeights): Uint8Array {
  const g = new GraphBuilder('het_scales');
  addScaleGraph(g, spec, weights, spec.K, requireR(spec));
  return g.toBytes('HET head, per-image noise scales');
}

function buildHetSampleModel(spec: HeadSpec, weights: HeadWeights, output: SampleOutput): Uint8Array {
  const { K } = spec;
  const g = new GraphBuilder(`het_${output}`);
  // Reduction mode folds 1/tau into loc and the scales ([B, K]-sized) instead of dividing the
  // [B, Sc, K] logits; logits mode leaves u untempered.
  const factor = output === 'logits' ? 1 : 1 / spec.tau;
  let loc = g.input(CENTER, [BATCH, K]);
  if (factor !== 1) loc = g.op('Mul', [loc, g.scalar(factor, 'inv_tau')]);
  const noise = addSampledNoise(g, spec, weights, K, requireR(spec), factor); // [B, Sc, K]
  const logits = g.op('Add', [g.op('Unsqueeze', [loc, g.ints([1])]), noise]);
  if (output === 'logits') g.output(logits, LOGITS, [BATCH, SAMPLES, K]);
  else addLinkReductions(g, spec, logits);
  return g.toBytes(`HET head, ${output}`);
}

export function buildHetGraphs(spec: HeadSpec, weights: HeadWeights): HeadGraphs {
  const R = requireR(spec);
  return {
    type: 'het',
    D: spec.D,
    K: spec.K,
    R,
    noiseWidth: spec.K,
    diagonalWidth: diagonalWidth(spec, spec.K),
    centerWidth: spec.K,
    link: linkOf(spec),
    centerModel: buildLocModel(spec, weights),
    scaleModel: buildHetScaleModel(spec, weights),
    scaleTensors: scaleTensorsOf(spec, spec.K, R),
    sampleModel: buildHetSampleModel(spec, weights, 'reductions'),
    buildLogitsModel: () => buildHetSampleModel(spec, weights, 'logits'),
  };
}
