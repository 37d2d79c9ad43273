// The contract between a head (DET / HET / HET-XL on ONNX Runtime) and the pipelines.
// Batch-shaped and free of HTTP: several images' pre-logits in, one result per image out.
import type { Link } from '../format/manifest.ts';
import type { McOptions, McResult, SigmoidMcResult } from '../mc/types.ts';
import type { CandidateMcResult } from './candidates.ts';
import type { LogitMarginals } from './marginals.ts';

export interface HeadRunner {
  /** softmax or sigmoid: which of mc() and sigmoidMc() the head answers. */
  readonly link: Link;
  /**
   * The link of (W^T phi + b) / tau with the noise switched off: softmax, or sigmoid per class.
   * phi is [batch, D] row-major.
   */
  mean(phi: Float32Array, batch: number): Promise<Float32Array[]>;
  /** The noise-free, untempered logits W^T phi + b (edward2's return_locs), [K] per image. */
  logits(phi: Float32Array, batch: number): Promise<Float32Array[]>;
  /** The MC predictive with S samples, softmax link. phi is [batch, D] row-major. */
  mc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]>;
  /** The MC predictive with S samples, sigmoid link. */
  sigmoidMc(phi: Float32Array, batch: number, options: McOptions): Promise<SigmoidMcResult[]>;
  /** HET and HET-XL: per image, the Gaussian marginals of the tempered logits u_k / tau, without samples. */
  marginals(phi: Float32Array, batch: number, signal?: AbortSignal): Promise<LogitMarginals[]>;
  /** Softmax HET-XL: estimator=candidates (src/heads/candidates.ts), with the bound on E[TV] at most `tolerance`. */
  candidatesMc(phi: Float32Array, batch: number, options: McOptions, tolerance: number): Promise<CandidateMcResult[]>;
  /** estimator=control: antithetic MC corrected by lognormal control variates (src/mc/control.ts); softmax HET and HET-XL. */
  controlMc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]>;
  /** Releases the ORT sessions. */
  dispose(): Promise<void>;
}
