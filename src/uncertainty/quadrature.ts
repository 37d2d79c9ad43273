// Exact per-class statistics of a sigmoid head from the Gaussian marginals of its tempered logits
// (docs/estimators.md): for v ~ N(m, s^2), by quadrature in float64,
//   E[sigmoid(v)],   Var[sigmoid(v)] (hence the std),   E[h(sigmoid(v))] with h(sigmoid(v)) = softplus(v) - v sigmoid(v).
//
// Two rules, split at s = GAUSS_LAGUERRE_FROM (28 nodes each: 28 exponentials and logarithms per
// class below the split, 56 exponentials above):
// - small s: Gauss-Hermite for the weight N(0, 1), E f(m + s x) ~ sum_i w_i f(m + s x_i). The
//   integrands are analytic with poles at Im v = +-pi, i.e. at distance pi / s from the real
//   line in x: the rule converges fast for small s and fails for large s (at s = 10 it is 3e-2 off).
// - large s: split off the step, sigmoid(v) = 1[v > 0] + r(v) with r(v) = -sign(v) sigmoid(-|v|),
//   so that E[sigmoid(v)] = Phi(m / s) + int_0^inf e^-t [sigmoid(t) (phi(-t) - phi(t))] dt, where
//   phi is the N(m, s^2) density and sigmoid(-t) = e^-t sigmoid(t); sigmoid^2 and h alike. What
//   is left is e^-t times a smooth function on [0, inf): Gauss-Laguerre. The smaller s, the
//   sharper phi against e^-t, so this rule fails for small s.
// Measured against a trapezoid reference over m in [-200, 200], s in [0, 1e3]
// (test/uncertainty/quadrature.test.ts, and a finer scan of m near the split): at most 6e-8
// absolute error for the three moments, worst at the split (Gauss-Hermite 5.5e-8 at s = 1.5,
// Gauss-Laguerre 2.3e-8 at s = 1.51; both below 1e-8 from a quarter away from it).
// The documented bound is 1e-6. Nodes and weights come from the Jacobi matrices of the two
// weights (Golub-Welsch), computed once at load.
import type { SigmoidMcResult } from '../mc/types.ts';

const HERMITE_NODES = 28;
const LAGUERRE_NODES = 28;
/** Tempered-logit std from which the Gauss-Laguerre form is used. */
export const GAUSS_LAGUERRE_FROM = 1.5;

export interface QuadratureRule {
  nodes: Float64Array;
  weights: Float64Array;
}

/**
 * Eigenvalues and squared first components of the eigenvectors of the symmetric tridiagonal
 * matrix with `diagonal` and `offDiagonal` (offDiagonal[i] between i and i + 1): implicit QL
 * with Wilkinson shifts (after Numerical Recipes' tqli), the eigenvectors' first row only.
 */
function tridiagonalEigen(diagonal: number[], offDiagonal: number[], mu0: number): QuadratureRule {
  const n = diagonal.length;
  const d = diagonal.slice();
  const e = [...offDiagonal, 0];
  const z: number[] = Array.from({ length: n }, (_, i) => (i === 0 ? 1 : 0));
  for (let l = 0; l < n; l++) {
    for (let iteration = 0; ; iteration++) {
      let m = l;
      while (m < n - 1 && Math.abs(e[m]) > Number.EPSILON * (Math.abs(d[m]) + Math.abs(d[m + 1]))) m++;
      if (m === l) break;
      if (iteration === 60) throw new Error('tridiagonal eigenvalues did not converge');
      let g = (d[l + 1] - d[l]) / (2 * e[l]);
      let r = Math.hypot(g, 1);
      g = d[m] - d[l] + e[l] / (g + (g >= 0 ? r : -r));
      let s = 1;
      let c = 1;
      let p = 0;
      let i = m - 1;
      for (; i >= l; i--) {
        const f = s * e[i];
        const b = c * e[i];
        r = Math.hypot(f, g);
        e[i + 1] = r;
        if (r === 0) {
          d[i + 1] -= p;
          e[m] = 0;
          break;
        }
        s = f / r;
        c = g / r;
        g = d[i + 1] - p;
        r = (d[i] - g) * s + 2 * c * b;
        p = s * r;
        d[i + 1] = g + p;
        g = c * r - b;
        const zNext = z[i + 1];
        z[i + 1] = s * z[i] + c * zNext;
        z[i] = c * z[i] - s * zNext;
      }
      if (r === 0 && i >= l) continue;
      d[l] -= p;
      e[l] = g;
      e[m] = 0;
    }
  }
  const order = d.map((_, i) => i).sort((a, b) => d[a] - d[b]);
  return { nodes: Float64Array.from(order, (i) => d[i]), weights: Float64Array.from(order, (i) => mu0 * z[i] * z[i]) };
}

/** n-point Gauss-Hermite rule for the standard normal weight: E f(x) ~ sum_i w_i f(x_i), x ~ N(0, 1). */
export function gaussHermiteRule(n: number): QuadratureRule {
  // Probabilists' Hermite polynomials: x He_k = He_{k+1} + k He_{k-1}.
  return tridiagonalEigen(new Array<number>(n).fill(0), Array.from({ length: n - 1 }, (_, k) => Math.sqrt(k + 1)), 1);
}

/** n-point Gauss-Laguerre rule: int_0^inf e^-t f(t) dt ~ sum_i w_i f(t_i). */
export function gaussLaguerreRule(n: number): QuadratureRule {
  return tridiagonalEigen(Array.from({ length: n }, (_, k) => 2 * k + 1), Array.from({ length: n - 1 }, (_, k) => k + 1), 1);
}

/** erfc(z) for z >= 0: its Taylor series for erf below 2 (cancellation ~e^4, ~1e-14 absolute), a continued fraction above. */
function erfcNonNegative(z: number): number {
  if (z < 2) {
    let term = z;
    let sum = z;
    for (let n = 1; Math.abs(term) > 1e-17 * Math.abs(sum); n++) {
      term *= (-z * z) / n;
      sum += term / (2 * n + 1);
    }
    return 1 - (2 / Math.sqrt(Math.PI)) * sum;
  }
  // erfc(z) = e^{-z^2} / sqrt(pi) * 1 / (z + (1/2) / (z + 1 / (z + (3/2) / (z + ...)))), evaluated from the tail.
  let tail = z;
  for (let k = 60; k >= 1; k--) tail = z + k / 2 / tail;
  return Math.exp(-z * z) / Math.sqrt(Math.PI) / tail;
}

/** The standard normal CDF Phi(x), ~1e-14 absolute (relative in the lower tail). */
export function normalCdf(x: number): number {
  const z = Math.abs(x) / Math.SQRT2;
  const upper = 0.5 * erfcNonNegative(z); // P(X > |x|)
  return x >= 0 ? 1 - upper : upper;
}

const SQRT_2PI = Math.sqrt(2 * Math.PI);
const HERMITE = gaussHermiteRule(HERMITE_NODES);
/** Gauss-Laguerre nodes, with the weights times each remainder's smooth factor at the node. */
const LAGUERRE = (() => {
  const { nodes, weights } = gaussLaguerreRule(LAGUERRE_NODES);
  const sigmoidAt = nodes.map((t) => 1 / (1 + Math.exp(-t)));
  return {
    nodes,
    // sigmoid(t) - 1 = -e^-t sigmoid(t);  sigmoid(-t) = e^-t sigmoid(t)
    sigmoid: weights.map((w, j) => w * sigmoidAt[j]),
    // sigmoid(t)^2 - 1 = -e^-t sigmoid(t) (1 + sigmoid(t));  sigmoid(-t)^2 = e^-t sigmoid(t) sigmoid(-t)
    squarePositive: weights.map((w, j) => w * sigmoidAt[j] * (1 + sigmoidAt[j])),
    squareNegative: weights.map((w, j) => w * sigmoidAt[j] * (1 - sigmoidAt[j])),
    // h(+-t) = log(1 + e^-t) + t sigmoid(-t) = e^-t (e^t log(1 + e^-t) + t sigmoid(t))
    entropy: weights.map((w, j) => w * (Math.exp(nodes[j]) * Math.log1p(Math.exp(-nodes[j])) + nodes[j] * sigmoidAt[j])),
  };
})();

/** E[sigmoid(v)], its std and E[h(sigmoid(v))] for v ~ N(m, s^2). */
export interface SigmoidGaussianMoments {
  probability: number;
  std: number;
  expectedBinaryEntropy: number;
}

const sigmoidValues = new Float64Array(HERMITE_NODES);

function hermiteMoments(m: number, s: number, out: SigmoidGaussianMoments): void {
  let probability = 0;
  let entropy = 0;
  for (let i = 0; i < HERMITE_NODES; i++) {
    const v = m + s * HERMITE.nodes[i];
    // One exponential per node: x = e^-|v|, sigmoid(v) = 1 / (1 + x) or x / (1 + x), and
    // h = log(1 + x) + |v| x / (1 + x) (h is even in v: two non-negative terms, no cancellation).
    const a = Math.abs(v);
    const x = Math.exp(-a);
    const tail = x / (1 + x);
    const q = v >= 0 ? 1 - tail : tail;
    sigmoidValues[i] = q;
    probability += HERMITE.weights[i] * q;
    entropy += HERMITE.weights[i] * (Math.log1p(x) + a * tail);
  }
  // The variance about the mean, not E[q^2] - E[q]^2: no cancellation for tiny s.
  let variance = 0;
  for (let i = 0; i < HERMITE_NODES; i++) variance += HERMITE.weights[i] * (sigmoidValues[i] - probability) ** 2;
  out.probability = probability;
  out.std = Math.sqrt(variance);
  out.expectedBinaryEntropy = entropy;
}

/** For m <= 0 (the caller reflects), where E[q] and E[q^2] are small and their difference does not cancel. */
function laguerreMoments(m: number, s: number, out: SigmoidGaussianMoments): void {
  const step = normalCdf(m / s);
  const scale = 1 / (s * SQRT_2PI);
  const inverse2Variance = 1 / (2 * s * s);
  let probability = step;
  let square = step;
  let entropy = 0;
  for (let j = 0; j < LAGUERRE_NODES; j++) {
    const t = LAGUERRE.nodes[j];
    const densityPositive = scale * Math.exp(-((t - m) ** 2) * inverse2Variance);
    const densityNegative = scale * Math.exp(-((t + m) ** 2) * inverse2Variance);
    probability += LAGUERRE.sigmoid[j] * (densityNegative - densityPositive);
    square += LAGUERRE.squareNegative[j] * densityNegative - LAGUERRE.squarePositive[j] * densityPositive;
    entropy += LAGUERRE.entropy[j] * (densityPositive + densityNegative);
  }
  out.probability = probability;
  out.std = Math.sqrt(Math.max(square - probability * probability, 0));
  out.expectedBinaryEntropy = entropy;
}

/** The moments of sigmoid(v), v ~ N(m, s^2), into `out` (s >= 0; s = 0 gives sigmoid(m) and std 0, to rounding). */
export function sigmoidGaussianMoments(m: number, s: number, out: SigmoidGaussianMoments = { probability: 0, std: 0, expectedBinaryEntropy: 0 }): SigmoidGaussianMoments {
  if (!(s >= 0)) throw new RangeError(`the std of a logit must be >= 0, got ${s}`);
  if (s <= GAUSS_LAGUERRE_FROM) {
    hermiteMoments(m, s, out);
    return out;
  }
  // sigmoid(-v) = 1 - sigmoid(v): the std and the entropy are even in m, the probability flips.
  laguerreMoments(-Math.abs(m), s, out);
  if (m > 0) out.probability = 1 - out.probability;
  return out;
}

/**
 * The exact sigmoid predictive of one image from the marginals of its tempered logits
 * u_k / tau ~ N(mean_k, std_k^2), in the shape of the MC result (its std the exact one).
 */
export function exactSigmoidResult(mean: ArrayLike<number>, std: ArrayLike<number>): SigmoidMcResult {
  const K = mean.length;
  if (std.length !== K) throw new RangeError(`mean has ${K} classes, std ${std.length}`);
  const probs = new Float32Array(K);
  const stds = new Float32Array(K);
  const expectedBinaryEntropy = new Float64Array(K);
  const moments: SigmoidGaussianMoments = { probability: 0, std: 0, expectedBinaryEntropy: 0 };
  for (let k = 0; k < K; k++) {
    sigmoidGaussianMoments(mean[k], std[k], moments);
    probs[k] = moments.probability;
    stds[k] = moments.std;
    expectedBinaryEntropy[k] = moments.expectedBinaryEntropy;
  }
  return { probs, std: stds, expectedBinaryEntropy };
}
