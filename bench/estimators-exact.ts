// Rows of the error-against-cost table (bench/estimators.ts) for the estimators that use the
// logits' marginals: estimator=exact (sigmoid heads), estimator=candidates and estimator=control
// (softmax heads), one EstimatorRow (bench/estimator-rows.ts) per setting, each run as the
// classifier pipeline runs it.
import { candidatePrediction } from '../src/pipelines/predictions.ts';
import { imagePhi, type EstimatorRow } from './estimator-rows.ts';

/** estimator=exact: the head's marginals, then quadrature. */
const exactRow: EstimatorRow = {
  estimator: 'exact',
  setting: 'quadrature',
  links: ['sigmoid'],
  async run(ctx, image) {
    const [result] = await ctx.quadrature.predictive(await ctx.runner.marginals(imagePhi(ctx, image), 1));
    return { probs: result.probs };
  },
};

/** estimator=candidates at S samples and a tolerance; the note counts fallbacks and the candidate set's size. */
function candidatesRow(samples: number, tolerance: number): EstimatorRow {
  return {
    estimator: 'candidates',
    setting: `S = ${samples}, tol = ${tolerance}`,
    links: ['softmax'],
    async run(ctx, image, seed) {
      const [answer] = await ctx.runner.candidatesMc(imagePhi(ctx, image), 1, { samples, seed }, tolerance);
      const { probs, candidates } = candidatePrediction(answer, samples, ctx.spec.K);
      const m = candidates!.count;
      // Sizes in powers of two, so that the notes stay a short list.
      return { probs, note: answer.fallback ? 'fallback to full K' : `m <= ${2 ** Math.ceil(Math.log2(m))}` };
    },
  };
}

/** estimator=control at S samples: the marginals, then antithetic MC corrected by the two control variates. */
function controlRow(samples: number): EstimatorRow {
  return {
    estimator: 'control',
    setting: `S = ${samples}`,
    links: ['softmax'],
    async run(ctx, image, seed) {
      const [answer] = await ctx.runner.controlMc(imagePhi(ctx, image), 1, { samples, seed });
      return { probs: answer.probs };
    },
  };
}

export const exactRows: EstimatorRow[] = [exactRow, candidatesRow(1000, 1e-3), candidatesRow(1000, 1e-2), ...[50, 64, 100, 200].map(controlRow)];
