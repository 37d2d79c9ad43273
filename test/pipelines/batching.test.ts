// The batcher on a fake model whose runs the test holds and releases: which requests share a run,
// what each gets back, the queue bound, aborts while queued and while running, the queue delay,
// and disposal. The fake's "prediction" of an image is its pixel value, so a request can tell its
// own answers from another's.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BatchingModel, type BatchRun } from '../../src/pipelines/batching.ts';
import { ModelUnloadedError, QueueFullError } from '../../src/pipelines/errors.ts';
import type { ModelMetadata, PixelBatch, Prediction, PredictOptions, PreparedInput, ServedModel } from '../../src/pipelines/served-model.ts';

interface Call {
  pixels: number[];
  options: PredictOptions;
  release(): void;
  fail(error: Error): void;
}

/** A model with one value per image; each predictTensor call waits until the test releases it. */
class FakeModel implements ServedModel {
  readonly name = 'fake';
  readonly task = 'classification';
  readonly labels = ['a'];
  readonly metadata = { name: 'fake', supportsMc: true } as ModelMetadata;
  readonly calls: Call[] = [];
  disposed = false;
  private waiters: (() => void)[] = [];

  prepare(): PreparedInput {
    throw new Error('not used');
  }
  async preprocess(input: PreparedInput): Promise<PixelBatch> {
    const values = input.images.map((b) => b[0]);
    if (values.includes(255)) throw new Error('bad image');
    return { data: Float32Array.from(values), batch: values.length };
  }
  predictTensor(pixels: PixelBatch, _input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    return new Promise((resolve, reject) => {
      const answer = () => resolve([...pixels.data].map((v) => ({ probs: Float32Array.of(v), statistics: { predictiveEntropy: 0, maxProbability: 1, margin: 1 } })));
      this.calls.push({ pixels: [...pixels.data], options, release: answer, fail: reject });
      options.signal?.addEventListener('abort', () => reject(options.signal!.reason), { once: true });
      for (const w of this.waiters.splice(0)) w();
    });
  }
  async predict(): Promise<Prediction[]> {
    throw new Error('not used');
  }
  async warmUp(): Promise<void> {}
  async dispose(): Promise<void> {
    this.disposed = true;
  }
  /** Resolves once there are `n` calls. */
  async callCount(n: number): Promise<void> {
    while (this.calls.length < n) await new Promise<void>((resolve) => this.waiters.push(resolve));
  }
}

const input = (...values: number[]): PreparedInput => ({ images: values.map((v) => Buffer.from([v])), labels: ['a'], warnings: [] });
const mc = (seed = 0, signal?: AbortSignal): PredictOptions => ({ mode: 'mc', samples: 10, seed, signal });
const valuesOf = (predictions: Prediction[]) => predictions.map((p) => p.probs[0]);
const turn = () => new Promise((resolve) => setImmediate(resolve));

function batcher(options: Partial<ConstructorParameters<typeof BatchingModel>[1]> = {}, runs: BatchRun[] = []) {
  const fake = new FakeModel();
  const model = new BatchingModel(fake, { maxBatchSize: 8, maxQueueDelayMs: 0, maxQueue: 16, maxConcurrentRuns: 1, ...options }, { onBatch: (r) => runs.push(r) });
  return { fake, model };
}

describe('BatchingModel', () => {
  it('runs the first request at once and merges the ones that queue behind it, each getting its own answers', async () => {
    const runs: BatchRun[] = [];
    const { fake, model } = batcher({}, runs);
    const first = model.predict(input(1), mc());
    await fake.callCount(1);
    const second = model.predict(input(2, 3), mc());
    const third = model.predict(input(4), mc());
    await turn();
    assert.equal(model.queueDepth, 2);
    fake.calls[0].release();
    assert.deepEqual(valuesOf(await first), [1]);
    await fake.callCount(2);
    assert.deepEqual(fake.calls[1].pixels, [2, 3, 4], 'the queued requests in one run, in arrival order');
    fake.calls[1].release();
    assert.deepEqual(valuesOf(await second), [2, 3]);
    assert.deepEqual(valuesOf(await third), [4]);
    assert.equal(model.queueDepth, 0);
    assert.deepEqual(runs.map((r) => [r.requests, r.images, r.mode, r.samples]), [[1, 1, 'mc', 10], [2, 3, 'mc', 10]]);
    assert.equal(runs[1].queueSeconds.length, 2);
  });

  it('with maxConcurrentRuns 2, starts a second run while the first goes on, and merges behind both', async () => {
    const { fake, model } = batcher({ maxConcurrentRuns: 2 });
    const first = model.predict(input(1), mc());
    const second = model.predict(input(2), mc());
    await fake.callCount(2);
    assert.deepEqual(fake.calls.map((c) => c.pixels), [[1], [2]], 'two runs in flight');
    const queued = [model.predict(input(3), mc()), model.predict(input(4), mc())];
    await turn();
    assert.equal(fake.calls.length, 2, 'no third run while both slots are taken');
    fake.calls[1].release();
    assert.deepEqual(valuesOf(await second), [2]);
    await fake.callCount(3);
    assert.deepEqual(fake.calls[2].pixels, [3, 4], 'the freed slot takes the queued requests as one run');
    fake.calls[2].release();
    fake.calls[0].release();
    assert.deepEqual((await Promise.all([first, ...queued])).map(valuesOf), [[1], [3], [4]]);
  });

  it('merges only requests with the same options: another seed, mode or logits choice runs on its own', async () => {
    const { fake, model } = batcher();
    const blocker = model.predict(input(1), mc());
    await fake.callCount(1);
    const answers = [
      model.predict(input(2), mc(0)),
      model.predict(input(3), mc(7)),
      model.predict(input(4), mc(0)),
      model.predict(input(5), { mode: 'mean', samples: 10, seed: 0 }),
      model.predict(input(6), { ...mc(0), includeLogits: true }),
    ];
    await turn();
    for (let i = 0; i < 5; i++) {
      await fake.callCount(i + 1);
      fake.calls[i].release();
    }
    assert.deepEqual(fake.calls.slice(1).map((c) => c.pixels), [[2, 4], [3], [5], [6]]);
    assert.deepEqual((await Promise.all(answers)).map(valuesOf), [[2], [3], [4], [5], [6]]);
    await blocker;
  });

  it('keeps a run within maxBatchSize images; a larger single request still runs, alone', async () => {
    const { fake, model } = batcher({ maxBatchSize: 3 });
    const blocker = model.predict(input(1), mc());
    await fake.callCount(1);
    const answers = [model.predict(input(2, 3), mc()), model.predict(input(4, 5), mc()), model.predict(input(6, 7, 8, 9), mc()), model.predict(input(10), mc())];
    await turn();
    for (let i = 0; i < 4; i++) {
      await fake.callCount(i + 1);
      fake.calls[i].release();
    }
    // [2,3] + [10] fill 3; [4,5] next; [6..9] alone.
    assert.deepEqual(fake.calls.slice(1).map((c) => c.pixels), [[2, 3, 10], [4, 5], [6, 7, 8, 9]]);
    assert.deepEqual((await Promise.all(answers)).map(valuesOf), [[2, 3], [4, 5], [6, 7, 8, 9], [10]]);
    await blocker;
  });

  it('refuses a request over maxQueue with QueueFullError (Retry-After >= 1 s) and serves again once the queue drains', async () => {
    const { fake, model } = batcher({ maxQueue: 2 });
    const running = model.predict(input(1), mc());
    await fake.callCount(1);
    const queued = [model.predict(input(2), mc()), model.predict(input(3), mc())];
    await assert.rejects(model.predict(input(4), mc()), (e: unknown) => e instanceof QueueFullError && e.retryAfterSeconds >= 1 && /QUEUE_MAX_REQUESTS/.test(e.message));
    fake.calls[0].release();
    await fake.callCount(2);
    fake.calls[1].release();
    assert.deepEqual((await Promise.all(queued)).map(valuesOf), [[2], [3]]);
    await running;
    const after = model.predict(input(5), mc());
    await fake.callCount(3);
    fake.calls[2].release();
    assert.deepEqual(valuesOf(await after), [5]);
  });

  it('answers a request aborted in the queue at once with its reason, and never runs it', async () => {
    const { fake, model } = batcher();
    const running = model.predict(input(1), mc());
    await fake.callCount(1);
    const controller = new AbortController();
    const gone = model.predict(input(2), mc(0, controller.signal));
    const stays = model.predict(input(3), mc());
    await turn();
    const reason = new Error('deadline');
    controller.abort(reason);
    await assert.rejects(gone, (e) => e === reason);
    assert.equal(model.queueDepth, 1);
    fake.calls[0].release();
    await fake.callCount(2);
    assert.deepEqual(fake.calls[1].pixels, [3]);
    fake.calls[1].release();
    assert.deepEqual(valuesOf(await stays), [3]);
    await running;
  });

  it('answers a request aborted during its run at once; the run goes on for the others and stops when all have gone', async () => {
    const { fake, model } = batcher();
    const blocker = model.predict(input(1), mc());
    await fake.callCount(1);
    const [a, b] = [new AbortController(), new AbortController()];
    const first = model.predict(input(2), mc(0, a.signal));
    const second = model.predict(input(3), mc(0, b.signal));
    await turn();
    fake.calls[0].release();
    await blocker;
    await fake.callCount(2);
    const runSignal = fake.calls[1].options.signal!;
    a.abort(new Error('a left'));
    await assert.rejects(first, /a left/);
    assert.equal(runSignal.aborted, false, 'b still waits for the run');
    b.abort(new Error('b left'));
    await assert.rejects(second, /b left/);
    assert.equal(runSignal.aborted, true, 'nobody is left: the run is stopped');
    // Settled once: releasing the stopped run now changes nothing, and the model serves on.
    fake.calls[1].release();
    const next = model.predict(input(4), mc());
    await fake.callCount(3);
    fake.calls[2].release();
    assert.deepEqual(valuesOf(await next), [4]);
  });

  it('rejects every request of a failed run with the error, and a bad image fails its own request only', async () => {
    const { fake, model } = batcher();
    const blocker = model.predict(input(1), mc());
    await fake.callCount(1);
    const bad = model.predict(input(255), mc());
    const [x, y] = [model.predict(input(2), mc()), model.predict(input(3), mc())];
    await assert.rejects(bad, /bad image/);
    fake.calls[0].release();
    await blocker;
    await fake.callCount(2);
    fake.calls[1].fail(new Error('engine failed'));
    await assert.rejects(x, /engine failed/);
    await assert.rejects(y, /engine failed/);
    assert.equal(model.queueDepth, 0, 'nothing leaks in the queue count');
  });

  it('with maxQueueDelayMs, lets the first request wait for a companion', async () => {
    const { fake, model } = batcher({ maxQueueDelayMs: 200 });
    const first = model.predict(input(1), mc());
    await turn();
    assert.equal(fake.calls.length, 0, 'waiting for more');
    const second = model.predict(input(2), mc());
    await fake.callCount(1);
    assert.deepEqual(fake.calls[0].pixels, [1, 2]);
    fake.calls[0].release();
    assert.deepEqual([valuesOf(await first), valuesOf(await second)], [[1], [2]]);
  });

  it('starts at once when the batch is full, delay or not', async () => {
    const { fake, model } = batcher({ maxQueueDelayMs: 60_000, maxBatchSize: 2 });
    const answers = [model.predict(input(1), mc()), model.predict(input(2), mc())];
    await fake.callCount(1);
    fake.calls[0].release();
    assert.deepEqual((await Promise.all(answers)).map(valuesOf), [[1], [2]]);
  });

  it('on dispose refuses what is queued with ModelUnloadedError, lets the running run finish, then disposes the model', async () => {
    const { fake, model } = batcher();
    const running = model.predict(input(1), mc());
    await fake.callCount(1);
    const queued = model.predict(input(2), mc());
    await turn();
    const disposed = model.dispose();
    await assert.rejects(queued, (e) => e instanceof ModelUnloadedError);
    await assert.rejects(model.predict(input(3), mc()), (e) => e instanceof ModelUnloadedError);
    assert.equal(fake.disposed, false, 'the running request still has its model');
    fake.calls[0].release();
    assert.deepEqual(valuesOf(await running), [1]);
    await disposed;
    assert.equal(fake.disposed, true);
  });

  it('refuses bad options at construction', () => {
    const fake = new FakeModel();
    const good = { maxBatchSize: 1, maxQueueDelayMs: 0, maxQueue: 1, maxConcurrentRuns: 1 };
    assert.throws(() => new BatchingModel(fake, { ...good, maxBatchSize: 0 }), /maxBatchSize/);
    assert.throws(() => new BatchingModel(fake, { ...good, maxQueueDelayMs: -1 }), /maxQueueDelayMs/);
    assert.throws(() => new BatchingModel(fake, { ...good, maxQueue: 0 }), /maxQueue/);
    assert.throws(() => new BatchingModel(fake, { ...good, maxConcurrentRuns: 0 }), /maxConcurrentRuns/);
  });
});
