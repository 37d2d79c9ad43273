// Intra-op threads per session by its size (src/engine/session.ts intraOpThreadsFor): one thread
// for a small model when ORT_THREADS is 0, ORT's choice for a large one, ORT_THREADS when set;
// and a small model's outputs are the same bytes with one thread as with two (the bundled
// hetxl-fashion-mnist's backbone and noise-scale graph, random batches of 1 to 8 images).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSession, floatTensor, intraOpThreadsFor, SMALL_MODEL_BYTES } from '../../src/engine/session.ts';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { buildHeadGraphs } from '../../src/heads/graphs.ts';
import { PHI } from '../../src/heads/graph-io.ts';

test('threads: one for a model under SMALL_MODEL_BYTES with ORT_THREADS 0, ORT\'s choice (0) above it, ORT_THREADS when set', () => {
  const auto = { provider: 'cpu' as const, threads: 0 };
  assert.equal(intraOpThreadsFor(new Uint8Array(SMALL_MODEL_BYTES - 1), auto), 1);
  assert.equal(intraOpThreadsFor(new Uint8Array(SMALL_MODEL_BYTES), auto), 0);
  assert.equal(intraOpThreadsFor(new Uint8Array(SMALL_MODEL_BYTES - 1), auto, { computeBound: true }), 0);
  assert.equal(intraOpThreadsFor(new Uint8Array(10), { ...auto, threads: 3 }), 3);
  assert.equal(intraOpThreadsFor(new Uint8Array(SMALL_MODEL_BYTES * 2), { ...auto, threads: 2 }), 2);
});

test('the bundled model\'s backbone and scale graph give the same bytes on one thread as on two', async () => {
  const checkpoint = await loadCheckpoint('models/hetxl-fashion-mnist');
  const { height, width, channels } = checkpoint.manifest.input;
  const graphs = buildHeadGraphs(checkpoint.manifest.head, checkpoint.weights);
  const { D } = checkpoint.manifest.head;
  const models: [Uint8Array, string, (batch: number) => number[]][] = [
    [checkpoint.backbone, 'image', (b) => [b, channels, height, width]],
    [graphs.scaleModel!, PHI, (b) => [b, D]],
  ];
  for (const [model, input, dims] of models) {
    const [one, two] = await Promise.all([createSession(model, { provider: 'cpu', threads: 1 }), createSession(model, { provider: 'cpu', threads: 2 })]);
    let state = 7;
    for (const batch of [1, 2, 5, 8]) {
      const shape = dims(batch);
      const data = Float32Array.from({ length: shape.reduce((a, b) => a * b, 1) }, () => ((state = (state * 48271) % 2147483647) / 2147483647) * 4 - 2);
      const [a, b] = await Promise.all([one.run({ [input]: floatTensor(data.slice(), shape) }), two.run({ [input]: floatTensor(data.slice(), shape) })]);
      for (const name of Object.keys(a)) {
        assert.deepEqual(new Uint8Array((a[name].data as Float32Array).buffer), new Uint8Array((b[name].data as Float32Array).buffer), `${input} -> ${name}, batch ${batch}`);
      }
    }
    await Promise.all([one.release(), two.release()]);
  }
});
