// Accumulates the sample graph's per-chunk reductions into one result per image, in float64:
// McAccumulator for the softmax link, SigmoidMcAccumulator for the sigmoid link. Both merge the
// per-class moments the same way (ClassMoments), which also gives each estimator's standard error
// and lets the MC loop stop an image once its probabilities are precise enough.
import type { Tensor } from '../engine/session.ts';
import type { Estimator } from '../noise/estimator.ts';
import { SOBOL_REPLICATES, sobolBlocks } from '../noise/sobol.ts';
import { ControlVariate, type TemperedMarginals } from './control.ts';
import { chunkReductions, sigmoidChunkReductions, type ChunkMoments } from './sample-graph.ts';
import type { McResult, SigmoidMcResult } from './types.ts';

/** What the MC loop feeds a chunk's outputs to, and asks for the per-image results at the end. */
export interface ChunkAccumulator<T> {
  addChunk(start: number, count: number, outputs: Record<string, Tensor>): void;
  /** Per-image moments: the samples seen, and stopping an image. */
  readonly moments: ClassMoments;
  /** Image b's largest standard error among its k most probable classes, as its result would report them. */
  maxTopStdError(b: number, k: number): number;
  results(): T[];
}

/**
 * Per (image, class): running mean of the sampled probabilities, running sum of squared
 * deviations from it, and the antithetic pairs' sum of squared differences. Each image counts its
 * own samples: once stopped it takes no more, so its result is that of its own stopping point
 * whatever the batch it shares.
 */
export class ClassMoments {
  readonly seen: Int32Array;
  readonly mean: Float64Array;
  readonly m2: Float64Array;
  private readonly pairSq: Float64Array;
  private readonly pairs: Int32Array;
  /** Antithetic with S odd: the last, unpaired sample's p, per (image, class). */
  private readonly unpaired: Float64Array;
  /** Sobol: per (image, replicate, class) the sum of p_s, and per (image, replicate) the samples. */
  private readonly replicateSum: Float64Array;
  private readonly replicateCount: Int32Array;
  private readonly stopped: Uint8Array;

  constructor(
    readonly batch: number,
    readonly K: number,
    private readonly estimator: Estimator,
  ) {
    this.seen = new Int32Array(batch);
    this.mean = new Float64Array(batch * K);
    this.m2 = new Float64Array(batch * K);
    // The pair terms only for antithetic (the other estimators' standard errors do not use them).
    const paired = estimator === 'antithetic' ? batch * K : 0;
    this.pairSq = new Float64Array(paired);
    this.pairs = new Int32Array(batch);
    this.unpaired = new Float64Array(paired);
    const replicates = estimator === 'sobol' ? SOBOL_REPLICATES : 0;
    this.replicateSum = new Float64Array(batch * replicates * K);
    this.replicateCount = new Int32Array(batch * replicates);
    this.stopped = new Uint8Array(batch);
  }

  /**
   * Merges a chunk of `count` samples into every image not stopped. The chunk's moments are
   * about its shift c: mean_c = c + S1 / n, M2_c = S2 - S1^2 / n; chunks combine with Chan et
   * al.'s parallel update, so the result does not depend on the chunking beyond rounding.
   */
  add(count: number, { shift, sumDev, sumSqDev, pairSumSqDiff, replicateSum }: ChunkMoments): void {
    const { K } = this;
    // planChunks(align 2) leaves the one unpaired sample of an odd S alone in the last chunk.
    if (this.estimator === 'antithetic' && count % 2 === 1 && count !== 1) throw new Error(`antithetic chunk of ${count} samples: pairs must stay whole`);
    for (let b = 0; b < this.batch; b++) {
      if (this.stopped[b]) continue;
      const seen = this.seen[b];
      const total = seen + count;
      for (let i = b * K; i < (b + 1) * K; i++) {
        const s1 = sumDev[i];
        const chunkMean = shift[i] + s1 / count;
        const chunkM2 = Math.max(sumSqDev[i] - (s1 * s1) / count, 0);
        const delta = chunkMean - this.mean[i];
        this.mean[i] += (delta * count) / total;
        this.m2[i] += chunkM2 + (delta * delta * seen * count) / total;
        if (this.pairSq.length === 0) continue;
        this.pairSq[i] += pairSumSqDiff[i];
        if (count === 1) this.unpaired[i] = shift[i];
      }
      this.seen[b] = total;
      this.pairs[b] += Math.floor(count / 2);
      if (this.estimator === 'sobol') this.addReplicates(b, count, replicateSum);
    }
  }

  /** Sobol: the chunk's blocks are replicates 0 .. G - 1 (src/noise/sobol.ts), count / G samples each. */
  private addReplicates(b: number, count: number, replicateSum: Float32Array): void {
    const { K } = this;
    const J = SOBOL_REPLICATES;
    const G = sobolBlocks(count);
    for (let r = 0; r < G; r++) {
      const into = (b * J + r) * K;
      const from = (b * G + r) * K;
      for (let k = 0; k < K; k++) this.replicateSum[into + k] += replicateSum[from + k];
      this.replicateCount[b * J + r] += count / G;
    }
  }

  stop(b: number): void {
    this.stopped[b] = 1;
  }

  isStopped(b: number): boolean {
    return this.stopped[b] === 1;
  }

  /**
   * The standard error of p_hat for class index i = b * K + k, from the estimator's own
   * variance (population moments, like the std):
   * - plain: std / sqrt(n).
   * - sobol: from the spread of the independent scramblings' means (replicateStdError).
   * - antithetic: from the M pair means pm_m = (p_2m + p_2m+1) / 2, which are independent
   *   where the single samples are not: about their mean, sum_m (pm_m - pm)^2 =
   *   M2_paired / 2 - sum_m d_m^2 / 4 with d_m = p_2m - p_2m+1 ((x + y)^2 / 4 = (x^2 + y^2) / 2
   *   - (x - y)^2 / 4), so Var(p_hat) = that / M^2. For n odd, p_hat = (2M pm + x) / n with x
   *   the unpaired sample: M2_paired = M2 - (2M / n)(x - pm)^2 (Chan's merge backwards), and x
   *   adds its plain share Var(p) / n^2.
   */
  private stdErrorAt(b: number, i: number): number {
    const n = this.seen[b];
    const variance = this.m2[i] / n;
    if (this.estimator === 'sobol') return this.replicateStdError(b, i - b * this.K, variance);
    const M = this.pairs[b];
    if (this.estimator !== 'antithetic' || M === 0) return Math.sqrt(variance / n);
    let pairedM2 = this.m2[i];
    if (n > 2 * M) {
      const pairsMean = (n * this.mean[i] - this.unpaired[i]) / (2 * M);
      pairedM2 -= ((2 * M) / n) * (this.unpaired[i] - pairsMean) ** 2;
    }
    const pairDeviation = Math.max(pairedM2 / 2 - this.pairSq[i] / 4, 0);
    return Math.sqrt(((2 * M) / n) ** 2 * (pairDeviation / M / M) + ((n - 2 * M) * variance) / (n * n));
  }

  /**
   * Sobol: the points of one scrambling are not independent, but the scramblings are: with m_r
   * the mean of replicate r over its n_r samples, v = sum_r n_r (m_r - p_hat)^2 / (J - 1)
   * estimates n Var(p_hat) (the batch-means estimator; exact in expectation when the n_r are
   * equal), so the standard error is sqrt(v / n) with J - 1 = 15 degrees of freedom. Below two
   * replicates, the plain formula.
   */
  private replicateStdError(b: number, k: number, variance: number): number {
    const { K } = this;
    const n = this.seen[b];
    const mean = this.mean[b * K + k];
    let spread = 0;
    let replicates = 0;
    for (let r = 0; r < SOBOL_REPLICATES; r++) {
      const nr = this.replicateCount[b * SOBOL_REPLICATES + r];
      if (nr === 0) continue;
      spread += nr * (this.replicateSum[(b * SOBOL_REPLICATES + r) * K + k] / nr - mean) ** 2;
      replicates++;
    }
    if (replicates < 2) return Math.sqrt(variance / n);
    return Math.sqrt(spread / (replicates - 1) / n);
  }

  /**
   * The largest standard error among image b's `k` most probable classes (ties at the k-th
   * value included): the stopping rule's quantity.
   */
  maxTopStdError(b: number, k: number): number {
    const { K } = this;
    return maxOverTop(this.mean.subarray(b * K, (b + 1) * K), k, (c) => this.stdErrorAt(b, b * K + c));
  }

  /** Image b's mean, population std and standard error over its samples, as float32 arrays of K. */
  image(b: number): { probs: Float32Array; std: Float32Array; stdError: Float32Array; samplesUsed: number } {
    const { K } = this;
    const n = this.seen[b];
    const probs = new Float32Array(K);
    const std = new Float32Array(K);
    const stdError = new Float32Array(K);
    for (let k = 0; k < K; k++) {
      const i = b * K + k;
      probs[k] = this.mean[i];
      std[k] = Math.sqrt(Math.max(this.m2[i] / n, 0));
      stdError[k] = this.stdErrorAt(b, i);
    }
    return { probs, std, stdError, samplesUsed: n };
  }
}

/** The largest errorOf(c) over the classes c among the k largest values (ties at the k-th included). */
function maxOverTop(values: ArrayLike<number>, k: number, errorOf: (c: number) => number): number {
  const threshold = k >= values.length ? -Infinity : kthLargest(values, k);
  let max = 0;
  for (let c = 0; c < values.length; c++) if (values[c] >= threshold) max = Math.max(max, errorOf(c));
  return max;
}

/** The k-th largest of the values (1 <= k < length), by a small sorted buffer: k is a top-k. */
function kthLargest(values: ArrayLike<number>, k: number): number {
  const top = new Float64Array(k).fill(-Infinity);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v <= top[k - 1]) continue;
    let at = k - 1;
    while (at > 0 && top[at - 1] < v) {
      top[at] = top[at - 1];
      at--;
    }
    top[at] = v;
  }
  return top[k - 1];
}

/**
 * Softmax link: moments of p_s, the sum of H[p_s] and every sample's arg max; with
 * `controlMarginals` (estimator=control: per image the marginals of the tempered logits),
 * probabilities and standard errors corrected by the control variates (src/mc/control.ts).
 */
export class McAccumulator implements ChunkAccumulator<McResult> {
  readonly moments: ClassMoments;
  private readonly entropySum: Float64Array;
  private readonly argmax: Int32Array[];
  private readonly control: ControlVariate | undefined;

  constructor(
    private readonly batch: number,
    K: number,
    samples: number,
    estimator: Estimator = 'plain',
    controlMarginals?: readonly TemperedMarginals[],
  ) {
    // estimator=control's noise is antithetic, but its graph leaves the pair terms out (src/mc/loop.ts)
    // and its standard errors are the correction's: the moments need no pair bookkeeping.
    this.moments = new ClassMoments(batch, K, controlMarginals ? 'plain' : estimator);
    this.control = controlMarginals && new ControlVariate(batch, K, controlMarginals);
    this.entropySum = new Float64Array(batch);
    this.argmax = Array.from({ length: batch }, () => new Int32Array(samples));
  }

  /** Merges a chunk of `count` samples starting at sample `start`. */
  addChunk(start: number, count: number, outputs: Record<string, Tensor>): void {
    const chunk = chunkReductions(outputs);
    for (let b = 0; b < this.batch; b++) {
      if (this.moments.isStopped(b)) continue;
      const row = b * count;
      let entropy = 0;
      for (let s = 0; s < count; s++) {
        entropy += chunk.entropy[row + s];
        this.argmax[b][start + s] = Number(chunk.argmax[row + s]);
      }
      this.entropySum[b] += entropy;
    }
    // Before the moments take the chunk: an image stopped now takes neither.
    this.control?.add(chunk, (b) => this.moments.isStopped(b));
    this.moments.add(count, chunk);
  }

  maxTopStdError(b: number, k: number): number {
    if (!this.control) return this.moments.maxTopStdError(b, k);
    // The corrected estimate's own top classes and standard errors (an O(K) regression per check).
    const { probs, stdError } = this.control.correct(b, this.moments.seen[b], this.moments.mean, this.moments.m2);
    return maxOverTop(probs, k, (c) => stdError[c]);
  }

  results(): McResult[] {
    return Array.from({ length: this.batch }, (_, b) => {
      const image = this.moments.image(b);
      const corrected = this.control?.correct(b, image.samplesUsed, this.moments.mean, this.moments.m2);
      return { ...image, ...corrected, expectedEntropy: this.entropySum[b] / image.samplesUsed, sampleArgmax: this.argmax[b].subarray(0, image.samplesUsed) };
    });
  }
}

/** Sigmoid link: moments of q_s per class and, per class, the sum of the binary entropies h(q_s). */
export class SigmoidMcAccumulator implements ChunkAccumulator<SigmoidMcResult> {
  readonly moments: ClassMoments;
  private readonly binaryEntropySum: Float64Array;

  constructor(
    private readonly batch: number,
    private readonly K: number,
    estimator: Estimator = 'plain',
  ) {
    this.moments = new ClassMoments(batch, K, estimator);
    this.binaryEntropySum = new Float64Array(batch * K);
  }

  addChunk(_start: number, count: number, outputs: Record<string, Tensor>): void {
    const chunk = sigmoidChunkReductions(outputs);
    const { K } = this;
    for (let b = 0; b < this.batch; b++) {
      if (this.moments.isStopped(b)) continue;
      for (let i = b * K; i < (b + 1) * K; i++) this.binaryEntropySum[i] += chunk.binaryEntropySum[i];
    }
    this.moments.add(count, chunk);
  }

  maxTopStdError(b: number, k: number): number {
    return this.moments.maxTopStdError(b, k);
  }

  results(): SigmoidMcResult[] {
    const { K } = this;
    return Array.from({ length: this.batch }, (_, b) => {
      const image = this.moments.image(b);
      return { ...image, expectedBinaryEntropy: Float64Array.from(this.binaryEntropySum.subarray(b * K, (b + 1) * K), (h) => h / image.samplesUsed) };
    });
  }
}
