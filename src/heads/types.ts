// The contract between a head (DET / HET / HET-XL on ONNX Runtime) and the model runtime.
// Batch-shaped and free of HTTP: several images' pre-logits in, one result per image out.
import type { Estimator } from '../noise/estimator.ts';

/** Head weights as read from head.safetensors: name -> float32 data with its shape. */
export type HeadWeights = Map<string, { dims: number[]; data: Float32Array }>;

export interface McOptions {
  /** Number of Monte-Carlo samples S. */
  samples: number;
  /** Seed of the standard-normal noise; same seed, same request -> same numbers. */
  seed: number;
  /** How the samples' noise is drawn (src/noise/estimator.ts); default 'plain'. */
  estimator?: Estimator;
  /**
   * Checked before every chunk: once aborted, the MC loop stops and rejects with the signal's
   * reason (an AbortError), e.g. when the client has gone away.
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

export interface HeadRunner {
  /** softmax((W^T phi + b) / tau) with the noise switched off. phi is [batch, D] row-major. */
  mean(phi: Float32Array, batch: number): Promise<Float32Array[]>;
  /** The MC predictive with S samples. phi is [batch, D] row-major. */
  mc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]>;
  /**
   * Diagnostic: the sampled logits u_s, untempered (before the division by tau), with the same
   * noise as mc() for the same options. [batch, S, K] row-major; for tests of the implied
   * covariance, not for serving (it materialises S x K values per image).
   */
  sampleLogits(phi: Float32Array, batch: number, options: McOptions): Promise<Float32Array>;
  /** Releases the ORT sessions. */
  dispose(): Promise<void>;
}
