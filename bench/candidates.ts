// `npm run bench -- --candidates [--reps 3 --threads 0]`: estimator=candidates on the trained-looking
// JFT-size softmax head (K = 29,593, D = 1024, R = 50; `npm run make-checkpoint -- --profile
// trained-looking`, generated into the OS temp folder if absent) over its held-out inputs, peaked
// to flat (src/synthetic/trained-looking.ts): per input the candidate count, the bound, the time
// against plain MC at the same S (in alternation, round after round), and both estimators' total
// variation to a plain reference at `--reference` samples (another seed). Head runners alone, from phi.
import { existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { EngineOptions } from '../src/engine/session.ts';
import { loadCheckpoint } from '../src/format/checkpoint.ts';
import { createHeadRunner } from '../src/heads/runner.ts';
import { candidatePrediction } from '../src/pipelines/predictions.ts';
import { generateCheckpoint } from '../src/synthetic/random-checkpoint.ts';
import { trainedLookingInputs } from '../src/synthetic/trained-looking.ts';
import { parseMakeCheckpointArgs } from '../src/cli/make-checkpoint.ts';
import { interleavedMs, median, medianOfRounds } from './timing.ts';

const INPUT_SEED = 20_261_202;
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));
const totalVariation = (p: Float32Array, q: Float32Array) => p.reduce((sum, x, k) => sum + Math.abs(x - q[k]), 0) / 2;

async function trainedLookingDir(): Promise<string> {
  const options = parseMakeCheckpointArgs(['--out', path.join(tmpdir(), 'hetxl-bench'), '--profile', 'trained-looking']);
  if (options === 'help') throw new Error('unreachable');
  const dir = path.join(options.modelsDir, options.name);
  if (!existsSync(path.join(dir, 'manifest.json'))) {
    console.error(`generating ${dir} ...`);
    await generateCheckpoint(options);
  }
  return dir;
}

export interface CandidatesBenchOptions {
  engine: EngineOptions;
  reps: number;
  inputs: number;
  samples: number;
  tolerance: number;
  reference: number;
}

export async function benchCandidates({ engine, reps, inputs, samples, tolerance, reference }: CandidatesBenchOptions): Promise<void> {
  const checkpoint = await loadCheckpoint(await trainedLookingDir());
  const head = checkpoint.manifest.head;
  const { D, K, R } = head;
  const { phi } = trainedLookingInputs(checkpoint.weights.get('loc_layer/kernel')!.data, D, K, inputs, INPUT_SEED);
  const runner = await createHeadRunner(head, checkpoint.weights, engine, { noiseCacheBytes: 0 });
  const rows: string[] = [];
  try {
    for (let image = 0; image < inputs; image++) {
      const x = phi.subarray(image * D, (image + 1) * D);
      const candidates = (round: number) => runner.candidatesMc(x, 1, { samples, seed: 1000 + round }, tolerance);
      const plain = (round: number) => runner.mc(x, 1, { samples, seed: 1000 + round });
      const [candidatesMs, plainMs] = await interleavedMs([candidates, plain], reps);
      const [ref] = await runner.mc(x, 1, { samples: reference, seed: 987_654_321 });
      const [answer] = await runner.candidatesMc(x, 1, { samples, seed: 7 }, tolerance);
      const { probs, candidates: info } = candidatePrediction(answer, samples, K);
      const [sampled] = await runner.mc(x, 1, { samples, seed: 7 });
      rows.push(
        `| ${image} | ${ref.probs.reduce((m, p) => Math.max(m, p), 0).toFixed(3)} | ${info!.fallback ? 'fallback' : info!.count} | ${info!.bound.toExponential(1)} | ` +
          `${fmt(median(candidatesMs))} | ${fmt(median(plainMs))} | **${medianOfRounds(plainMs, candidatesMs, (a, b) => a / b).toFixed(1)}** | ` +
          `${totalVariation(probs, ref.probs).toFixed(4)} | ${totalVariation(sampled.probs, ref.probs).toFixed(4)} |`,
      );
      console.error(`input ${image} done`);
    }
  } finally {
    await runner.dispose();
  }
  console.log(`\n### estimator=candidates, trained-looking softmax HET-XL, K = ${K}, D = ${D}, R = ${R}: S = ${samples}, tolerance ${tolerance}\n`);
  console.log(`Head runners alone, from phi; medians over ${reps} rounds (after 2 warm-up rounds), in alternation. TV to a plain reference of ${reference.toLocaleString('en')} samples (seed 987654321), both at seed 7.\n`);
  console.log(`| input | reference top-1 | candidates | bound | candidates ms | plain ms | plain / candidates | TV candidates | TV plain |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
}
