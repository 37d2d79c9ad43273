// npm run bench [-- --checkpoint <dir> --models <dir> --reps 5 --threads 0 --no-error --error-only --shared-noise]
// npm run bench -- --estimators [its own flags, bench/estimators.ts]: the error-against-cost table of issue #15.
// npm run bench -- --exact [--reps --threads]: estimator=exact against sigmoid MC S = 1000 and the yardstick (bench/exact.ts).
// npm run bench -- --candidates [--reps --reference 10000]: estimator=candidates against plain S = 1000 (bench/candidates.ts).
// The benchmark of issue #4 (not a test): for the JFT-size checkpoint (K = 29,593, D = 1024,
// R = 50; generated into the OS temp folder if absent) and for every model in models/, at batch
// 1 and 8: mean-mode latency, MC latency at S = 100 and 1000, the yardstick (bare product of the
// same shape, reduced inside ORT), their ratio, per-image efficiency of batch 8 against batch 1
// (all of a row's runs timed in alternation, round after round), and the peak RSS; then the
// estimator error against S. --shared-noise instead compares, on the JFT-size head alone, shared
// diagonal noise (the rank R + 1 logit-space path) with independent noise and the yardstick
// (bench/shared-noise.ts).
// Latencies are of ClassifierPipeline.predictPixels: backbone, head (noise, product, softmax, reductions) and
// every statistic, from preprocessed pixels (image decoding is not included). Each MC repetition
// uses a fresh seed, so the noise is generated every time (the server's noise cache would serve
// a repeated seed for free).
import { existsSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { generateCheckpoint } from '../src/synthetic/random-checkpoint.ts';
import { parseMakeCheckpointArgs } from '../src/cli/make-checkpoint.ts';
import { listCheckpointDirs, loadCheckpoint } from '../src/format/checkpoint.ts';
import { ClassifierPipeline } from '../src/pipelines/classifier.ts';
import { modelLimitsOf, loadConfig } from '../src/config.ts';
import type { EngineOptions } from '../src/engine/session.ts';
import { estimatorError, REFERENCE_SAMPLES } from './estimator-error.ts';
import { interleavedMs, median, medianOfRounds, peakRssMiB, resetPeakRss } from './timing.ts';
import { createYardstick } from './yardstick.ts';
import { benchSharedNoise } from './shared-noise.ts';
import { benchExact } from './exact.ts';
import { benchCandidates } from './candidates.ts';
import { benchEstimators } from './estimators.ts';

// --estimators takes flags of its own (bench/estimators.ts parses them); these keep their defaults.
const estimatorsOnly = process.argv.includes('--estimators');
const { values: args } = parseArgs({
  args: estimatorsOnly ? [] : process.argv.slice(2),
  options: {
    checkpoint: { type: 'string' },
    models: { type: 'string' },
    reps: { type: 'string', default: '5' },
    threads: { type: 'string', default: '0' },
    batches: { type: 'string', default: '1,8' },
    samples: { type: 'string', default: '100,1000' },
    'no-error': { type: 'boolean', default: false },
    'error-only': { type: 'boolean', default: false },
    'shared-noise': { type: 'boolean', default: false },
    exact: { type: 'boolean', default: false },
    candidates: { type: 'boolean', default: false },
    reference: { type: 'string', default: '10000' },
  },
});
const reps = Number(args.reps);
const engine: EngineOptions = { provider: 'cpu', threads: Number(args.threads) };
const batches = args.batches.split(',').map(Number);
const sampleCounts = args.samples.split(',').map(Number);
const MEMORY_BUDGET_BYTES = 512 * 1024 * 1024;

/** The JFT-size checkpoint: the given folder, or generated once into the OS temp folder. */
async function jftCheckpointDir(): Promise<string> {
  if (args.checkpoint) return args.checkpoint;
  const options = parseMakeCheckpointArgs(['--out', path.join(tmpdir(), 'hetxl-bench')]);
  if (options === 'help') throw new Error('unreachable');
  const dir = path.join(options.modelsDir, options.name);
  if (!existsSync(path.join(dir, 'manifest.json'))) {
    console.error(`generating ${dir} (K = 29,593, D = 1024, R = 50) ...`);
    await generateCheckpoint(options);
  }
  return dir;
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

interface ModelRow {
  batch: number;
  meanMs: number;
  mc: { samples: number; ms: number; yardstickMs: number; ratio: number }[];
}

async function benchModel(dir: string): Promise<void> {
  const checkpoint = await loadCheckpoint(dir);
  const { head, input } = checkpoint.manifest;
  if (checkpoint.manifest.task !== 'classification') {
    console.log(`\n### ${checkpoint.manifest.name}: skipped (task ${checkpoint.manifest.task}; the benchmark covers classification heads)`);
    return;
  }
  const W = checkpoint.weights.get('loc_layer/kernel')!.data;
  const limits = { ...modelLimitsOf(loadConfig({})), headMemoryBudgetBytes: MEMORY_BUDGET_BYTES };
  const model = await ClassifierPipeline.load(checkpoint, engine, limits);
  // Memory first, before the yardstick's session (its [rows x K] product stays in ORT's arena):
  // the peak RSS during one MC request at the largest batch and S, and the RSS just before it.
  let mcMemory: { before: number; peak: number } | undefined;
  if (model.metadata.supportsMc && resetPeakRss()) {
    const batch = Math.max(...batches);
    const pixels = new Float32Array(batch * input.height * input.width * input.channels);
    const before = peakRssMiB();
    await model.predictPixels(pixels, batch, { mode: 'mc', samples: Math.max(...sampleCounts), seed: 7 });
    mcMemory = { before, peak: peakRssMiB() };
  }
  const yardstick = await createYardstick(W, head.D, head.K, engine);
  resetPeakRss();
  const pixelsOf = (batch: number) => Float32Array.from({ length: batch * input.height * input.width * input.channels }, (_, i) => Math.sin(0.1 * i));
  const pixels = new Map(batches.map((b) => [b, pixelsOf(b)]));
  // Every batch size in the same rounds, so that the per-image efficiency compares like with like.
  const meanTimes = await interleavedMs(batches.map((b) => () => model.predictPixels(pixels.get(b)!, b, { mode: 'mean', samples: 1, seed: 0 })), Math.max(reps, 20), 3);
  const rows: ModelRow[] = batches.map((batch, i) => ({ batch, meanMs: median(meanTimes[i]), mc: [] }));
  const efficiency: Record<string, number> = {};
  const [first, last] = [0, batches.length - 1];
  efficiency.mean = medianOfRounds(meanTimes[first], meanTimes[last], (a, b) => a / batches[first] / (b / batches[last]));
  if (model.metadata.supportsMc) {
    for (const samples of sampleCounts) {
      // Per batch: the yardstick, then the MC request (fresh seed each round).
      const tasks = batches.flatMap((b) => [
        () => yardstick.run(b * samples),
        (round: number) => model.predictPixels(pixels.get(b)!, b, { mode: 'mc', samples, seed: 1000 + round }),
      ]);
      const times = await interleavedMs(tasks, reps);
      batches.forEach((_, i) => {
        const [y, m] = [times[2 * i], times[2 * i + 1]];
        rows[i].mc.push({ samples, ms: median(m), yardstickMs: median(y), ratio: medianOfRounds(m, y, (a, b) => a / b) });
      });
      const [m1, mB] = [times[2 * first + 1], times[2 * last + 1]];
      efficiency[`MC S=${samples}`] = medianOfRounds(m1, mB, (a, b) => a / batches[first] / (b / batches[last]));
    }
  }
  const peak = peakRssMiB();
  await yardstick.release();
  await model.dispose();

  console.log(`\n### ${checkpoint.manifest.name}: ${head.type}${head.covariance ? ` (${head.covariance})` : ''}, K = ${head.K}, D = ${head.D}${head.R ? `, R = ${head.R}` : ''}\n`);
  const mcHeader = sampleCounts.map((s) => `MC S=${s} ms | yardstick ms | MC / yardstick`).join(' | ');
  console.log(`| batch | mean ms | ${mcHeader} |`);
  console.log(`|---|---|${sampleCounts.map(() => '---|---|---').join('|')}|`);
  for (const r of rows) {
    const mc = sampleCounts.map((s) => {
      const m = r.mc.find((x) => x.samples === s);
      return m ? `${fmt(m.ms)} | ${fmt(m.yardstickMs)} | ${m.ratio.toFixed(3)}` : 'n/a | n/a | n/a';
    });
    console.log(`| ${r.batch} | ${fmt(r.meanMs)} | ${mc.join(' | ')} |`);
  }
  if (batches.length > 1) {
    // (time per image at the first batch size) / (time per image at the last), median over rounds; >= 1: at least as efficient.
    const parts = Object.entries(efficiency).map(([k, v]) => `${k} ${v.toFixed(2)}`);
    console.log(`\nPer-image efficiency of batch ${batches[last]} relative to batch ${batches[first]} (>= 1: at least as efficient): ${parts.join(', ')}`);
  }
  console.log(`Peak RSS of the process during this model's runs: ${peak.toFixed(0)} MiB, the yardstick's [rows x K] product included`);
  if (mcMemory) {
    console.log(
      `Peak RSS during the first MC request at batch ${Math.max(...batches)}, S = ${Math.max(...sampleCounts)}: ${mcMemory.peak.toFixed(0)} MiB ` +
        `(${mcMemory.before.toFixed(0)} MiB before it: weights, sessions, runtime; head memory budget ${MEMORY_BUDGET_BYTES / 1048576} MiB)`,
    );
  }
}

async function benchEstimatorError(): Promise<void> {
  const K = 1000;
  const D = 256;
  const R = 16;
  const images = 4;
  const seeds = 8;
  const counts = [10, 30, 100, 300, 1000, 3000];
  const scratch = await mkdtemp(path.join(tmpdir(), 'hetxl-error-'));
  try {
    const { dir } = await generateCheckpoint({ modelsDir: scratch, name: 'error', seed: 7, head: { type: 'het-xl', D, K, R } });
    const checkpoint = await loadCheckpoint(dir);
    // Pre-logits like the generated backbone's: tanh of roughly unit-scale values.
    const phi = Float32Array.from({ length: images * D }, (_, i) => Math.tanh(1.3 * Math.sin(0.91 * i + 0.3) + 0.4 * Math.cos(2.3 * i)));
    const rows = await estimatorError(checkpoint.manifest.head, checkpoint.weights, phi, images, counts, seeds, engine);
    console.log(`\n### Estimator error: total variation to an S = ${REFERENCE_SAMPLES.toLocaleString('en')} plain reference`);
    console.log(`\nHET-XL param-efficient, K = ${K}, D = ${D}, R = ${R} (generated weights, seed 7); mean over ${images} images x ${seeds} seeds (± standard error).\n`);
    console.log('| S | plain TV | antithetic TV | plain / antithetic |');
    console.log('|---|---|---|---|');
    for (const r of rows) {
      const { plain, antithetic } = r.tv;
      console.log(`| ${r.samples} | ${plain.mean.toFixed(4)} ± ${plain.se.toFixed(4)} | ${antithetic.mean.toFixed(4)} ± ${antithetic.se.toFixed(4)} | ${(plain.mean / antithetic.mean).toFixed(2)} |`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

console.log(`# npm run bench (${new Date().toISOString()})`);
console.log(`\nnode ${process.version}, ${cpus().length} CPUs (${cpus()[0]?.model ?? 'unknown'}), ORT threads ${engine.threads || 'auto'}, load average at start ${loadavg().map((l) => l.toFixed(2)).join(' ')}; medians of ${reps} repetitions after 2 warm-up runs.`);
if (estimatorsOnly) {
  await benchEstimators(process.argv.slice(2), engine);
} else if (args.exact) {
  await benchExact(engine, reps);
} else if (args.candidates) {
  await benchCandidates({ engine, reps, inputs: 8, samples: 1000, tolerance: 1e-3, reference: Number(args.reference) });
} else if (args['shared-noise']) {
  await benchSharedNoise(await jftCheckpointDir(), { engine, batches, sampleCounts, reps, memoryBudgetBytes: MEMORY_BUDGET_BYTES });
} else if (!args['error-only']) {
  const modelsDir = args.models ?? fileURLToPath(new URL('../models', import.meta.url));
  for (const dir of [await jftCheckpointDir(), ...(await listCheckpointDirs(modelsDir))]) await benchModel(dir);
}
if (!args['no-error'] && !args['shared-noise'] && !args.exact && !args.candidates && !estimatorsOnly) await benchEstimatorError();
console.log(`\nload average at end ${loadavg().map((l) => l.toFixed(2)).join(' ')}; peak RSS of the whole run ${peakRssMiB().toFixed(0)} MiB`);
