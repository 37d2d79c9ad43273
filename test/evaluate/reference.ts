// Float64 references for the uncertainty-quality metrics, written from their definitions by brute
// force (every pair, every tie order), so they share nothing with src/evaluate/uncertainty-quality.ts.

/** AUROC as the share of (positive, negative) pairs where the positive scores higher, ties half; null without both. */
export function pairwiseAuroc(scores: ArrayLike<number>, positive: ArrayLike<number | boolean>): number | null {
  let wins = 0;
  let pairs = 0;
  for (let i = 0; i < scores.length; i++) {
    if (!positive[i]) continue;
    for (let j = 0; j < scores.length; j++) {
      if (positive[j]) continue;
      pairs++;
      wins += scores[i] > scores[j] ? 1 : scores[i] === scores[j] ? 0.5 : 0;
    }
  }
  return pairs === 0 ? null : wins / pairs;
}

function permutations(n: number): number[][] {
  if (n === 0) return [[]];
  const out: number[][] = [];
  for (const rest of permutations(n - 1)) for (let at = 0; at <= rest.length; at++) out.push([...rest.slice(0, at), n - 1, ...rest.slice(at)]);
  return out;
}

/**
 * Selective prediction averaged over every order of the examples that sorts them by increasing
 * uncertainty (each tie order equally likely): accuracy of the first k for each k, and the AURC.
 * Exponential in n: for n <= 7.
 */
export function selectiveByEnumeration(uncertainty: number[], correct: number[]): { accuracyAt: (k: number) => number; aurc: number } {
  const n = uncertainty.length;
  const sorted = permutations(n).filter((order) => order.every((v, i) => i === 0 || uncertainty[order[i - 1]] <= uncertainty[v]));
  const accuracy = new Float64Array(n + 1);
  for (const order of sorted) {
    let hits = 0;
    order.forEach((v, i) => {
      hits += correct[v];
      accuracy[i + 1] += hits / (i + 1) / sorted.length;
    });
  }
  let aurc = 0;
  for (let k = 1; k <= n; k++) aurc += (1 - accuracy[k]) / n;
  return { accuracyAt: (k) => accuracy[k], aurc };
}
