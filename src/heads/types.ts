// The contract between a head (DET / HET / HET-XL on ONNX Runtime) and the pipelines.
// Batch-shaped and free of HTTP: several images' pre-logits in, one result per image out.
import type { McOptions, McResult } from '../mc/types.ts';

export interface HeadRunner {
  /** softmax((W^T phi + b) / tau) with the noise switched off. phi is [batch, D] row-major. */
  mean(phi: Float32Array, batch: number): Promise<Float32Array[]>;
  /** The MC predictive with S samples. phi is [batch, D] row-major. */
  mc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]>;
  /** Releases the ORT sessions. */
  dispose(): Promise<void>;
}
