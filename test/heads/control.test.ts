// estimator=control (src/mc/control.ts, OrtHeadRunner.controlMc) on small softmax heads, against
// float64 references written here from the definitions: the production antithetic noise pushed
// through the float64 head (test/reference/heads.ts), c_k = exp(t_k - a_k) and (HET-XL)
// e_k = exp(t_k - t_top - b_k) from the float64 marginals (test/reference/marginals.ts), the
// regression on both with sample moments, negatives to 0, renormalised (1e-5: float32 sums over
// S); the same answer in one chunk or many, and for an image alone or in a batch; and, against a
// 200,000-sample reference of the reference's own noise, less error than plain MC and antithetic
// at the same S on a flat head.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { defaultWeightScales, randomHeadWeights, referenceLogits, referenceMcIndependent, softmax, type Matrix, type Vector } from '../reference/heads.ts';
import { referenceMarginals } from '../reference/marginals.ts';
import { headRunners, noiseRows } from '../helpers/heads.ts';

const D = 6;
const R = 3;
const runnerFor = headRunners();
const phi = Float32Array.from({ length: D }, (_, i) => 1.5 * Math.sin(1.3 * i + 0.2));
const phiVector: Vector = Array.from(phi);
const specOf = (type: HeadSpec['type'], covariance: HeadSpec['covariance'], diagonalNoise: HeadSpec['diagonalNoise'], K: number): HeadSpec => ({ type, covariance, diagonalNoise, D, K, R, tau: 0.6, minScale: 1e-3 });
const KINDS = [
  specOf('het-xl', 'param-efficient', 'independent', 12),
  specOf('het-xl', 'full', 'independent', 12),
  specOf('het-xl', 'param-efficient', 'shared', 12),
  specOf('het', 'param-efficient', 'independent', 12),
  specOf('het', 'full', 'shared', 12),
];
const label = (s: HeadSpec) => `${s.type}/${s.covariance}/${s.diagonalNoise}`;

/** The production antithetic rows of one stream: sample 2m is +row m, 2m + 1 is -row m. */
function antitheticRows(seed: number, S: number, width: number, stream: number): Matrix {
  const rows = noiseRows(seed, Math.ceil(S / 2), width, stream);
  return Array.from({ length: S }, (_, s) => rows[s >> 1].map((x) => (s % 2 === 0 ? x : -x)));
}

/**
 * The control-variate estimate from the samples' tempered logits, in float64, written from the
 * method (docs/estimators.md): per class the regression of p_k on c_k = exp(t_k - a_k) and (HET-XL,
 * whose marginals have the differences to the top class j) e_k = exp(t_k - t_j - b_k), with
 * a_k = m_k + s_k^2 / 2 and b_k = m_k - m_j + d_k^2 / 2; a control whose log has std above 2 is
 * left out, and of two too collinear (1 - corr^2 < 1e-6) the one that explains more is kept.
 */
function referenceControl(spec: HeadSpec, weights: ReturnType<typeof randomHeadWeights>, epsR: Matrix, epsD: Matrix): Vector {
  const { K } = spec;
  const { mean, std, top, differenceStd } = referenceMarginals(spec, weights, phiVector);
  const a = mean.map((m, k) => (std[k] <= 2 ? m + std[k] ** 2 / 2 : Number.NaN));
  const withDifferences = spec.type === 'het-xl';
  const b = mean.map((m, k) => (withDifferences && k !== top && differenceStd[k] <= 2 ? m - mean[top] + differenceStd[k] ** 2 / 2 : Number.NaN));
  const S = epsR.length;
  const samples = Array.from({ length: S }, (_, s) => {
    const t = referenceLogits(spec, weights, phiVector, epsR[s], epsD[s]).map((u) => u / spec.tau);
    return { p: softmax(t), c: t.map((x, k) => Math.exp(x - a[k])), e: t.map((x, k) => Math.exp(x - t[top] - b[k])) };
  });
  const average = (f: (s: (typeof samples)[number]) => number) => samples.reduce((sum, x) => sum + f(x), 0) / S;
  const corrected = Array.from({ length: K }, (_, k) => {
    const mp = average((x) => x.p[k]);
    const mc = average((x) => x.c[k]);
    const me = average((x) => x.e[k]);
    const vc = average((x) => (x.c[k] - mc) ** 2);
    const ve = average((x) => (x.e[k] - me) ** 2);
    const cpc = average((x) => (x.p[k] - mp) * (x.c[k] - mc));
    const cpe = average((x) => (x.p[k] - mp) * (x.e[k] - me));
    const cce = average((x) => (x.c[k] - mc) * (x.e[k] - me));
    const useC = !Number.isNaN(a[k]) && vc > 0;
    const useE = !Number.isNaN(b[k]) && ve > 0;
    let p = mp;
    if (useC && useE && vc * ve - cce ** 2 > 1e-6 * vc * ve) {
      // The 2 x 2 normal equations [vc cce; cce ve] beta = [cpc; cpe].
      const det = vc * ve - cce ** 2;
      p -= ((cpc * ve - cpe * cce) / det) * (mc - 1) + ((cpe * vc - cpc * cce) / det) * (me - 1);
    } else if (useC && (!useE || cpc ** 2 / vc >= cpe ** 2 / ve)) {
      p -= (cpc / vc) * (mc - 1);
    } else if (useE) {
      p -= (cpe / ve) * (me - 1);
    }
    return Math.max(p, 0);
  });
  const total = corrected.reduce((x, y) => x + y, 0);
  return corrected.map((p) => p / total);
}

const tv = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((sum, x, k) => sum + Math.abs(x - b[k]), 0) / 2;

test('control: the production antithetic noise through the float64 head, corrected by the regression on exp(t - a), is the served answer; one chunk or many', async () => {
  const S = 400;
  const seed = 21;
  for (const spec of KINDS) {
    const weights = randomHeadWeights(spec, 5);
    const noiseWidth = spec.type === 'het' ? spec.K : D;
    const epsR = antitheticRows(seed, S, R, STREAM_FACTOR);
    const epsD = antitheticRows(seed, S, spec.diagonalNoise === 'shared' ? 1 : noiseWidth, STREAM_DIAGONAL).map((row) => (spec.diagonalNoise === 'shared' ? new Array<number>(noiseWidth).fill(row[0]) : row));
    const expected = referenceControl(spec, weights, epsR, epsD);
    const whole = await runnerFor(spec, weights);
    const chunked = await runnerFor(spec, weights, { memoryBudgetBytes: 4096 });
    assert.ok(chunked.chunksFor(S, 1).length > 1);
    for (const runner of [whole, chunked]) {
      const [answer] = await runner.controlMc(phi, 1, { samples: S, seed });
      for (let k = 0; k < spec.K; k++) assert.ok(Math.abs(answer.probs[k] - expected[k]) <= 1e-5, `${label(spec)} class ${k}: ${answer.probs[k]} vs ${expected[k]}`);
      assert.ok(Math.abs(answer.probs.reduce((x, y) => x + y, 0) - 1) < 1e-5);
      assert.ok(answer.stdError!.every((e) => e >= 0 && Number.isFinite(e)));
    }
  }
});

test('control: less error than plain and antithetic MC at the same S on a flat head (tempered-logit stds 0.35-1.4) (20 seeds against 200,000 reference samples)', async () => {
  const spec = specOf('het-xl', 'param-efficient', 'independent', 40);
  const weights = randomHeadWeights(spec, 9, { ...defaultWeightScales, loc: 0.3, factorKernel: 0.3 });
  const reference = referenceMcIndependent(spec, weights, phiVector, 200_000, 3).probs;
  const runner = await runnerFor(spec, weights);
  const S = 200;
  const error = { plain: 0, antithetic: 0, control: 0 };
  for (let seed = 0; seed < 20; seed++) {
    error.plain += tv((await runner.mc(phi, 1, { samples: S, seed }))[0].probs, reference) / 20;
    error.antithetic += tv((await runner.mc(phi, 1, { samples: S, seed, estimator: 'antithetic' }))[0].probs, reference) / 20;
    error.control += tv((await runner.controlMc(phi, 1, { samples: S, seed }))[0].probs, reference) / 20;
  }
  console.log(`mean TV at S = ${S}: plain ${error.plain.toFixed(4)}, antithetic ${error.antithetic.toFixed(4)}, control ${error.control.toFixed(4)}`);
  assert.ok(error.control < 0.8 * error.antithetic, `control ${error.control} vs antithetic ${error.antithetic}`);
  assert.ok(error.control < 0.6 * error.plain, `control ${error.control} vs plain ${error.plain}`);
});

test('control: each image of a batch gets its own answer, the same as alone (its own top class for the second control)', async () => {
  const other = Float32Array.from({ length: D }, (_, i) => 1.2 * Math.cos(0.7 * i + 1.1));
  for (const spec of [KINDS[0], KINDS[2]]) {
    const runner = await runnerFor(spec, randomHeadWeights(spec, 5));
    const options = { samples: 64, seed: 9 };
    const alone = [(await runner.controlMc(phi, 1, options))[0], (await runner.controlMc(other, 1, options))[0]];
    const tops = (await runner.marginals(Float32Array.from([...phi, ...other]), 2)).map((m) => m.top);
    assert.notEqual(tops[0], tops[1], `${label(spec)}: the test images should have different top classes`);
    const batch = await runner.controlMc(Float32Array.from([...phi, ...other]), 2, options);
    for (const b of [0, 1]) {
      for (let k = 0; k < spec.K; k++) assert.ok(Math.abs(batch[b].probs[k] - alone[b].probs[k]) <= 1e-6, `${label(spec)} image ${b} class ${k}: ${batch[b].probs[k]} vs ${alone[b].probs[k]}`);
    }
  }
});

test('control: a precision target stops at the first checkpoint where the corrected top-k standard errors are under it', async () => {
  const spec = KINDS[0];
  const runner = await runnerFor(spec, randomHeadWeights(spec, 5));
  const target = 0.015;
  const [stopped] = await runner.controlMc(phi, 1, { samples: 4096, seed: 2, targetStdError: target, stopTopK: 3 });
  const used = stopped.samplesUsed!;
  assert.ok(used > 64 && used < 4096, `samples used ${used}`);
  const topErrors = (r: { probs: Float32Array; stdError?: Float32Array }) => [...r.probs.keys()].sort((a, b) => r.probs[b] - r.probs[a]).slice(0, 3).map((k) => r.stdError![k]);
  assert.ok(Math.max(...topErrors(stopped)) <= target);
  // The answer of a fixed run of that many samples; half as many were not precise enough.
  const [fixed] = await runner.controlMc(phi, 1, { samples: used, seed: 2 });
  for (let k = 0; k < spec.K; k++) assert.ok(Math.abs(stopped.probs[k] - fixed.probs[k]) <= 1e-6);
  const [half] = await runner.controlMc(phi, 1, { samples: used / 2, seed: 2 });
  assert.ok(Math.max(...topErrors(half)) > target);
  // In a batch each image stops at its own checkpoint and takes no more samples after.
  const flat = Float32Array.from({ length: D }, () => 0.05);
  const options = { samples: 4096, seed: 2, targetStdError: target, stopTopK: 3 };
  const [alone] = await runner.controlMc(flat, 1, options);
  assert.notEqual(alone.samplesUsed, used, 'the test images should stop at different checkpoints');
  const batch = await runner.controlMc(Float32Array.from([...phi, ...flat]), 2, options);
  for (const [b, expected] of [stopped, alone].entries()) {
    assert.equal(batch[b].samplesUsed, expected.samplesUsed);
    for (let k = 0; k < spec.K; k++) assert.ok(Math.abs(batch[b].probs[k] - expected.probs[k]) <= 1e-6, `image ${b} class ${k}`);
  }
});

test('control: refused for a sigmoid head', async () => {
  const spec = { ...KINDS[0], link: 'sigmoid' as const };
  const runner = await runnerFor(spec, randomHeadWeights(spec, 5));
  await assert.rejects(runner.controlMc(phi, 1, { samples: 10, seed: 0 }), /link is sigmoid/);
});
