// WorkerModel (src/pipelines/worker/): a model whose sessions run in a worker thread gives exactly
// the predictions of the in-process pipeline for the same request and seed (softmax, sigmoid and
// zero-shot; mean and MC), stops an aborted computation, turns worker errors into errors with the
// same name and message, survives a worker crash by restarting it, leaves the main thread's event
// loop free while it computes, and ends its thread on dispose.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Worker } from 'node:worker_threads';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { PromptError } from '../../src/pipelines/errors.ts';
import { loadServedModel } from '../../src/pipelines/registry.ts';
import type { Prediction, PredictOptions, ServedModel } from '../../src/pipelines/served-model.ts';
import { WorkerExitedError, WorkerModel } from '../../src/pipelines/worker/worker-model.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { eventLoopTurnsDuring } from '../helpers/event-loop.ts';
import { testLimits, testPng } from '../helpers/app.ts';

const ENGINE = { provider: 'cpu', threads: 1 } as const;
const LIMITS = testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 16, textCacheSize: 10 });
const VOCABULARY = ['a', 'photo', 'of', 'red', 'green', 'circle', 'square'];

interface Logged {
  level: 'info' | 'error';
  msg: string;
}

let parent: string;
const open: ServedModel[] = [];
const workers: Worker[] = [];
const logged: Logged[] = [];
const log = { info: (_: object, msg: string) => void logged.push({ level: 'info', msg }), error: (_: object, msg: string) => void logged.push({ level: 'error', msg }) };

/** The same checkpoint folder in this thread and in a worker. */
async function both(dir: string): Promise<{ local: ServedModel; worker: WorkerModel }> {
  const checkpoint = await loadCheckpoint(dir);
  const local = await loadServedModel(checkpoint, ENGINE, LIMITS);
  const worker = await WorkerModel.start(checkpoint, ENGINE, LIMITS, { log, onWorker: (w) => workers.push(w) });
  open.push(local, worker);
  return { local, worker };
}

let png: Buffer;
let png2: Buffer;
before(async () => {
  parent = await mkdtemp(path.join(tmpdir(), 'hetxl-worker-'));
  png = await testPng(4, 4, 1);
  png2 = await testPng(6, 5, 2);
});
after(async () => {
  await Promise.all(open.map((m) => m.dispose()));
  await rm(parent, { recursive: true, force: true });
});

/** Predictions as plain arrays, so that deepStrictEqual compares values (bit for bit) and not array classes only. */
function plain(predictions: Prediction[]): unknown {
  return JSON.parse(JSON.stringify(predictions, (_key, value: unknown) => (ArrayBuffer.isView(value) ? Array.from(value as Float32Array) : value)));
}

async function samePredictions(local: ServedModel, worker: ServedModel, input: Parameters<ServedModel['prepare']>[0], options: PredictOptions): Promise<void> {
  const expected = await local.predict(local.prepare(input), options);
  const actual = await worker.predict(worker.prepare(input), options);
  assert.equal(actual.length, expected.length);
  assert.ok(actual[0].probs instanceof Float32Array);
  assert.deepStrictEqual(plain(actual), plain(expected));
}

describe('the same predictions as in process', () => {
  test('HET-XL softmax: mean, MC (plain and antithetic) and the logits', async () => {
    const { local, worker } = await both(await makeTinyCheckpoint(parent, { name: 'same-softmax', K: 7 }));
    assert.deepStrictEqual(worker.metadata, local.metadata);
    assert.deepStrictEqual(worker.labels, local.labels);
    assert.equal(worker.task, 'classification');
    assert.equal(worker.textCache, undefined);
    await samePredictions(local, worker, { images: [png, png2] }, { mode: 'mean', samples: 1, seed: 0, includeLogits: true });
    await samePredictions(local, worker, { images: [png, png2] }, { mode: 'mc', samples: 300, seed: 7 });
    await samePredictions(local, worker, { images: [png] }, { mode: 'mc', samples: 300, seed: 7, estimator: 'antithetic' });
  });

  test('a sigmoid head: mean and MC, binary statistics included', async () => {
    const { local, worker } = await both(await makeTinyCheckpoint(parent, { name: 'same-sigmoid', K: 6, link: 'sigmoid' }));
    await samePredictions(local, worker, { images: [png2] }, { mode: 'mean', samples: 1, seed: 0 });
    await samePredictions(local, worker, { images: [png, png2] }, { mode: 'mc', samples: 200, seed: 3 });
    await samePredictions(local, worker, { images: [png, png2] }, { mode: 'mc', samples: 1, seed: 0, estimator: 'exact' });
  });

  test('preprocessed pixels (the KServe FP32 input) give what the encoded images give', async () => {
    const { local, worker } = await both(await makeTinyCheckpoint(parent, { name: 'same-pixels', K: 5 }));
    const prepared = local.prepare({ images: [png] });
    const pixels = await local.preprocess(prepared);
    const expected = await local.predictTensor({ data: pixels.data.slice(), batch: 1 }, prepared, { mode: 'mc', samples: 100, seed: 1 });
    const actual = await worker.predict(worker.prepare({ images: [], pixels }), { mode: 'mc', samples: 100, seed: 1 });
    assert.deepStrictEqual(plain(actual), plain(expected));
  });

  test('zero-shot: mean and MC over the request labels; prompt checks and text-cache counts on the main side', async () => {
    const { dir } = await generateCheckpoint({
      modelsDir: parent,
      name: 'same-zero-shot',
      seed: 3,
      head: { type: 'het-xl', D: 8, K: 9, R: 2, tau: 0.1 },
      input: { height: 8, width: 8, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
      mc: { defaultSamples: 50, maxSamples: 500 },
      zeroShot: { vocabulary: VOCABULARY, templates: ['a photo of a {label}', 'a {label}'] },
    });
    const { local, worker } = await both(dir);
    const labels = ['red circle', 'green square', 'green circle'];
    await samePredictions(local, worker, { images: [png, png2], labels }, { mode: 'mean', samples: 1, seed: 0 });
    await samePredictions(local, worker, { images: [png], labels, templates: ['{label}'] }, { mode: 'mc', samples: 120, seed: 5 });
    await samePredictions(local, worker, { images: [png2], labels }, { mode: 'mc', samples: 120, seed: 5 });
    assert.deepStrictEqual(worker.textCache, local.textCache);
    assert.ok(worker.textCache!.hits > 0 && worker.textCache!.misses > 0, JSON.stringify(worker.textCache));
    // A word the tokenizer does not know: the same warning; no labels: the same PromptError.
    assert.deepStrictEqual(worker.prepare({ images: [png], labels: ['purple circle'] }).warnings, local.prepare({ images: [png], labels: ['purple circle'] }).warnings);
    assert.throws(() => worker.prepare({ images: [png], labels: [] }), (e) => e instanceof PromptError && e.code === 'NO_LABELS');
  });
});

describe('aborts, errors, crashes and dispose', () => {
  // Long enough that an MC call running to its end would outlast the test's timeout by far.
  const LONG: PredictOptions = { mode: 'mc', samples: 2_000_000, seed: 1 };
  let model: WorkerModel;
  let local: ServedModel;
  before(async () => {
    ({ local, worker: model } = await both(await makeTinyCheckpoint(parent, { name: 'long-mc', D: 64, K: 2000, R: 8 })));
  });

  test('an aborted call rejects with the signal reason and the worker stops: the next call is answered', { timeout: 60_000 }, async () => {
    const client = new AbortController();
    const reason = new Error('client went away');
    reason.name = 'AbortError';
    const running = model.predict(model.prepare({ images: [png] }), { ...LONG, signal: client.signal });
    setTimeout(() => client.abort(reason), 200);
    await assert.rejects(running, (e) => e === reason);
    await samePredictions(local, model, { images: [png] }, { mode: 'mean', samples: 1, seed: 0 });
  });

  test('while a long MC call runs in the worker, the event loop turns freely (it barely does in process)', { timeout: 60_000 }, async (t) => {
    const during = (m: ServedModel) => eventLoopTurnsDuring(() => m.predict(m.prepare({ images: [png] }), { ...LONG, samples: 10_000 }));
    const inProcess = await during(local);
    const inWorker = await during(model);
    t.diagnostic(`event-loop turns during one MC call (S = 10,000): ${inWorker} with the worker, ${inProcess} in process`);
    assert.ok(inWorker > 4 * inProcess, `event-loop turns: ${inWorker} with the worker, ${inProcess} in process`);
  });

  test('an error in the worker fails the call with the same name and message, and the model keeps serving', async () => {
    const wrong = { data: new Float32Array(3), batch: 1 };
    const options: PredictOptions = { mode: 'mean', samples: 1, seed: 0 };
    const expected = await local.predictTensor({ data: new Float32Array(3), batch: 1 }, local.prepare({ images: [] }), options).then(
      () => assert.fail('a tensor of the wrong size must fail'),
      (e: unknown) => e as Error,
    );
    await assert.rejects(model.predictTensor(wrong, model.prepare({ images: [] }), options), (e: unknown) => e instanceof Error && e.name === expected.name && e.message === expected.message);
    await samePredictions(local, model, { images: [png] }, options);
  });

  // Stopped while idle: onnxruntime-node aborts the whole process when a worker is terminated
  // inside a session run, so a test can only stop one between runs.
  test('a worker that stops: the call sent as it stops fails with WorkerExitedError, logged; the worker restarts and serves', { timeout: 60_000 }, async () => {
    const started = workers.length;
    const crashed = workers[workers.length - 1];
    // Preprocessed first: an await between terminate() and the call would let the exit be seen
    // before the call is sent (under load it was, and the call went to the restarted worker).
    const { data } = await local.preprocess(local.prepare({ images: [png] }));
    const stopping = crashed.terminate();
    // Sent in the same turn as terminate(), before the exit can be seen: in flight when the worker goes.
    const inFlight = model.predictTensor({ data, batch: 1 }, model.prepare({ images: [] }), { mode: 'mean', samples: 1, seed: 0 });
    await stopping;
    await assert.rejects(inFlight, (e) => e instanceof WorkerExitedError && /long-mc.*inference worker stopped/.test(e.message));
    assert.ok(logged.some((l) => l.level === 'error' && /long-mc.*worker stopped/.test(l.msg)), JSON.stringify(logged));
    // The next call waits for the new worker.
    await samePredictions(local, model, { images: [png, png2] }, { mode: 'mc', samples: 100, seed: 2 });
    assert.equal(workers.length, started + 1, 'one new worker');
    assert.ok(logged.some((l) => l.level === 'info' && /long-mc.*restarted/.test(l.msg)));
  });

  test('dispose releases the sessions and ends the thread; later calls are refused', async () => {
    const disposable = (await both(await makeTinyCheckpoint(parent, { name: 'disposable', K: 3 }))).worker;
    const thread = workers[workers.length - 1];
    const exited = new Promise<number>((resolve) => thread.once('exit', resolve));
    await disposable.dispose();
    await exited;
    await assert.rejects(disposable.predict(disposable.prepare({ images: [png] }), { mode: 'mean', samples: 1, seed: 0 }), { name: 'ModelUnloadedError' });
  });

  test('a checkpoint the worker cannot load fails the start with its CheckpointError, and no thread is left', async () => {
    const dir = await makeTinyCheckpoint(parent, { name: 'changing', K: 3 });
    const checkpoint = await loadCheckpoint(dir);
    await rm(path.join(dir, 'head.safetensors'));
    const before = workers.length;
    await assert.rejects(WorkerModel.start(checkpoint, ENGINE, LIMITS, { log, onWorker: (w) => workers.push(w) }), (e: unknown) => e instanceof Error && e.name === 'CheckpointError' && /head\.safetensors/.test(e.message));
    assert.equal(workers.length, before + 1);
    assert.equal(workers[before].threadId, -1, 'the thread has ended');
  });
});
