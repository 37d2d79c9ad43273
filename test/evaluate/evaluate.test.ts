// The uncertainty-quality figures of a training run's report are those of the served predictions:
// a tiny HET-XL trained with input-dependent label noise, its report against the brute-force
// references (test/evaluate/reference.ts) applied to what ClassifierPipeline serves for the same
// images, in mean and MC mode; the flip mask and the provenance of the 'input' noise kind.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { ClassifierPipeline } from '../../src/pipelines/classifier.ts';
import type { PredictionStatistics } from '../../src/pipelines/served-model.ts';
import { runTraining } from '../../src/training/fashion-mnist/run.ts';
import { normalisePixels } from '../../src/image/normalise.ts';
import { tfWasm } from '../../src/training/common/tf.ts';
import type { EvaluationReport } from '../../src/evaluate/evaluate.ts';
import { syntheticImages, TINY_INPUT } from '../helpers/train-data.ts';
import { testLimits } from '../helpers/app.ts';
import { pairwiseAuroc } from './reference.ts';

await tfWasm();
const K = 4;
const SAMPLES = 64;
/** Flipped-label detection on the first 120 of the 160 training images. */
const FLIP_IMAGES = 120;
const close = (a: number | null | undefined, b: number | null, msg: string) =>
  b === null ? assert.equal(a, null, msg) : assert.ok(typeof a === 'number' && Math.abs(a - b) < 1e-9, `${msg}: ${a} vs ${b}`);

test('a run with input-dependent noise reports, per mode, the AUROCs of the served scores and of the flip mask', async () => {
  const train = syntheticImages(160, K, 11);
  const testSet = syntheticImages(60, K, 12);
  const run = await runTraining(train, {
    network: { hidden: 12, D: 5, head: 'het-xl', R: 2, minScale: 1e-3, temperature: { kind: 'learned', min: 0.3, max: 3, init: 0 } },
    training: { epochs: 1, batchSize: 32, learningRate: 0.01, temperatureLearningRate: 0.05, trainSamples: 4, seed: 5 },
    labelNoise: { kind: 'input', rate: 0.8, groups: [[0, 1, 2]] },
    input: TINY_INPUT,
    labels: ['zero', 'one', 'two', 'three'],
    modelsDir: await mkdtemp(join(tmpdir(), 'evaluate-test-')),
    name: 'tiny-input-noise',
    description: 'uncertainty-quality wiring test',
    provenance: { command: 'test' },
    evaluation: { data: testSet, description: 'synthetic test set', samples: SAMPLES, seed: 2, flippedLabelImages: FLIP_IMAGES },
    progress: false,
  });
  run.network.dispose();
  const report = run.report!;
  assert.deepEqual(JSON.parse(await readFile(join(run.dir, 'evaluation.json'), 'utf8')), JSON.parse(JSON.stringify(report)), 'evaluation.json holds the report');

  const noise = run.manifest.provenance!.labelNoise as Record<string, unknown>;
  assert.equal(noise.kind, 'input');
  assert.equal(noise.flipped, run.noisy!.flipped);
  assert.ok(run.noisy!.flipped > 0 && run.noisy!.flipped < 160, `some labels flipped: ${run.noisy!.flipped}`);
  assert.equal((noise.projection as { slope: number }).slope, 4);

  const model = await ClassifierPipeline.load(await loadCheckpoint(run.dir), { provider: 'cpu', threads: 1 }, testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 64 }));
  try {
    for (const mode of ['mean', 'mc'] as const) {
      const served = async (set: typeof train) => model.predictPixels(normalisePixels(set.pixels, TINY_INPUT), set.count, { mode, samples: SAMPLES, seed: 2 });
      const onTest = await served(testSet);
      const stats = onTest.map((p) => p.statistics as PredictionStatistics);
      const wrong = onTest.map((p, i) => (p.probs.indexOf(Math.max(...p.probs)) === testSet.labels[i] ? 0 : 1));
      const quality = report.modes.find((m) => m.mode === mode)!.uncertainty;
      close(quality.maxProbability!.misclassificationAuroc, pairwiseAuroc(stats.map((s) => -s.maxProbability), wrong), `${mode} max probability`);
      close(quality.predictiveEntropy!.misclassificationAuroc, pairwiseAuroc(stats.map((s) => s.predictiveEntropy), wrong), `${mode} entropy`);
      close(quality.margin!.misclassificationAuroc, pairwiseAuroc(stats.map((s) => -s.margin), wrong), `${mode} margin`);
      if (mode === 'mc') close(quality.mutualInformation!.misclassificationAuroc, pairwiseAuroc(stats.map((s) => s.mutualInformation!), wrong), 'mc mutual information');
      else assert.equal(quality.mutualInformation, undefined, 'no mutual information in mean mode');
      assert.ok(quality.maxProbability!.aurc >= 0 && quality.maxProbability!.aurc <= 1);

      const first = { ...train, count: FLIP_IMAGES, pixels: train.pixels.subarray(0, FLIP_IMAGES * train.rows * train.cols) };
      const onTrain = await served(first);
      const flips = report.flippedLabels!.modes.find((m) => m.mode === mode)!.auroc;
      const mask = run.noisy!.mask.subarray(0, FLIP_IMAGES);
      close(flips.predictiveEntropy, pairwiseAuroc(onTrain.map((p) => (p.statistics as PredictionStatistics).predictiveEntropy), mask), `${mode} flips by entropy`);
      close(flips.givenLabelProbability, pairwiseAuroc(onTrain.map((p, i) => 1 - p.probs[run.noisy!.labels[i]]), mask), `${mode} flips by the given label`);
    }
  } finally {
    await model.dispose();
  }
  assert.equal(report.flippedLabels!.data.count, FLIP_IMAGES);
  assert.equal(report.flippedLabels!.data.flipped, run.noisy!.mask.subarray(0, FLIP_IMAGES).reduce((a, v) => a + v, 0));
  assert.equal(typeof (JSON.parse(JSON.stringify(report)) as EvaluationReport).modes[1].uncertainty.margin!.accuracyAtCoverage['0.8'], 'number');
});
