// Issue #17, item 7: clients that give up while the server is busy must cost (almost) nothing.
// At K = 10 a whole MC request is one chunk, so a check between chunks alone never sees the
// abort: the stages before it (image decoding, backbone, head) must check too. Over real
// sockets, since `inject` has no client that can hang up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import { ModelRegistry } from '../../src/pipelines/registry.ts';
import type { ClassifierPipeline } from '../../src/pipelines/classifier.ts';
import type { BatchingModel } from '../../src/pipelines/batching.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testLimits, testPng } from '../helpers/app.ts';

const LONG = 'het-xl-k29593';
const SMALL = 'het-xl-k10';
const LONG_SAMPLES = 20_000;
const BURST = 40;
interface LogLine {
  msg?: string;
  code?: string;
  reqId?: string;
  req?: { url?: string };
  res?: { statusCode?: number };
}
const logs: LogLine[] = [];
let app: App;
let registry: ModelRegistry;
let base: string;
let port: number;
let modelsDir: string;
/** Stops the long request should the test fail before it ends, so that closing the app does not wait for it. */
const longClient = new AbortController();

/** Waits until `match` holds for the log (bounded: a missing line fails the test instead of hanging it). */
async function until(match: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 3000; i++) {
    if (match()) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`timed out waiting for: ${what}`);
}

function smallModel(): ClassifierPipeline {
  // The registry serves each model through its batcher; the pipeline is inside.
  return (registry.get(SMALL)!.model as BatchingModel).inner as ClassifierPipeline;
}

/** Sends one complete classify request and closes the socket at once, never reading the answer. */
function sendAndHangUp(body: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1', () => {
      const head = `POST /v1/models/${SMALL}/classify HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\n\r\n`;
      socket.write(head + body, () => {
        socket.destroy();
        resolve();
      });
    });
    socket.on('error', reject);
  });
}

before(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-burst-'));
  // The long request: K = 29,593 under a 16 MB head budget is chunks of ~17 samples, so
  // S = 20,000 is over a thousand chunks, and the burst is read and handled between them.
  await makeTinyCheckpoint(modelsDir, { name: LONG, K: 29593, D: 64, R: 8, mc: { defaultSamples: 20, maxSamples: LONG_SAMPLES } });
  await makeTinyCheckpoint(modelsDir, { name: SMALL, K: 10, rgb: true, mc: { defaultSamples: 100, maxSamples: 1000 } });
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({}, { modelsDir, ortThreads: 1, maxSamples: LONG_SAMPLES, headMemoryBudgetMB: 16 });
  registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 16, textCacheSize: 10 }), { info() {}, error() {} });
  await registry.loadAll(modelsDir);
  assert.deepEqual(registry.list().map((e) => e.status), ['ready', 'ready']);
  app = await buildApp(config, { registry, logger: { level: 'info', stream } });
  base = await app.listen({ port: 0, host: '127.0.0.1' });
  port = Number(new URL(base).port);
});
after(async () => {
  longClient.abort();
  await app.close();
  await registry.dispose();
  await rm(modelsDir, { recursive: true, force: true });
});

test('a burst of clients that hang up at K = 10 ends as CLIENT_CLOSED before the head; the server then answers', async () => {
  // 6 x 6, not the model's 4 x 4: decoded by sharp on libuv's pool. An image already at the input
  // size takes src/image/png.ts's synchronous path, and a request that small is answered before
  // its socket's close is read: it then reaches the head, at a cost of ~0.1 ms (docs/performance.md).
  const image = (await testPng(6, 6, 3)).toString('base64');
  const headRunsBefore = smallModel().headRuns;

  const long = fetch(`${base}/v1/models/${LONG}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [image], mode: 'mc', samples: LONG_SAMPLES }),
    signal: longClient.signal,
  });
  await until(() => logs.some((l) => l.msg === 'incoming request' && !!l.req?.url?.includes(LONG)), 'the long request arrived');

  const body = JSON.stringify({ images: [image, image], mode: 'mc', samples: 100 });
  await Promise.all(Array.from({ length: BURST }, () => sendAndHangUp(body)));

  const burstIds = () => new Set(logs.filter((l) => l.msg === 'incoming request' && l.req?.url?.includes(SMALL)).map((l) => l.reqId));
  const closed = () => logs.filter((l) => l.code === 'CLIENT_CLOSED' && burstIds().has(l.reqId));
  await until(() => closed().length === BURST, `${BURST} burst requests logged CLIENT_CLOSED`);
  assert.equal(burstIds().size, BURST);
  assert.equal(smallModel().headRuns, headRunsBefore, 'no abandoned request reached the head');

  const longResponse = await long;
  assert.equal(longResponse.status, 200);
  assert.equal(((await longResponse.json()) as { predictions: unknown[] }).predictions.length, 1);

  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  const normal = await fetch(`${base}/v1/models/${SMALL}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [image], mode: 'mc', samples: 100, topK: 3 }),
  });
  assert.equal(normal.status, 200);
  const answer = (await normal.json()) as { predictions: { classes: { probability: number }[] }[] };
  assert.equal(answer.predictions.length, 1);
  assert.equal(answer.predictions[0].classes.length, 3);
  assert.ok(answer.predictions[0].classes.every((c) => c.probability > 0 && c.probability <= 1));
  assert.equal(smallModel().headRuns, headRunsBefore + 1);
  assert.equal(closed().length, BURST, 'the completed requests were not counted as closed');
});
