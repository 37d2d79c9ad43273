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
}

/** Per image, the MC estimate of a sigmoid head over S samples q_s = sigmoid(u_s / tau). */
export interface SigmoidMcResult {
  /** q_hat = (1/S) sum_s q_s per class, length K. */
  probs: Float32Array;
  /** Per-class standard deviation of q_s across samples, length K. */
  std: Float32Array;
  /** Per class (1/S) sum_s h(q_s,k), h the binary entropy in nats, length K (float64). */
  expectedBinaryEntropy: Float64Array;
}
