// Classification metrics on predicted distributions, accumulated in float64: accuracy, NLL,
// expected calibration error (equal-width confidence bins) and the multi-class Brier score.

const ECE_BINS = 15;
/** Probabilities are clamped here before the log, so one zero does not make the NLL infinite. */
const NLL_FLOOR = 1e-12;

export interface CalibrationBin {
  /** Confidence interval (lower, upper]; the first bin also holds confidence 0. */
  lower: number;
  upper: number;
  count: number;
  /** Mean max-probability of the bin's examples (0 when empty). */
  confidence: number;
  /** Share of the bin's examples whose arg max is the label (0 when empty). */
  accuracy: number;
}

export interface Metrics {
  count: number;
  accuracy: number;
  /** Mean -log max(p(y|x), NLL_FLOOR), in nats. */
  nll: number;
  /** sum_b (n_b / N) |accuracy_b - confidence_b| over ECE_BINS equal-width bins of the max probability. */
  ece: number;
  /** Mean over examples of sum_k (p_k - [k = y])^2 (0 is perfect, 2 the worst). */
  brier: number;
  bins: CalibrationBin[];
}

/** Metrics without the per-bin table: what evaluation summaries and manifests keep. */
export type MetricSummary = Omit<Metrics, 'bins'>;

export function metricSummary(m: Metrics): MetricSummary {
  return { count: m.count, accuracy: m.accuracy, nll: m.nll, ece: m.ece, brier: m.brier };
}

/** The index of the largest value, the first on ties: the predicted class of every metric here. */
export function argMax(row: ArrayLike<number>): number {
  let top = 0;
  for (let k = 1; k < row.length; k++) if (row[k] > row[top]) top = k;
  return top;
}

/** probs: [count, K] row-major; labels: count class indices. */
export function classificationMetrics(probs: Float32Array, K: number, labels: ArrayLike<number>, binCount = ECE_BINS): Metrics {
  const count = labels.length;
  if (probs.length !== count * K) throw new Error(`metrics: ${probs.length} probabilities for ${count} examples x ${K} classes`);
  if (count === 0) throw new Error('metrics: no examples');
  const binN = new Float64Array(binCount);
  const binConf = new Float64Array(binCount);
  const binCorrect = new Float64Array(binCount);
  let correct = 0;
  let nll = 0;
  let brier = 0;
  for (let i = 0; i < count; i++) {
    const y = labels[i];
    if (!(Number.isInteger(y) && y >= 0 && y < K)) throw new Error(`metrics: label ${y} of example ${i} is not in 0..${K - 1}`);
    const row = probs.subarray(i * K, (i + 1) * K);
    const top = argMax(row);
    for (let k = 0; k < K; k++) {
      const target = k === y ? 1 : 0;
      brier += (row[k] - target) ** 2;
    }
    const hit = top === y ? 1 : 0;
    correct += hit;
    nll -= Math.log(Math.max(row[y], NLL_FLOOR));
    const confidence = row[top];
    const b = Math.min(binCount - 1, Math.max(0, Math.ceil(confidence * binCount) - 1));
    binN[b]++;
    binConf[b] += confidence;
    binCorrect[b] += hit;
  }
  const bins: CalibrationBin[] = [];
  let ece = 0;
  for (let b = 0; b < binCount; b++) {
    const n = binN[b];
    const bin = {
      lower: b / binCount,
      upper: (b + 1) / binCount,
      count: n,
      confidence: n > 0 ? binConf[b] / n : 0,
      accuracy: n > 0 ? binCorrect[b] / n : 0,
    };
    ece += (n / count) * Math.abs(bin.accuracy - bin.confidence);
    bins.push(bin);
  }
  return { count, accuracy: correct / count, nll: nll / count, ece, brier: brier / count, bins };
}
