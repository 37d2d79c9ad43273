// estimator=control (docs/estimators.md): antithetic MC of a softmax head (the pairs lower the
// corrected estimate's error further: on the trained-looking bench head, TV 0.0084 at S = 150
// against 0.0114 with plain noise), corrected per class by a control variate whose mean is known
// exactly from the logits' Gaussian marginals.
//
// With t_k ~ N(m_k, s_k^2) the tempered logit of class k (src/heads/marginals.ts), the
// lognormal c_k = exp(t_k - a_k), a_k = m_k + s_k^2 / 2, has E[c_k] = 1. For a class far from
// the top, p_k = exp(t_k) / Z moves with exp(t_k) far more than with Z, so p_k and c_k are
// strongly correlated, and the regression estimator
//   p_hat_k = mean(p_k) - beta_k (mean(c_k) - 1),  beta_k = Cov(p_k, c_k) / Var(c_k)  (sample moments)
// removes most of the variance of the many small classes of a flat predictive. Then negative
// estimates are set to 0 and the vector renormalised to sum 1. Not unbiased: beta from the same
// samples gives an O(1/S) bias (measured on the trained-looking bench head: below one run's noise
// from S = 200 on; docs/estimators.md). The exact beta (from E[c^2] = exp(s^2)) was far worse:
// c is heavy-tailed, and the sample beta follows the sample actually drawn.
//
// Only for classes with s_k <= MAX_CONTROL_STD: the kurtosis of c grows like exp(4 s^2), and
// above s ~ 2 a few hundred samples cannot estimate its moments (on a test head with s up to 4.4
// the corrected estimate was 4x worse than plain MC); those classes keep mean(p).
//
// The sample graph gives, per chunk, the sums of CONTROL_SUMS (src/mc/sample-graph.ts); with
// f_k = exp(L - a_k), exp(t_s,k - a_k) = f_k w_s p_s,k, so
//   sum_s c = f sum w p,   sum_s c^2 = f^2 sum w^2 p^2,   sum_s p c = f sum w p^2,
// accumulated here in float64.
import type { ChunkReductions } from './sample-graph.ts';

/** The largest tempered-logit std a class may have to be corrected. */
export const MAX_CONTROL_STD = 2;

/** One image's marginals of the tempered logits, t_k ~ N(mean_k, std_k^2). */
export interface TemperedMarginals {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
}

export class ControlVariate {
  private readonly sumC: Float64Array;
  private readonly sumCC: Float64Array;
  private readonly sumPC: Float64Array;
  /** Per (image, class): a_k = m_k + s_k^2 / 2 = log E[exp(t_k)], or NaN where the class is not corrected. */
  private readonly logMean: Float64Array;

  constructor(
    private readonly batch: number,
    private readonly K: number,
    marginals: readonly TemperedMarginals[],
  ) {
    if (marginals.length !== batch || marginals.some((m) => m.mean.length !== K || m.std.length !== K)) throw new RangeError(`control variate: ${batch} images of ${K} classes expected`);
    this.sumC = new Float64Array(batch * K);
    this.sumCC = new Float64Array(batch * K);
    this.sumPC = new Float64Array(batch * K);
    this.logMean = new Float64Array(batch * K);
    marginals.forEach(({ mean, std }, b) => {
      for (let k = 0; k < K; k++) this.logMean[b * K + k] = std[k] <= MAX_CONTROL_STD ? mean[k] + (std[k] * std[k]) / 2 : Number.NaN;
    });
  }

  add({ controlSums, controlLogScale }: ChunkReductions): void {
    const { K } = this;
    for (let b = 0; b < this.batch; b++) {
      const L = controlLogScale[b];
      // Rows of CONTROL_SUMS: sum w p, sum w^2 p (unused), sum w p^2, sum w^2 p^2.
      const row = 4 * b * K;
      for (let k = 0, i = b * K; k < K; k++, i++) {
        const f = Math.exp(L - this.logMean[i]); // NaN for a class not corrected
        this.sumC[i] += f * controlSums[row + k];
        this.sumPC[i] += f * controlSums[row + 2 * K + k];
        this.sumCC[i] += f * f * controlSums[row + 3 * K + k];
      }
    }
  }

  /**
   * Image b's corrected probabilities and their standard errors, from its n samples' mean and
   * M2 of p (ClassMoments): the residual variance Var(p) - Cov(p, c)^2 / Var(c) over n.
   * A class not corrected, or whose c has no usable variance (or overflowed: a_k hundreds below
   * the top), keeps mean(p).
   */
  correct(b: number, n: number, mean: Float64Array, m2: Float64Array): { probs: Float32Array; stdError: Float32Array } {
    const { K } = this;
    const probs = new Float32Array(K);
    const stdError = new Float32Array(K);
    let total = 0;
    for (let k = 0, i = b * K; k < K; k++, i++) {
      const meanC = this.sumC[i] / n;
      const varC = this.sumCC[i] / n - meanC * meanC;
      const varP = Math.max(m2[i] / n, 0);
      const covPC = this.sumPC[i] / n - mean[i] * meanC;
      let p = mean[i];
      let residual = varP;
      if (varC > 0 && Number.isFinite(varC) && Number.isFinite(covPC)) {
        const beta = covPC / varC;
        p -= beta * (meanC - 1);
        residual = Math.max(varP - beta * covPC, 0);
      }
      p = Math.max(p, 0);
      probs[k] = p;
      stdError[k] = Math.sqrt(residual / n);
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
