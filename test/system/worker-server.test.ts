// The server with INFERENCE_WORKERS on (issue #13 item 1), against the same server with them off:
// the same answers over HTTP (classify mean and MC, zero-shot, KServe v2 FP32 pixels), /healthz
// answered while an MC request computes (many times more often than when the models share the
// event loop), a client's hang-up stopping the worker, a stopped worker restarted while the server
// keeps serving, the text-cache metrics, a reload swapping workers, and every worker ended when
// the registry is disposed.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig, modelLimitsOf } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import { ModelRegistry } from '../../src/pipelines/registry.ts';
import { workerModelLoader } from '../../src/pipelines/worker/worker-model.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testPng } from '../helpers/app.ts';

const LONG = 'long-mc';
const ZS = 'zero-shot';
const MAX_SAMPLES = 2_000_000;
const errors: string[] = [];
const log = { info() {}, error: (_: object, msg: string) => void errors.push(msg) };
const workers: Worker[] = [];
let modelsDir: string;
let registry: ModelRegistry;
let on: App;
let off: App;
/** The default, INFERENCE_WORKERS=auto: this small model's short runs on the HTTP thread, its long ones in its worker. */
let auto: App;
let base: string;
let image: string;

before(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-workers-'));
  await makeTinyCheckpoint(modelsDir, { name: LONG, D: 64, K: 2000, R: 8, mc: { defaultSamples: 20, maxSamples: MAX_SAMPLES } });
  await generateCheckpoint({
    modelsDir,
    name: ZS,
    seed: 3,
    head: { type: 'het-xl', D: 8, K: 9, R: 2, tau: 0.1 },
    input: { height: 4, width: 4, channels: 1, mean: [0.5], std: [0.25] },
    mc: { defaultSamples: 50, maxSamples: 500 },
    zeroShot: { vocabulary: ['a', 'red', 'green', 'circle', 'square'], templates: ['a {label}'] },
  });
  const config = loadConfig({}, { modelsDir, logLevel: 'silent', ortThreads: 1, maxSamples: MAX_SAMPLES });
  // The workers' app gets the registry buildApp would build, with a hand on each worker thread.
  registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, modelLimitsOf(config), log, workerModelLoader({ log, onWorker: (w) => workers.push(w) }));
  await registry.loadAll(modelsDir);
  on = await buildApp(config, { registry });
  off = await buildApp({ ...config, inferenceWorkers: false });
  auto = await buildApp(config);
  for (const app of [off, auto]) for (let i = 0; i < 1500 && (await app.inject({ url: '/readyz' })).json().status === 'loading'; i++) await new Promise((r) => setTimeout(r, 20));
  base = await on.listen({ port: 0, host: '127.0.0.1' });
  image = (await testPng(4, 4, 3)).toString('base64');
});
after(async () => {
  await Promise.all([on.close(), off.close(), auto.close()]);
  await registry.dispose();
  await rm(modelsDir, { recursive: true, force: true });
});

test('INFERENCE_WORKERS: auto by default; auto, true, false, 1 and 0; anything else refused naming the variable', () => {
  assert.equal(loadConfig({}).inferenceWorkers, 'auto');
  for (const [value, expected] of [['true', true], ['false', false], ['1', true], ['0', false], [' FALSE ', false], ['auto', 'auto'], [' Auto ', 'auto']] as const) {
    assert.equal(loadConfig({ INFERENCE_WORKERS: value }).inferenceWorkers, expected, value);
  }
  assert.throws(() => loadConfig({ INFERENCE_WORKERS: 'yes please' }), (e) => e instanceof ConfigError && /INFERENCE_WORKERS="yes please"/.test(e.message));
});

const post = (app: App, url: string, body: unknown) => app.inject({ method: 'POST', url, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });

test('the same answers with workers on, off and auto: classify, zero-shot and KServe v2 pixels', async () => {
  const requests: [string, unknown][] = [
    [`/v1/models/${LONG}/classify`, { images: [image, image], mode: 'mean', topK: 5 }],
    // One image in mean mode: under auto, run on the HTTP thread (the others go to the worker).
    [`/v1/models/${LONG}/classify`, { images: [image], mode: 'mean', topK: 5 }],
    [`/v1/models/${LONG}/classify`, { images: [image], mode: 'mc', samples: 300, seed: 4, topK: 5 }],
    [`/v1/models/${ZS}/zero-shot`, { images: [image], labels: ['red circle', 'green square'], mode: 'mc', samples: 100, seed: 2 }],
    [`/v2/models/${LONG}/infer`, { parameters: { mode: 'mc', samples: 200, seed: 9 }, inputs: [{ name: 'pixels', datatype: 'FP32', shape: [1, 1, 4, 4], data: Array.from({ length: 16 }, (_, i) => i / 16) }] }],
  ];
  for (const [url, body] of requests) {
    const [a, b, c] = await Promise.all([post(on, url, body), post(off, url, body), post(auto, url, body)]);
    assert.equal(a.statusCode, 200, a.body);
    assert.deepStrictEqual(a.json(), b.json(), url);
    assert.deepStrictEqual(c.json(), b.json(), url);
  }
});

/** /healthz answers (sequential, through inject) while one MC request of `samples` computes. */
async function healthzDuring(app: App, samples: number): Promise<number> {
  let done = false;
  const mc = post(app, `/v1/models/${LONG}/classify`, { images: [image], mode: 'mc', samples, seed: 1 }).finally(() => (done = true));
  let answered = 0;
  while (!done) {
    // inject resolves through microtasks only: give the loop's other phases (the model's replies) a turn.
    await new Promise((r) => setImmediate(r));
    const res = await app.inject({ url: '/healthz' });
    assert.equal(res.statusCode, 200);
    if (!done) answered++;
  }
  assert.equal((await mc).statusCode, 200);
  return answered;
}

test('/healthz is answered while an MC request computes, many times more often than with the models on the event loop', { timeout: 120_000 }, async (t) => {
  const inProcess = await healthzDuring(off, 20_000);
  const inWorker = await healthzDuring(on, 20_000);
  const underAuto = await healthzDuring(auto, 20_000);
  t.diagnostic(`/healthz answers during one MC request (S = 20,000): ${inWorker} with workers, ${underAuto} with auto, ${inProcess} without`);
  assert.ok(inWorker > 4 * inProcess, `/healthz answers during one MC request: ${inWorker} with workers, ${inProcess} without`);
  // K = 2000, D = 64: 20,000 samples are far over placement.ts's bound, so auto sends the run to the worker.
  assert.ok(underAuto > 4 * inProcess, `/healthz answers during one MC request: ${underAuto} with auto, ${inProcess} without`);
});

test('a client that hangs up stops the computation in the worker: the next request is answered', { timeout: 120_000 }, async () => {
  const client = new AbortController();
  const request = fetch(`${base}/v1/models/${LONG}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [image], mode: 'mc', samples: MAX_SAMPLES }),
    signal: client.signal,
  });
  await new Promise((r) => setTimeout(r, 300));
  client.abort();
  await assert.rejects(request, { name: 'AbortError' });
  // Two million samples would take minutes: answered within the test's timeout, the worker stopped.
  const next = await fetch(`${base}/v1/models/${LONG}/classify`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ images: [image], mode: 'mc', samples: 50 }) });
  assert.equal(next.status, 200);
});

test('a worker that stops is logged and restarted; the server keeps serving', { timeout: 120_000 }, async () => {
  const started = workers.length;
  // The first worker is long-mc's (folders load in name order). Stopped between runs:
  // onnxruntime-node aborts the process when a thread is ended inside one.
  await workers[0].terminate();
  const res = await post(on, `/v1/models/${LONG}/classify`, { images: [image], mode: 'mean' });
  assert.equal(res.statusCode, 200, res.body);
  assert.equal(workers.length, started + 1);
  assert.ok(errors.some((m) => /inference worker stopped/.test(m)), JSON.stringify(errors));
  assert.equal((await on.inject({ url: '/healthz' })).statusCode, 200);
});

test('the text-cache counts of a model in a worker reach the metrics', async () => {
  const body = { images: [image], labels: ['red square', 'green circle'], mode: 'mean' };
  assert.equal((await post(on, `/v1/models/${ZS}/zero-shot`, body)).statusCode, 200);
  assert.equal((await post(on, `/v1/models/${ZS}/zero-shot`, body)).statusCode, 200);
  const metrics = (await on.inject({ url: '/metrics' })).body;
  const count = (name: string) => Number(new RegExp(`^${name}\\{model="${ZS}"\\} (\\d+)`, 'm').exec(metrics)?.[1]);
  assert.ok(count('hetxl_text_cache_misses_total') >= 2, metrics);
  assert.ok(count('hetxl_text_cache_hits_total') >= 2, metrics);
});

test('a reload swaps in a new worker and ends the old one', { timeout: 120_000 }, async () => {
  const live = () => workers.filter((w) => w.threadId !== -1);
  const before = live();
  const started = workers.length;
  await registry.load(LONG);
  assert.equal(workers.length, started + 1);
  // The replaced model is disposed once no request holds it (none does): its thread ends.
  for (let i = 0; i < 500 && live().length > before.length; i++) await new Promise((r) => setTimeout(r, 20));
  assert.equal(live().length, before.length);
  assert.ok(live().includes(workers[started]), 'the new worker serves');
  const res = await post(on, `/v1/models/${LONG}/classify`, { images: [image], mode: 'mc', samples: 50, seed: 1 });
  assert.equal(res.statusCode, 200, res.body);
});

test('disposing the registry ends every worker thread', async () => {
  await registry.dispose();
  assert.ok(workers.length >= 2);
  assert.deepEqual(workers.map((w) => w.threadId), workers.map(() => -1));
});
