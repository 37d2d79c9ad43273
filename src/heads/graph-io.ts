// The tensor names and the shape of the graph set every head builder produces, so that the
// runner can drive DET, HET and HET-XL the same way.
//
// Three or four graphs per head, each weight in exactly one of them but W (ORT sessions do not
// share initializers, and at JFT scale W alone is 121 MB):
//   center graph (HET only)  phi [B, D] -> loc = W^T phi + b [B, K]: the noise-free logits,
//                            computed once per image and shared by every sample.
//   loc graph (DET, HET-XL)  the same product, for the logits a request may ask for (and, for
//                            HET-XL with shared diagonal noise, mean mode); it holds a second
//                            copy of W (the other one is in the sample or the scale graph).
//   mean graph (HET-XL shared) loc [B, K] -> mean mode's reductions (no weights).
//   scale graph (HET, HET-XL) phi [B, D] -> the per-image noise scales (v, d or V^T, d). HET-XL
//                            with shared diagonal noise: the logit-space loadings [L; W^T d]
//                            and the MC center, from its own copy of W.
//   sample graph             center, scales, eps_R [Sc, R], eps_D [Sc, N] -> per-chunk
//                            reductions over the Sc samples (or, for diagnostics, the logits).
// Mean mode runs the sample graph with the scales set to zero and Sc = 1: the noise is then
// exactly 0, so DET and HET-XL share one code path. HET-XL with shared diagonal noise has a
// mean graph instead (loc from the loc graph -> the reductions of loc / tau, no noise inputs).
import type { HeadType, Link } from '../format/manifest.ts';

/** Graph inputs (CENTER is also an output of HET-XL's scale graph with shared diagonal noise). */
export const PHI = 'phi';
export const CENTER = 'center';
/** Scale tensors (outputs of the scale graph, inputs of the sample graph). */
export const SCALE_V = 'scale_v'; // v(x) = phi W_v + b_v  [B, N]   (parameter-efficient)
export const SCALE_VT = 'scale_vt'; // V(x)^T               [B, R, N] (full)
export const SCALE_D = 'scale_d'; // d(x) = softplus(phi W_d + b_d) + minScale  [B, N]
/** HET-XL with shared diagonal noise: the logit-space loadings [L; W^T d] [B, R + 1, K] (src/heads/het-xl.ts). */
export const LOADINGS = 'loadings';
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
  /** Width N of the noise: D for HET-XL, K for HET and HET-XL with shared diagonal noise, 0 for DET. */
  noiseWidth: number;
  /** Width of eps_D: N, or 1 for shared diagonal noise (0 for DET). */
  diagonalWidth: number;
  /** Width of the sample graph's `center` input: D (phi) for DET and HET-XL, K (loc) for HET and HET-XL shared. */
  centerWidth: number;
  /**
   * HET-XL with shared diagonal noise: the MC center (loc' = W^T phi + b, shifted by the noise's
   * mean for the parameter-efficient covariance) is the scale graph's CENTER output; mean mode
   * feeds the loc graph's LOC to the meanModel.
   */
  centerFromScaleModel?: boolean;
  /** phi -> loc (HET only; otherwise the center is phi itself). */
  centerModel?: Uint8Array;
  /**
   * phi -> loc for DET and HET-XL: the noise-free untempered logits asked for with include=logits
   * (HET's centerModel is that graph already); DET's and HET-XL's sample graphs hold W with 1/tau
   * folded in, but HET-XL's with shared noise holds no W and its mean mode starts from this loc.
   */
  locModel?: Uint8Array;
  /**
   * Mean mode's graph where feeding the sample graph zero noise would be wasteful: the loc graph's
   * LOC as CENTER [B, K] -> the link's reductions of CENTER / tau at Sc = 1 (HET-XL with shared
   * diagonal noise only; the others run mean mode through the sample graph).
   */
  meanModel?: Uint8Array;
  /** phi -> scale tensors (absent for DET). */
  scaleModel?: Uint8Array;
  scaleTensors: ScaleTensor[];
  /** The sample graph with per-chunk reductions. */
  sampleModel: Uint8Array;
  /** Builds the diagnostic sample graph that outputs the logits (built only when asked for). */
  buildLogitsModel(): Uint8Array;
}
