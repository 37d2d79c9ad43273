// The contract between a head (DET / HET / HET-XL on ONNX Runtime) and the pipelines.
// Batch-shaped and free of HTTP: several images' pre-logits in, one result per image out.
import type { Link } from '../format/manifest.ts';
import type { McOptions, McResult, SigmoidMcResult } from '../mc/types.ts';

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
  /** Releases the ORT sessions. */
  dispose(): Promise<void>;
}
