// npx tsx bench/request-phases.ts [--model models/hetxl-fashion-mnist] [--image docs/examples/sneaker.png] [--reps 2000]
// The model-side phases of one request, each alone in process (issue #18 item 1): decode and
// preprocess, the backbone's session run, the head in mean mode (one session run) and MC S = 100
// (the noise-scale run, the sample run and the MC loop's JavaScript), and the statistics; CPU time
// (all threads, process.cpuUsage) and wall time per call, medians of 5 alternating rounds. The HTTP
// side (parsing, multipart, serialisation, logging, the worker's messages) is bench/profile-http.ts's.
import { readFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { defaultEngineOptions } from '../src/engine/session.ts';
import { loadCheckpoint } from '../src/format/checkpoint.ts';
import { createHeadRunner } from '../src/heads/runner.ts';
import { preprocessImages } from '../src/image/preprocess.ts';
import { mcPrediction, meanPrediction } from '../src/pipelines/predictions.ts';
import { ImageTower } from '../src/pipelines/image-tower.ts';
import { median } from './timing.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'models/hetxl-fashion-mnist' },
    image: { type: 'string', default: 'docs/examples/sneaker.png' },
    reps: { type: 'string', default: '2000' },
    threads: { type: 'string', default: '0' },
  },
});
const REPS = Number(args.reps);
const engine = { ...defaultEngineOptions, provider: 'cpu' as const, threads: Number(args.threads) };
const checkpoint = await loadCheckpoint(args.model!);
const { input, head: spec } = checkpoint.manifest;
const png = readFileSync(args.image!);
const tower = await ImageTower.create(checkpoint.backbone, input, engine, 100_000_000);
const head = await createHeadRunner(spec, checkpoint.weights, engine);
const pixels = await preprocessImages([png], input, { maxInputPixels: 100_000_000 });
const phi = await tower.embed(pixels, 1);
const mc = { samples: 100, seed: 0 };
const meanProbs = (await head.mean(phi, 1))[0];
const mcResult = (await head.mc(phi, 1, mc))[0];

const phases: [string, () => unknown][] = [
  ['decode + preprocess (PNG, 28 x 28)', () => preprocessImages([png], input, { maxInputPixels: 100_000_000 })],
  ['backbone session run', () => tower.embed(pixels.slice(), 1)],
  ['head, mean mode (one session run)', () => head.mean(phi, 1)],
  ['head, MC S = 100 (scale run, sample run, MC loop)', () => head.mc(phi, 1, mc)],
  ['statistics, mean mode', () => meanPrediction(meanProbs)],
  ['statistics, MC S = 100', () => mcPrediction(mcResult, 100)],
];
const cpu = phases.map(() => [] as number[]);
const wall = phases.map(() => [] as number[]);
for (let round = 0; round < 6; round++) {
  for (const [i, [, run]] of phases.entries()) {
    const c0 = process.cpuUsage();
    const t0 = performance.now();
    for (let r = 0; r < REPS; r++) await run();
    const c = process.cpuUsage(c0);
    // Round 0 is warm-up.
    if (round === 0) continue;
    cpu[i].push((c.user + c.system) / REPS);
    wall[i].push(((performance.now() - t0) * 1000) / REPS);
  }
}
console.log(`# ${args.model}, ${args.image}, ORT_THREADS=${args.threads} (0: one thread for a model under 4 MiB), ${REPS} calls x 5 rounds\n`);
console.log('| phase | CPU us / call | wall us / call |');
console.log('|---|---|---|');
for (const [i, [name]] of phases.entries()) console.log(`| ${name} | ${median(cpu[i]).toFixed(0)} | ${median(wall[i]).toFixed(0)} |`);
