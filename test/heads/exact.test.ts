// The per-class marginals of the tempered logits (OrtHeadRunner.marginals, src/heads/marginals.ts)
// against the float64 reference in test/reference/marginals.ts, for every noisy head: HET and
// HET-XL, both covariances, R = 3 and R = 0, independent and shared diagonal noise, a learned tau.
// Softmax HET-XL heads also give the std of each logit's difference to the top class (for
// estimator=candidates). Tolerance 2e-5 relative to the value's size (one float32 product of K D R
// terms; the difference std 1e-4, a float32 difference of variances). Then the exact
// sigmoid predictive from those marginals against the head's own MC at S = 20,000: within 4.5
// standard errors, which checks that the marginals are those of the distribution MC samples.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { SigmoidQuadrature } from '../../src/uncertainty/sigmoid-quadrature.ts';
import { randomHeadWeights, type Vector } from '../reference/heads.ts';
import { referenceMarginals } from '../reference/marginals.ts';
import { headRunners } from '../helpers/heads.ts';

const D = 6;
const K = 5;
const BATCH = 2;
const TAU = 0.3 + (3 - 0.3) / (1 + Math.exp(0.6));

type Kind = Pick<HeadSpec, 'type' | 'covariance' | 'diagonalNoise'>;
const KINDS: Kind[] = [];
for (const type of ['het', 'het-xl'] as const) {
  for (const covariance of ['param-efficient', 'full'] as const) {
    for (const diagonalNoise of ['independent', 'shared'] as const) KINDS.push({ type, covariance, diagonalNoise });
  }
}
const specOf = (kind: Kind, R: number, link: HeadSpec['link']): HeadSpec => ({ ...kind, D, K, R, tau: TAU, minScale: 1e-3, link });
const label = (s: HeadSpec) => `${s.link} ${s.type}/${s.covariance}/${s.diagonalNoise} R=${s.R}`;

const phi = Float32Array.from({ length: BATCH * D }, (_, i) => 1.2 * Math.sin(1.7 * i + 0.4));
const phiOf = (b: number): Vector => Array.from(phi.subarray(b * D, (b + 1) * D));

const runnerFor = headRunners();

function assertNear(actual: ArrayLike<number>, expected: Vector, what: string, relative = 2e-5): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let k = 0; k < expected.length; k++) {
    const tolerance = relative * Math.max(1, Math.abs(expected[k]));
    assert.ok(Math.abs(actual[k] - expected[k]) <= tolerance, `${what}[${k}]: ${actual[k]} vs ${expected[k]}`);
  }
}

test('marginals of the tempered logits equal the float64 reference, every noisy head and both diagonal-noise semantics', async () => {
  for (const kind of KINDS) {
    for (const R of [3, 0]) {
      for (const link of ['softmax', 'sigmoid'] as const) {
        const spec = specOf(kind, R, link);
        const weights = randomHeadWeights(spec, 41);
        const marginals = await (await runnerFor(spec, weights)).marginals(phi, BATCH);
        assert.equal(marginals.length, BATCH);
        for (let b = 0; b < BATCH; b++) {
          const ref = referenceMarginals(spec, weights, phiOf(b));
          assertNear(marginals[b].mean, ref.mean, `${label(spec)} image ${b} mean`);
          assertNear(marginals[b].std, ref.std, `${label(spec)} image ${b} std`);
          if (spec.type === 'het-xl' && link === 'softmax') {
            // For estimator=candidates: the top class and the std of each difference to it.
            assert.equal(marginals[b].top, ref.top, `${label(spec)} image ${b} top`);
            assertNear(marginals[b].differenceStd!, ref.differenceStd, `${label(spec)} image ${b} difference std`, 1e-4);
          } else {
            assert.equal(marginals[b].differenceStd, undefined);
          }
          assert.ok(Math.max(...ref.std) > 0.05, `${label(spec)}: the noise should matter`);
        }
      }
    }
  }
});

test('the exact sigmoid predictive agrees with the head’s MC at S = 20,000 within 4.5 standard errors', async (t) => {
  const S = 20_000;
  const quadrature = await SigmoidQuadrature.create({ provider: 'cpu', threads: 0 });
  t.after(() => quadrature.release());
  for (const kind of KINDS) {
    const spec = specOf(kind, 3, 'sigmoid');
    const weights = randomHeadWeights(spec, 77);
    const runner = await runnerFor(spec, weights);
    const marginals = await runner.marginals(phi, BATCH);
    const mc = await runner.sigmoidMc(phi, BATCH, { samples: S, seed: 5 });
    const exactResults = await quadrature.predictive(marginals);
    for (let b = 0; b < BATCH; b++) {
      const exact = exactResults[b];
      for (let k = 0; k < K; k++) {
        const what = `${label(spec)} image ${b} class ${k}`;
        const stdError = mc[b].std[k] / Math.sqrt(S);
        assert.ok(Math.abs(exact.probs[k] - mc[b].probs[k]) <= 4.5 * stdError + 1e-6, `${what} probability: exact ${exact.probs[k]}, MC ${mc[b].probs[k]} +- ${stdError}`);
        // The std and the expected entropy are themselves MC estimates: a loose 2% + 1e-3 band.
        assert.ok(Math.abs(exact.std[k] - mc[b].std[k]) <= 0.02 * exact.std[k] + 1e-3, `${what} std: exact ${exact.std[k]}, MC ${mc[b].std[k]}`);
        const h = exact.expectedBinaryEntropy[k];
        assert.ok(Math.abs(h - mc[b].expectedBinaryEntropy[k]) <= 0.02 * h + 1e-3, `${what} expected entropy: exact ${h}, MC ${mc[b].expectedBinaryEntropy[k]}`);
      }
    }
  }
});

test('a det head has no marginals', async () => {
  const spec: HeadSpec = { type: 'det', D, K, tau: 1, minScale: 1e-3, link: 'sigmoid' };
  const runner = await runnerFor(spec, randomHeadWeights(spec, 3));
  await assert.rejects(runner.marginals(phi, BATCH), /no noise/);
});
