// Accumulates the sample graph's per-chunk reductions into one result per image, in float64:
// McAccumulator for the softmax link, SigmoidMcAccumulator for the sigmoid link. Both merge the
// per-class moments the same way (ClassMoments).
import type { Tensor } from '../engine/session.ts';
import { chunkReductions, sigmoidChunkReductions, type ChunkMoments } from './sample-graph.ts';
import type { McResult, SigmoidMcResult } from './types.ts';

/** What the MC loop feeds a chunk's outputs to, and asks for the per-image results at the end. */
export interface ChunkAccumulator<T> {
  addChunk(start: number, count: number, outputs: Record<string, Tensor>): void;
  results(): T[];
}

/** Running mean of the sampled probabilities and running sum of squared deviations from it, per (image, class). */
class ClassMoments {
  seen = 0;
  readonly mean: Float64Array;
  private readonly m2: Float64Array;

  constructor(size: number) {
    this.mean = new Float64Array(size);
    this.m2 = new Float64Array(size);
  }

  /**
   * Merges a chunk of `count` samples. The chunk's moments are about its shift c:
   * mean_c = c + S1 / n, M2_c = S2 - S1^2 / n; chunks combine with Chan et al.'s parallel
   * update, so the result does not depend on the chunking beyond rounding.
   */
  add(count: number, { shift, sumDev, sumSqDev }: ChunkMoments): void {
    const total = this.seen + count;
    for (let i = 0; i < this.mean.length; i++) {
      const s1 = sumDev[i];
      const chunkMean = shift[i] + s1 / count;
      const chunkM2 = Math.max(sumSqDev[i] - (s1 * s1) / count, 0);
      const delta = chunkMean - this.mean[i];
      this.mean[i] += (delta * count) / total;
      this.m2[i] += chunkM2 + (delta * delta * this.seen * count) / total;
    }
    this.seen = total;
  }

  /** Image b's mean and population std over the samples seen, as float32 arrays of K. */
  image(b: number, K: number): { probs: Float32Array; std: Float32Array } {
    const probs = new Float32Array(K);
    const std = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      probs[k] = this.mean[b * K + k];
      std[k] = Math.sqrt(Math.max(this.m2[b * K + k] / this.seen, 0));
    }
    return { probs, std };
  }

  check(samples: number): void {
    if (this.seen !== samples) throw new Error(`accumulated ${this.seen} of ${samples} samples`);
  }
}

/** Softmax link: moments of p_s, the sum of H[p_s] and every sample's arg max. */
export class McAccumulator implements ChunkAccumulator<McResult> {
  private readonly moments: ClassMoments;
  private readonly entropySum: Float64Array;
  private readonly argmax: Int32Array[];

  constructor(
    private readonly batch: number,
    private readonly K: number,
    private readonly samples: number,
  ) {
    this.moments = new ClassMoments(batch * K);
    this.entropySum = new Float64Array(batch);
    this.argmax = Array.from({ length: batch }, () => new Int32Array(samples));
  }

  /** Merges a chunk of `count` samples starting at sample `start`. */
  addChunk(start: number, count: number, outputs: Record<string, Tensor>): void {
    const chunk = chunkReductions(outputs);
    this.moments.add(count, chunk);
    for (let b = 0; b < this.batch; b++) {
      const row = b * count;
      let entropy = 0;
      for (let s = 0; s < count; s++) {
        entropy += chunk.entropy[row + s];
        this.argmax[b][start + s] = Number(chunk.argmax[row + s]);
      }
      this.entropySum[b] += entropy;
    }
  }

  results(): McResult[] {
    this.moments.check(this.samples);
    return Array.from({ length: this.batch }, (_, b) => ({
      ...this.moments.image(b, this.K),
      expectedEntropy: this.entropySum[b] / this.samples,
      sampleArgmax: this.argmax[b],
    }));
  }
}

/** Sigmoid link: moments of q_s per class and, per class, the sum of the binary entropies h(q_s). */
export class SigmoidMcAccumulator implements ChunkAccumulator<SigmoidMcResult> {
  private readonly moments: ClassMoments;
  private readonly binaryEntropySum: Float64Array;

  constructor(
    private readonly batch: number,
    private readonly K: number,
    private readonly samples: number,
  ) {
    this.moments = new ClassMoments(batch * K);
    this.binaryEntropySum = new Float64Array(batch * K);
  }

  addChunk(_start: number, count: number, outputs: Record<string, Tensor>): void {
    const chunk = sigmoidChunkReductions(outputs);
    this.moments.add(count, chunk);
    for (let i = 0; i < this.binaryEntropySum.length; i++) this.binaryEntropySum[i] += chunk.binaryEntropySum[i];
  }

  results(): SigmoidMcResult[] {
    this.moments.check(this.samples);
    const { K } = this;
    return Array.from({ length: this.batch }, (_, b) => ({
      ...this.moments.image(b, K),
      expectedBinaryEntropy: Float64Array.from(this.binaryEntropySum.subarray(b * K, (b + 1) * K), (h) => h / this.samples),
    }));
  }
}
