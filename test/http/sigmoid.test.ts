// Sigmoid (multi-label) heads, diagonal-only heads and include=logits over HTTP with `inject`:
// the response fields of docs/method.md, checked against float64 formulas written here, and the
// 400s of bad threshold / include values while the server keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { multipart, startTestServer, testPng, type TestServer } from '../helpers/app.ts';

const SIGMOID = 'tiny-sigmoid';
const SIGMOID_R0 = 'tiny-sigmoid-r0';
const SIGMOID_DET = 'tiny-sigmoid-det';
const SOFTMAX = 'tiny-softmax';
const SOFTMAX_R0 = 'tiny-softmax-r0';
const K = 5;
const TAU = 0.7;

let server: TestServer;
let png: Buffer;

before(async () => {
  server = await startTestServer(async (dir) => {
    await makeTinyCheckpoint(dir, { name: SIGMOID, type: 'het-xl', covariance: 'param-efficient', tau: TAU, link: 'sigmoid' });
    await makeTinyCheckpoint(dir, { name: SIGMOID_R0, type: 'het', covariance: 'full', R: 0, link: 'sigmoid' });
    await makeTinyCheckpoint(dir, { name: SIGMOID_DET, type: 'det', tau: TAU, link: 'sigmoid' });
    await makeTinyCheckpoint(dir, { name: SOFTMAX, type: 'het-xl', covariance: 'full', tau: TAU });
    await makeTinyCheckpoint(dir, { name: SOFTMAX_R0, type: 'het-xl', covariance: 'param-efficient', R: 0 });
  });
  png = await testPng(8, 8, 1);
});
after(() => server.close());

const json = (url: string, body: unknown) =>
  server.app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const image = () => png.toString('base64');

/** -p ln p - (1 - p) ln(1 - p), float64, from the definition. */
const h = (p: number) => (p > 0 ? -p * Math.log(p) : 0) + (p < 1 ? -(1 - p) * Math.log(1 - p) : 0);
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);
const near = (actual: number, expected: number, tolerance: number, what: string) =>
  assert.ok(Math.abs(actual - expected) <= tolerance, `${what}: ${actual} vs ${expected} (tolerance ${tolerance})`);

describe('sigmoid heads', () => {
  test('model metadata shows the link (softmax by default)', async () => {
    assert.equal((await server.app.inject({ url: `/v1/models/${SIGMOID}` })).json().head.link, 'sigmoid');
    assert.equal((await server.app.inject({ url: `/v1/models/${SOFTMAX}` })).json().head.link, 'softmax');
    assert.equal((await server.app.inject({ url: `/v1/models/${SIGMOID_R0}` })).json().head.R, 0);
  });

  test('predictive MC: per-class probability, std, standard error and binary entropies, their sums, the labels above threshold', async () => {
    const res = await json(`/v1/models/${SIGMOID}/predictive`, { image: image(), samples: 400, seed: 3, threshold: 0.3, estimator: 'plain' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.link, 'sigmoid');
    assert.equal(body.threshold, 0.3);
    for (const field of ['probabilities', 'std', 'stdError', 'binaryEntropy', 'expectedBinaryEntropy', 'mutualInformation']) assert.equal(body[field].length, K, field);
    const p: number[] = body.probabilities;
    for (let k = 0; k < K; k++) {
      near(body.binaryEntropy[k], h(p[k]), 1e-6, `h(p_hat) of class ${k}`);
      near(body.stdError[k], body.std[k] / Math.sqrt(400), 1e-7, `stdError of class ${k}`);
      near(body.mutualInformation[k], Math.max(body.binaryEntropy[k] - body.expectedBinaryEntropy[k], 0), 1e-12, `mutual information of class ${k}`);
      // Jensen: h is concave, so E h(q) <= h(E q).
      assert.ok(body.expectedBinaryEntropy[k] <= body.binaryEntropy[k] + 1e-6, `class ${k}: expected binary entropy above h(p_hat)`);
    }
    assert.deepEqual(Object.keys(body.statistics).sort(), ['binaryEntropySum', 'expectedBinaryEntropySum', 'maxProbability', 'mutualInformationSum']);
    near(body.statistics.binaryEntropySum, sum(body.binaryEntropy), 1e-9, 'binaryEntropySum');
    near(body.statistics.expectedBinaryEntropySum, sum(body.expectedBinaryEntropy), 1e-9, 'expectedBinaryEntropySum');
    near(body.statistics.mutualInformationSum, sum(body.mutualInformation), 1e-9, 'mutualInformationSum');
    near(body.statistics.maxProbability, Math.max(...p), 0, 'maxProbability');
    const above = p.map((v, k) => ({ k, v })).filter(({ v }) => v > 0.3).sort((a, b) => b.v - a.v || a.k - b.k);
    assert.deepEqual(body.aboveThreshold.map((c: { index: number }) => c.index), above.map((c) => c.k));
    assert.ok(Math.abs(sum(p) - 1) > 1e-3, 'sigmoid probabilities need not sum to 1');
  });

  test('classify: per-class binary statistics in the top-k, default threshold 0.5, no softmax statistics', async () => {
    const res = await json(`/v1/models/${SIGMOID}/classify`, { images: [image()], samples: 300, topK: K });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.link, 'sigmoid');
    assert.equal(body.threshold, 0.5);
    const [prediction] = body.predictions;
    for (const c of prediction.classes) {
      near(c.binaryEntropy, h(c.probability), 1e-6, `h of class ${c.index}`);
      assert.equal(typeof c.expectedBinaryEntropy, 'number');
      assert.equal(typeof c.mutualInformation, 'number');
    }
    assert.equal(prediction.statistics.predictiveEntropy, undefined);
    assert.equal(prediction.statistics.margin, undefined);
    assert.deepEqual(
      prediction.aboveThreshold,
      prediction.classes.filter((c: { probability: number }) => c.probability > 0.5).map(({ index, label, probability }: { index: number; label: string; probability: number }) => ({ index, label, probability })),
    );
  });

  test('mean mode with include=logits: probabilities are sigmoid(logits / tau), per class', async () => {
    for (const [model, tau] of [[SIGMOID, TAU], [SIGMOID_DET, TAU]] as const) {
      const res = await server.app.inject({ method: 'POST', url: `/v1/models/${model}/predictive?mode=mean&include=logits`, payload: JSON.stringify({ image: image() }), headers: { 'content-type': 'application/json' } });
      assert.equal(res.statusCode, 200, res.body);
      const body = res.json();
      assert.equal(body.logits.length, K);
      for (let k = 0; k < K; k++) near(body.probabilities[k], 1 / (1 + Math.exp(-body.logits[k] / tau)), 1e-6, `${model} class ${k}`);
      assert.equal(body.expectedBinaryEntropy, undefined, 'mean mode has no expected entropy');
      assert.deepEqual(Object.keys(body.statistics).sort(), ['binaryEntropySum', 'maxProbability']);
    }
  });

  test('a diagonal-only (R = 0) sigmoid head serves MC, multipart fields included', async () => {
    const form = await multipart([{ data: png }], { samples: '200', threshold: '0.25', include: 'logits', estimator: 'plain' });
    const res = await server.app.inject({ method: 'POST', url: `/v1/models/${SIGMOID_R0}/classify`, ...form });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.threshold, 0.25);
    assert.equal(body.predictions[0].logits.length, K);
    assert.ok(body.predictions[0].classes.some((c: { std: number }) => c.std > 0), 'the diagonal noise should spread the samples');
  });

  test('top-n encoding: remainingMass is the sum of the probabilities not listed', async () => {
    const full = (await json(`/v1/models/${SIGMOID}/predictive`, { image: image(), samples: 100 })).json();
    const top = (await json(`/v1/models/${SIGMOID}/predictive`, { image: image(), samples: 100, encoding: 'top-n', topN: 2 })).json();
    const listed = new Set(top.probabilities.indices);
    const rest = sum(full.probabilities.filter((_: number, k: number) => !listed.has(k)));
    near(top.probabilities.remainingMass, rest, 1e-6, 'remainingMass');
    assert.equal(top.binaryEntropy.length, 2);
  });
});

describe('softmax heads', () => {
  test('include=logits: mean-mode probabilities are softmax(logits / tau); MC results gain logits and keep their shape', async () => {
    const res = await json(`/v1/models/${SOFTMAX}/predictive`, { image: image(), mode: 'mean', include: 'logits' });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    const t = body.logits.map((u: number) => u / TAU);
    const z = sum(t.map((x: number) => Math.exp(x)));
    for (let k = 0; k < K; k++) near(body.probabilities[k], Math.exp(t[k]) / z, 1e-6, `class ${k}`);
    assert.equal(body.link, undefined);

    const mc = (await server.app.inject({ method: 'POST', url: `/v1/models/${SOFTMAX}/classify?include=logits`, payload: JSON.stringify({ images: [image(), image()], samples: 50 }), headers: { 'content-type': 'application/json' } })).json();
    assert.equal(mc.predictions.length, 2);
    for (const p of mc.predictions) assert.deepEqual(p.logits, body.logits);
    assert.equal(typeof mc.predictions[0].statistics.predictiveEntropy, 'number');
    assert.equal(mc.predictions[0].aboveThreshold, undefined);
  });

  test('f32-base64 logits decode to the json ones', async () => {
    const asJson = (await json(`/v1/models/${SOFTMAX}/predictive`, { image: image(), include: 'logits', samples: 20 })).json();
    const asB64 = (await json(`/v1/models/${SOFTMAX}/predictive`, { image: image(), include: 'logits', samples: 20, encoding: 'f32-base64' })).json();
    const bytes = Buffer.from(asB64.logits, 'base64');
    assert.deepEqual(Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, K)), asJson.logits);
  });

  test('without include, a softmax response has no logits and no sigmoid fields', async () => {
    const body = (await json(`/v1/models/${SOFTMAX}/classify`, { images: [image()], samples: 20 })).json();
    assert.deepEqual(Object.keys(body).sort(), ['estimator', 'mode', 'model', 'predictions', 'provider', 'samples', 'seed']);
    assert.deepEqual(Object.keys(body.predictions[0]).sort(), ['classes', 'statistics']);
  });

  test('a diagonal-only (R = 0) softmax head serves MC', async () => {
    const res = await json(`/v1/models/${SOFTMAX_R0}/predictive`, { image: image(), samples: 200 });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    near(sum(body.probabilities), 1, 1e-5, 'probabilities sum');
    assert.ok(body.statistics.mutualInformation > 0);
  });
});

describe('bad threshold and include values', () => {
  const cases: { what: string; send: () => Promise<{ statusCode: number; json(): { code: string } }>; code: string }[] = [
    { what: 'threshold above 1 (JSON)', send: () => json(`/v1/models/${SIGMOID}/classify`, { images: [image()], threshold: 1.5 }), code: 'THRESHOLD_OUT_OF_RANGE' },
    { what: 'threshold below 0 (query)', send: () => json(`/v1/models/${SIGMOID}/predictive?threshold=-0.1`, { image: image() }), code: 'INVALID_OPTION' },
    { what: 'threshold 2 (query)', send: () => json(`/v1/models/${SIGMOID}/predictive?threshold=2`, { image: image() }), code: 'THRESHOLD_OUT_OF_RANGE' },
    { what: 'threshold not a number (query)', send: () => json(`/v1/models/${SIGMOID}/classify?threshold=abc`, { images: [image()] }), code: 'INVALID_OPTION' },
    { what: 'threshold as a JSON string', send: () => json(`/v1/models/${SIGMOID}/classify`, { images: [image()], threshold: '0.5' }), code: 'INVALID_OPTION' },
    {
      what: 'threshold not a number (multipart)',
      send: async () => server.app.inject({ method: 'POST', url: `/v1/models/${SIGMOID}/classify`, ...(await multipart([{ data: png }], { threshold: '1e-1' })) }),
      code: 'INVALID_OPTION',
    },
    { what: 'unknown include (JSON)', send: () => json(`/v1/models/${SOFTMAX}/classify`, { images: [image()], include: 'gradients' }), code: 'INVALID_REQUEST' },
    { what: 'unknown include (query)', send: () => json(`/v1/models/${SOFTMAX}/predictive?include=everything`, { image: image() }), code: 'INVALID_REQUEST' },
    {
      what: 'unknown include (multipart)',
      send: async () => server.app.inject({ method: 'POST', url: `/v1/models/${SOFTMAX}/predictive`, ...(await multipart([{ data: png }], { include: 'locs' })) }),
      code: 'INVALID_OPTION',
    },
  ];
  for (const { what, send, code } of cases) {
    test(`${what}: 400 ${code}, and the server keeps serving`, async () => {
      const res = await send();
      assert.equal(res.statusCode, 400);
      assert.equal(res.json().code, code);
      assert.equal((await json(`/v1/models/${SIGMOID}/classify`, { images: [image()], samples: 10 })).statusCode, 200);
    });
  }
});
