// INFERENCE_WORKERS=auto (src/pipelines/worker/placement.ts): which checkpoints keep a pipeline on
// the HTTP thread, the size of a run (images x samples x K x D), each run sent to the thread its
// images, size and the runs in flight say, and the same predictions from the auto loader's model as from the in-process
// pipeline, for runs that stay on this thread and runs that go to the worker.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../../src/format/checkpoint.ts';
import { loadServedModel } from '../../src/pipelines/registry.ts';
import type { ModelMetadata, PixelBatch, Prediction, PredictOptions, PreparedInput, ServedModel } from '../../src/pipelines/served-model.ts';
import { keepsLocalPipeline, LOCAL_RUN_WORK, LocalFirstModel, runWork } from '../../src/pipelines/worker/placement.ts';
import { workerModelLoader } from '../../src/pipelines/worker/worker-model.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testLimits } from '../helpers/app.ts';

const ENGINE = { provider: 'cpu', threads: 1 } as const;
const LIMITS = testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 16, textCacheSize: 10 });
const log = { info() {}, error() {} };
const open: ServedModel[] = [];
let parent: string;

before(async () => {
  parent = await mkdtemp(path.join(tmpdir(), 'hetxl-placement-'));
});
after(async () => {
  await Promise.all(open.map((m) => m.dispose()));
  await rm(parent, { recursive: true, force: true });
});

const metadata = (K: number, D: number, supportsMc = true) => ({ head: { K, D }, supportsMc }) as unknown as ModelMetadata;

test('the size of a run: images x samples x K x D, one sample in mean mode and for a model without MC', () => {
  assert.equal(runWork(metadata(10, 64), 1, { mode: 'mean', samples: 1000 }), 640);
  assert.equal(runWork(metadata(10, 64), 8, { mode: 'mc', samples: 100 }), 8 * 100 * 10 * 64);
  assert.equal(runWork(metadata(10, 64, false), 8, { mode: 'mc', samples: 100 }), 8 * 10 * 64);
  assert.equal(LOCAL_RUN_WORK, 1_048_576);
});

test('a classifier under 4 MiB keeps a local pipeline; a larger one and a zero-shot model do not', async () => {
  const small = await loadCheckpoint('models/hetxl-fashion-mnist');
  assert.equal(keepsLocalPipeline(small), true);
  // 4 MiB of backbone bytes (the head's 38 KB on top): over the bound.
  const large: Checkpoint = { ...small, backbone: new Uint8Array(4 * 1024 * 1024) };
  assert.equal(keepsLocalPipeline(large), false);
  await generateCheckpoint({
    modelsDir: parent,
    name: 'zs',
    seed: 3,
    head: { type: 'het-xl', D: 8, K: 9, R: 2, tau: 0.1 },
    input: { height: 4, width: 4, channels: 1, mean: [0.5], std: [0.25] },
    mc: { defaultSamples: 50, maxSamples: 500 },
    zeroShot: { vocabulary: ['a', 'red', 'circle'], templates: ['a {label}'] },
  });
  assert.equal(keepsLocalPipeline(await loadCheckpoint(path.join(parent, 'zs'))), false);
});

/** A model that records the runs it is given. */
function recorder(name: string, runs: string[]): ServedModel {
  return {
    name,
    task: 'classification',
    metadata: metadata(10, 64),
    labels: [],
    prepare: (input) => ({ ...input, labels: [], warnings: [] }),
    preprocess: async () => ({ data: new Float32Array(0), batch: 0 }),
    predictTensor: async (pixels: PixelBatch, _input: PreparedInput, options: PredictOptions): Promise<Prediction[]> => {
      runs.push(`${name} ${pixels.batch} x ${options.mode === 'mc' ? options.samples : 1}`);
      return [];
    },
    predict: async () => [],
    warmUp: async () => void runs.push(`${name} warm`),
    dispose: async () => void runs.push(`${name} disposed`),
  };
}

test('each run goes where its size and the load say: one image up to 2^20 multiply-adds here when idle; larger runs, merged runs and runs under load to the worker', async () => {
  const runs: string[] = [];
  const model = new LocalFirstModel(recorder('local', runs), recorder('worker', runs));
  const input = { images: [], labels: [], warnings: [] };
  const run = (batch: number, options: PredictOptions) => model.predictTensor({ data: new Float32Array(batch), batch }, input, options);
  // K x D = 640: 2^20 / 640 = 1638.4 samples.
  await run(1, { mode: 'mean', samples: 1000, seed: 0 }); // 640
  await run(1, { mode: 'mc', samples: 1638, seed: 0 }); // 1,048,320
  await run(1, { mode: 'mc', samples: 1639, seed: 0 }); // 1,048,960
  await run(2, { mode: 'mean', samples: 1, seed: 0 }); // 1,280, but two images: a merged run or a batch request
  // Under load: a short run started while another is in flight goes to the worker.
  const first = run(1, { mode: 'mean', samples: 1, seed: 0 });
  const second = run(1, { mode: 'mean', samples: 1, seed: 0 });
  await Promise.all([first, second]);
  await run(1, { mode: 'mc', samples: 100, seed: 0 }); // idle again
  await model.warmUp();
  await model.dispose();
  assert.deepEqual(runs, [
    ...['local 1 x 1', 'local 1 x 1638', 'worker 1 x 1639', 'worker 2 x 1'],
    ...['local 1 x 1', 'worker 1 x 1', 'local 1 x 100'],
    ...['local warm', 'worker warm', 'local disposed', 'worker disposed'],
  ]);
});

/** Predictions as plain arrays, so that deepStrictEqual compares values bit for bit. */
function plain(predictions: Prediction[]): unknown {
  return JSON.parse(JSON.stringify(predictions, (_key, value: unknown) => (ArrayBuffer.isView(value) ? Array.from(value as Float32Array) : value)));
}

test('the auto loader serves a small classifier from both threads with the in-process answers, bit for bit', async () => {
  const dir = await makeTinyCheckpoint(parent, { name: 'tiny', D: 16, K: 5, R: 2, mc: { defaultSamples: 20, maxSamples: 100_000 } });
  const checkpoint = await loadCheckpoint(dir);
  const reference = await loadServedModel(checkpoint, ENGINE, LIMITS);
  const auto = await workerModelLoader({ log, shortRunsLocal: true })(checkpoint, ENGINE, LIMITS);
  const workersOnly = await workerModelLoader({ log })(checkpoint, ENGINE, LIMITS);
  open.push(reference, auto, workersOnly);
  assert.ok(auto instanceof LocalFirstModel);
  assert.ok(!(workersOnly instanceof LocalFirstModel));
  await auto.warmUp();
  const size = reference.metadata.input.height * reference.metadata.input.width * reference.metadata.input.channels;
  const pixels = (batch: number) => ({ data: Float32Array.from({ length: batch * size }, (_, i) => Math.sin(i) * 0.5 + 0.5), batch });
  const input = reference.prepare({ images: [] });
  // K x D = 80.
  const cases: [number, PredictOptions, boolean][] = [
    [1, { mode: 'mean', samples: 1, seed: 0, includeLogits: true }, true],
    [2, { mode: 'mean', samples: 1, seed: 0, includeLogits: true }, false],
    [1, { mode: 'mc', samples: 500, seed: 7 }, true], // 40,000
    [1, { mode: 'mc', samples: 20_000, seed: 7 }, false], // 1.6 M
    [4, { mode: 'mc', samples: 300, seed: 7 }, false],
  ];
  for (const [batch, options, local] of cases) {
    assert.equal((auto as LocalFirstModel).runsLocally(batch, options), local, JSON.stringify(options));
    const expected = plain(await reference.predictTensor(pixels(batch), input, options));
    assert.deepStrictEqual(plain(await auto.predictTensor(pixels(batch), input, options)), expected, JSON.stringify(options));
  }
});
