// targetStdError over HTTP: a stopped answer equals the plain answer at samples = samplesUsed and
// reports the precision it reached; same request, same stop; and bad targets are 400s naming the
// option.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { multipart, startTestServer, testPng, type TestServer } from '../helpers/app.ts';

const MODEL = 'softmax-het-xl';
const DET = 'softmax-det';
const WIDE = 'het-xl-r65';
let server: TestServer;
let png: Buffer;

before(async () => {
  server = await startTestServer(async (dir) => {
    await makeTinyCheckpoint(dir, { name: MODEL, type: 'het-xl' });
    await makeTinyCheckpoint(dir, { name: DET, type: 'det' });
    await makeTinyCheckpoint(dir, { name: WIDE, type: 'het-xl', R: 65 });
  });
  png = await testPng(8, 8, 4);
});
after(() => server.close());

const post = (route: string, body: Record<string, unknown>, query = '', model = MODEL) =>
  server.app.inject({ method: 'POST', url: `/v1/models/${model}/${route}${query}`, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const classify = (body: Record<string, unknown>, query = '', model = MODEL) => post('classify', { images: [png.toString('base64')], ...body }, query, model);

for (const estimator of ['plain', 'antithetic', 'sobol']) {
  test(`classify, ${estimator}: stops under the target, with the answer of samples = samplesUsed`, async () => {
    const res = await classify({ samples: 1000, seed: 3, estimator, targetStdError: 0.02, topK: 2 });
    assert.equal(res.statusCode, 200, res.body);
    const [stopped] = res.json().predictions;
    assert.ok(stopped.samplesUsed >= 64 && stopped.samplesUsed < 1000, `samplesUsed ${stopped.samplesUsed}`);
    assert.ok(stopped.stdErrorReached <= 0.02, `stdErrorReached ${stopped.stdErrorReached}`);
    assert.equal(stopped.stdErrorReached, Math.max(...stopped.classes.map((c: { stdError: number }) => c.stdError)));
    const fixed = await classify({ samples: stopped.samplesUsed, seed: 3, estimator, topK: 2 });
    const [plain] = fixed.json().predictions;
    assert.equal(plain.samplesUsed, undefined, 'no target, no samplesUsed');
    for (const [i, c] of stopped.classes.entries()) {
      assert.equal(c.index, plain.classes[i].index);
      assert.ok(Math.abs(c.probability - plain.classes[i].probability) <= 1e-6, `${c.probability} vs ${plain.classes[i].probability}`);
      assert.ok(Math.abs(c.stdError - plain.classes[i].stdError) <= 1e-7);
    }
    const again = await classify({ samples: 1000, seed: 3, estimator, targetStdError: 0.02, topK: 2 });
    assert.deepEqual(again.json(), res.json(), 'same request, same stop and answer');
  });
}

test('predictive: the target applies to every reported probability; the cap defaults to the largest allowed', async () => {
  const all = await post('predictive', { image: png.toString('base64'), seed: 1, targetStdError: 0.02 });
  assert.equal(all.statusCode, 200, all.body);
  const body = all.json();
  assert.equal(body.samples, 1000, "the cap: the model maximum (the tiny checkpoint's mc.maxSamples)");
  assert.ok(body.samplesUsed < 1000);
  assert.equal(body.stdErrorReached, Math.max(...body.stdError));
  assert.ok(body.stdErrorReached <= 0.02);
  const top1 = await post('predictive', { image: png.toString('base64'), seed: 1, targetStdError: 0.02, encoding: 'top-n', topN: 1 });
  assert.ok(top1.json().samplesUsed <= body.samplesUsed, 'one class needs at most the samples all classes need');
});

test('multipart and query string: targetStdError in decimal notation', async () => {
  const form = await multipart([{ data: png }], { targetStdError: '0.05', seed: '2' });
  const res = await server.app.inject({ method: 'POST', url: `/v1/models/${MODEL}/classify`, ...form });
  assert.equal(res.statusCode, 200, res.body);
  assert.ok(res.json().predictions[0].samplesUsed >= 64);
  const query = await classify({}, '?targetStdError=0.05&seed=2');
  assert.equal(query.statusCode, 200, query.body);
  assert.equal(query.json().predictions[0].samplesUsed, res.json().predictions[0].samplesUsed);
});

test('bad targets, and sobol beyond its 64 dimensions: 400 naming the option', async () => {
  const cases: [Record<string, unknown>, string, RegExp, string?, string?][] = [
    [{ targetStdError: 0 }, 'TARGET_STD_ERROR_OUT_OF_RANGE', /targetStdError must be above 0 and at most 0.5/],
    [{ targetStdError: 0.6 }, 'TARGET_STD_ERROR_OUT_OF_RANGE', /targetStdError/],
    [{ targetStdError: -0.1 }, 'TARGET_STD_ERROR_OUT_OF_RANGE', /targetStdError/],
    [{ targetStdError: '0.01' }, 'INVALID_OPTION', /targetStdError/],
    [{ targetStdError: 0.01, mode: 'mean' }, 'INVALID_OPTION', /'targetStdError' applies to mode 'mc' only/],
    [{}, 'INVALID_OPTION', /targetStdError/, '?targetStdError=1e-3'],
    [{ targetStdError: 0.01 }, 'INVALID_OPTION', /targetStdError/, '', DET],
    [{ estimator: 'sobol' }, 'INVALID_OPTION', /'estimator' sobol takes at most 64 noise factors; model het-xl-r65 has R = 65/, '', WIDE],
  ];
  for (const [body, code, message, query = '', model = MODEL] of cases) {
    const res = await classify(body, query, model);
    assert.equal(res.statusCode, 400, `${JSON.stringify(body)} ${query}: ${res.body}`);
    assert.equal(res.json().code, code, res.body);
    assert.match(res.json().message, message);
  }
});
