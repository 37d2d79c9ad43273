// Estimator error against S: the total variation distance between p_hat and a reference p_hat
// from S = 100,000 plain samples (independent seed), averaged over seeds and images, for the
// plain and the antithetic estimator. Run on a mid-size head (K, D given by the caller) because
// the reference alone is 100,000 samples per image.
import { createHeadRunner } from '../src/heads/runner.ts';
import type { HeadWeights } from '../src/format/head-params.ts';
import type { EngineOptions } from '../src/engine/session.ts';
import type { HeadSpec } from '../src/format/manifest.ts';
import { ESTIMATORS, type Estimator } from '../src/noise/estimator.ts';

export const REFERENCE_SAMPLES = 100_000;
const REFERENCE_SEED = 987_654_321;

export interface ErrorRow {
  samples: number;
  /** Mean total variation distance per estimator, and its standard error over the runs. */
  tv: Record<Estimator, { mean: number; se: number }>;
}

function totalVariation(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += Math.abs(a[k] - b[k]);
  return sum / 2;
}

export async function estimatorError(
  spec: HeadSpec,
  weights: HeadWeights,
  phi: Float32Array,
  images: number,
  sampleCounts: number[],
  seeds: number,
  engine: EngineOptions,
): Promise<ErrorRow[]> {
  const runner = await createHeadRunner(spec, weights, engine, { noiseCacheBytes: 0 });
  try {
    const reference = await runner.mc(phi, images, { samples: REFERENCE_SAMPLES, seed: REFERENCE_SEED });
    const rows: ErrorRow[] = [];
    for (const samples of sampleCounts) {
      const tv = {} as ErrorRow['tv'];
      for (const estimator of ESTIMATORS) {
        const distances: number[] = [];
        for (let seed = 0; seed < seeds; seed++) {
          const results = await runner.mc(phi, images, { samples, seed, estimator });
          results.forEach((r, b) => distances.push(totalVariation(r.probs, reference[b].probs)));
        }
        const mean = distances.reduce((a, b) => a + b, 0) / distances.length;
        const variance = distances.reduce((a, d) => a + (d - mean) ** 2, 0) / Math.max(distances.length - 1, 1);
        tv[estimator] = { mean, se: Math.sqrt(variance / distances.length) };
      }
      rows.push({ samples, tv });
    }
    return rows;
  } finally {
    await runner.dispose();
  }
}
