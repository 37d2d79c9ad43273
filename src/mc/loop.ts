// The one chunked MC loop of every head: S samples in chunks that fit the memory budget, seeded
// noise per chunk (shared by the batch), one sample-graph run per chunk, the request's signal
// checked before each, and the chunks' reductions merged in float64 (McAccumulator), so the
// result does not depend on the chunking beyond rounding. With a precision target
// (McOptions.targetStdError) the loop checks it at fixed sample counts (stopCheckpoints) and each
// image stops there once its top classes' standard errors are under the target: a CLT rule
// (p_hat's error taken as normal with the estimator's standard error) with a minimum of
// MIN_STOP_SAMPLES samples. The loop ends when every image has stopped, or at S.
import { floatTensor, type Tensor } from '../engine/session.ts';
import type { NoiseCache } from '../noise/cache.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../noise/normal.ts';
import { SOBOL_REPLICATES, sobolBlocks } from '../noise/sobol.ts';
import { McAccumulator, SigmoidMcAccumulator, type ChunkAccumulator } from './accumulator.ts';
import type { TemperedMarginals } from './control.ts';
import { planChunks, stopCheckpoints, type Chunk } from './chunking.ts';
import { EPS_D, EPS_R, layoutFeeds } from './sample-graph.ts';
import type { McOptions, McResult, SigmoidMcResult } from './types.ts';

export interface McShape {
  batch: number;
  /** Classes of the request (the head's K, or a zero-shot request's labels). */
  K: number;
  /** Factors R of the low-rank noise: the width of eps_R. */
  R: number;
  /** Width N of the noise (D for HET-XL and zero-shot, K for HET). */
  noiseWidth: number;
  /** Width of eps_D: N, or 1 for shared diagonal noise. */
  diagonalWidth: number;
  /** The largest chunk the memory budget allows (maxSamplesPerChunk). */
  samplesPerChunk: number;
}

/** One run of a sample graph, given its per-chunk feeds (eps_R, eps_D and PAIRED_ROWS) for `chunk`. */
export type RunChunk = (noise: Record<string, Tensor>, chunk: Chunk) => Promise<Record<string, Tensor>>;

/**
 * eps_R (stream STREAM_FACTOR) and eps_D (stream STREAM_DIAGONAL) rows of one chunk, as the
 * estimator draws them: a pure function of (seed, stream, sample index), so any chunking of the
 * same S sees the same noise. With R = 0 there is no eps_R (the graph has no such input), and
 * eps_D is the same as with any R: the streams are independent.
 */
export function chunkNoise(noise: NoiseCache, { seed, estimator = 'plain' }: McOptions, chunk: Chunk, R: number, noiseWidth: number): Record<string, Tensor> {
  const epsD = floatTensor(noise.rows(seed, STREAM_DIAGONAL, chunk.start, chunk.count, noiseWidth, estimator), [chunk.count, noiseWidth]);
  if (R === 0) return { [EPS_D]: epsD };
  return { [EPS_R]: floatTensor(noise.rows(seed, STREAM_FACTOR, chunk.start, chunk.count, R, estimator), [chunk.count, R]), [EPS_D]: epsD };
}

/**
 * The softmax link's MC predictive (every softmax sample graph ends in addSampleReductions); with
 * `controlMarginals` (per image the tempered logits' marginals), corrected by the control
 * variate of estimator=control (src/mc/control.ts).
 */
export function runMc(shape: McShape, options: McOptions, noise: NoiseCache, runChunk: RunChunk, controlMarginals?: readonly TemperedMarginals[]): Promise<McResult[]> {
  return runChunks(shape, options, noise, runChunk, new McAccumulator(shape.batch, shape.K, options.samples, options.estimator, controlMarginals), controlMarginals);
}

/** The sigmoid link's MC predictive (a sample graph that ends in addSigmoidSampleReductions). */
export function runSigmoidMc(shape: McShape, options: McOptions, noise: NoiseCache, runChunk: RunChunk): Promise<SigmoidMcResult[]> {
  return runChunks(shape, options, noise, runChunk, new SigmoidMcAccumulator(shape.batch, shape.K, options.estimator));
}

async function runChunks<T>(shape: McShape, options: McOptions, noise: NoiseCache, runChunk: RunChunk, accumulator: ChunkAccumulator<T>, controlMarginals?: readonly TemperedMarginals[]): Promise<T[]> {
  const { samples, targetStdError } = options;
  // Antithetic chunks keep their pairs whole, so that the graph sees both samples of each.
  const antithetic = options.estimator === 'antithetic';
  const sobol = options.estimator === 'sobol';
  // Sobol chunks hold whole rounds of the replicates, so that each block is one scrambling's.
  const align = antithetic ? 2 : sobol ? SOBOL_REPLICATES : 1;
  let done = 0;
  for (const checkpoint of stopCheckpoints(samples, targetStdError !== undefined)) {
    for (const chunk of planChunks(checkpoint, shape.samplesPerChunk, align, done)) {
      options.signal?.throwIfAborted();
      // estimator=control draws antithetic noise but leaves the pair terms out: its standard
      // error is the correction's own (src/mc/control.ts), and the pairs cost ~10% of a run.
      const layout = layoutFeeds({
        ...(antithetic && !controlMarginals ? { pairedRows: chunk.count - (chunk.count % 2) } : sobol ? { replicateBlocks: sobolBlocks(chunk.count) } : {}),
        ...(controlMarginals ? { controlTop: controlMarginals.map((m) => m.top ?? 0) } : {}),
      });
      const outputs = await runChunk({ ...chunkNoise(noise, options, chunk, shape.R, shape.diagonalWidth), ...layout }, chunk);
      accumulator.addChunk(chunk.start, chunk.count, outputs);
    }
    done = checkpoint;
    if (targetStdError !== undefined && done < samples && stopPrecise(accumulator, targetStdError, options.stopTopK ?? 1)) break;
  }
  return accumulator.results();
}

/** Stops every image whose top classes are precise enough; true once all have stopped. */
function stopPrecise<T>(accumulator: ChunkAccumulator<T>, target: number, topK: number): boolean {
  const { moments } = accumulator;
  let all = true;
  for (let b = 0; b < moments.batch; b++) {
    if (!moments.isStopped(b) && accumulator.maxTopStdError(b, topK) <= target) moments.stop(b);
    all &&= moments.isStopped(b);
  }
  return all;
}
