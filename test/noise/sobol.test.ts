// estimator=sobol: the Sobol points against published values, the inverse normal CDF against
// reference quantiles, the scrambled nets' balance, chunk independence, unbiasedness over
// scramblings, an honest replicate standard error, and its error against plain MC at the same S.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { fillEstimatorRows } from '../../src/noise/estimator.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { fillSobolNormals, inverseNormalCdf, SOBOL_REPLICATES, sobolInteger, sobolSampleOrder } from '../../src/noise/sobol.ts';
import { headRunners } from '../helpers/heads.ts';
import { D, K, R, phi, spec, weights } from '../helpers/small-het-xl.ts';

test('unscrambled points: the published first points of Joe & Kuo (new-joe-kuo-6.21201), Gray-code order', () => {
  // Dimensions 1-3, points 0-7 (Joe & Kuo's table; scipy.stats.qmc.Sobol(d, scramble=False) gives the same).
  const expected = [[0, 0, 0], [0.5, 0.5, 0.5], [0.75, 0.25, 0.25], [0.25, 0.75, 0.75], [0.375, 0.375, 0.625], [0.875, 0.875, 0.125], [0.625, 0.125, 0.875], [0.125, 0.625, 0.375]];
  expected.forEach((point, n) => assert.deepEqual([0, 1, 2].map((d) => sobolInteger(n, d) / 2 ** 32), point, `point ${n}`));
  // Higher dimensions and indices, from scipy 1.17 qmc.Sobol(d=64, scramble=False).random(1024).
  const far: [number, number, number][] = [[5, 49, 0.875], [5, 63, 0.625], [13, 49, 0.9375], [13, 63, 0.0625], [1023, 0, 0.0009765625], [1023, 1, 0.7529296875], [1023, 49, 0.8232421875], [1023, 63, 0.0400390625], [700, 5, 0.3505859375], [700, 33, 0.0751953125], [700, 50, 0.0888671875]];
  for (const [n, d, value] of far) assert.equal(sobolInteger(n, d) / 2 ** 32, value, `point ${n}, dimension ${d + 1}`);
});

test('inverse normal CDF: reference quantiles to 1e-14 relative, tails included', () => {
  // scipy.special.ndtri.
  const cases: [number, number][] = [[0.5, 0], [0.975, 1.959963984540054], [0.025, -1.959963984540054], [0.9, 1.2815515655446004], [1e-10, -6.361340902404056], [1 - 1e-6, 4.753424308817088], [1e-300, -37.0470962993612]];
  for (const [p, z] of cases) assert.ok(Math.abs(inverseNormalCdf(p) - z) <= 1e-14 * Math.max(1, Math.abs(z)), `p = ${p}: ${inverseNormalCdf(p)} vs ${z}`);
  assert.throws(() => inverseNormalCdf(0), /p in \(0, 1\)/);
  assert.throws(() => inverseNormalCdf(1), /p in \(0, 1\)/);
});

test('each scrambling keeps the net: the first 2^m points put one point in each interval of 2^-m, per dimension', () => {
  const m = 6;
  const n = 2 ** m;
  const width = 50;
  const rows = new Float32Array(n * SOBOL_REPLICATES * width);
  fillSobolNormals(rows, 12345, 0, n * SOBOL_REPLICATES, width);
  // Back to uniforms through the normal CDF's symmetry-free form: the rank of each value.
  for (const r of [0, 7, 15]) {
    for (const d of [0, 1, 20, 49]) {
      const values = Array.from({ length: n }, (_, i) => rows[(r * n + i) * width + d]);
      const cells = new Set(values.map((z) => Math.floor(n * normalCdf(z))));
      assert.equal(cells.size, n, `replicate ${r}, dimension ${d}: ${cells.size} of ${n} cells hit`);
    }
  }
});

/** Phi(z) via erfc's continued fraction-free series: enough (1e-7) to find a point's cell of 1/64. */
function normalCdf(z: number): number {
  const t = 1 / (1 + 0.2316419 * Math.abs(z));
  const poly = t * (0.31938153 + t * (-0.356563782 + t * (1.781477937 + t * (-1.821255978 + t * 1.330274429))));
  const tail = (Math.exp(-z * z / 2) / Math.sqrt(2 * Math.PI)) * poly;
  return z >= 0 ? 1 - tail : tail;
}

test('chunk independence: a sample gets the same noise whatever block it is generated in, on both streams', () => {
  const J = SOBOL_REPLICATES;
  for (const [stream, width] of [[STREAM_FACTOR, 5], [STREAM_DIAGONAL, 7]]) {
    const whole = new Float32Array(4 * J * width);
    fillEstimatorRows(whole, 'sobol', 3, stream, 0, 4 * J, width);
    const bySample = new Map<number, number[]>();
    sobolSampleOrder(0, 4 * J).forEach((s, row) => bySample.set(s, Array.from(whole.subarray(row * width, (row + 1) * width))));
    for (const [start, count] of [[0, J], [J, 2 * J], [3 * J, J], [3 * J, 5]]) {
      const part = new Float32Array(count * width);
      fillEstimatorRows(part, 'sobol', 3, stream, start, count, width);
      sobolSampleOrder(start, count).forEach((s, row) => assert.deepEqual(Array.from(part.subarray(row * width, (row + 1) * width)), bySample.get(s), `stream ${stream}, sample ${s}`));
    }
  }
  assert.throws(() => fillSobolNormals(new Float32Array(65 * 16), 0, 0, 16, 65), /at most 64/);
  assert.throws(() => fillSobolNormals(new Float32Array(100), 0, 8, 16, 2), /multiple of 16/);
});

const newRunner = headRunners();

test('unbiased over scramblings, honest standard error, and lower error than plain MC at the same S', async () => {
  const runner = await newRunner(spec, weights);
  const [reference] = await runner.mc(phi, 1, { samples: 200_000, seed: 777 });
  const S = 512;
  const seeds = 40;
  const errors = { plain: 0, sobol: 0 };
  const sums = new Float64Array(K);
  const squares = new Float64Array(K);
  const reported = new Float64Array(K);
  for (let seed = 0; seed < seeds; seed++) {
    for (const estimator of ['plain', 'sobol'] as const) {
      const [result] = await runner.mc(phi, 1, { samples: S, seed, estimator });
      for (let k = 0; k < K; k++) errors[estimator] += (result.probs[k] - reference.probs[k]) ** 2 / seeds;
      if (estimator !== 'sobol') continue;
      for (let k = 0; k < K; k++) {
        sums[k] += result.probs[k];
        squares[k] += result.probs[k] ** 2;
        reported[k] += result.stdError![k] ** 2 / seeds;
      }
    }
  }
  for (let k = 0; k < K; k++) {
    const mean = sums[k] / seeds;
    const spread = Math.sqrt(Math.max(squares[k] / seeds - mean * mean, 0) * (seeds / (seeds - 1)));
    // Unbiased: the mean of 40 scramblings within 4 of its standard errors (and the reference's) of the reference.
    const se = Math.hypot(spread / Math.sqrt(seeds), reference.stdError![k]);
    assert.ok(Math.abs(mean - reference.probs[k]) <= 4 * se, `class ${k}: mean ${mean} vs reference ${reference.probs[k]} (se ${se})`);
    // Honest: the replicates' standard error (15 degrees of freedom each, averaged over 40 seeds) within 35% of the spread.
    assert.ok(Math.abs(Math.sqrt(reported[k]) / spread - 1) <= 0.35, `class ${k}: reported ${Math.sqrt(reported[k])}, spread ${spread}`);
  }
  // Measured (R = 3 factor dimensions, the diagonal part plain): see the ratio printed by the assertion.
  assert.ok(errors.sobol < errors.plain / 1.5, `squared error: sobol ${errors.sobol}, plain ${errors.plain} (ratio ${errors.plain / errors.sobol})`);
});

test('sobol with a precision target stops at a checkpoint, with the answer of that many samples', async () => {
  const runner = await newRunner(spec, weights);
  const [stopped] = await runner.mc(phi, 1, { samples: 4096, seed: 5, estimator: 'sobol', targetStdError: 0.01 });
  assert.ok(stopped.samplesUsed! < 4096 && stopped.samplesUsed! % SOBOL_REPLICATES === 0, `samplesUsed ${stopped.samplesUsed}`);
  const [fixed] = await runner.mc(phi, 1, { samples: stopped.samplesUsed!, seed: 5, estimator: 'sobol' });
  for (let k = 0; k < K; k++) assert.ok(Math.abs(stopped.probs[k] - fixed.probs[k]) <= 1e-6);
  const small = await newRunner(spec, weights, { memoryBudgetBytes: 40 * 4 * (8 * K + 4 * D + R + D) });
  const [chunked] = await small.mc(phi, 1, { samples: 4096, seed: 5, estimator: 'sobol', targetStdError: 0.01 });
  assert.equal(chunked.samplesUsed, stopped.samplesUsed, 'the stop does not depend on the chunking');
  for (let k = 0; k < K; k++) assert.ok(Math.abs(chunked.probs[k] - stopped.probs[k]) <= 1e-6);
});
