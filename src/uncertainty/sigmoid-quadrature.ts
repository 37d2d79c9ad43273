// estimator=exact for sigmoid heads (docs/estimators.md): per class, the probability, std and
// expected binary entropy of sigmoid(v), v ~ N(mean, std^2) the marginal of the tempered logit,
// by the rules of src/uncertainty/quadrature.ts, evaluated in two ORT graphs in float32: one for
// the classes whose std is at most GAUSS_LAGUERRE_FROM (Gauss-Hermite), one for the rest
// (Gauss-Laguerre around Phi(m / s)). JavaScript only splits the classes between them and puts
// the answers back.
//
// Why a graph: at K = 29,593 the 28 nodes are 830k exponentials and logarithms per image. In
// JavaScript (float64, one core) they took 15.8 ms, the same graph in float64 15 ms on one
// thread (9 ms on two), in float32 4-6 ms: ORT's float32 Exp and Log are vectorised. float32
// adds ~2e-7 to the rules' float64 error (6e-8); the documented bound stays 1e-6
// (test/uncertainty/sigmoid-quadrature.test.ts asserts 5e-7 against a float64 reference).
import { GraphBuilder } from '../engine/graph.ts';
import { createSession, floatTensor, type EngineOptions, type Session } from '../engine/session.ts';
import type { SigmoidMcResult } from '../mc/types.ts';
import { GAUSS_LAGUERRE_FROM, HERMITE, LAGUERRE, normalCdf } from './quadrature.ts';

/** Classes per graph run: the widest intermediate, [CHUNK, 56] float32, stays at 15 MB. */
const CHUNK = 1 << 16;

const MEAN = 'mean';
const STD = 'std';
/** Laguerre only: Phi(m / s), in float64 in JavaScript (in float32, 1 + erf(x) loses the lower tail: 1e-3 relative in the std at m / s = -5). */
const STEP = 'step';
const PROBABILITY = 'probability';
const PROBABILITY_STD = 'probability_std';
const ENTROPY = 'expected_binary_entropy';

/** The marginal of one image's tempered logits, length K each. */
export interface GaussianMarginals {
  mean: ArrayLike<number>;
  std: ArrayLike<number>;
}

/** [N] -> [N, 1] and the constants both graphs use. */
function graphParts(name: string) {
  const g = new GraphBuilder(name);
  const mean = g.input(MEAN, ['classes']);
  const std = g.input(STD, ['classes']);
  const column = (x: string) => g.op('Unsqueeze', [x, g.ints([1])]);
  const f32 = (values: ArrayLike<number>) => Float32Array.from(values);
  /** [N, n] @ [n, columns] -> `columns` outputs of [N]. */
  const weighted = (x: string, weights: number[][]): string[] => {
    const n = weights[0].length;
    const matrix = new Float32Array(n * weights.length);
    weights.forEach((w, c) => w.forEach((value, i) => (matrix[i * weights.length + c] = value)));
    const sums = g.op('MatMul', [x, g.initializer('weights', matrix, [n, weights.length])]);
    return g.opN('Split', [sums, g.ints(weights.map(() => 1))], weights.length, { axis: 1 }).map((s) => g.op('Squeeze', [s, g.ints([1])]));
  };
  const outputs = (probability: string, std: string, entropy: string) => {
    g.output(probability, PROBABILITY, ['classes']);
    g.output(std, PROBABILITY_STD, ['classes']);
    g.output(entropy, ENTROPY, ['classes']);
    return g.toBytes(`exact sigmoid moments, ${name}`);
  };
  return { g, mean: column(mean), std: column(std), f32, weighted, outputs };
}

/** Gauss-Hermite: E f(m + s x) ~ sum_i w_i f(m + s x_i), any m. */
function buildHermiteModel(): Uint8Array {
  const { g, mean, std, f32, weighted, outputs } = graphParts('gauss_hermite');
  const weights = Array.from(HERMITE.weights);
  const v = g.op('Add', [mean, g.op('Mul', [std, g.initializer('nodes', f32(HERMITE.nodes), [1, HERMITE.nodes.length])])]); // [N, n]
  // One exponential per node: x = e^-|v|, sigmoid(v) = 1 - x / (1 + x) or x / (1 + x), and
  // h = log(1 + x) + |v| x / (1 + x) (h is even in v: two non-negative terms, no cancellation).
  const a = g.op('Abs', [v]);
  const x = g.op('Exp', [g.op('Neg', [a])]);
  const onePlusX = g.op('Add', [x, g.scalar(1, 'one')]);
  const tail = g.op('Div', [x, onePlusX]);
  const q = g.op('Where', [g.op('GreaterOrEqual', [v, g.scalar(0, 'zero')]), g.op('Sub', [g.scalar(1, 'one'), tail]), tail]);
  const h = g.op('Add', [g.op('Log', [onePlusX]), g.op('Mul', [a, tail])]);
  const [probability] = weighted(q, [weights]);
  const [entropy] = weighted(h, [weights]);
  // The variance about the mean, not E[q^2] - E[q]^2: no cancellation for tiny s.
  const deviation = g.op('Sub', [q, g.op('Unsqueeze', [probability, g.ints([1])])]);
  const [variance] = weighted(g.op('Mul', [deviation, deviation]), [weights]);
  return outputs(probability, g.op('Sqrt', [variance]), entropy);
}

/** Gauss-Laguerre, for m <= 0 (the caller reflects: the probability flips, std and entropy are even in m). */
function buildLaguerreModel(): Uint8Array {
  const { g, mean, std, f32, weighted, outputs } = graphParts('gauss_laguerre');
  const n = LAGUERRE.nodes.length;
  const t = g.initializer('nodes', f32(LAGUERRE.nodes), [1, n]);
  const inverseTwoVariance = g.op('Reciprocal', [g.op('Mul', [g.op('Mul', [std, std]), g.scalar(2, 'two')])]);
  const scale = g.op('Reciprocal', [g.op('Mul', [std, g.scalar(Math.sqrt(2 * Math.PI), 'sqrt_2pi')])]);
  const density = (centred: string) => g.op('Mul', [scale, g.op('Exp', [g.op('Neg', [g.op('Mul', [g.op('Mul', [centred, centred]), inverseTwoVariance])])])]);
  const atPositive = density(g.op('Sub', [t, mean])); // phi(t_j)   [N, n]
  const atNegative = density(g.op('Add', [t, mean])); // phi(-t_j)  [N, n]
  const negate = (w: Float64Array) => Array.from(w, (value) => -value);
  // [phi(-t), phi(t)] [N, 2n] against the three columns of weights.
  const [remainder, squareRemainder, entropy] = weighted(g.op('Concat', [atNegative, atPositive], { axis: 1 }), [
    [...LAGUERRE.sigmoid, ...negate(LAGUERRE.sigmoid)],
    [...LAGUERRE.squareNegative, ...negate(LAGUERRE.squarePositive)],
    [...LAGUERRE.entropy, ...LAGUERRE.entropy],
  ]);
  const step = g.input(STEP, ['classes']);
  const probability = g.op('Add', [step, remainder]);
  const square = g.op('Add', [step, squareRemainder]);
  const variance = g.op('Relu', [g.op('Sub', [square, g.op('Mul', [probability, probability])])]);
  return outputs(probability, g.op('Sqrt', [variance]), entropy);
}

/** The classes of a batch sent to one rule: where each came from, its (mean, std), and whether it was reflected. */
class RuleInput {
  count = 0;
  readonly at: Int32Array;
  readonly mean: Float32Array;
  readonly std: Float32Array;
  readonly reflected: Uint8Array;
  /** Laguerre: Phi(m / s). */
  readonly step: Float32Array;
  constructor(capacity: number) {
    this.step = new Float32Array(capacity);
    this.at = new Int32Array(capacity);
    this.mean = new Float32Array(capacity);
    this.std = new Float32Array(capacity);
    this.reflected = new Uint8Array(capacity);
  }
  push(at: number, mean: number, std: number, reflected = false, step = 0): void {
    this.step[this.count] = step;
    this.at[this.count] = at;
    this.mean[this.count] = mean;
    this.std[this.count] = std;
    this.reflected[this.count++] = reflected ? 1 : 0;
  }
}

export class SigmoidQuadrature {
  private constructor(
    private readonly hermite: Session,
    private readonly laguerre: Session,
  ) {}

  /**
   * Both graphs' sessions. They take a thread per core whatever ORT_THREADS' small-model rule
   * says: the graphs are tiny, their runs are not (4-6 ms at K = 29,593).
   */
  static async create(engine: EngineOptions): Promise<SigmoidQuadrature> {
    const hermite = await createSession(buildHermiteModel(), engine, { computeBound: true });
    try {
      return new SigmoidQuadrature(hermite, await createSession(buildLaguerreModel(), engine, { computeBound: true }));
    } catch (error) {
      await hermite.release();
      throw error;
    }
  }

  /** Per image, the exact sigmoid predictive in the MC result's shape (its std the exact one). */
  async predictive(images: readonly GaussianMarginals[], signal?: AbortSignal): Promise<SigmoidMcResult[]> {
    let total = 0;
    for (const { mean, std } of images) {
      if (std.length !== mean.length) throw new RangeError(`mean has ${mean.length} classes, std ${std.length}`);
      total += mean.length;
    }
    const hermite = new RuleInput(total);
    const laguerre = new RuleInput(total);
    let at = 0;
    for (const { mean, std } of images) {
      for (let k = 0; k < mean.length; k++, at++) {
        const s = std[k];
        if (!(s >= 0)) throw new RangeError(`the std of a logit must be >= 0, got ${s}`);
        if (s <= GAUSS_LAGUERRE_FROM) hermite.push(at, mean[k], s);
        // sigmoid(-v) = 1 - sigmoid(v): std and entropy are even in m, the probability flips.
        else laguerre.push(at, -Math.abs(mean[k]), s, mean[k] > 0, normalCdf(-Math.abs(mean[k]) / s));
      }
    }
    const probs = new Float32Array(total);
    const stds = new Float32Array(total);
    const entropies = new Float64Array(total);
    for (const [rule, session] of [[hermite, this.hermite], [laguerre, this.laguerre]] as const) {
      for (let start = 0; start < rule.count; start += CHUNK) {
        signal?.throwIfAborted();
        const end = Math.min(start + CHUNK, rule.count);
        const feed = (values: Float32Array) => floatTensor(values.slice(start, end), [end - start]);
        const feeds = { [MEAN]: feed(rule.mean), [STD]: feed(rule.std), ...(rule === laguerre ? { [STEP]: feed(rule.step) } : {}) };
        const out = await session.run(feeds);
        const [p, s, h] = [PROBABILITY, PROBABILITY_STD, ENTROPY].map((name) => out[name].data as Float32Array);
        for (let i = start, j = 0; i < end; i++, j++) {
          const to = rule.at[i];
          probs[to] = rule.reflected[i] ? 1 - p[j] : p[j];
          stds[to] = s[j];
          entropies[to] = h[j];
        }
      }
    }
    let offset = 0;
    return images.map(({ mean }) => {
      const range = [offset, (offset += mean.length)] as const;
      return { probs: probs.subarray(...range), std: stds.subarray(...range), expectedBinaryEntropy: entropies.subarray(...range) };
    });
  }

  async release(): Promise<void> {
    await Promise.all([this.hermite.release(), this.laguerre.release()]);
  }
}
