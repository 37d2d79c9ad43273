// Is the served uncertainty useful to a caller? Each score (a statistic of the served Prediction)
// is judged by how well it ranks the examples a caller should distrust:
// - misclassification detection: AUROC of the score for "arg max is wrong" (1: every error is more
//   uncertain than every correct prediction; 0.5: no better than chance);
// - selective prediction: keep the most certain share c of the examples, accuracy at c = 0.5, 0.8,
//   0.9, and the area under the risk-coverage curve (AURC: mean error rate over every coverage
//   k / n, lower is better);
// - flipped-label detection (on the training set): AUROC of the score for "this label was flipped".
// Ties count half, in AUROC (average ranks, the Mann-Whitney form) and in selective prediction (a
// tied group at the cut-off is taken in proportion, its expected accuracy under a random order), so
// no figure depends on the order of the examples.

/** The served statistics used as scores; mutualInformation exists in MC mode only. */
export const UNCERTAINTY_SCORES = ['maxProbability', 'predictiveEntropy', 'mutualInformation', 'margin'] as const;
export type UncertaintyScore = (typeof UNCERTAINTY_SCORES)[number];

/** Whether a high value of the statistic means an uncertain prediction (else its negation is used). */
const HIGH_IS_UNCERTAIN: Record<UncertaintyScore, boolean> = {
  maxProbability: false,
  predictiveEntropy: true,
  mutualInformation: true,
  margin: false,
};

export const COVERAGES = [0.5, 0.8, 0.9] as const;

export interface ScoreQuality {
  /** null when undefined: no errors or no correct predictions. */
  misclassificationAuroc: number | null;
  /** Keyed by coverage ("0.5", "0.8", "0.9"). */
  accuracyAtCoverage: Record<string, number>;
  aurc: number;
}

/** Per score, the uncertainty of each example (higher = less certain), for the scores every example has. */
export type ScoreColumns = Partial<Record<UncertaintyScore, Float64Array>>;

/** The statistics of the predictions -> one uncertainty column per score present in all of them. */
export function scoreColumns(statistics: ReadonlyArray<Partial<Record<UncertaintyScore, number>>>): ScoreColumns {
  const columns: ScoreColumns = {};
  for (const score of UNCERTAINTY_SCORES) {
    if (statistics.length === 0 || !statistics.every((s) => typeof s[score] === 'number')) continue;
    const sign = HIGH_IS_UNCERTAIN[score] ? 1 : -1;
    columns[score] = Float64Array.from(statistics, (s) => sign * s[score]!);
  }
  return columns;
}

/** A NaN would make the sorts below inconsistent, so it is refused rather than ranked somewhere. */
function refuseNaN(values: ArrayLike<number>, what: string): void {
  for (let i = 0; i < values.length; i++) if (Number.isNaN(values[i])) throw new Error(`${what}: score ${i} is NaN`);
}

/** 1-based ranks of `values`, ties given the mean of the ranks they span. */
export function averageRanks(values: ArrayLike<number>): Float64Array {
  const n = values.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => values[a] - values[b]);
  const ranks = new Float64Array(n);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && values[order[end]] === values[order[start]]) end++;
    const rank = (start + 1 + end) / 2; // mean of start+1 .. end
    for (let j = start; j < end; j++) ranks[order[j]] = rank;
    start = end;
  }
  return ranks;
}

/**
 * P(score of a positive > score of a negative) + P(tie) / 2, by Mann-Whitney U; null when there
 * are no positives or no negatives (the AUROC is undefined, not 0.5).
 */
export function auroc(scores: ArrayLike<number>, positive: ArrayLike<number | boolean>): number | null {
  if (scores.length !== positive.length) throw new Error(`auroc: ${scores.length} scores for ${positive.length} labels`);
  refuseNaN(scores, 'auroc');
  const ranks = averageRanks(scores);
  let positives = 0;
  let rankSum = 0;
  for (let i = 0; i < scores.length; i++) {
    if (positive[i]) {
      positives++;
      rankSum += ranks[i];
    }
  }
  const negatives = scores.length - positives;
  if (positives === 0 || negatives === 0) return null;
  return (rankSum - (positives * (positives + 1)) / 2) / (positives * negatives);
}

/**
 * Selective prediction: examples kept from the least uncertain up; at coverage c the first
 * max(1, round(c n)) are kept. Returns accuracy at each of `coverages` and the AURC.
 */
export function selectivePrediction(uncertainty: ArrayLike<number>, correct: ArrayLike<number | boolean>, coverages: readonly number[] = COVERAGES): Pick<ScoreQuality, 'accuracyAtCoverage' | 'aurc'> {
  const n = uncertainty.length;
  if (n === 0 || correct.length !== n) throw new Error(`selective prediction: ${n} scores for ${correct.length} outcomes`);
  refuseNaN(uncertainty, 'selective prediction');
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => uncertainty[a] - uncertainty[b]);
  // kept[k]: expected number of correct among the k most certain, ties at the cut taken in proportion.
  const kept = new Float64Array(n + 1);
  for (let start = 0; start < n; ) {
    let end = start + 1;
    while (end < n && uncertainty[order[end]] === uncertainty[order[start]]) end++;
    let groupCorrect = 0;
    for (let j = start; j < end; j++) groupCorrect += correct[order[j]] ? 1 : 0;
    for (let k = start + 1; k <= end; k++) kept[k] = kept[start] + ((k - start) * groupCorrect) / (end - start);
    start = end;
  }
  let risk = 0;
  for (let k = 1; k <= n; k++) risk += 1 - kept[k] / k;
  const accuracyAtCoverage: Record<string, number> = {};
  for (const c of coverages) {
    const k = Math.max(1, Math.round(c * n));
    accuracyAtCoverage[String(c)] = kept[k] / k;
  }
  return { accuracyAtCoverage, aurc: risk / n };
}

/** Misclassification AUROC and selective prediction for each score column. */
export function uncertaintyQuality(columns: ScoreColumns, correct: ArrayLike<number | boolean>): Partial<Record<UncertaintyScore, ScoreQuality>> {
  const errors = Uint8Array.from({ length: correct.length }, (_, i) => (correct[i] ? 0 : 1));
  const out: Partial<Record<UncertaintyScore, ScoreQuality>> = {};
  for (const score of UNCERTAINTY_SCORES) {
    const column = columns[score];
    if (column) out[score] = { misclassificationAuroc: auroc(column, errors), ...selectivePrediction(column, correct) };
  }
  return out;
}

/** AUROC for "the label was flipped", per score and for the given label's probability. */
export type FlipDetection = Partial<Record<UncertaintyScore | 'givenLabelProbability', number | null>>;

/**
 * Flipped-label detection: each score's AUROC against the flip mask, and that of
 * 1 - p(given label | x), the usual loss-based flag (it uses the noisy label, the scores do not).
 */
export function flippedLabelDetection(columns: ScoreColumns, flipped: ArrayLike<number | boolean>, givenLabelProbability: ArrayLike<number>): FlipDetection {
  const out: FlipDetection = {};
  for (const score of UNCERTAINTY_SCORES) {
    const column = columns[score];
    if (column) out[score] = auroc(column, flipped);
  }
  out.givenLabelProbability = auroc(Float64Array.from(givenLabelProbability, (p) => 1 - p), flipped);
  return out;
}
