// The standard error each estimator reports, against float64 references written from its
// definition: plain std / sqrt(S); antithetic from the pair means (p_2m + p_2m+1) / 2, which are
// independent where the single samples of a pair are not.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Estimator } from '../../src/noise/estimator.ts';
import { headRunners } from '../helpers/heads.ts';
import { sampledProbs as referenceProbs } from '../helpers/sampled-probs.ts';
import { D, K, R, phi, spec, weights } from '../helpers/small-het-xl.ts';

const newRunner = headRunners();

const sampledProbs = (estimator: Estimator, samples: number, seed: number) => referenceProbs(spec, weights, phi, estimator, samples, seed);

const meanOf = (rows: number[][], k: number) => rows.reduce((a, p) => a + p[k], 0) / rows.length;

test('plain: stdError is the population std over sqrt(S)', async () => {
  const runner = await newRunner(spec, weights);
  const S = 150;
  const [result] = await runner.mc(phi, 1, { samples: S, seed: 5 });
  const p = sampledProbs('plain', S, 5);
  for (let k = 0; k < K; k++) {
    const mean = meanOf(p, k);
    const variance = p.reduce((a, row) => a + (row[k] - mean) ** 2, 0) / S;
    const expected = Math.sqrt(variance / S);
    assert.ok(Math.abs(result.stdError![k] - expected) <= 1e-4 * expected + 1e-8, `class ${k}: ${result.stdError![k]} vs ${expected}`);
  }
});

test('antithetic: stdError from the pair means, S even and odd (the unpaired sample counted plainly)', async () => {
  // A chunk budget of a few samples: pairs must stay whole across chunks.
  const runner = await newRunner(spec, weights, { memoryBudgetBytes: 5 * 4 * (8 * K + 4 * D + R + D) });
  for (const S of [200, 201]) {
    const [result] = await runner.mc(phi, 1, { samples: S, seed: 9, estimator: 'antithetic' });
    const p = sampledProbs('antithetic', S, 9);
    const M = Math.floor(S / 2);
    let below = 0;
    for (let k = 0; k < K; k++) {
      const pairMeans = Array.from({ length: M }, (_, m) => (p[2 * m][k] + p[2 * m + 1][k]) / 2);
      const pairMean = pairMeans.reduce((a, x) => a + x, 0) / M;
      const pairVariance = pairMeans.reduce((a, x) => a + (x - pairMean) ** 2, 0) / M;
      const mean = meanOf(p, k);
      const sampleVariance = p.reduce((a, row) => a + (row[k] - mean) ** 2, 0) / S;
      const unpaired = S - 2 * M;
      const expected = Math.sqrt(((2 * M) / S) ** 2 * (pairVariance / M) + (unpaired * sampleVariance) / (S * S));
      const tolerance = 1e-4 * expected + 1e-8;
      assert.ok(Math.abs(result.stdError![k] - expected) <= tolerance, `S = ${S}, class ${k}: ${result.stdError![k]} vs ${expected}`);
      // The plain formula ignores the pairs' negative correlation and overstates the error here.
      if (expected < Math.sqrt(sampleVariance / S)) below++;
    }
    assert.ok(below >= 3, `S = ${S}: the pair-mean error is below the plain formula's for ${below} of ${K} classes`);
  }
});

test('antithetic stdError is honest: it matches the spread of p_hat over 60 seeds within 25%', async () => {
  const runner = await newRunner(spec, weights);
  const S = 100;
  const estimates: Float32Array[] = [];
  let reported = new Float64Array(K);
  for (let seed = 0; seed < 60; seed++) {
    const [result] = await runner.mc(phi, 1, { samples: S, seed: 1000 + seed, estimator: 'antithetic' });
    estimates.push(result.probs);
    reported = reported.map((x, k) => x + result.stdError![k] ** 2 / 60);
  }
  for (let k = 0; k < K; k++) {
    const mean = estimates.reduce((a, e) => a + e[k], 0) / estimates.length;
    const spread = Math.sqrt(estimates.reduce((a, e) => a + (e[k] - mean) ** 2, 0) / (estimates.length - 1));
    const claimed = Math.sqrt(reported[k]);
    // 60 seeds estimate a std to about +-9% (1 / sqrt(2 * 59)); 25% is over 2.5 of those.
    assert.ok(Math.abs(claimed / spread - 1) <= 0.25, `class ${k}: reported ${claimed}, spread over seeds ${spread}`);
  }
});
