// Nothing a client sends may leak memory: after a warm-up, hundreds of good and bad requests must
// leave the JS heap where it was. The heap (not RSS) is measured after forced collections, so
// ORT's and libvips' own arenas, which grow to a plateau by design, do not blur the result.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeTinyCheckpoint } from './helpers/checkpoints.ts';
import { multipart, startTestServer, testPng, type TestServer } from './helpers/app.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: TestServer;
let png: Buffer;
before(async () => {
  server = await startTestServer(async (dir) => {
    await makeTinyCheckpoint(dir, { name: 'm', type: 'het-xl' });
  });
  png = await testPng(16, 16, 3);
});
after(() => server.close());

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

async function mixedRound(): Promise<void> {
  const url = '/v1/models/m/classify';
  const json = (body: unknown) => server.app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const results = await Promise.all([
    json({ images: [png.toString('base64')], samples: 50, seed: 3 }),
    server.app.inject({ method: 'POST', url: '/v1/models/m/predictive', ...(await multipart([{ data: png }])) }),
    json({ images: [png.subarray(0, 40).toString('base64')] }),
    json({ images: ['not*base64'] }),
    server.app.inject({ method: 'POST', url, payload: '{"images": [', headers: { 'content-type': 'application/json' } }),
    json({ images: [png.toString('base64')], samples: 10 ** 9 }),
  ]);
  assert.deepEqual(
    results.map((r) => r.statusCode),
    [200, 200, 400, 400, 400, 400],
  );
}

test('hundreds of good and bad requests leave the JS heap where it was', async () => {
  for (let i = 0; i < 30; i++) await mixedRound();
  const start = await heapAfterGc();
  for (let i = 0; i < 150; i++) await mixedRound();
  const growth = (await heapAfterGc()) - start;
  // 900 requests: a leak of even 4 KB per request would exceed this bound.
  assert.ok(growth < 3 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(2)} MB`);
});
