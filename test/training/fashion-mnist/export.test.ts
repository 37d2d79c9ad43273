// Export fidelity: a network trained for a few steps in tfjs, exported to checkpoint v1 and
// loaded through the served path (loadCheckpoint -> Model), gives the same mean-mode
// probabilities (within 1e-4) and, for noisy heads, an MC predictive that agrees with tfjs's
// within a few standard errors (the two draw different noise, so only statistically).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import sharp from 'sharp';
import { loadCheckpoint } from '../../../src/format/checkpoint.ts';
import { ClassifierPipeline } from '../../../src/pipelines/classifier.ts';
import type { HeadType } from '../../../src/format/manifest.ts';
import { runTraining } from '../../../src/training/fashion-mnist/run.ts';
import { normalisePixels } from '../../../src/image/normalise.ts';
import { tfWasm } from '../../../src/training/common/tf.ts';
import { syntheticImages, TINY_INPUT } from '../../helpers/train-data.ts';
import { testLimits } from '../../helpers/app.ts';

const tf = await tfWasm();
const engine = { provider: 'cpu' as const, threads: 1 };
const limits = testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 64 });
const K = 4;
const labels = ['zero', 'one', 'two', 'three'];

async function trainTiny(head: HeadType) {
  const train = syntheticImages(96, K, 11);
  return runTraining(train, {
    network: { hidden: 12, D: 5, head, R: 2, minScale: 1e-3, temperature: head === 'het-xl' ? { kind: 'learned', min: 0.3, max: 3, init: 0 } : { kind: 'fixed', tau: 0.8 } },
    training: { epochs: 2, batchSize: 16, learningRate: 0.01, temperatureLearningRate: 0.05, trainSamples: 4, seed: 5 },
    input: TINY_INPUT,
    labels,
    modelsDir: await mkdtemp(join(tmpdir(), 'export-test-')),
    name: `tiny-${head}`,
    description: 'export fidelity test',
    provenance: { command: 'test' },
    progress: false,
  });
}

for (const head of ['det', 'het', 'het-xl'] as const) {
  test(`${head}: served mean-mode probabilities equal tfjs within 1e-4, from pixels and from PNG files`, async () => {
    const run = await trainTiny(head);
    const images = syntheticImages(6, K, 99);
    const x = normalisePixels(images.pixels, TINY_INPUT);
    const features = images.rows * images.cols;
    const expected = tf.tidy(() => run.network.meanProbs(tf.tensor2d(x, [images.count, features])).dataSync());
    const model = await ClassifierPipeline.load(await loadCheckpoint(run.dir), engine, limits);
    try {
      const fromPixels = await model.predictPixels(x, images.count, { mode: 'mean', samples: 1, seed: 0 });
      const pngs = await Promise.all(
        Array.from({ length: images.count }, (_, i) =>
          sharp(Buffer.from(images.pixels.subarray(i * features, (i + 1) * features)), { raw: { width: images.cols, height: images.rows, channels: 1 } }).png().toBuffer(),
        ),
      );
      const fromPng = await model.predict(model.prepare({ images: pngs }), { mode: 'mean', samples: 1, seed: 0 });
      for (let i = 0; i < images.count; i++) {
        for (let k = 0; k < K; k++) {
          assert.ok(Math.abs(fromPixels[i].probs[k] - expected[i * K + k]) < 1e-4, `pixels image ${i} class ${k}: ${fromPixels[i].probs[k]} vs ${expected[i * K + k]}`);
          assert.ok(Math.abs(fromPng[i].probs[k] - expected[i * K + k]) < 1e-4, `png image ${i} class ${k}: ${fromPng[i].probs[k]} vs ${expected[i * K + k]}`);
        }
      }
      assert.ok(Math.abs(model.metadata.head.tau - run.network.tauValue()) < 1e-6);
      if (head === 'het-xl') assert.notEqual(model.metadata.head.temperature?.t, 0, 'the learned t moved from its initial 0');
    } finally {
      await model.dispose();
      run.network.dispose();
    }
  });
}

for (const head of ['het', 'het-xl'] as const) {
  test(`${head}: served MC predictive agrees with tfjs's within 5 standard errors`, async () => {
    const run = await trainTiny(head);
    const images = syntheticImages(4, K, 123);
    const x = normalisePixels(images.pixels, TINY_INPUT);
    const S = 4000;
    // tfjs: the S sampled softmaxes, their mean and the standard error of that mean.
    const sampled = tf.tidy(() => {
      const phi = run.network.prelogits(tf.tensor2d(x, [images.count, images.rows * images.cols]));
      const logits = run.network.sampledLogits(phi, S, { factor: 17, diagonal: 18 });
      return tf.softmax(tf.div(logits, run.network.tau())).dataSync();
    });
    const model = await ClassifierPipeline.load(await loadCheckpoint(run.dir), engine, limits);
    try {
      const served = await model.predictPixels(x, images.count, { mode: 'mc', samples: S, seed: 3 });
      let noiseVisible = false;
      for (let i = 0; i < images.count; i++) {
        for (let k = 0; k < K; k++) {
          let sum = 0;
          let sumSq = 0;
          for (let s = 0; s < S; s++) {
            const p = sampled[(i * S + s) * K + k];
            sum += p;
            sumSq += p * p;
          }
          const mean = sum / S;
          const se = Math.sqrt(Math.max(0, sumSq / S - mean * mean) / S);
          const servedSe = served[i].stdError![k];
          const bound = 5 * Math.hypot(se, servedSe) + 1e-5;
          assert.ok(Math.abs(served[i].probs[k] - mean) < bound, `image ${i} class ${k}: served ${served[i].probs[k]} vs tfjs ${mean} (bound ${bound})`);
          if (se > 1e-4) noiseVisible = true;
        }
      }
      assert.ok(noiseVisible, 'the noise changes the sampled softmaxes (otherwise this test proves nothing)');
    } finally {
      await model.dispose();
      run.network.dispose();
    }
  });
}
