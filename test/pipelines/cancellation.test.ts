// Cancellation per stage (issue #17, item 7): an aborted PredictOptions.signal stops a prediction
// before image decoding, before the backbone and before the head, in mean mode and for DET too,
// not only between MC chunks. Model.headRuns counts the predictions that reached the head.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { ClassifierPipeline } from '../../src/pipelines/classifier.ts';
import { createHeadRunner } from '../../src/heads/runner.ts';
import { preprocessImages } from '../../src/image/preprocess.ts';
import type { InputSpec } from '../../src/format/manifest.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testPng, testLimits } from '../helpers/app.ts';

const ENGINE = { provider: 'cpu', threads: 1 } as const;
const LIMITS = testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 16 });
let parent: string;
let hetxl: ClassifierPipeline;
let det: ClassifierPipeline;
let png: Buffer;

before(async () => {
  parent = await mkdtemp(path.join(tmpdir(), 'hetxl-stages-'));
  hetxl = await ClassifierPipeline.load(await loadCheckpoint(await makeTinyCheckpoint(parent, { K: 10 })), ENGINE, LIMITS);
  det = await ClassifierPipeline.load(await loadCheckpoint(await makeTinyCheckpoint(parent, { type: 'det', K: 10 })), ENGINE, LIMITS);
  png = await testPng(4, 4, 1);
});
after(async () => {
  await Promise.all([hetxl.dispose(), det.dispose()]);
  await rm(parent, { recursive: true, force: true });
});

const isAbort = (e: unknown) => e instanceof Error && e.name === 'AbortError';

test('an aborted signal refuses the batch before any image is decoded', async () => {
  const spec: InputSpec = { height: 4, width: 4, channels: 1, layout: 'NCHW', mean: [0], std: [1], scale: 1, resize: 'stretch' };
  // Not an image at all: decoding it would fail with IMAGE_UNDECODABLE, so an AbortError proves nothing was decoded.
  await assert.rejects(preprocessImages([Buffer.from('not an image')], spec, { maxInputPixels: 100, signal: AbortSignal.abort() }), isAbort);
});

test('aborted before the call: no stage runs, in mean and MC mode, for HET-XL and DET', async () => {
  for (const [model, mode] of [[hetxl, 'mean'], [hetxl, 'mc'], [det, 'mean']] as const) {
    const runs = model.headRuns;
    await assert.rejects(model.predict(model.prepare({ images: [png] }), { mode, samples: 10, seed: 0, signal: AbortSignal.abort() }), isAbort, `${model.name} ${mode}`);
    assert.equal(model.headRuns, runs, `${model.name} ${mode}: the head did not run`);
  }
});

test('aborted while the images are decoded: stops before the backbone and the head', async () => {
  for (const [model, mode] of [[hetxl, 'mc'], [det, 'mean']] as const) {
    const runs = model.headRuns;
    const client = new AbortController();
    const prediction = model.predict(model.prepare({ images: [png, png] }), { mode, samples: 10, seed: 0, signal: client.signal });
    client.abort(); // the decoding has started (sharp works off the event loop) and not finished
    await assert.rejects(prediction, isAbort);
    assert.equal(model.headRuns, runs, `${model.name} ${mode}: the head did not run`);
  }
});

test('the same requests without an abort run every stage once', async () => {
  for (const [model, mode] of [[hetxl, 'mc'], [hetxl, 'mean'], [det, 'mean']] as const) {
    const runs = model.headRuns;
    const predictions = await model.predict(model.prepare({ images: [png, png] }), { mode, samples: 10, seed: 0, signal: new AbortController().signal });
    assert.equal(predictions.length, 2);
    assert.equal(model.headRuns, runs + 1);
  }
});

test('the head runner refuses an aborted MC call before running a session, DET included', async () => {
  for (const type of ['het-xl', 'het', 'det'] as const) {
    const checkpoint = await loadCheckpoint(await makeTinyCheckpoint(parent, { type, name: `runner-${type}` }));
    const runner = await createHeadRunner(checkpoint.manifest.head, checkpoint.weights, ENGINE);
    try {
      const phi = new Float32Array(checkpoint.manifest.head.D);
      await assert.rejects(runner.mc(phi, 1, { samples: 10, seed: 0, signal: AbortSignal.abort() }), isAbort, type);
      assert.equal((await runner.mc(phi, 1, { samples: 10, seed: 0 })).length, 1);
    } finally {
      await runner.dispose();
    }
  }
});
