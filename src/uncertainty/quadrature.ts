// The quadrature rules behind estimator=exact for sigmoid heads (docs/estimators.md): for
// v ~ N(m, s^2), the tempered logit's marginal,
//   E[sigmoid(v)],   Var[sigmoid(v)] (hence the std),   E[h(sigmoid(v))] with h(sigmoid(v)) = softplus(v) - v sigmoid(v).
// Evaluated in an ORT graph, src/uncertainty/sigmoid-quadrature.ts.
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
// In float64 the two rules are within 6e-8 of a trapezoid reference over m in [-200, 200],
// s in [0, 1e3], worst at the split (Gauss-Hermite 5.5e-8 at s = 1.5, Gauss-Laguerre 2.3e-8 at
// s = 1.51; both below 1e-8 from a quarter away from it). Nodes and weights come from the Jacobi
// matrices of the two weights (Golub-Welsch), computed once at load.
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

/** The Gauss-Hermite rule of the small-s branch. */
export const HERMITE: QuadratureRule = gaussHermiteRule(HERMITE_NODES);

/**
 * The Gauss-Laguerre nodes of the large-s branch (for m <= 0; the caller reflects), with the
 * weights times each remainder's smooth factor at the node, so that for the N(m, s^2) densities
 * phi(t) and phi(-t) at the nodes:
 *   E[sigmoid(v)]   = Phi(m / s) + sum_j sigmoid_j (phi(-t_j) - phi(t_j))
 *   E[sigmoid(v)^2] = Phi(m / s) + sum_j squareNegative_j phi(-t_j) - squarePositive_j phi(t_j)
 *   E[h(sigmoid(v))] =             sum_j entropy_j (phi(t_j) + phi(-t_j))
 */
export const LAGUERRE = (() => {
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
