// estimator=control (docs/estimators.md): antithetic MC of a softmax head (the pairs lower the
// corrected estimate's error further: on the trained-looking bench head, TV 0.0084 at S = 150
// against 0.0114 with plain noise, with the first control alone), corrected per class by a
// regression on two control variates whose means are known exactly from the logits' Gaussian
// marginals.
//
// With t_k ~ N(m_k, s_k^2) the tempered logit of class k and j the class of largest mean
// (src/heads/marginals.ts: its `top`, and d_k the std of t_k - t_j):
//   c_k = exp(t_k - a_k),        a_k = m_k + s_k^2 / 2,               E[c_k] = 1,
//   e_k = exp(t_k - t_j - b_k),  b_k = m_k - m_j + d_k^2 / 2,         E[e_k] = 1.
// p_k = exp(t_k) / Z follows c_k where Z hardly moves (the many small classes of a flat
// predictive) and e_k where Z moves with the top class (a peaked one); the regression
//   p_hat_k = mean(p_k) - beta_k . (mean(c_k) - 1, mean(e_k) - 1),  beta_k = Cov(c, e)^-1 Cov(p_k, (c_k, e_k))
// (sample moments) takes what each explains. On the trained-looking bench head at S = 100 (8
// inputs x 4 seeds) the mean TV to the reference was 0.0237 plain, 0.0102 with c alone, 0.0192
// with e alone and 0.0067 with both. Then negative estimates are set to 0 and the vector
// renormalised to sum 1. Not unbiased: beta from the same samples gives an O(1/S) bias
// (docs/estimators.md). The exact beta (from E[c^2] = exp(s^2)) was far worse: c is
// heavy-tailed, and the sample beta follows the sample actually drawn.
//
// A control is used only where its log has std at most MAX_CONTROL_STD: the kurtosis of a
// lognormal grows like exp(4 s^2), and above s ~ 2 a few hundred samples cannot estimate its
// moments (on a test head with s up to 4.4 the corrected estimate was 4x worse than plain MC).
// Without e (HET heads, whose marginals have no differences; e_j itself is 1) c alone, as
// without c e alone; with neither, mean(p). Two controls too collinear to separate
// (1 - corr^2 < COLLINEAR) leave the one that explains more.
//
// The sample graph gives, per chunk, the sums of CONTROL_SUMS (src/mc/sample-graph.ts); with
// f_k = exp(L - a_k) and g_k = exp(M - b_k), c_s,k = f_k w_s p_s,k and e_s,k = g_k v_s p_s,k,
// so every sum below is a weighted sum of p or p^2 times f and g, accumulated here in float64.
import { CONTROL_WEIGHTS, type ChunkReductions } from './sample-graph.ts';

/** The largest std of a control's log for the control to be used. */
export const MAX_CONTROL_STD = 2;
/** Below this 1 - corr(c, e)^2 the two controls are taken as one. */
const COLLINEAR = 1e-6;

/** One image's marginals of the tempered logits, t_k ~ N(mean_k, std_k^2), and (HET-XL) the std of each t_k - t_top. */
export interface TemperedMarginals {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
  top?: number;
  differenceStd?: ArrayLike<number>;
}

/** Rows of CONTROL_SUMS: each weight of CONTROL_WEIGHTS times p, then times p^2. */
const row = (weight: (typeof CONTROL_WEIGHTS)[number], power: 1 | 2) => CONTROL_WEIGHTS.indexOf(weight) + (power - 1) * CONTROL_WEIGHTS.length;

export class ControlVariate {
  private readonly sums: Record<'c' | 'cc' | 'pc' | 'e' | 'ee' | 'pe' | 'ce', Float64Array>;

  constructor(
    private readonly batch: number,
    private readonly K: number,
    private readonly marginals: readonly TemperedMarginals[],
  ) {
    if (marginals.length !== batch || marginals.some((m) => m.mean.length !== K || m.std.length !== K)) throw new RangeError(`control variate: ${batch} images of ${K} classes expected`);
    const zeros = () => new Float64Array(batch * K);
    this.sums = { c: zeros(), cc: zeros(), pc: zeros(), e: zeros(), ee: zeros(), pe: zeros(), ce: zeros() };
  }

  /** Merges a chunk's sums into every image not `stopped` (by a precision target: it takes no more samples). */
  add({ controlSums, controlLogScales }: ChunkReductions, stopped: (b: number) => boolean = () => false): void {
    const { K, sums } = this;
    const rows = 2 * CONTROL_WEIGHTS.length;
    for (let b = 0; b < this.batch; b++) {
      if (stopped(b)) continue;
      const [L, M] = [controlLogScales[2 * b], controlLogScales[2 * b + 1]];
      const [wp, wpp, wwpp, vp, vpp, vvpp, wvpp] = [row('w', 1), row('w', 2), row('w2', 2), row('v', 1), row('v', 2), row('v2', 2), row('wv', 2)].map((r) => (b * rows + r) * K);
      const { mean, std, top, differenceStd: d } = this.marginals[b];
      const meanTop = top === undefined ? 0 : mean[top];
      for (let k = 0, i = b * K; k < K; k++, i++) {
        // f = exp(L - a_k), g = exp(M - b_k); NaN where that control is not used.
        const f = std[k] <= MAX_CONTROL_STD ? Math.exp(L - mean[k] - (std[k] * std[k]) / 2) : Number.NaN;
        const g = d && k !== top && d[k] <= MAX_CONTROL_STD ? Math.exp(M - mean[k] + meanTop - (d[k] * d[k]) / 2) : Number.NaN;
        sums.c[i] += f * controlSums[wp + k];
        sums.pc[i] += f * controlSums[wpp + k];
        sums.cc[i] += f * f * controlSums[wwpp + k];
        sums.e[i] += g * controlSums[vp + k];
        sums.pe[i] += g * controlSums[vpp + k];
        sums.ee[i] += g * g * controlSums[vvpp + k];
        sums.ce[i] += f * g * controlSums[wvpp + k];
      }
    }
  }

  /**
   * Image b's corrected probabilities and their standard errors, from its n samples' mean and
   * M2 of p (ClassMoments): the residual variance Var(p) - beta . Cov(p, controls) over n, as
   * if the samples were independent. A control that was not used, has no usable variance, or
   * overflowed (a_k hundreds below the top) is left out.
   */
  correct(b: number, n: number, mean: Float64Array, m2: Float64Array): { probs: Float32Array; stdError: Float32Array } {
    const { K, sums } = this;
    const probs = new Float32Array(K);
    const stdError = new Float32Array(K);
    let total = 0;
    for (let k = 0, i = b * K; k < K; k++, i++) {
      const meanP = mean[i];
      const meanC = sums.c[i] / n;
      const meanE = sums.e[i] / n;
      const varC = sums.cc[i] / n - meanC * meanC;
      const varE = sums.ee[i] / n - meanE * meanE;
      const covPC = sums.pc[i] / n - meanP * meanC;
      const covPE = sums.pe[i] / n - meanP * meanE;
      const useC = varC > 0 && Number.isFinite(varC) && Number.isFinite(covPC);
      const useE = varE > 0 && Number.isFinite(varE) && Number.isFinite(covPE);
      let p = meanP;
      let explained = 0;
      const covCE = sums.ce[i] / n - meanC * meanE;
      const det = varC * varE - covCE * covCE;
      if (useC && useE && Number.isFinite(det) && det > COLLINEAR * varC * varE) {
        const betaC = (covPC * varE - covPE * covCE) / det;
        const betaE = (covPE * varC - covPC * covCE) / det;
        p -= betaC * (meanC - 1) + betaE * (meanE - 1);
        explained = betaC * covPC + betaE * covPE;
      } else if (useC && (!useE || (covPC * covPC) / varC >= (covPE * covPE) / varE)) {
        p -= (covPC / varC) * (meanC - 1);
        explained = (covPC * covPC) / varC;
      } else if (useE) {
        p -= (covPE / varE) * (meanE - 1);
        explained = (covPE * covPE) / varE;
      }
      p = Math.max(p, 0);
      probs[k] = p;
      stdError[k] = Math.sqrt(Math.max(m2[i] / n - explained, 0) / n);
      total += p;
    }
    // Renormalised (total is ~1: the correction moves the sum by ~1% at S = 100); all clipped
    // away cannot happen for a sum-one mean, but then the plain mean stands.
    const scale = total > 0 ? 1 / total : 0;
    for (let k = 0, i = b * K; k < K; k++, i++) {
      if (scale > 0) {
        probs[k] *= scale;
        stdError[k] *= scale;
      } else {
        probs[k] = mean[i];
        stdError[k] = Math.sqrt(Math.max(m2[i] / n, 0) / n);
      }
    }
    return { probs, stdError };
  }
}
