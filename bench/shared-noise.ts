// `npm run bench -- --shared-noise`: HET-XL with shared diagonal noise (edward2's JAX layers),
// computed in logit space at rank R + 1 (src/heads/het-xl.ts), against the engine's bare
// [B*S x D] @ [D x K] product (the yardstick) and against the same weights with independent
// noise (the D-space path), all timed in alternation, round after round. Head runners alone,
// from pre-logits phi (no backbone, no statistics), so that the figures are the heads' own.
// Memory: the resident set after creating each head's sessions, each in a fresh process
// (bench/head-rss.ts), so that neither sees the other's arena.
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { EngineOptions } from '../src/engine/session.ts';
import { loadCheckpoint } from '../src/format/checkpoint.ts';
import type { DiagonalNoise, HeadSpec } from '../src/format/manifest.ts';
import { createHeadRunner, type OrtHeadRunner } from '../src/heads/runner.ts';
import { interleavedMs, median, medianOfRounds } from './timing.ts';
import { createYardstick } from './yardstick.ts';
import type { HeadRss } from './head-rss.ts';

export interface SharedNoiseBenchOptions {
  engine: EngineOptions;
  batches: number[];
  sampleCounts: number[];
  reps: number;
  memoryBudgetBytes: number;
}

const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

/** Pre-logits like the generated backbone's: tanh of roughly unit-scale values. */
const phiOf = (batch: number, D: number) => Float32Array.from({ length: batch * D }, (_, i) => Math.tanh(1.3 * Math.sin(0.91 * i + 0.3) + 0.4 * Math.cos(2.3 * i)));

function headRssInChild(dir: string, diagonalNoise: DiagonalNoise, options: SharedNoiseBenchOptions): HeadRss {
  const script = fileURLToPath(new URL('./head-rss.ts', import.meta.url));
  const args = [dir, diagonalNoise, String(options.engine.threads), String(options.memoryBudgetBytes)];
  // --expose-gc: the child collects the dropped graph bytes before it reads its resident set.
  const out = execFileSync(process.execPath, [...process.execArgv, '--expose-gc', script, ...args], { encoding: 'utf8' });
  return JSON.parse(out.trim().split('\n').pop()!) as HeadRss;
}

export async function benchSharedNoise(dir: string, options: SharedNoiseBenchOptions): Promise<void> {
  const { engine, batches, sampleCounts, reps, memoryBudgetBytes } = options;
  const checkpoint = await loadCheckpoint(dir);
  const head: HeadSpec = checkpoint.manifest.head;
  if (head.type !== 'het-xl') throw new Error(`--shared-noise needs a HET-XL checkpoint, ${dir} is ${head.type}`);
  const { D, K, R } = head;
  const memory = { shared: headRssInChild(dir, 'shared', options), independent: headRssInChild(dir, 'independent', options) };

  const runners: Record<DiagonalNoise, OrtHeadRunner> = {
    shared: await createHeadRunner({ ...head, diagonalNoise: 'shared' }, checkpoint.weights, engine, { memoryBudgetBytes }),
    independent: await createHeadRunner({ ...head, diagonalNoise: 'independent' }, checkpoint.weights, engine, { memoryBudgetBytes }),
  };
  const yardstick = await createYardstick(checkpoint.weights.get('loc_layer/kernel')!.data, D, K, engine);
  const rows: string[] = [];
  try {
    for (const batch of batches) {
      const phi = phiOf(batch, D);
      const meanTimes = await interleavedMs([() => runners.shared.mean(phi, batch), () => runners.independent.mean(phi, batch)], Math.max(reps, 10));
      for (const samples of sampleCounts) {
        // Fresh seed each round: the noise is generated every time, as for distinct requests.
        const mc = (noise: DiagonalNoise) => (round: number) => runners[noise].mc(phi, batch, { samples, seed: 1000 + round });
        const [y, shared, independent] = await interleavedMs([() => yardstick.run(batch * samples), mc('shared'), mc('independent')], reps);
        const ratio = (m: number[]) => medianOfRounds(m, y, (a, b) => a / b).toFixed(3);
        const chunks = (noise: DiagonalNoise) => runners[noise].chunksFor(samples, batch).length;
        rows.push(
          `| ${batch} | ${samples} | ${fmt(median(y))} | ${fmt(median(shared))} | **${ratio(shared)}** | ${chunks('shared')} | ${fmt(median(independent))} | ${ratio(independent)} | ${chunks('independent')} | ` +
            `${fmt(median(meanTimes[0]))} | ${fmt(median(meanTimes[1]))} |`,
        );
      }
    }
  } finally {
    await yardstick.release();
    await runners.shared.dispose();
    await runners.independent.dispose();
  }

  console.log(`\n### HET-XL ${head.covariance ?? 'param-efficient'}, K = ${K}, D = ${D}, R = ${R}: shared diagonal noise (rank R + 1, logit space) against independent (D space)\n`);
  console.log('Head runners alone, from phi; medians over rounds. Ratios: MC / yardstick, the bare [B*S x D] @ [D x K] product.\n');
  console.log('| batch | S | yardstick ms | shared MC ms | shared / yardstick | chunks | independent MC ms | independent / yardstick | chunks | shared mean ms | independent mean ms |');
  console.log('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const row of rows) console.log(row);
  console.log('\nResident set of a fresh process (checkpoint loaded, weights in memory), MiB:\n');
  console.log('| diagonal noise | before the head | after creating its sessions | first MC, batch 1, S = 1000: peak |');
  console.log('|---|---|---|---|');
  for (const [noise, m] of Object.entries(memory)) console.log(`| ${noise} | ${m.beforeMiB.toFixed(0)} | ${m.afterLoadMiB.toFixed(0)} | ${m.peakMcMiB.toFixed(0)} |`);
}
