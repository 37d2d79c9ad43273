// Nothing a client sends may leak memory: after a warm-up, hundreds of good and bad requests must
// leave the JS heap where it was. The heap (not RSS) is measured after forced collections, so
// ORT's and libvips' own arenas, which grow to a plateau by design, do not blur the result.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { multipart, startTestServer, testPng, type TestServer } from '../helpers/app.ts';

setFlagsFromString('--expose-gc');
const gc = runInNewContext('gc') as () => void;

let server: TestServer;
let png: Buffer;
before(async () => {
  server = await startTestServer(
    async (dir) => {
      await makeTinyCheckpoint(dir, { name: 'm', type: 'het-xl' });
      await generateCheckpoint({
        modelsDir: dir,
        name: 'zs',
        head: { type: 'het-xl', D: 8, K: 4, R: 2 },
        input: { height: 8, width: 8, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] },
        mc: { defaultSamples: 20 },
        zeroShot: { vocabulary: WORDS },
      });
    },
    // A small cache, so that the rounds below fill it and then only replace entries.
    { textCacheSize: 16 },
  );
  png = await testPng(16, 16, 3);
});
after(() => server.close());

const WORDS = Array.from({ length: 40 }, (_, i) => `w${i}`);

async function heapAfterGc(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setImmediate(r));
  }
  return process.memoryUsage().heapUsed;
}

let round = 0;
async function mixedRound(): Promise<void> {
  const url = '/v1/models/m/classify';
  const zeroShot = '/v1/models/zs/zero-shot';
  // New labels every round: the text-embedding cache keeps evicting.
  const labels = [0, 1, 2].map((i) => `${WORDS[(round * 3 + i) % WORDS.length]} ${WORDS[(round * 7 + i) % WORDS.length]}`);
  round++;
  const json = (body: unknown) => server.app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const results = await Promise.all([
    json({ images: [png.toString('base64')], samples: 50, seed: 3 }),
    server.app.inject({ method: 'POST', url: '/v1/models/m/predictive', ...(await multipart([{ data: png }])) }),
    json({ images: [png.subarray(0, 40).toString('base64')] }),
    json({ images: ['not*base64'] }),
    server.app.inject({ method: 'POST', url, payload: '{"images": [', headers: { 'content-type': 'application/json' } }),
    json({ images: [png.toString('base64')], samples: 10 ** 9 }),
    server.app.inject({ method: 'POST', url: zeroShot, ...(await multipart([{ data: png }], { labels: JSON.stringify(labels) })) }),
    server.app.inject({ method: 'POST', url: zeroShot, ...(await multipart([{ data: png }], { labels: JSON.stringify(['nope nothing']) })) }),
  ]);
  assert.deepEqual(
    results.map((r) => r.statusCode),
    [200, 200, 400, 400, 400, 400, 200, 400],
  );
}

test('hundreds of good and bad requests leave the JS heap where it was', async () => {
  for (let i = 0; i < 30; i++) await mixedRound();
  const start = await heapAfterGc();
  for (let i = 0; i < 150; i++) await mixedRound();
  const growth = (await heapAfterGc()) - start;
  // 1,200 requests: a leak of even 3 KB per request would exceed this bound.
  assert.ok(growth < 3 * 1024 * 1024, `heap grew by ${(growth / 1024 / 1024).toFixed(2)} MB`);
});
