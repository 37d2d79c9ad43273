// The contract between the MC loop and every sample graph (the classifier heads' and the
// zero-shot head's): the noise inputs of one chunk of samples, and the per-chunk reductions of
// the sampled softmaxes that the graph outputs and the accumulator merges. The reductions are
// built here once, for every head.
import type { Dim, GraphBuilder } from '../engine/graph.ts';
import type { Tensor } from '../engine/session.ts';

/** Noise inputs of a sample graph: eps_R [Sc, R] and eps_D [Sc, N], shared by the batch. */
export const EPS_R = 'eps_r';
export const EPS_D = 'eps_d';
/** Outputs of a sample graph (everything is of softmax(u / tau)). */
export const SHIFT = 'shift'; // p of the chunk's first sample [B, K]: the shift for the moments
export const SUM_DEV = 'sum_dev'; // sum_s (p_s - shift) [B, K]
export const SUM_SQ_DEV = 'sum_sq_dev'; // sum_s (p_s - shift)^2 [B, K]
export const ENTROPY = 'entropy'; // H[p_s] [B, Sc]
export const ARGMAX = 'argmax'; // argmax_k p_s [B, Sc], int64

/** Symbolic dimensions. */
export const BATCH = 'batch';
export const SAMPLES = 'samples';

/** One chunk's outputs, as the sample graph returns them ([B, K] and [B, Sc] row-major). */
export interface ChunkReductions {
  shift: Float32Array;
  sumDev: Float32Array;
  sumSqDev: Float32Array;
  entropy: Float32Array;
  argmax: BigInt64Array;
}

/** The reductions of one sample-graph run, read from its outputs by name. */
export function chunkReductions(outputs: Record<string, Tensor>): ChunkReductions {
  return {
    shift: outputs[SHIFT].data as Float32Array,
    sumDev: outputs[SUM_DEV].data as Float32Array,
    sumSqDev: outputs[SUM_SQ_DEV].data as Float32Array,
    entropy: outputs[ENTROPY].data as Float32Array,
    argmax: outputs[ARGMAX].data as BigInt64Array,
  };
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
