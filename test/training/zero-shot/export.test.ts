// Zero-shot export fidelity: a dual encoder trained for a few steps in tfjs, exported by
// src/training/zero-shot/export.ts and served by ZeroShotPipeline (loadCheckpoint -> ONNX towers ->
// the JS zero-shot head), gives the tfjs mean-mode probabilities over the 28 labels within 1e-4,
// and an MC predictive that agrees with tfjs's within a few standard errors (the two draw
// different noise, so only statistically), while differing from mean mode (the noise matters).
import assert from 'node:assert/strict';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { tfWasm } from '../../../src/training/common/tf.ts';
import { DEFAULT_TEMPLATES, imageEmbeddings, labelEmbeddings, zeroShotProbs } from '../../../src/training/zero-shot/evaluate.ts';
import { exportZeroShot } from '../../../src/training/zero-shot/export.ts';
import { DualEncoder } from '../../../src/training/zero-shot/model.ts';
import { loadServed, servedProbs } from '../../../src/training/zero-shot/served.ts';
import { allLabels } from '../../../src/training/zero-shot/shapes.ts';
import { defaultConfig, PIXELS, shapesData, shapesTokenizerJson, trainDualEncoder, vocabularySize } from '../../../src/training/zero-shot/trainer.ts';

await tfWasm(); // the wasm backend, before any tfjs work
const V = vocabularySize(shapesTokenizerJson());
const K = allLabels().length;
const N = 6;
const images = shapesData(N, 21, 'all').images;

async function exported(head: 'het-xl' | 'det') {
  // diag init 0: noise scale softplus(0) ~ 0.7, so MC visibly differs from mean mode
  const model = new DualEncoder({ ...defaultConfig(head, V), convWidths: [4, 8], dim: 8, tokenWidth: 8, factors: 3, diagBiasInit: 0 }, 3);
  await trainDualEncoder(model, shapesData(128, 4, 'train'), { steps: 15, batchSize: 32, learningRate: 0.01, samples: 4, seed: 3 });
  const dir = join(await mkdtemp(join(tmpdir(), 'zs-export-')), `tiny-${head}`);
  await exportZeroShot(model, { dir, description: 'export fidelity test', templates: DEFAULT_TEMPLATES, provenance: { command: 'test' } });
  return { model, served: await loadServed(dir) };
}

function tfjsProbs(model: DualEncoder, samples: number): Float32Array {
  const z = imageEmbeddings(model, images);
  const texts = labelEmbeddings(model, allLabels(), DEFAULT_TEMPLATES);
  const p = zeroShotProbs(model, z, texts, samples, 1);
  z.dispose();
  texts.dispose();
  return p;
}

for (const head of ['het-xl', 'det'] as const) {
  test(`${head}: served mean-mode probabilities equal the tfjs forward within 1e-4`, async () => {
    const { model, served } = await exported(head);
    assert.equal(images.length, N * PIXELS);
    assert.equal(served.metadata.supportsMc, head === 'het-xl');
    const got = await servedProbs(served, images, 0, 0);
    const want = tfjsProbs(model, 0);
    let worst = 0;
    for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - want[i]));
    assert.ok(worst < 1e-4, `max |served - tfjs| = ${worst}`);
    if (head === 'het-xl') {
      const S = 4000;
      const predictions = await served.predictPixels(images, N, allLabels(), served.metadata.zeroShot!.templates, { mode: 'mc', samples: S, seed: 5 });
      const mc = tfjsProbs(model, S);
      let farFromMean = 0;
      predictions.forEach((p, b) => {
        for (let k = 0; k < K; k++) {
          const se = p.stdError![k];
          const diff = Math.abs(p.probs[k] - mc[b * K + k]);
          assert.ok(diff <= 5 * Math.SQRT2 * se + 1e-4, `image ${b} label ${k}: served ${p.probs[k]} tfjs ${mc[b * K + k]} (se ${se})`);
          farFromMean = Math.max(farFromMean, Math.abs(p.probs[k] - want[b * K + k]) / (se + 1e-12));
        }
      });
      assert.ok(farFromMean > 10, `MC should differ from mean mode by many standard errors somewhere (max ${farFromMean})`);
    }
    await served.dispose();
    model.dispose();
  });
}
