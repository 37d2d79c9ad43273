// `npm run bench -- --estimators [--quick] [--inputs 8] [--reference 100000] [--samples 100,300,1000,3000] [--targets 0.005]
//   [--profiles trained-looking,random] [--link softmax] [--seeds 1] [--threads 0] [--cache <dir>]`
// Error against cost, one table per benchmark head (issue #15): for each estimator row
// (bench/estimator-rows.ts) the wall time per image and the total variation to a reference of
// --reference plain samples on the full-K path (mean, p95, p99 over the held-out inputs and
// seeds), top-1 / top-5 agreement with the reference, and the work-normalised error time x TV^2
// relative to plain MC at S = 1000 (< 1: more precision per millisecond than plain MC).
// Heads: HET-XL param-efficient at K = 29,593, D = 1024, R = 50 (--quick: K = 2000, D = 256,
// R = 16, 4 inputs, a 20,000-sample reference), with the trained-looking loc layer
// (src/synthetic/trained-looking.ts, its own held-out inputs) and with today's random weights.
// The reference costs about 100 s per image at full scale on 2 cores: it is computed once per
// image and kept under --cache (default <tmp>/hetxl-bench/references).
import { existsSync } from 'node:fs';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import type { EngineOptions } from '../src/engine/session.ts';
import { loadCheckpoint } from '../src/format/checkpoint.ts';
import { LINKS, type Link } from '../src/format/manifest.ts';
import { createHeadRunner } from '../src/heads/runner.ts';
import { SigmoidQuadrature } from '../src/uncertainty/sigmoid-quadrature.ts';
import { generateCheckpoint, type WeightProfile } from '../src/synthetic/random-checkpoint.ts';
import { trainedLookingInputs } from '../src/synthetic/trained-looking.ts';
import { normalStream } from '../src/training/common/random.ts';
import { entropy, topK } from '../src/uncertainty/statistics.ts';
import { ESTIMATORS } from '../src/noise/estimator.ts';
import { imagePhi, samplingRow, targetRow, type BenchContext, type EstimatorRow } from './estimator-rows.ts';
import { exactRows } from './estimators-exact.ts';
import { interleavedMs, median } from './timing.ts';

const REFERENCE_SEED = 987_654_321;
/** Seed of the held-out inputs: not a seed any checkpoint here is generated with. */
const INPUT_SEED = 20_261_202;
/** The sample cap of the precision-target rows. */
const TARGET_CAP = 4096;
/** The work-normalised error is relative to this plain row. */
const YARDSTICK_SAMPLES = 1000;

interface Scale {
  K: number;
  D: number;
  R: number;
  inputs: number;
  reference: number;
}
const FULL: Scale = { K: 29593, D: 1024, R: 50, inputs: 8, reference: 100_000 };
const QUICK: Scale = { K: 2000, D: 256, R: 16, inputs: 4, reference: 20_000 };

function parse(argv: string[]) {
  const { values } = parseArgs({
    args: argv.filter((a) => a !== '--estimators'),
    strict: true,
    options: {
      quick: { type: 'boolean', default: false },
      inputs: { type: 'string' },
      reference: { type: 'string' },
      samples: { type: 'string', default: '100,300,1000,3000' },
      targets: { type: 'string', default: '0.005' },
      profiles: { type: 'string', default: 'trained-looking,random' },
      link: { type: 'string', default: 'softmax' },
      seeds: { type: 'string', default: '1' },
      threads: { type: 'string', default: '0' },
      cache: { type: 'string', default: path.join(tmpdir(), 'hetxl-bench', 'references') },
    },
  });
  const scale = { ...(values.quick ? QUICK : FULL) };
  if (values.inputs) scale.inputs = Number(values.inputs);
  if (values.reference) scale.reference = Number(values.reference);
  const link = values.link as Link;
  if (!LINKS.includes(link)) throw new Error(`--link must be one of ${LINKS.join(', ')}`);
  const profiles = values.profiles.split(',') as WeightProfile[];
  const list = (text: string) => text.split(',').filter((x) => x !== '').map(Number);
  return { scale, link, profiles, sampleCounts: list(values.samples), targets: list(values.targets), seeds: Number(values.seeds), threads: Number(values.threads), cache: values.cache };
}

type Options = ReturnType<typeof parse>;

/** The benchmark head of a profile, generated once into <tmp>/hetxl-bench. */
async function checkpointDir({ K, D, R }: Scale, profile: WeightProfile, link: Link): Promise<string> {
  const name = `het-xl-k${K}-d${D}-r${R}${profile === 'random' ? '' : `-${profile}`}${link === 'softmax' ? '' : `-${link}`}`;
  const modelsDir = path.join(tmpdir(), 'hetxl-bench');
  const dir = path.join(modelsDir, name);
  if (!existsSync(path.join(dir, 'manifest.json'))) {
    console.error(`generating ${dir} ...`);
    await generateCheckpoint({ modelsDir, name, profile, head: { type: 'het-xl', D, K, R, ...(link === 'softmax' ? {} : { link }) } });
  }
  return dir;
}

/** Held-out pre-logits: the profile's own inputs, or tanh of N(0, 0.8^2) like the random backbone's. */
function inputsOf(profile: WeightProfile, W: Float32Array, { D, K, inputs }: Scale): Float32Array {
  if (profile === 'trained-looking') return trainedLookingInputs(W, D, K, inputs, INPUT_SEED).phi;
  const next = normalStream(INPUT_SEED, 'bench/random-inputs');
  return Float32Array.from({ length: inputs * D }, () => Math.tanh(0.8 * next()));
}

/** The reference p_hat of each image: plain MC at scale.reference samples, cached per image. */
async function references(ctx: BenchContext, name: string, scale: Scale, cache: string): Promise<Float32Array[]> {
  await mkdir(cache, { recursive: true });
  const out: Float32Array[] = [];
  for (let b = 0; b < ctx.images; b++) {
    // The inputs depend on their count (the strengths are spread over the set): it is in the key.
    const file = path.join(cache, `${name}-inputs${INPUT_SEED}x${ctx.images}-${b}-plain-s${scale.reference}-seed${REFERENCE_SEED}.f32`);
    if (existsSync(file)) {
      const bytes = await readFile(file);
      out.push(new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4));
      continue;
    }
    const started = performance.now();
    const options = { samples: scale.reference, seed: REFERENCE_SEED };
    const phi = imagePhi(ctx, b);
    const [result] = ctx.spec.link === 'sigmoid' ? await ctx.runner.sigmoidMc(phi, 1, options) : await ctx.runner.mc(phi, 1, options);
    await writeFile(file, result.probs);
    console.error(`reference ${name} input ${b}: ${((performance.now() - started) / 1000).toFixed(0)} s`);
    out.push(result.probs);
  }
  return out;
}

function totalVariation(a: Float32Array, b: Float32Array): number {
  let sum = 0;
  for (let k = 0; k < a.length; k++) sum += Math.abs(a[k] - b[k]);
  return sum / 2;
}

/** Nearest-rank percentile. */
function percentile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1))];
}

const indices = (p: Float32Array, k: number) => topK(p, k).map((c) => c.index);

interface Scored {
  row: EstimatorRow;
  msPerImage: number;
  tv: number[];
  top1: number;
  top5: number;
  notes: Map<string, number>;
}

/** TV to the reference, agreement and notes of a row over the inputs and seeds (timed apart, timeRows). */
async function scoreRow(row: EstimatorRow, ctx: BenchContext, reference: Float32Array[], seeds: number): Promise<Omit<Scored, 'msPerImage'>> {
  const tv: number[] = [];
  const notes = new Map<string, number>();
  let top1 = 0;
  let top5 = 0;
  for (let rep = 0; rep < seeds; rep++) {
    for (let b = 0; b < ctx.images; b++) {
      const answer = await row.run(ctx, b, 1 + b + ctx.images * rep);
      tv.push(totalVariation(answer.probs, reference[b]));
      if (indices(answer.probs, 1)[0] === indices(reference[b], 1)[0]) top1++;
      const ref5 = new Set(indices(reference[b], 5));
      top5 += indices(answer.probs, 5).filter((k) => ref5.has(k)).length / 5;
      if (answer.note) notes.set(answer.note, (notes.get(answer.note) ?? 0) + 1);
    }
  }
  const n = tv.length;
  return { row, tv, top1: top1 / n, top5: top5 / n, notes };
}

/**
 * Wall time per image of each row: every row runs the same input in each round, the rows in
 * alternation (bench/timing.ts interleavedMs), so that load from other processes falls on all
 * alike; median over one round per input (fresh seeds), after one warm-up round.
 */
async function timeRows(rows: EstimatorRow[], ctx: BenchContext): Promise<number[]> {
  const tasks = rows.map((row) => (round: number) => row.run(ctx, Math.max(round, 0) % ctx.images, 5000 + Math.max(round, 0)));
  // Each after 100 ms idle: threads a sample graph leaves spinning slow the next run (bench/exact.ts).
  return (await interleavedMs(tasks, ctx.images, 1, 100)).map(median);
}

/** Per input: the reference's predictive entropy and top-1 probability (the spread, peaked to flat). */
function printSpread(reference: Float32Array[]): void {
  const rows = reference.map((p) => ({ h: entropy(p), top1: topK(p, 1)[0].value }));
  console.log(`\nReference predictives per input (entropy nats / top-1 prob; log K = ${Math.log(reference[0].length).toFixed(2)}): ${rows.map((r) => `${r.h.toFixed(2)} / ${r.top1.toFixed(3)}`).join(', ')}`);
}

async function benchProfile(profile: WeightProfile, options: Options, engine: EngineOptions, rows: EstimatorRow[]): Promise<void> {
  const { scale, link, cache, seeds } = options;
  const dir = await checkpointDir(scale, profile, link);
  const checkpoint = await loadCheckpoint(dir);
  const spec = checkpoint.manifest.head;
  const phi = inputsOf(profile, checkpoint.weights.get('loc_layer/kernel')!.data, scale);
  const runner = await createHeadRunner(spec, checkpoint.weights, engine, { noiseCacheBytes: 0 });
  const quadrature = await SigmoidQuadrature.create(engine);
  try {
    const ctx: BenchContext = { profile, spec, weights: checkpoint.weights, engine, phi, images: scale.inputs, runner, quadrature };
    const reference = await references(ctx, checkpoint.manifest.name, scale, cache);
    const applicable = rows.filter((r) => r.links.includes(link));
    const times = await timeRows(applicable, ctx);
    const scored: Scored[] = [];
    for (const [i, row] of applicable.entries()) {
      scored.push({ ...(await scoreRow(row, ctx, reference, seeds)), msPerImage: times[i] });
      console.error(`${profile}: ${row.estimator} ${row.setting} done`);
    }
    const yardstick = scored.find((s) => s.row.estimator === 'plain' && s.row.setting === `S = ${YARDSTICK_SAMPLES}`);
    const meanOf = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    const work = (s: Scored) => s.msPerImage * meanOf(s.tv) ** 2;

    console.log(`\n### ${profile} weights: HET-XL param-efficient, ${link}, K = ${spec.K}, D = ${spec.D}, R = ${spec.R}`);
    console.log(`\n${scale.inputs} held-out inputs x ${seeds} seed(s); reference: ${scale.reference.toLocaleString('en')} plain samples (seed ${REFERENCE_SEED}), full-K path.`);
    printSpread(reference);
    console.log(`\n| estimator | setting | ms / image | TV mean | TV p95 | TV p99 | top-1 agree | top-5 agree | time x TV² / plain S=${YARDSTICK_SAMPLES} | notes |`);
    console.log('|---|---|---|---|---|---|---|---|---|---|');
    for (const s of scored) {
      const relative = yardstick ? (work(s) / work(yardstick)).toFixed(2) : 'n/a';
      const notes = [...s.notes].map(([text, count]) => `${text} (${count}/${s.tv.length})`).join('; ');
      console.log(
        `| ${s.row.estimator} | ${s.row.setting} | ${s.msPerImage.toFixed(1)} | ${meanOf(s.tv).toFixed(4)} | ${percentile(s.tv, 0.95).toFixed(4)} | ${percentile(s.tv, 0.99).toFixed(4)} | ` +
          `${s.top1.toFixed(2)} | ${s.top5.toFixed(2)} | ${relative} | ${notes} |`,
      );
    }
  } finally {
    await Promise.all([runner.dispose(), quadrature.release()]);
  }
}

export async function benchEstimators(argv: string[], engine: EngineOptions): Promise<void> {
  const options = parse(argv);
  const threadsEngine = { ...engine, threads: options.threads };
  const rows = [
    ...ESTIMATORS.flatMap((estimator) => options.sampleCounts.map((s) => samplingRow(estimator, s))),
    ...ESTIMATORS.flatMap((estimator) => options.targets.map((t) => targetRow(estimator, t, TARGET_CAP))),
    ...exactRows,
  ];
  console.log(`\n## Error against cost (${options.scale.K === FULL.K ? 'full scale' : 'quick'}; ${options.link} heads)`);
  for (const profile of options.profiles) await benchProfile(profile, options, threadsEngine, rows);
}
