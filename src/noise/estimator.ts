// Noise rows for each MC estimator. Like normalRows, the row of sample s is a pure function of
// (estimator, seed, stream, s), so results do not depend on how the samples are chunked.
//
//   plain       sample s gets the standard-normal row s.
//   antithetic  samples 2m and 2m + 1 get +eps_m and -eps_m (eps_m = the normal row m): each
//               sample is still N(0, I), so the average stays unbiased, and the odd part of
//               p(eps) cancels within each pair, which lowers the variance of p_hat (for S odd
//               the last sample is unpaired). Half the noise to generate, too.
//   sobol       the factor noise eps_R from scrambled Sobol points (src/noise/sobol.ts), the
//               other streams plain; a block's rows are in the replicate-major order of
//               sobolSampleOrder, every stream alike.
import { fillNormalRows, STREAM_FACTOR } from './normal.ts';
import { fillSobolNormals, sobolSampleOrder } from './sobol.ts';

export const ESTIMATORS = ['plain', 'antithetic', 'sobol'] as const;
export type Estimator = (typeof ESTIMATORS)[number];

/** The noise rows [sCount, width] of samples sStart .. sStart + sCount - 1 under `estimator`. */
export function fillEstimatorRows(out: Float32Array, estimator: Estimator, seed: number, stream: number, sStart: number, sCount: number, width: number): void {
  if (estimator === 'plain') return fillNormalRows(out, seed, stream, sStart, sCount, width);
  if (estimator === 'sobol') {
    if (stream === STREAM_FACTOR) return fillSobolNormals(out, seed, sStart, sCount, width);
    sobolSampleOrder(sStart, sCount).forEach((sample, row) => fillNormalRows(out.subarray(row * width, (row + 1) * width), seed, stream, sample, 1, width));
    return;
  }
  if (sCount === 0) return;
  // The pairs the chunk touches, generated once each, then written with alternating signs.
  const firstPair = Math.floor(sStart / 2);
  const pairCount = Math.floor((sStart + sCount - 1) / 2) - firstPair + 1;
  const pairs = new Float32Array(pairCount * width);
  fillNormalRows(pairs, seed, stream, firstPair, pairCount, width);
  for (let row = 0; row < sCount; row++) {
    const s = sStart + row;
    const source = pairs.subarray((Math.floor(s / 2) - firstPair) * width, (Math.floor(s / 2) - firstPair + 1) * width);
    const target = out.subarray(row * width, (row + 1) * width);
    if (s % 2 === 0) target.set(source);
    else for (let j = 0; j < width; j++) target[j] = -source[j];
  }
}
