// Accumulates the sample graph's per-chunk reductions into one McResult per image, in float64.
import type { ChunkReductions } from './sample-graph.ts';
import type { McResult } from './types.ts';

export class McAccumulator {
  private seen = 0;
  /** Running mean of p_s and running sum of squared deviations from it, per (image, class). */
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private readonly entropySum: Float64Array;
  private readonly argmax: Int32Array[];

  constructor(
    private readonly batch: number,
    private readonly K: number,
    private readonly samples: number,
  ) {
    this.mean = new Float64Array(batch * K);
    this.m2 = new Float64Array(batch * K);
    this.entropySum = new Float64Array(batch);
    this.argmax = Array.from({ length: batch }, () => new Int32Array(samples));
  }

  /**
   * Merges a chunk of `count` samples starting at sample `start`. The chunk's moments are about
   * its shift c: mean_c = c + S1 / n, M2_c = S2 - S1^2 / n; chunks combine with Chan et al.'s
   * parallel update, so the result does not depend on the chunking beyond rounding.
   */
  addChunk(start: number, count: number, chunk: ChunkReductions): void {
    const { batch, K } = this;
    const total = this.seen + count;
    for (let i = 0; i < batch * K; i++) {
      const s1 = chunk.sumDev[i];
      const chunkMean = chunk.shift[i] + s1 / count;
      const chunkM2 = Math.max(chunk.sumSqDev[i] - (s1 * s1) / count, 0);
      const delta = chunkMean - this.mean[i];
      this.mean[i] += (delta * count) / total;
      this.m2[i] += chunkM2 + (delta * delta * this.seen * count) / total;
    }
    for (let b = 0; b < batch; b++) {
      const row = b * count;
      let entropy = 0;
      for (let s = 0; s < count; s++) {
        entropy += chunk.entropy[row + s];
        this.argmax[b][start + s] = Number(chunk.argmax[row + s]);
      }
      this.entropySum[b] += entropy;
    }
    this.seen = total;
  }

  results(): McResult[] {
    if (this.seen !== this.samples) throw new Error(`accumulated ${this.seen} of ${this.samples} samples`);
    const { K } = this;
    return Array.from({ length: this.batch }, (_, b) => {
      const probs = new Float32Array(K);
      const std = new Float32Array(K);
      for (let k = 0; k < K; k++) {
        probs[k] = this.mean[b * K + k];
        std[k] = Math.sqrt(Math.max(this.m2[b * K + k] / this.samples, 0));
      }
      return { probs, std, expectedEntropy: this.entropySum[b] / this.samples, sampleArgmax: this.argmax[b] };
    });
  }
}
