// DET: p = softmax((W^T phi + b) / tau), or per class sigmoid((W^T phi + b) / tau). No noise: its sample graph sees one "sample" (Sc = 1).
import { GraphBuilder } from '../engine/graph.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { addLinkReductions, buildLocModel } from './graph-parts.ts';
import { CENTER, LOGITS, type HeadGraphs, type SampleOutput } from './graph-io.ts';
import { BATCH, SAMPLES } from '../mc/sample-graph.ts';
import { linkOf, type HeadWeights } from '../format/head-params.ts';
import { locBias, scaled } from './weights.ts';
import { requireWeight } from '../format/head-params.ts';

/**
 * Appends u = W^T z + b for z [B, Sc, D] and the sample graph's outputs. In reduction mode
 * 1/tau is folded into W and b (one pass over [B, Sc, K] fewer); logits mode keeps u untempered.
 * The bias rides inside the product, u = [z, 1] @ [W; b]: a MatMul then an Add (or a Gemm with
 * its C input) measured ~20 ms more per 1000 x 29,593 logits than the augmented MatMul.
 */
export function addClassifierAndOutputs(g: GraphBuilder, spec: HeadSpec, weights: HeadWeights, z: string, output: SampleOutput): void {
  const { D, K } = spec;
  const factor = output === 'logits' ? 1 : 1 / spec.tau;
  const augmented = new Float32Array((D + 1) * K);
  augmented.set(scaled(requireWeight(weights, 'loc_layer/kernel', [D, K]), factor));
  augmented.set(scaled(locBias(weights, K), factor), D * K);
  const kernel = g.initializer('loc_kernel_and_bias', augmented, [D + 1, K]);
  const onesShape = g.op('Concat', [g.op('Shape', [z], { start: 0, end: 2 }), g.ints([1])], { axis: 0 });
  const ones = g.op('ConstantOfShape', [onesShape], { value: { tensor: new Float32Array([1]), dims: [1] } });
  const logits = g.op('MatMul', [g.op('Concat', [z, ones], { axis: 2 }), kernel]); // [B, Sc, K]
  if (output === 'logits') g.output(logits, LOGITS, [BATCH, SAMPLES, K]);
  else addLinkReductions(g, spec, logits);
}

function buildDetSampleModel(spec: HeadSpec, weights: HeadWeights, output: SampleOutput): Uint8Array {
  const g = new GraphBuilder(`det_${output}`);
  const phi = g.input(CENTER, [BATCH, spec.D]);
  addClassifierAndOutputs(g, spec, weights, g.op('Unsqueeze', [phi, g.ints([1])]), output);
  return g.toBytes(`DET head, ${output}`);
}

export function buildDetGraphs(spec: HeadSpec, weights: HeadWeights): HeadGraphs {
  return {
    type: 'det',
    link: linkOf(spec),
    D: spec.D,
    K: spec.K,
    R: 0,
    noiseWidth: 0,
    diagonalWidth: 0,
    centerWidth: spec.D,
    scaleTensors: [],
    locModel: buildLocModel(spec, weights),
    sampleModel: buildDetSampleModel(spec, weights, 'reductions'),
    buildLogitsModel: () => buildDetSampleModel(spec, weights, 'logits'),
  };
}
