// A float64 reference of the moments of sigmoid(v) for v ~ N(m, s^2), from the definitions: the
// trapezoid rule on a fine grid over m +- 10 s, which converges exponentially for these analytic,
// bounded integrands (test/uncertainty/quadrature.test.ts checks that halving the step changes
// nothing at 1e-12). No production code.
import { sigmoid } from './sigmoid.ts';

/** -q ln q - (1 - q) ln(1 - q) of q = sigmoid(v), from the definition via log q = -log(1 + e^-v). */
const entropyOfLogit = (v: number) => {
  const q = sigmoid(v);
  const logQ = -Math.log1p(Math.exp(-v));
  const log1MinusQ = -Math.log1p(Math.exp(v));
  return -(q > 0 ? q * logQ : 0) - (q < 1 ? (1 - q) * log1MinusQ : 0);
};

export interface ReferenceSigmoidMoments {
  probability: number;
  std: number;
  expectedBinaryEntropy: number;
}

/** Trapezoid over m +- 10 s with step `step` (s = 0: the point m). */
export function referenceSigmoidGaussian(m: number, s: number, step = Math.min(0.125, s / 10)): ReferenceSigmoidMoments {
  if (s === 0) return { probability: sigmoid(m), std: 0, expectedBinaryEntropy: entropyOfLogit(m) };
  const n = Math.ceil((10 * s) / step);
  const density = (v: number) => Math.exp(-0.5 * ((v - m) / s) ** 2) / (s * Math.sqrt(2 * Math.PI));
  let p = 0;
  let h = 0;
  for (let i = -n; i <= n; i++) {
    const v = m + i * step;
    const w = density(v) * step;
    p += w * sigmoid(v);
    h += w * entropyOfLogit(v);
  }
  let variance = 0;
  for (let i = -n; i <= n; i++) {
    const v = m + i * step;
    variance += density(v) * step * (sigmoid(v) - p) ** 2;
  }
  return { probability: p, std: Math.sqrt(variance), expectedBinaryEntropy: h };
}

