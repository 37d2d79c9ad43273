// The HTTP surface end to end with `inject`: health, models, classify, predictive, and every
// kind of bad input getting a clear 4xx while the server keeps serving.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { multipart, startTestServer, testPng, type TestServer } from '../helpers/app.ts';

const HETXL = 'tiny-het-xl';
const DET = 'tiny-det';
const D = 6;
const K = 5;
const R = 3;

let server: TestServer;
let png: Buffer;
let png2: Buffer;

before(async () => {
  server = await startTestServer(
    async (dir) => {
      await makeTinyCheckpoint(dir, { name: HETXL, type: 'het-xl', covariance: 'param-efficient', tau: 0.7 });
      await makeTinyCheckpoint(dir, { name: DET, type: 'det' });
      // A checkpoint that lost its head weights must be refused without stopping the others.
      const broken = await makeTinyCheckpoint(dir, { name: 'broken', type: 'het', covariance: 'full' });
      await rm(path.join(broken, 'head.safetensors'));
    },
    { bodyLimitBytes: 64 * 1024, maxImagePixels: 256 * 256, maxImagesPerRequest: 4, maxSamples: 2000, maxTopK: 50 },
  );
  png = await testPng(8, 8, 1);
  png2 = await testPng(12, 6, 2);
});
after(() => server.close());

const json = (url: string, body: unknown, method: 'POST' = 'POST') =>
  server.app.inject({ method, url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const b64 = (b: Buffer) => b.toString('base64');
const sum = (a: number[]) => a.reduce((x, y) => x + y, 0);

describe('health and models', () => {
  test('liveness answers ok on both paths', async () => {
    for (const url of ['/healthz', '/v2/health/live']) {
      const res = await server.app.inject({ url });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { status: 'ok' });
    }
  });

  test('readiness (/readyz) is ready and shows the failed checkpoint with its file and problem', async () => {
    const res = await server.app.inject({ url: '/readyz' });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.status, 'ready');
    const broken = body.models.find((m: { name: string }) => m.name === 'broken');
    assert.equal(broken.status, 'failed');
    assert.equal(broken.error.file, 'broken/head.safetensors');
    assert.match(broken.error.problem, /missing|not found|no such/i);
  });

  test('the protocol readiness (/v2/health/ready) is strict: a failed checkpoint makes the server not ready', async () => {
    const res = await server.app.inject({ url: '/v2/health/ready' });
    assert.equal(res.statusCode, 503);
  });

  test('the listing has every folder with its status', async () => {
    const res = await server.app.inject({ url: '/v1/models' });
    assert.equal(res.statusCode, 200);
    const models = res.json().models as { name: string; status: string; K?: number; headType?: string }[];
    assert.deepEqual(models.map((m) => [m.name, m.status]), [['broken', 'failed'], [DET, 'ready'], [HETXL, 'ready']]);
    assert.equal(models[2].K, K);
    assert.equal(models[2].headType, 'het-xl');
  });

  test('model details report head, extra parameters, provider and defaults', async () => {
    const res = await server.app.inject({ url: `/v1/models/${HETXL}` });
    assert.equal(res.statusCode, 200);
    const m = res.json();
    assert.equal(m.head.type, 'het-xl');
    assert.equal(m.head.D, D);
    assert.equal(m.head.K, K);
    assert.equal(m.head.R, R);
    assert.equal(m.head.tau, 0.7);
    assert.equal(m.extraParameters, D * (2 * D + R + 3));
    assert.equal(m.provider, 'cpu');
    assert.deepEqual(m.defaults, { mode: 'mc', samples: 100, maxSamples: 1000, topK: 5, maxTopK: 5, seed: 0 });
    const det = (await server.app.inject({ url: `/v1/models/${DET}` })).json();
    assert.equal(det.extraParameters, 0);
    assert.equal(det.defaults.mode, 'mean');
  });

  test('labels, unknown model 404, failed model 503', async () => {
    const labels = await server.app.inject({ url: `/v1/models/${HETXL}/labels` });
    assert.equal(labels.statusCode, 200);
    assert.equal(labels.json().labels.length, K);
    const missing = await server.app.inject({ url: '/v1/models/nope' });
    assert.equal(missing.statusCode, 404);
    assert.equal(missing.json().code, 'MODEL_NOT_FOUND');
    const broken = await server.app.inject({ url: '/v1/models/broken/labels' });
    assert.equal(broken.statusCode, 503);
    assert.equal(broken.json().code, 'MODEL_UNAVAILABLE');
    assert.match(broken.json().message, /head\.safetensors/);
  });

  test('Swagger UI and the OpenAPI document are served', async () => {
    const ui = await server.app.inject({ url: '/docs/' });
    assert.equal(ui.statusCode, 200);
    assert.match(ui.body, /swagger/i);
    const doc = await server.app.inject({ url: '/docs/json' });
    assert.equal(doc.statusCode, 200);
    assert.ok(doc.json().paths['/v1/models/{name}/classify']);
  });
});

describe('classify and predictive', () => {
  test('mean mode: top-k sorted, probabilities agree with the full predictive distribution', async () => {
    const res = await json(`/v1/models/${HETXL}/classify`, { images: [b64(png)], mode: 'mean', topK: K });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.mode, 'mean');
    assert.equal(body.samples, undefined);
    const classes = body.predictions[0].classes as { index: number; probability: number; std?: number }[];
    assert.equal(classes.length, K);
    assert.ok(Math.abs(sum(classes.map((c) => c.probability)) - 1) < 1e-5);
    for (let i = 1; i < K; i++) assert.ok(classes[i - 1].probability >= classes[i].probability);
    assert.equal(classes[0].std, undefined);

    const full = (await json(`/v1/models/${HETXL}/predictive`, { image: b64(png), mode: 'mean' })).json();
    for (const c of classes) assert.equal(full.probabilities[c.index], c.probability);
    const stats = body.predictions[0].statistics;
    const p = full.probabilities as number[];
    const entropy = -sum(p.map((x) => (x > 0 ? x * Math.log(x) : 0)));
    assert.ok(Math.abs(stats.predictiveEntropy - entropy) < 1e-5);
    assert.ok(Math.abs(stats.maxProbability - classes[0].probability) < 1e-7);
    assert.ok(Math.abs(stats.margin - (classes[0].probability - classes[1].probability)) < 1e-6);
    assert.equal(stats.mutualInformation, undefined);
  });

  test('mc mode: seeded and reproducible, statistics consistent, std error = std / sqrt(S)', async () => {
    const request = { image: b64(png), mode: 'mc', samples: 400, seed: 7 };
    const a = (await json(`/v1/models/${HETXL}/predictive`, request)).json();
    const b = (await json(`/v1/models/${HETXL}/predictive`, request)).json();
    assert.deepEqual(a, b);
    const other = (await json(`/v1/models/${HETXL}/predictive`, { ...request, seed: 8 })).json();
    assert.notDeepEqual(a.probabilities, other.probabilities);
    assert.equal(a.samples, 400);
    assert.equal(a.seed, 7);
    assert.equal(a.K, K);
    assert.ok(Math.abs(sum(a.probabilities) - 1) < 1e-5);
    for (let k = 0; k < K; k++) assert.ok(Math.abs(a.stdError[k] - a.std[k] / Math.sqrt(400)) < 1e-7);
    const s = a.statistics;
    assert.ok(Math.abs(s.mutualInformation - (s.predictiveEntropy - s.expectedEntropy)) < 1e-6);
    assert.ok(s.mutualInformation >= 0);
    assert.ok(s.variationRatio >= 0 && s.variationRatio <= 1);
    // The MC predictive differs from the noise-free mean mode (the tiny model's noise is not negligible).
    const mean = (await json(`/v1/models/${HETXL}/predictive`, { image: b64(png), mode: 'mean' })).json();
    assert.ok(sum(a.probabilities.map((p: number, k: number) => Math.abs(p - mean.probabilities[k]))) > 1e-3);
  });

  test('f32-base64 encoding carries the same numbers as json', async () => {
    const request = { image: b64(png), samples: 50, seed: 3 };
    const asJson = (await json(`/v1/models/${HETXL}/predictive`, request)).json();
    const asB64 = (await json(`/v1/models/${HETXL}/predictive`, { ...request, encoding: 'f32-base64' })).json();
    const bytes = Buffer.from(asB64.probabilities, 'base64');
    const decoded = Array.from(new Float32Array(bytes.buffer, bytes.byteOffset, K));
    assert.deepEqual(decoded, asJson.probabilities);
  });

  test('classify in a batch gives each image the same answer as alone', async () => {
    const both = (await json(`/v1/models/${HETXL}/classify`, { images: [b64(png), b64(png2)], samples: 200 })).json();
    const alone = (await json(`/v1/models/${HETXL}/classify`, { images: [b64(png2)], samples: 200 })).json();
    assert.equal(both.predictions.length, 2);
    assert.equal(both.mode, 'mc');
    assert.equal(both.samples, 200);
    for (const [i, c] of alone.predictions[0].classes.entries()) {
      assert.ok(Math.abs(c.probability - both.predictions[1].classes[i].probability) < 1e-6);
    }
  });

  test('multipart: several file parts, options as fields or in the query string', async () => {
    const form = await multipart([{ data: png }, { data: png2 }], { mode: 'mc', samples: '200', seed: '0' });
    const res = await server.app.inject({ method: 'POST', url: `/v1/models/${HETXL}/classify?topK=2`, ...form });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.predictions.length, 2);
    assert.equal(body.predictions[0].classes.length, 2);
    const viaJson = (await json(`/v1/models/${HETXL}/classify`, { images: [b64(png), b64(png2)], samples: 200, topK: 2 })).json();
    assert.deepEqual(body.predictions, viaJson.predictions);
  });

  test('det models answer mean mode, and refuse mc', async () => {
    const ok = await json(`/v1/models/${DET}/classify`, { images: [b64(png)] });
    assert.equal(ok.statusCode, 200);
    assert.equal(ok.json().mode, 'mean');
    const mc = await json(`/v1/models/${DET}/classify`, { images: [b64(png)], mode: 'mc' });
    assert.equal(mc.statusCode, 400);
    assert.equal(mc.json().code, 'MODE_UNAVAILABLE');
  });
});

describe('bad input gets a clear 4xx and the server keeps serving', () => {
  const classify = `/v1/models/${HETXL}/classify`;
  const cases: { name: string; status: number; code: string; send: () => Promise<{ statusCode: number; json(): any }> }[] = [
    { name: 'not an image', status: 400, code: 'INVALID_IMAGE', send: () => json(classify, { images: [b64(Buffer.from('hello, this is text'))] }) },
    { name: 'truncated image', status: 400, code: 'INVALID_IMAGE', send: async () => json(classify, { images: [b64(png.subarray(0, Math.floor(png.length / 2)))] }) },
    { name: 'empty image part', status: 400, code: 'IMAGE_EMPTY', send: async () => server.app.inject({ method: 'POST', url: classify, ...(await multipart([{ data: Buffer.alloc(0) }])) }) },
    { name: 'empty JSON body', status: 400, code: 'EMPTY_BODY', send: () => server.app.inject({ method: 'POST', url: classify, headers: { 'content-type': 'application/json' } }) },
    { name: 'no body at all', status: 400, code: 'EMPTY_BODY', send: () => server.app.inject({ method: 'POST', url: classify }) },
    { name: 'JSON without images', status: 400, code: 'INVALID_REQUEST', send: () => json(classify, { mode: 'mean' }) },
    { name: 'multipart without a file', status: 400, code: 'NO_IMAGES', send: async () => server.app.inject({ method: 'POST', url: classify, ...(await multipart([], { mode: 'mean' })) }) },
    { name: 'JSON body over the byte limit', status: 413, code: 'BODY_TOO_LARGE', send: () => json(classify, { images: [b64(Buffer.alloc(80 * 1024, 1))] }) },
    { name: 'multipart file over the byte limit', status: 413, code: 'BODY_TOO_LARGE', send: async () => server.app.inject({ method: 'POST', url: classify, ...(await multipart([{ data: Buffer.alloc(70 * 1024, 7) }])) }) },
    { name: 'image over the pixel limit', status: 413, code: 'IMAGE_TOO_LARGE', send: async () => json(classify, { images: [b64(await testPng(300, 300))] }) },
    { name: 'unsupported content type', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', send: () => server.app.inject({ method: 'POST', url: classify, payload: 'x', headers: { 'content-type': 'text/plain' } }) },
    { name: 'raw image body', status: 415, code: 'UNSUPPORTED_MEDIA_TYPE', send: () => server.app.inject({ method: 'POST', url: classify, payload: png, headers: { 'content-type': 'image/png' } }) },
    { name: 'unknown model', status: 404, code: 'MODEL_NOT_FOUND', send: () => json('/v1/models/nope/classify', { images: [b64(png)] }) },
    { name: 'failed model', status: 503, code: 'MODEL_UNAVAILABLE', send: () => json('/v1/models/broken/classify', { images: [b64(png)] }) },
    { name: 'samples 0', status: 400, code: 'INVALID_REQUEST', send: () => json(classify, { images: [b64(png)], samples: 0 }) },
    { name: 'samples over the model maximum', status: 400, code: 'SAMPLES_OUT_OF_RANGE', send: () => json(classify, { images: [b64(png)], samples: 1001 }) },
    { name: 'samples not a number (multipart)', status: 400, code: 'INVALID_OPTION', send: async () => server.app.inject({ method: 'POST', url: classify, ...(await multipart([{ data: png }], { samples: 'many' })) }) },
    { name: 'topK over K', status: 400, code: 'TOPK_OUT_OF_RANGE', send: () => json(classify, { images: [b64(png)], topK: K + 1 }) },
    { name: 'topK 0 in the query', status: 400, code: 'INVALID_REQUEST', send: () => json(`${classify}?topK=0`, { images: [b64(png)] }) },
    { name: 'unknown mode', status: 400, code: 'INVALID_REQUEST', send: () => json(classify, { images: [b64(png)], mode: 'fast' }) },
    { name: 'unknown field', status: 400, code: 'INVALID_REQUEST', send: () => json(classify, { images: [b64(png)], temperature: 2 }) },
    { name: 'option in query and body', status: 400, code: 'CONFLICTING_OPTION', send: () => json(`${classify}?seed=1`, { images: [b64(png)], seed: 2 }) },
    { name: 'too many images (JSON)', status: 400, code: 'TOO_MANY_IMAGES', send: () => json(classify, { images: Array(5).fill(b64(png)) }) },
    { name: 'too many images (multipart)', status: 400, code: 'TOO_MANY_IMAGES', send: async () => server.app.inject({ method: 'POST', url: classify, ...(await multipart(Array(5).fill({ data: png }))) }) },
    { name: 'two images to predictive', status: 400, code: 'TOO_MANY_IMAGES', send: async () => server.app.inject({ method: 'POST', url: `/v1/models/${HETXL}/predictive`, ...(await multipart([{ data: png }, { data: png }])) }) },
    { name: 'malformed JSON', status: 400, code: 'INVALID_JSON', send: () => server.app.inject({ method: 'POST', url: classify, payload: '{"images": [', headers: { 'content-type': 'application/json' } }) },
    { name: 'malformed base64', status: 400, code: 'INVALID_BASE64', send: () => json(classify, { images: ['iVBOR*w0K!!'] }) },
    { name: 'broken multipart body', status: 400, code: 'BAD_MULTIPART', send: () => server.app.inject({ method: 'POST', url: classify, payload: '--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\nabc', headers: { 'content-type': 'multipart/form-data; boundary=xyz' } }) },
    { name: 'unknown route', status: 404, code: 'NOT_FOUND', send: () => server.app.inject({ url: '/v1/nothing' }) },
  ];

  for (const c of cases) {
    test(`${c.name} -> ${c.status} ${c.code}`, async () => {
      const res = await c.send();
      assert.equal(res.statusCode, c.status, JSON.stringify(res.json()));
      const body = res.json();
      assert.equal(body.code, c.code);
      assert.equal(body.statusCode, c.status);
      assert.ok(typeof body.message === 'string' && body.message.length > 0);
    });
  }

  test('after all of that the server still serves', async () => {
    const res = await json(`/v1/models/${HETXL}/classify`, { images: [b64(png)], samples: 10 });
    assert.equal(res.statusCode, 200);
    assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 200);
  });
});

describe('integer options are decimal digits, in the query string and in multipart fields', () => {
  const classify = `/v1/models/${HETXL}/classify`;
  const query = (q: string) => json(`${classify}?${q}`, { images: [b64(png)] });
  const fields = async (f: Record<string, string>) => server.app.inject({ method: 'POST', url: classify, ...(await multipart([{ data: png }], f)) });
  // Each was once read as a number: 0x10 as 16, 1e3 as 1000, +5 and ' 5' as 5, -0 as 0, 5.0 as 5.
  const loose: [string, string][] = [['samples', '0x10'], ['seed', '1e3'], ['samples', '+5'], ['seed', '-0'], ['topK', ' 5'], ['samples', '5.0'], ['seed', '']];

  for (const [name, value] of loose) {
    test(`${name}=${JSON.stringify(value)} -> 400 INVALID_OPTION naming the option`, async () => {
      for (const res of [await query(`${name}=${encodeURIComponent(value)}`), await fields({ [name]: value })]) {
        assert.equal(res.statusCode, 400, res.body);
        assert.equal(res.json().code, 'INVALID_OPTION');
        assert.match(res.json().message, new RegExp(`option '${name}' must be a non-negative integer in decimal digits`));
      }
    });
  }

  test('010 is ten', async () => {
    for (const res of [await query('samples=010&topK=02'), await fields({ samples: '010', topK: '02' })]) {
      assert.equal(res.statusCode, 200, res.body);
      assert.equal(res.json().samples, 10);
      assert.equal(res.json().predictions[0].classes.length, 2);
    }
  });

  test('huge values meet the range checks', async () => {
    const huge = '9'.repeat(20);
    const ranges: [Promise<{ statusCode: number; json(): any }>, string][] = [
      [query(`samples=${huge}`), 'SAMPLES_OUT_OF_RANGE'],
      [query(`topK=${huge}`), 'TOPK_OUT_OF_RANGE'],
      [fields({ samples: huge }), 'SAMPLES_OUT_OF_RANGE'],
      [fields({ seed: huge }), 'SEED_OUT_OF_RANGE'],
      [fields({ topK: huge }), 'TOPK_OUT_OF_RANGE'],
    ];
    for (const [send, code] of ranges) assert.equal((await send).json().code, code);
  });

  test('a JSON body: numbers are JSON numbers (1e3 is 1000), a string or a boolean is refused', async () => {
    const raw = (options: string) =>
      server.app.inject({ method: 'POST', url: classify, payload: `{"images": ["${b64(png)}"], ${options}}`, headers: { 'content-type': 'application/json' } });
    const exponent = await raw('"samples": 1e3');
    assert.equal(exponent.statusCode, 200, exponent.body);
    assert.equal(exponent.json().samples, 1000);
    for (const options of ['"samples": "16"', '"seed": "7"', '"topK": true']) {
      const res = await raw(options);
      assert.equal(res.statusCode, 400, options);
      assert.equal(res.json().code, 'INVALID_OPTION');
      assert.match(res.json().message, /must be a JSON number/);
    }
  });

  test('a long bad value is clipped in the message', async () => {
    const res = await fields({ samples: 'x'.repeat(900) });
    assert.equal(res.json().code, 'INVALID_OPTION');
    assert.ok(res.json().message.length < 250, res.json().message);
  });
});

describe('startup', () => {
  test('an empty or missing MODELS_DIR leaves the server live but not ready', async () => {
    const empty = await startTestServer(async () => {});
    try {
      assert.equal((await empty.app.inject({ url: '/healthz' })).statusCode, 200);
      const ready = await empty.app.inject({ url: '/readyz' });
      assert.equal(ready.statusCode, 503);
      assert.equal(ready.json().status, 'unavailable');
    } finally {
      await empty.close();
    }
  });

  test('a malformed manifest is refused with its file named', async () => {
    const s = await startTestServer(async (dir) => {
      await makeTinyCheckpoint(dir, { name: 'good', type: 'det' });
      await mkdir(path.join(dir, 'bad'));
      await writeFile(path.join(dir, 'bad', 'manifest.json'), '{ not json');
    });
    try {
      const models = (await s.app.inject({ url: '/v1/models' })).json().models;
      const bad = models.find((m: { name: string }) => m.name === 'bad');
      assert.equal(bad.status, 'failed');
      assert.equal(bad.error.file, 'bad/manifest.json');
      assert.equal((await s.app.inject({ url: '/readyz' })).statusCode, 200);
    } finally {
      await s.close();
    }
  });
});
