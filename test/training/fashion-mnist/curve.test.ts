// The learning curve (test NLL after each epoch, in the manifest's provenance) and the cosine
// learning-rate schedule, on tiny generated runs.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { HeadType } from '../../../src/format/manifest.ts';
import { runTraining } from '../../../src/training/fashion-mnist/run.ts';
import { learningRateFactor } from '../../../src/training/fashion-mnist/trainer.ts';
import { normalisePixels } from '../../../src/image/normalise.ts';
import { tfWasm } from '../../../src/training/common/tf.ts';
import { syntheticImages, TINY_INPUT } from '../../helpers/train-data.ts';

const tf = await tfWasm();
const K = 4;

async function tinyRun(head: HeadType, epochs: number) {
  const train = syntheticImages(256, K, 21);
  const testSet = syntheticImages(64, K, 22);
  const run = await runTraining(train, {
    network: { hidden: 12, D: 5, head, R: 2, minScale: 1e-3, temperature: head === 'het-xl' ? { kind: 'learned', min: 0.3, max: 3, init: 0 } : { kind: 'fixed', tau: 1 } },
    training: { epochs, batchSize: 32, learningRate: 0.01, temperatureLearningRate: 0.05, trainSamples: 4, seed: 3, learningRateSchedule: 'cosine' },
    input: TINY_INPUT,
    labels: ['a', 'b', 'c', 'd'],
    modelsDir: await mkdtemp(join(tmpdir(), 'curve-test-')),
    name: `curve-${head}`,
    description: 'learning-curve test',
    provenance: { command: 'test' },
    evaluation: { data: testSet, description: 'generated test set', samples: 50, seed: 0, flippedLabelImages: 0, curveSamples: 8 },
    progress: false,
  });
  return { run, testSet };
}

/** -mean log max(p(y|x), 1e-12) in float64 from the trained tfjs network's mean-mode probabilities. */
function referenceMeanNll(run: Awaited<ReturnType<typeof tinyRun>>['run'], set: ReturnType<typeof syntheticImages>): number {
  const x = normalisePixels(set.pixels, TINY_INPUT);
  const p = tf.tidy(() => run.network.meanProbs(tf.tensor2d(x, [set.count, set.rows * set.cols])).dataSync());
  let sum = 0;
  for (let i = 0; i < set.count; i++) sum -= Math.log(Math.max(p[i * K + set.labels[i]], 1e-12));
  return sum / set.count;
}

for (const head of ['det', 'het-xl'] as const) {
  test(`${head}: one test NLL per epoch in the manifest; the last equals the float64 NLL of the trained network and the served mean-mode NLL`, async () => {
    const { run, testSet } = await tinyRun(head, 3);
    try {
      const manifest = JSON.parse(await readFile(join(run.dir, 'manifest.json'), 'utf8'));
      const curve = manifest.provenance.training.epochTestNll as { mean: number[]; mc?: number[]; samples?: number };
      assert.equal(curve.mean.length, 3);
      for (const v of curve.mean) assert.ok(Number.isFinite(v) && v > 0, `NLL ${v}`);
      const reference = referenceMeanNll(run, testSet);
      assert.ok(Math.abs(curve.mean[2] - reference) < 1e-5, `curve ${curve.mean[2]} vs float64 ${reference}`);
      const served = run.report!.modes.find((m) => m.mode === 'mean')!.nll;
      assert.ok(Math.abs(curve.mean[2] - served) < 1e-4, `curve ${curve.mean[2]} vs served ${served}`);
      assert.notEqual(curve.mean[0], curve.mean[2], 'the curve follows the training');
      if (head === 'het-xl') {
        assert.equal(curve.samples, 8);
        assert.equal(curve.mc?.length, 3);
        for (const v of curve.mc!) assert.ok(Number.isFinite(v) && v > 0, `MC NLL ${v}`);
      } else {
        assert.equal(curve.mc, undefined, 'DET has no MC curve');
      }
      assert.equal(manifest.provenance.training.learningRateSchedule, 'cosine');
    } finally {
      run.network.dispose();
    }
  });
}

test('cosine schedule: factor (1 + cos(pi step / steps)) / 2; constant: 1', () => {
  assert.equal(learningRateFactor('cosine', 0, 100), 1);
  assert.ok(Math.abs(learningRateFactor('cosine', 50, 100) - 0.5) < 1e-15);
  assert.ok(Math.abs(learningRateFactor('cosine', 25, 100) - (1 + Math.SQRT1_2) / 2) < 1e-15);
  assert.ok(Math.abs(learningRateFactor('cosine', 99, 100) - (1 + Math.cos(0.99 * Math.PI)) / 2) < 1e-15);
  assert.equal(learningRateFactor('constant', 70, 100), 1);
});
