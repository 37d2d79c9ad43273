// The estimators computed from the logits' marginals over HTTP (docs/estimators.md): exact is the
// default of sigmoid HET / HET-XL classifiers and equals the float64 reference (the reference
// marginals of test/reference/marginals.ts through the trapezoid moments of
// test/reference/sigmoid-gaussian.ts, from the backbone's phi); MC stays available;
// estimator=candidates reports its candidate set and falls back to the plain answer on a flat
// predictive (the candidate path itself: test/heads/candidates.test.ts); estimator=control answers
// softmax HET and HET-XL heads (its numbers: test/heads/control.test.ts); bad tolerances and an
// estimator that does not apply to the model are 400s naming the option and what applies.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { ImageTower } from '../../src/pipelines/image-tower.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { multipart, startTestServer, testPng, type TestServer } from '../helpers/app.ts';
import { referenceMarginals } from '../reference/marginals.ts';
import { referenceSigmoidGaussian } from '../reference/sigmoid-gaussian.ts';
import { binaryEntropy } from '../reference/sigmoid.ts';

const SIGMOID_HETXL = 'sigmoid-het-xl';
const SIGMOID_HET = 'sigmoid-het-full';
const SIGMOID_DET = 'sigmoid-det';
const SOFTMAX = 'softmax-het-xl';
const SOFTMAX_HET = 'softmax-het';
const K = 5;

let server: TestServer;
let png: Buffer;

before(async () => {
  server = await startTestServer(async (dir) => {
    await makeTinyCheckpoint(dir, { name: SIGMOID_HETXL, type: 'het-xl', tau: 0.7, link: 'sigmoid' });
    await makeTinyCheckpoint(dir, { name: SIGMOID_HET, type: 'het', covariance: 'full', tau: 1.3, link: 'sigmoid' });
    await makeTinyCheckpoint(dir, { name: SIGMOID_DET, type: 'det', link: 'sigmoid' });
    await makeTinyCheckpoint(dir, { name: SOFTMAX, type: 'het-xl' });
    await makeTinyCheckpoint(dir, { name: SOFTMAX_HET, type: 'het' });
  });
  png = await testPng(8, 8, 4);
});
after(() => server.close());

const predictive = (model: string, body: Record<string, unknown>, query = '') =>
  server.app.inject({ method: 'POST', url: `/v1/models/${model}/predictive${query}`, payload: JSON.stringify({ image: png.toString('base64'), ...body }), headers: { 'content-type': 'application/json' } });

/** The float64 reference of the exact answer: phi from the checkpoint's own backbone, then the head in float64. */
async function reference(model: string) {
  const checkpoint = await loadCheckpoint(join(server.modelsDir, model));
  const tower = await ImageTower.create(checkpoint.backbone, checkpoint.manifest.input, { provider: 'cpu', threads: 1 }, 1 << 20);
  try {
    const phi = Array.from(await tower.embed(await tower.preprocess([png]), 1));
    const { mean, std } = referenceMarginals(checkpoint.manifest.head, checkpoint.weights, phi);
    return mean.map((m, k) => referenceSigmoidGaussian(m, std[k]));
  } finally {
    await tower.release();
  }
}

describe('estimator=exact', () => {
  test('the default of sigmoid heads: the float64 reference per class, no samples, stdError 0', async () => {
    for (const model of [SIGMOID_HETXL, SIGMOID_HET]) {
      const res = await predictive(model, { seed: 9 });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.estimator, 'exact');
      assert.equal(body.samples, undefined, 'exact draws no samples');
      assert.equal(body.seed, undefined);
      const expected = await reference(model);
      // float32 marginals (one product) and float32 on the wire: 2e-6.
      for (let k = 0; k < K; k++) {
        const what = `${model} class ${k}`;
        assert.ok(Math.abs(body.probabilities[k] - expected[k].probability) <= 2e-6, `${what} probability ${body.probabilities[k]} vs ${expected[k].probability}`);
        assert.ok(Math.abs(body.std[k] - expected[k].std) <= 2e-6, `${what} std ${body.std[k]} vs ${expected[k].std}`);
        assert.ok(Math.abs(body.expectedBinaryEntropy[k] - expected[k].expectedBinaryEntropy) <= 2e-6, `${what} expected binary entropy`);
        assert.ok(Math.abs(body.binaryEntropy[k] - binaryEntropy(expected[k].probability)) <= 2e-6, `${what} binary entropy`);
        assert.equal(body.stdError[k], 0, `${what} stdError`);
      }
      assert.ok(Math.max(...body.std) > 0.02, `${model}: the noise should matter`);
      // Deterministic: the seed does not enter.
      assert.deepEqual((await predictive(model, { seed: 10 })).json().probabilities, body.probabilities);
    }
  });

  test('classify says which estimator ran; estimator=plain still runs MC, near the exact answer', async () => {
    const exact = (await server.app.inject({ method: 'POST', url: `/v1/models/${SIGMOID_HETXL}/classify`, ...(await multipart([{ data: png }], { topK: String(K) })) })).json();
    assert.equal(exact.estimator, 'exact');
    assert.ok(exact.predictions[0].classes.every((c: { stdError: number }) => c.stdError === 0));
    const res = await server.app.inject({ method: 'POST', url: `/v1/models/${SIGMOID_HETXL}/classify?estimator=plain&samples=1000&topK=${K}`, ...(await multipart([{ data: png }])) });
    assert.equal(res.statusCode, 200, res.body);
    const mc = res.json();
    assert.equal(mc.estimator, 'plain');
    assert.equal(mc.samples, 1000);
    for (const c of mc.predictions[0].classes) {
      assert.ok(c.stdError > 0);
      const e = exact.predictions[0].classes.find((x: { index: number }) => x.index === c.index);
      assert.ok(Math.abs(c.probability - e.probability) <= 4.5 * c.stdError + 1e-6, `class ${c.index}: MC ${c.probability} +- ${c.stdError}, exact ${e.probability}`);
    }
  });
});

describe('estimator=candidates', () => {
  test('a flat predictive falls back to the full product: the plain answer, with the fallback said', async () => {
    const res = await predictive(SOFTMAX, { estimator: 'candidates', tolerance: 0.01, samples: 300, seed: 2 });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.estimator, 'candidates');
    assert.equal(body.samples, 300);
    assert.deepEqual(body.candidates, { count: K, bound: 0, fallback: true });
    const plain = (await predictive(SOFTMAX, { estimator: 'plain', samples: 300, seed: 2 })).json();
    assert.deepEqual(body.probabilities, plain.probabilities);
    assert.deepEqual(body.std, plain.std);
    assert.equal(plain.candidates, undefined, 'other estimators report no candidates');
    const classify = (await server.app.inject({ method: 'POST', url: `/v1/models/${SOFTMAX}/classify?estimator=candidates&tolerance=0.01&samples=300&seed=2`, ...(await multipart([{ data: png }])) })).json();
    assert.deepEqual(classify.predictions[0].candidates, { count: K, bound: 0, fallback: true });
  });

  test('tolerance: out of range is 400 TOLERANCE_OUT_OF_RANGE, with another estimator 400 INVALID_OPTION, in every form', async () => {
    for (const tolerance of [0, 0.6, -0.1]) {
      const res = await predictive(SOFTMAX, { estimator: 'candidates', tolerance });
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, 'TOLERANCE_OUT_OF_RANGE');
      assert.match(res.json().message, /tolerance must be above 0 and at most 0.5/);
    }
    const query = await predictive(SOFTMAX, {}, '?estimator=candidates&tolerance=0.75');
    assert.equal(query.json().code, 'TOLERANCE_OUT_OF_RANGE');
    const text = await server.app.inject({ method: 'POST', url: `/v1/models/${SOFTMAX}/classify`, ...(await multipart([{ data: png }], { estimator: 'candidates', tolerance: '1e-3' })) });
    assert.equal(text.json().code, 'INVALID_OPTION', 'decimal notation only, as for threshold');
    const other = await predictive(SOFTMAX, { estimator: 'plain', tolerance: 0.01 });
    assert.equal(other.statusCode, 400);
    assert.equal(other.json().code, 'INVALID_OPTION');
    assert.match(other.json().message, /option 'tolerance' applies to estimator=candidates only, not plain/);
  });
});

test("a model's details list the estimators it takes in mode mc, its default first", async () => {
  const estimators = async (model: string) => (await server.app.inject({ method: 'GET', url: `/v1/models/${model}` })).json().estimators;
  assert.deepEqual(await estimators(SIGMOID_HETXL), ['exact', 'plain', 'antithetic', 'sobol']);
  assert.deepEqual(await estimators(SIGMOID_HET), ['exact', 'plain', 'antithetic', 'sobol']);
  assert.deepEqual(await estimators(SOFTMAX), ['plain', 'antithetic', 'sobol', 'candidates', 'control']);
  assert.deepEqual(await estimators(SOFTMAX_HET), ['plain', 'antithetic', 'sobol', 'control']);
  assert.deepEqual(await estimators(SIGMOID_DET), [], 'no mc, no estimator');
});

describe('estimator=control', () => {
  test('softmax het and het-xl: an answer that sums to 1, said in the response, the same for the same seed, near plain MC', async () => {
    for (const model of [SOFTMAX, SOFTMAX_HET]) {
      const res = await predictive(model, { estimator: 'control', samples: 400, seed: 3 });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.estimator, 'control');
      assert.equal(body.samples, 400);
      assert.ok(Math.abs(body.probabilities.reduce((a: number, b: number) => a + b, 0) - 1) < 1e-5);
      assert.deepEqual((await predictive(model, { estimator: 'control', samples: 400, seed: 3 })).json().probabilities, body.probabilities);
      const plain = (await predictive(model, { estimator: 'plain', samples: 1000, seed: 4 })).json();
      for (let k = 0; k < K; k++) {
        const se = Math.hypot(plain.stdError[k], body.stdError[k]);
        assert.ok(Math.abs(body.probabilities[k] - plain.probabilities[k]) <= 4.5 * se + 1e-4, `${model} class ${k}: control ${body.probabilities[k]} vs plain ${plain.probabilities[k]} (se ${se})`);
      }
      const classify = (await server.app.inject({ method: 'POST', url: `/v1/models/${model}/classify?estimator=control&samples=400&seed=3`, ...(await multipart([{ data: png }])) })).json();
      assert.equal(classify.estimator, 'control');
    }
  });

  test('a precision target with control and with candidates: stops early under the target, with the answer of that many samples', async () => {
    for (const [model, estimator] of [[SOFTMAX, 'control'], [SOFTMAX_HET, 'control'], [SOFTMAX, 'candidates']] as const) {
      const what = `${model} ${estimator}`;
      const res = await predictive(model, { estimator, samples: 1000, seed: 3, targetStdError: 0.02 });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.ok(body.samplesUsed < 1000, `${what}: samples used ${body.samplesUsed}`);
      assert.ok(body.stdErrorReached <= 0.02, `${what}: ${body.stdErrorReached}`);
      // The target applies to every class predictive reports (all K here).
      assert.equal(body.stdErrorReached, Math.max(...body.stdError), what);
      const fixed = (await predictive(model, { estimator, samples: body.samplesUsed, seed: 3 })).json();
      body.probabilities.forEach((p: number, k: number) => assert.ok(Math.abs(p - fixed.probabilities[k]) <= 1e-6, `${what} class ${k}: ${p} vs ${fixed.probabilities[k]}`));
    }
    const exact = await predictive(SIGMOID_HETXL, { estimator: 'exact', targetStdError: 0.01 });
    assert.equal(exact.statusCode, 400);
    assert.match(exact.json().message, /option 'targetStdError' applies to the sampling estimators \(plain, antithetic, sobol, candidates, control\), not exact/);
  });
});

describe('estimators that do not apply: 400 INVALID_OPTION naming the option and what applies', () => {
  const refusals: [string, string, RegExp][] = [
    [SOFTMAX, 'exact', /option 'estimator' exact applies to sigmoid-link het and het-xl classifiers only; model softmax-het-xl \(softmax, het-xl\) takes plain, antithetic/],
    [SIGMOID_DET, 'exact', /option 'estimator' exact applies to sigmoid-link het and het-xl classifiers only; model sigmoid-det \(sigmoid, det\) takes plain/],
    [SIGMOID_HETXL, 'candidates', /option 'estimator' candidates applies to softmax-link het-xl classifiers only; model sigmoid-het-xl \(sigmoid, het-xl\) takes exact, plain/],
    [SOFTMAX_HET, 'candidates', /option 'estimator' candidates applies to softmax-link het-xl classifiers only; model softmax-het \(softmax, het\) takes plain/],
    [SIGMOID_HETXL, 'control', /option 'estimator' control applies to softmax-link het and het-xl classifiers only; model sigmoid-het-xl \(sigmoid, het-xl\) takes exact, plain/],
    [SIGMOID_DET, 'control', /option 'estimator' control applies to softmax-link het and het-xl classifiers only; model sigmoid-det \(sigmoid, det\) takes plain/],
  ];
  for (const [model, estimator, message] of refusals) {
    test(`${estimator} on ${model}`, async () => {
      for (const res of [
        await predictive(model, { estimator }),
        await predictive(model, {}, `?estimator=${estimator}`),
        await server.app.inject({ method: 'POST', url: `/v1/models/${model}/classify`, ...(await multipart([{ data: png }], { estimator })) }),
      ]) {
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, 'INVALID_OPTION');
        assert.match(res.json().message, message);
      }
    });
  }

  test('an unknown estimator in a multipart field lists those of the model (JSON and the query string meet the schema first: INVALID_REQUEST)', async () => {
    const res = await server.app.inject({ method: 'POST', url: `/v1/models/${SIGMOID_HETXL}/classify`, ...(await multipart([{ data: png }], { estimator: 'quadrature' })) });
    assert.equal(res.statusCode, 400, res.body);
    assert.equal(res.json().code, 'INVALID_OPTION');
    assert.match(res.json().message, /option 'estimator' must be one of exact, plain, antithetic/);
    assert.equal((await predictive(SIGMOID_HETXL, { estimator: 'quadrature' })).json().code, 'INVALID_REQUEST');
  });

  test('the server keeps serving', async () => {
    assert.equal((await predictive(SIGMOID_HETXL, {})).statusCode, 200);
  });
});
