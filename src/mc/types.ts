// What every MC head takes and returns: the options of one Monte-Carlo computation and, per
// image, its estimate over S sampled softmaxes (or sigmoids, for a sigmoid head).
import type { Estimator } from '../noise/estimator.ts';

export interface McOptions {
  /** Number of Monte-Carlo samples S. */
  samples: number;
  /** Seed of the standard-normal noise; same seed, same request -> same numbers. */
  seed: number;
  /** How the samples' noise is drawn (src/noise/estimator.ts); default 'plain'. */
  estimator?: Estimator;
  /**
   * A precision target: each image stops taking samples at the first check (src/mc/chunking.ts
   * stopCheckpoints) where the standard error of each of its `stopTopK` most probable classes
   * is at most this; `samples` is then the cap. Absent: exactly `samples` samples.
   */
  targetStdError?: number;
  /** How many of the most probable classes the target applies to (default 1; K for all). */
  stopTopK?: number;
  /**
   * Checked before each stage of a request and before every chunk: once aborted, the work stops
   * and rejects with the signal's reason (an AbortError), e.g. when the client has gone away.
   */
  signal?: AbortSignal;
}

/** Per image, the MC estimate over S sampled softmaxes p_s. */
export interface McResult {
  /** p_hat = (1/S) sum_s p_s, length K. */
  probs: Float32Array;
  /** Per-class standard deviation of p_s across samples, length K. */
  std: Float32Array;
  /** (1/S) sum_s H[p_s], in nats. */
  expectedEntropy: number;
  /** argmax_k p_s for each sample s, length S (for the variation ratio). */
  sampleArgmax: Int32Array;
  /** The samples this image took: S, or fewer where a precision target stopped it. Absent: S. */
  samplesUsed?: number;
  /** Standard error of p_hat per class under the estimator (antithetic: from pair means; sobol: from its scramblings). Absent: std / sqrt(S). */
  stdError?: Float32Array;
}

/** Per image, the MC estimate of a sigmoid head over S samples q_s = sigmoid(u_s / tau). */
export interface SigmoidMcResult {
  /** q_hat = (1/S) sum_s q_s per class, length K. */
  probs: Float32Array;
  /** Per-class standard deviation of q_s across samples, length K. */
  std: Float32Array;
  /** Per class (1/S) sum_s h(q_s,k), h the binary entropy in nats, length K (float64). */
  expectedBinaryEntropy: Float64Array;
  /** As McResult's. */
  samplesUsed?: number;
  /** As McResult's. */
  stdError?: Float32Array;
}
