// Shared diagonal noise (head.diagonalNoise "shared", edward2's JAX layers): one standard normal
// per sample, broadcast over the N noise dimensions, so the diagonal term is d(x) * xi_s. Checked
// against the float64 reference fed eps_D rows that repeat each sample's scalar N times (which is
// what the shared semantics mean), for HET and HET-XL, both covariances, R = 3 and R = 0.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { EngineOptions } from '../../src/engine/session.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { createHeadRunner } from '../../src/heads/runner.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { gaussianSource, randomHeadWeights, referenceMc } from '../reference/heads.ts';
import { assertClose, noiseRows } from '../helpers/heads.ts';

const engine: EngineOptions = { provider: 'cpu', threads: 1 };
const D = 6;
const K = 5;
const S = 300;
const SEED = 23;

const KINDS: Pick<HeadSpec, 'type' | 'covariance' | 'R'>[] = [
  { type: 'het-xl', covariance: 'param-efficient', R: 3 },
  { type: 'het-xl', covariance: 'full', R: 3 },
  { type: 'het', covariance: 'param-efficient', R: 3 },
  { type: 'het-xl', covariance: 'param-efficient', R: 0 },
];

test('shared diagonal noise: MC equals the float64 reference with one scalar per sample over all dimensions', async () => {
  const phi = Array.from({ length: D }, gaussianSource(5));
  for (const kind of KINDS) {
    const shared: HeadSpec = { ...kind, D, K, tau: 0.7, minScale: 1e-3, diagonalNoise: 'shared' };
    const weights = randomHeadWeights(shared, 77);
    const N = kind.type === 'het' ? K : D;
    const xi = noiseRows(SEED, S, 1, STREAM_DIAGONAL); // the production noise: a width-1 row per sample
    const epsD = xi.map(([x]) => Array.from({ length: N }, () => x));
    const epsR = kind.R ? noiseRows(SEED, S, kind.R, STREAM_FACTOR) : xi.map(() => []);
    const ref = referenceMc(shared, weights, phi, epsR, epsD);

    const runner = await createHeadRunner(shared, weights, engine);
    const independentRunner = await createHeadRunner({ ...shared, diagonalNoise: 'independent' }, weights, engine);
    try {
      const [result] = await runner.mc(Float32Array.from(phi), 1, { samples: S, seed: SEED });
      const what = `${kind.type}/${kind.covariance} R=${kind.R}`;
      for (let k = 0; k < K; k++) {
        assert.ok(Math.abs(result.probs[k] - ref.probs[k]) <= 1e-5, `${what} p[${k}]: ${result.probs[k]} vs ${ref.probs[k]}`);
        assert.ok(Math.abs(result.std[k] - ref.std[k]) <= 1e-5, `${what} std[${k}]: ${result.std[k]} vs ${ref.std[k]}`);
      }
      assert.ok(Math.abs(result.expectedEntropy - ref.expectedEntropy) <= 1e-5, `${what} expected entropy`);
      // The semantics matter: the same weights with independent noise give another predictive.
      const [independent] = await independentRunner.mc(Float32Array.from(phi), 1, { samples: S, seed: SEED });
      const moved = Math.max(...Array.from(result.probs, (p, k) => Math.abs(p - independent.probs[k])));
      assert.ok(moved > 1e-3, `${what}: shared and independent noise should differ, max |dp| ${moved}`);
      // Mean mode switches the noise off: both semantics agree, up to float32 rounding (HET-XL's
      // shared-noise path tempers W^T phi + b from its loc graph, the independent one folds 1/tau into W).
      const [mean] = await runner.mean(Float32Array.from(phi), 1);
      const [independentMean] = await independentRunner.mean(Float32Array.from(phi), 1);
      assertClose(mean, independentMean, 1e-6, `${what} mean mode`);
    } finally {
      await runner.dispose();
      await independentRunner.dispose();
    }
  }
});
