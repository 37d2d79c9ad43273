// The rows of the error-against-cost table (`npm run bench -- --estimators`, bench/estimators.ts):
// one row is one estimator at one setting (S, or a tolerance). The sampling estimators' rows are
// here; rows of other estimators come from their own files (bench/estimators-exact.ts) as lists
// of the same EstimatorRow, so that every row is timed and scored by the same code.
import type { EngineOptions } from '../src/engine/session.ts';
import type { HeadWeights } from '../src/format/head-params.ts';
import type { HeadSpec, Link } from '../src/format/manifest.ts';
import type { OrtHeadRunner } from '../src/heads/runner.ts';
import type { Estimator } from '../src/noise/estimator.ts';
import type { SigmoidQuadrature } from '../src/uncertainty/sigmoid-quadrature.ts';

/** What a row gets: one benchmark head and its held-out inputs. */
export interface BenchContext {
  /** 'trained-looking' or 'random' (src/synthetic/random-checkpoint.ts WeightProfile). */
  profile: string;
  spec: HeadSpec;
  weights: HeadWeights;
  engine: EngineOptions;
  /** Pre-logits of the held-out inputs, [images, D] row-major. */
  phi: Float32Array;
  images: number;
  /** A runner of `spec` (noise cache off), shared by the rows; a row may open its own sessions. */
  runner: OrtHeadRunner;
  /** estimator=exact's quadrature (sigmoid heads). */
  quadrature: SigmoidQuadrature;
}

/** One image's answer: p_hat over all K classes, and what the row wants said about it. */
export interface RowAnswer {
  probs: Float32Array;
  /** Printed in the table's notes column, counted per distinct text (e.g. 'fallback to full K'). */
  note?: string;
}

export interface EstimatorRow {
  /** The estimator's name, as in the API (`estimator=`). */
  estimator: string;
  /** What sets its cost, as printed: 'S = 1000', 'tol = 1e-3'. */
  setting: string;
  /** The links of the heads it applies to. */
  links: readonly Link[];
  /**
   * Image `image` (row `image` of ctx.phi), with `seed`: p_hat. Timed from call to return, one
   * image at a time (the table's wall time per image), so do all per-image work inside.
   */
  run(ctx: BenchContext, image: number, seed: number): Promise<RowAnswer>;
}

/** Row b of ctx.phi as a batch of one. */
export function imagePhi(ctx: BenchContext, image: number): Float32Array {
  const D = ctx.spec.D;
  return ctx.phi.subarray(image * D, (image + 1) * D);
}

/**
 * A sampling estimator with a precision target on the top-5 probabilities (McOptions.targetStdError),
 * up to `cap` samples; the note says where each image stopped.
 */
export function targetRow(estimator: Estimator, target: number, cap: number): EstimatorRow {
  return {
    estimator,
    setting: `targetStdError = ${target} (top-5, cap ${cap})`,
    links: ['softmax', 'sigmoid'],
    async run(ctx, image, seed) {
      const phi = imagePhi(ctx, image);
      const options = { samples: cap, seed, estimator, targetStdError: target, stopTopK: 5 };
      const [result] = ctx.spec.link === 'sigmoid' ? await ctx.runner.sigmoidMc(phi, 1, options) : await ctx.runner.mc(phi, 1, options);
      return { probs: result.probs, note: `S ${result.samplesUsed}` };
    },
  };
}

/** A sampling estimator at S samples through the served MC path (OrtHeadRunner.mc / sigmoidMc). */
export function samplingRow(estimator: Estimator, samples: number): EstimatorRow {
  return {
    estimator,
    setting: `S = ${samples}`,
    links: ['softmax', 'sigmoid'],
    async run(ctx, image, seed) {
      const phi = imagePhi(ctx, image);
      const options = { samples, seed, estimator };
      const [result] = ctx.spec.link === 'sigmoid' ? await ctx.runner.sigmoidMc(phi, 1, options) : await ctx.runner.mc(phi, 1, options);
      return { probs: result.probs };
    },
  };
}
