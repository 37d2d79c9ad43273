// Issue #13 item 2 over HTTP: concurrent requests merged into one run answer exactly what each
// gets alone (same seeds); a burst beyond QUEUE_MAX_REQUESTS gets 503 QUEUE_FULL with Retry-After
// and nothing else; a deadline answers 504 and stops the work; deadlineMs is checked.
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, testPng, type TestServer } from '../helpers/app.ts';
import { editManifest } from '../helpers/manifest.ts';

const SMALL = 'tiny-het-xl-param-efficient';
/** A model whose MC requests take a while: K = 2000 classes, many samples. */
const SLOW = 'slow-het-xl';
const SLOW_SAMPLES = 50_000;

let server: TestServer;
const images: string[] = [];

/** Sum and count of one of the /metrics histograms for a model. */
async function histogram(name: string, model: string): Promise<{ sum: number; count: number }> {
  const text = (await server.app.inject({ method: 'GET', url: '/metrics' })).body;
  const value = (suffix: string) => Number(new RegExp(`^${name}_${suffix}\\{model="${model}"\\} (\\S+)$`, 'm').exec(text)?.[1] ?? 0);
  return { sum: value('sum'), count: value('count') };
}

/**
 * The same answer up to float32 rounding: the same structure, strings and integers, and numbers
 * within 1e-6 relative. The merged run's reductions (std, entropies) can differ from a lone run's
 * in the last float32 bits: ORT's kernels sum in an order that may depend on the batch size.
 */
function assertSameAnswer(actual: unknown, expected: unknown, where: string): void {
  if (typeof expected === 'number' && typeof actual === 'number') {
    assert.ok(Math.abs(actual - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `${where}: ${actual} vs ${expected}`);
  } else if (expected !== null && typeof expected === 'object') {
    assert.equal(typeof actual, 'object', where);
    assert.deepEqual(Object.keys(actual as object), Object.keys(expected), where);
    for (const [key, value] of Object.entries(expected)) assertSameAnswer((actual as Record<string, unknown>)[key], value, `${where}.${key}`);
  } else assert.equal(actual, expected, where);
}

function classify(model: string, image: string, options: Record<string, unknown> = {}) {
  return server.app.inject({ method: 'POST', url: `/v1/models/${model}/classify`, payload: { images: [image], ...options } });
}

before(async () => {
  server = await startTestServer(
    async (dir) => {
      await makeTinyCheckpoint(dir, { K: 5 });
      const slow = await makeTinyCheckpoint(dir, { name: SLOW, D: 64, K: 2000, R: 4, mc: { defaultSamples: 100, maxSamples: SLOW_SAMPLES } });
      // The manifest's batching overrides the server's: this model never waits for companions.
      await editManifest(slow, (m) => (m.batching = { maxQueueDelayMs: 0 }));
    },
    // A wait long enough that requests sent together are merged, on any machine.
    { batchMaxDelayMs: 300, queueMaxRequests: 3, maxSamples: SLOW_SAMPLES, batchConcurrency: 1 },
  );
  for (let seed = 0; seed < 6; seed++) images.push((await testPng(4, 4, seed)).toString('base64'));
});
after(() => server.close());

describe('dynamic batching over HTTP', () => {
  it('merges concurrent requests into one run, and each answer equals the one it gets alone up to float32 rounding (MC and mean)', async () => {
    for (const options of [{ mode: 'mc', samples: 64, seed: 3 }, { mode: 'mean' }, { mode: 'mc', samples: 64, seed: 11, include: 'logits' }]) {
      const alone: Awaited<ReturnType<typeof classify>>[] = [];
      for (const image of images.slice(0, 3)) alone.push(await classify(SMALL, image, options));
      const before = await histogram('hetxl_batch_requests', SMALL);
      const together = await Promise.all(images.slice(0, 3).map((image) => classify(SMALL, image, options)));
      const afterwards = await histogram('hetxl_batch_requests', SMALL);
      assert.equal(afterwards.sum - before.sum, 3, 'three requests ran');
      assert.equal(afterwards.count - before.count, 1, `${JSON.stringify(options)}: the three requests in one run`);
      together.forEach((res, i) => {
        assert.equal(res.statusCode, 200, res.body);
        assertSameAnswer(res.json(), alone[i].json(), `${JSON.stringify(options)} image ${i}`);
      });
    }
  });

  it('runs requests with different seeds apart, each with its own answer', async () => {
    const alone: { predictions: unknown }[] = [];
    for (let i = 0; i < 3; i++) alone.push((await classify(SMALL, images[i], { samples: 64, seed: i })).json());
    const together = await Promise.all([0, 1, 2].map((i) => classify(SMALL, images[i], { samples: 64, seed: i })));
    together.forEach((res, i) => assertSameAnswer(res.json(), alone[i], `seed ${i}`));
    assert.notDeepEqual(alone[0].predictions, alone[1].predictions);
  });

  it('answers a burst beyond QUEUE_MAX_REQUESTS with 503 QUEUE_FULL and Retry-After, serves the rest, and serves on', async () => {
    const burst = await Promise.all(Array.from({ length: 10 }, (_, i) => classify(SLOW, images[i % 6], { samples: 2000, seed: i })));
    const statuses = burst.map((r) => r.statusCode);
    assert.ok(statuses.every((s) => s === 200 || s === 503), `only 200 and 503: ${statuses}`);
    const refused = burst.filter((r) => r.statusCode === 503);
    assert.ok(refused.length >= 10 - 1 - 3, `at most one running and three queued are served: ${statuses}`);
    for (const r of refused) {
      assert.equal(r.json().code, 'QUEUE_FULL');
      assert.ok(Number(r.headers['retry-after']) >= 1, `Retry-After ${r.headers['retry-after']}`);
      assert.match(r.json().message, /QUEUE_MAX_REQUESTS/);
    }
    assert.equal((await classify(SLOW, images[0], { samples: 10 })).statusCode, 200);
  });

  it('answers 504 DEADLINE_EXCEEDED at the deadline and stops the computation', async () => {
    const started = performance.now();
    const res = await classify(SLOW, images[0], { samples: SLOW_SAMPLES, deadlineMs: 150 });
    const waited = performance.now() - started;
    assert.equal(res.statusCode, 504, res.body);
    assert.equal(res.json().code, 'DEADLINE_EXCEEDED');
    assert.match(res.json().message, /150 ms/);
    // The model is free again soon (the MC loop stopped at its next chunk), not after all 50,000 samples.
    const next = await classify(SLOW, images[1], { samples: 10 });
    assert.equal(next.statusCode, 200);
    const full = performance.now();
    await classify(SLOW, images[2], { samples: SLOW_SAMPLES });
    const fullMs = performance.now() - full;
    assert.ok(waited < fullMs, `the deadline answer (${waited.toFixed(0)} ms) came before a whole computation (${fullMs.toFixed(0)} ms)`);
  });

  it('answers 504 to a request whose deadline passes while it waits in the queue, without running it', async () => {
    const runsBefore = await histogram('hetxl_batch_requests', SLOW);
    const long = classify(SLOW, images[0], { samples: SLOW_SAMPLES, seed: 1 });
    await new Promise((resolve) => setTimeout(resolve, 100)); // the long one is running
    const short = await classify(SLOW, images[1], { samples: 10, seed: 2, deadlineMs: 200 });
    assert.equal((await long).statusCode, 200);
    assert.equal(short.statusCode, 504);
    const runsAfter = await histogram('hetxl_batch_requests', SLOW);
    assert.equal(runsAfter.sum - runsBefore.sum, 1, 'only the long request ran');
  });

  it('refuses a deadlineMs out of range with 400 DEADLINE_OUT_OF_RANGE', async () => {
    for (const deadlineMs of [0, 300_001]) {
      const res = await classify(SMALL, images[0], { deadlineMs });
      assert.equal(res.statusCode, 400, res.body);
      assert.ok(['DEADLINE_OUT_OF_RANGE', 'INVALID_REQUEST'].includes(res.json().code), res.body);
    }
    const query = await server.app.inject({ method: 'POST', url: `/v1/models/${SMALL}/classify?deadlineMs=999999`, payload: { images: [images[0]] } });
    assert.equal(query.json().code, 'DEADLINE_OUT_OF_RANGE');
    assert.match(query.json().message, /MAX_REQUEST_DEADLINE_MS/);
  });
});
