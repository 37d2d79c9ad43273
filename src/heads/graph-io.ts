// The tensor names and the shape of the graph set every head builder produces, so that the
// runner can drive DET, HET and HET-XL the same way.
//
// Three graphs per head, each weight in exactly one of them but W (ORT sessions do not share
// initializers, and at JFT scale W alone is 121 MB):
//   center graph (HET only)  phi [B, D] -> loc = W^T phi + b [B, K]: the noise-free logits,
//                            computed once per image and shared by every sample.
//   loc graph (DET, HET-XL)  the same product, for the logits a request may ask for; it holds
//                            a second copy of W (the sample graph's is divided by tau).
//   scale graph (HET, HET-XL) phi [B, D] -> the per-image noise scales (v, d or V^T, d).
//   sample graph             center, scales, eps_R [Sc, R], eps_D [Sc, N] -> per-chunk
//                            reductions over the Sc samples (or, for diagnostics, the logits).
// Mean mode runs the sample graph with the scales set to zero and Sc = 1: the noise is then
// exactly 0, so DET and HET-XL share one code path and W lives in one session only.
import type { HeadType, Link } from '../format/manifest.ts';

/** Graph inputs. */
export const PHI = 'phi';
export const CENTER = 'center';
/** Scale tensors (outputs of the scale graph, inputs of the sample graph). */
export const SCALE_V = 'scale_v'; // v(x) = phi W_v + b_v  [B, N]   (parameter-efficient)
export const SCALE_VT = 'scale_vt'; // V(x)^T               [B, R, N] (full)
export const SCALE_D = 'scale_d'; // d(x) = softplus(phi W_d + b_d) + minScale  [B, N]
/** Outputs of the center graph. */
export const LOC = 'loc';
/** Output of the sample graph in logits mode: untempered u_s [B, Sc, K]. */
export const LOGITS = 'logits';

export type SampleOutput = 'reductions' | 'logits';

export interface ScaleTensor {
  name: string;
  /** Shape of one image's tensor (the batch dimension comes first and is left out). */
  dims: number[];
}

export interface HeadGraphs {
  type: HeadType;
  /** Which reductions the sample graph ends in: softmax (addSampleReductions) or sigmoid. */
  link: Link;
  D: number;
  K: number;
  /** Factors of the low-rank noise (0 for DET). */
  R: number;
  /** Width N of the noise: D for HET-XL, K for HET, 0 for DET (no noise). */
  noiseWidth: number;
  /** Width of eps_D: N, or 1 for shared diagonal noise (0 for DET). */
  diagonalWidth: number;
  /** Width of the sample graph's `center` input: D (phi) for DET and HET-XL, K (loc) for HET. */
  centerWidth: number;
  /** phi -> loc (HET only; otherwise the center is phi itself). */
  centerModel?: Uint8Array;
  /**
   * phi -> loc for DET and HET-XL, whose sample graphs hold W with 1/tau folded in: the noise-free
   * untempered logits asked for with include=logits (HET's centerModel is that graph already).
   */
  locModel?: Uint8Array;
  /** phi -> scale tensors (absent for DET). */
  scaleModel?: Uint8Array;
  scaleTensors: ScaleTensor[];
  /** The sample graph with per-chunk reductions. */
  sampleModel: Uint8Array;
  /** Builds the diagnostic sample graph that outputs the logits (built only when asked for). */
  buildLogitsModel(): Uint8Array;
}
