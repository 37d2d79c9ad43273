// Classify and predictive served over HTTP at the paper's K = 29,593 classes (issue #4), with the
// compact encodings of the predictive. D = 64 keeps the generated checkpoint and the run small;
// K is what the encodings and the response sizes depend on.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, testPng, type TestServer } from '../helpers/app.ts';

const K = 29593;
const NAME = 'het-xl-k29593';
let server: TestServer;
let image: string;

before(async () => {
  server = await startTestServer(async (dir) => {
    await makeTinyCheckpoint(dir, { name: NAME, K, D: 64, R: 8, mc: { defaultSamples: 20, maxSamples: 200 } });
  });
  image = (await testPng(4, 4, 3)).toString('base64');
});
after(() => server.close());

const post = (path: string, body: Record<string, unknown>) =>
  server.app.inject({ method: 'POST', url: `/v1/models/${NAME}/${path}`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

function decodeF32(base64: string): Float32Array {
  const bytes = Buffer.from(base64, 'base64');
  // Little-endian float32, as documented; DataView makes the byte order explicit.
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  return Float32Array.from({ length: bytes.byteLength / 4 }, (_, i) => view.getFloat32(4 * i, true));
}

test('classify at K = 29,593: top-k classes and statistics, plain and antithetic', async () => {
  for (const estimator of ['plain', 'antithetic']) {
    const res = await post('classify', { images: [image, image], samples: 16, topK: 3, estimator });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.estimator, estimator);
    assert.equal(body.predictions.length, 2);
    const [a, b] = body.predictions;
    assert.deepEqual(a, b, 'same image, same seed, same answer');
    assert.equal(a.classes.length, 3);
    assert.match(a.classes[0].label, /^class_\d{5}$/);
    assert.ok(a.classes[0].probability >= a.classes[1].probability);
    assert.ok(a.statistics.predictiveEntropy > 0 && a.statistics.predictiveEntropy <= Math.log(K));
  }
});

test('predictive at K = 29,593: json, f32-base64 and top-n carry the same numbers', async () => {
  const options = { image, samples: 16, seed: 5 };
  const json = (await post('predictive', { ...options, encoding: 'json' })).json();
  const compact = await post('predictive', { ...options, encoding: 'f32-base64' });
  const top = (await post('predictive', { ...options, encoding: 'top-n', topN: 10 })).json();
  assert.equal(compact.statusCode, 200, compact.body);
  const b64 = compact.json();

  assert.equal(json.probabilities.length, K);
  const probs = decodeF32(b64.probabilities);
  assert.equal(probs.length, K);
  assert.deepEqual(Array.from(probs), json.probabilities, 'base64 decodes to the JSON numbers');
  assert.deepEqual(Array.from(decodeF32(b64.std)), json.std);
  assert.ok(Math.abs(probs.reduce((a, p) => a + p, 0) - 1) < 1e-4);
  // About 4/3 x 4 bytes per class instead of ~20 characters per JSON number.
  assert.ok(compact.body.length < 0.5 * JSON.stringify(json).length, `${compact.body.length} vs ${JSON.stringify(json).length} bytes`);

  const order = Array.from(probs.keys()).sort((i, j) => probs[j] - probs[i] || i - j).slice(0, 10);
  assert.equal(top.encoding, 'top-n');
  assert.deepEqual(top.probabilities.indices, order);
  assert.deepEqual(top.probabilities.values, order.map((k) => probs[k]));
  assert.deepEqual(top.probabilities.labels, order.map((k) => `class_${String(k).padStart(5, '0')}`));
  const listed = order.reduce((a, k) => a + probs[k], 0);
  assert.ok(Math.abs(top.probabilities.remainingMass - (1 - listed)) < 1e-9);
  assert.deepEqual(top.std, order.map((k) => json.std[k]));
  assert.deepEqual(top.stdError, order.map((k) => json.stdError[k]));
  assert.deepEqual(top.statistics, json.statistics);
});

test('predictive options: topN out of range and an unknown estimator are 400s', async () => {
  const tooMany = await post('predictive', { image, encoding: 'top-n', topN: K + 1 });
  assert.equal(tooMany.statusCode, 400);
  assert.equal(tooMany.json().code, 'TOPN_OUT_OF_RANGE');
  const badEstimator = await post('classify', { images: [image], estimator: 'quasi' });
  assert.equal(badEstimator.statusCode, 400);
});
