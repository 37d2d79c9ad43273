// Converter round trips (issue #11 items 5 and 7): an edward2 head's flattened Flax tree written by
// the test as an .npz -> `convertEdward2` -> a checkpoint that loadCheckpoint loads and the server
// serves. Mean mode and logits are checked exactly, and the MC predictive within a few standard
// errors, against the float64 reference of test/reference/ evaluated on the npz's own parameters
// with edward2's semantics (tau from pre_sigmoid_temperature and the bounds, shared diagonal noise).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertEdward2 } from '../../src/convert/edward2.ts';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { gaussianSource, referenceLocLogits, referenceMc, softmax, type Matrix } from '../reference/heads.ts';
import { referenceSigmoidMc, sigmoid } from '../reference/sigmoid.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { assertClose } from '../helpers/heads.ts';
import { caseArrays, caseWeights, expectedSpec, LABELS, PHI, testImage, writeEdward2Inputs, type Edward2Case } from './edward2-inputs.ts';

const CASES: Record<string, Edward2Case> = {
  // The JFT / ImageNet-21k kind: MCSigmoidDenseFA, HET-XL, parameter-efficient, learned temperature.
  'het-xl-sigmoid': { layer: 'MCSigmoidDenseFA', latentDim: 6, numFactors: 3, parameterEfficient: true, tuned: { t: -0.7 }, prefix: 'params/multilabel_head', seed: 11 },
  // The fine-tuning kind: MCSoftmaxDenseFA with latent_dim None (HET), float64 arrays, fixed temperature.
  'het-softmax': { layer: 'MCSoftmaxDenseFA', latentDim: null, numFactors: 3, parameterEfficient: true, temperature: 0.8, prefix: 'multiclass_head', float64: true, seed: 12 },
  // Full covariance, HET-XL, learned temperature with its own bounds, the head's tree alone.
  'het-xl-softmax-full': { layer: 'MCSoftmaxDenseFA', latentDim: 6, numFactors: 2, parameterEfficient: false, tuned: { t: 0.3, lower: 0.5, upper: 1.5 }, prefix: '', seed: 13 },
  // num_factors = 0: diagonal noise only.
  'het-sigmoid-r0': { layer: 'MCSigmoidDenseFA', latentDim: null, numFactors: 0, parameterEfficient: true, prefix: 'params/multilabel_head', seed: 14 },
};

const SAMPLES = 2000;
const REFERENCE_SAMPLES = 4000;

let server: TestServer;
let scratch: string;
let image: string;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convert-edward2-'));
  image = (await testImage()).toString('base64');
  server = await startTestServer(async (modelsDir) => {
    for (const [name, c] of Object.entries(CASES)) {
      const inputs = await writeEdward2Inputs(join(scratch, name), c);
      await convertEdward2({ ...inputs, out: modelsDir, name });
    }
  });
});
after(async () => {
  await server.close();
  await rm(scratch, { recursive: true, force: true });
});

const predictive = async (name: string, query: string, body: Record<string, unknown> = {}) => {
  const res = await server.app.inject({ method: 'POST', url: `/v1/models/${name}/predictive?${query}`, payload: JSON.stringify({ image, ...body }), headers: { 'content-type': 'application/json' } });
  assert.equal(res.statusCode, 200, res.body);
  return res.json();
};

/** The reference's own noise with edward2's JAX semantics: eps_R [R], and one scalar per sample for the diagonal. */
function sharedNoise(spec: HeadSpec, samples: number, seed: number): { epsR: Matrix; epsD: Matrix } {
  const normal = gaussianSource(seed);
  const N = spec.type === 'het' ? spec.K : spec.D;
  const epsR: Matrix = [];
  const epsD: Matrix = [];
  for (let s = 0; s < samples; s++) {
    epsR.push(Array.from({ length: spec.R ?? 0 }, normal));
    const xi = normal();
    epsD.push(new Array(N).fill(xi));
  }
  return { epsR, epsD };
}

describe('edward2 converter round trips', () => {
  test('the folders load, with the head edward2 describes and the npz tensors as they were', async () => {
    assert.deepEqual((await readdir(server.modelsDir)).sort(), Object.keys(CASES).sort(), 'no staging folder is left behind');
    for (const [name, c] of Object.entries(CASES)) {
      const checkpoint = await loadCheckpoint(join(server.modelsDir, name));
      const spec = expectedSpec(c);
      const { head, mc } = checkpoint.manifest;
      assert.deepEqual(
        { type: head.type, D: head.D, K: head.K, R: head.R, link: head.link, diagonalNoise: head.diagonalNoise, minScale: head.minScale },
        { type: spec.type, D: spec.D, K: spec.K, R: spec.R, link: spec.link, diagonalNoise: 'shared', minScale: 1e-3 },
        name,
      );
      if (spec.R! > 0) assert.equal(head.covariance, spec.covariance, name);
      assert.ok(Math.abs(head.tau - spec.tau) <= 1e-12, `${name}: tau ${head.tau} vs ${spec.tau}`);
      if (c.tuned) assert.deepEqual(head.temperature, { t: Math.fround(c.tuned.t), min: c.tuned.lower ?? 0.3, max: c.tuned.upper ?? 3 }, name);
      else assert.equal(head.temperature, undefined, name);
      assert.equal(mc.defaultSamples, 500, `${name}: test_mc_samples`);
      assert.deepEqual(checkpoint.labels, LABELS);
      const weights = caseWeights(c);
      assert.deepEqual([...checkpoint.weights.keys()].sort(), [...weights.keys()].sort(), name);
      for (const [tensor, { dims, data }] of weights) assert.deepEqual(checkpoint.weights.get(tensor), { dims, data }, `${name} ${tensor}`);
    }
  });

  test('mean mode and logits equal the float64 reference: link((W^T phi + b) / tau) with tau from edward2', async () => {
    for (const [name, c] of Object.entries(CASES)) {
      const spec = expectedSpec(c);
      const logits = referenceLocLogits(caseWeights(c), PHI);
      const probs = spec.link === 'sigmoid' ? logits.map((u) => sigmoid(u / spec.tau)) : softmax(logits.map((u) => u / spec.tau));
      const body = await predictive(name, 'mode=mean&include=logits');
      assert.equal(body.link ?? 'softmax', spec.link, name);
      assertClose(body.logits, logits, 1e-5, `${name} logits`);
      assertClose(body.probabilities, probs, 1e-6, `${name} mean-mode probabilities`);
    }
  });

  test('the MC predictive agrees with the float64 reference under shared diagonal noise within a few standard errors', async () => {
    for (const [name, c] of Object.entries(CASES)) {
      const spec = expectedSpec(c);
      const { epsR, epsD } = sharedNoise(spec, REFERENCE_SAMPLES, c.seed + 100);
      const weights = caseWeights(c);
      const ref = spec.link === 'sigmoid' ? referenceSigmoidMc(spec, weights, PHI, epsR, epsD) : referenceMc(spec, weights, PHI, epsR, epsD);
      const body = await predictive(name, '', { samples: SAMPLES, seed: 5, estimator: 'plain' });
      for (let k = 0; k < spec.K; k++) {
        const se = ref.std[k] * Math.sqrt(1 / SAMPLES + 1 / REFERENCE_SAMPLES);
        assert.ok(Math.abs(body.probabilities[k] - ref.probs[k]) <= 4 * se + 1e-6, `${name} p[${k}]: ${body.probabilities[k]} vs ${ref.probs[k]} (4 se = ${4 * se})`);
        // The spread of a small probability is heavy-tailed: its estimate is looser than the mean's.
        assert.ok(Math.abs(body.std[k] - ref.std[k]) <= 0.25 * ref.std[k] + 2e-3, `${name} std[${k}]: ${body.std[k]} vs ${ref.std[k]}`);
      }
      if (spec.link === 'sigmoid') {
        // The default of sigmoid heads, estimator=exact, within the reference's own error.
        const exact = (await predictive(name, '')).probabilities as number[];
        for (let k = 0; k < spec.K; k++) {
          const se = ref.std[k] / Math.sqrt(REFERENCE_SAMPLES);
          assert.ok(Math.abs(exact[k] - ref.probs[k]) <= 4 * se + 1e-6, `${name} exact p[${k}]: ${exact[k]} vs ${ref.probs[k]} (4 se = ${4 * se})`);
        }
      }
      // The noise moves the predictive: the MC test is not a mean-mode test in disguise.
      const mean = (await predictive(name, 'mode=mean')).probabilities as number[];
      assert.ok(Math.max(...mean.map((p, k) => Math.abs(p - ref.probs[k]))) > 5e-3, `${name}: MC and mean mode should differ`);
    }
  });

  test('auto-detection skips the other subtrees of a whole-model tree; --prefix picks the same subtree', async () => {
    const c = CASES['het-xl-sigmoid'];
    assert.ok(Object.keys(caseArrays(c)).includes('params/pre_logits/kernel'), 'the tree holds a backbone parameter beside the head');
    const modelsDir = join(scratch, 'explicit-prefix-models');
    const inputs = await writeEdward2Inputs(join(scratch, 'explicit-prefix'), c);
    const written = await convertEdward2({ ...inputs, out: modelsDir, name: 'explicit', prefix: 'params/multilabel_head/' });
    assert.equal(written.prefix, 'params/multilabel_head');
    const automatic = await loadCheckpoint(join(server.modelsDir, 'het-xl-sigmoid'));
    assert.deepEqual(written.manifest.head, automatic.manifest.head);
  });
});
