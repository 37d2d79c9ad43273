// The one chunked MC loop of every head: S samples in chunks that fit the memory budget, seeded
// noise per chunk (shared by the batch), one sample-graph run per chunk, the request's signal
// checked before each, and the chunks' reductions merged in float64 (McAccumulator), so the
// result does not depend on the chunking beyond rounding.
import { floatTensor, type Tensor } from '../engine/session.ts';
import type { NoiseCache } from '../noise/cache.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../noise/normal.ts';
import { McAccumulator, SigmoidMcAccumulator, type ChunkAccumulator } from './accumulator.ts';
import { planChunks, type Chunk } from './chunking.ts';
import { EPS_D, EPS_R } from './sample-graph.ts';
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

/** One run of a sample graph, given its noise feeds (eps_R and eps_D) for `chunk`. */
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

/** The softmax link's MC predictive (every softmax sample graph ends in addSampleReductions). */
export function runMc(shape: McShape, options: McOptions, noise: NoiseCache, runChunk: RunChunk): Promise<McResult[]> {
  return runChunks(shape, options, noise, runChunk, new McAccumulator(shape.batch, shape.K, options.samples));
}

/** The sigmoid link's MC predictive (a sample graph that ends in addSigmoidSampleReductions). */
export function runSigmoidMc(shape: McShape, options: McOptions, noise: NoiseCache, runChunk: RunChunk): Promise<SigmoidMcResult[]> {
  return runChunks(shape, options, noise, runChunk, new SigmoidMcAccumulator(shape.batch, shape.K, options.samples));
}

async function runChunks<T>(shape: McShape, options: McOptions, noise: NoiseCache, runChunk: RunChunk, accumulator: ChunkAccumulator<T>): Promise<T[]> {
  for (const chunk of planChunks(options.samples, shape.samplesPerChunk)) {
    options.signal?.throwIfAborted();
    const outputs = await runChunk(chunkNoise(noise, options, chunk, shape.R, shape.diagonalWidth), chunk);
    accumulator.addChunk(chunk.start, chunk.count, outputs);
  }
  return accumulator.results();
}
