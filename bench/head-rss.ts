// npx tsx bench/head-rss.ts <checkpoint dir> <shared|independent> <threads> <memory budget bytes>
// One HET-XL head's memory in a fresh process (run by bench/shared-noise.ts): the resident set
// with the checkpoint loaded, after creating the head's sessions (the graph bytes dropped), and
// the peak during a first MC request at batch 1, S = 1000. Prints one JSON line (HeadRss).
import { loadCheckpoint } from '../src/format/checkpoint.ts';
import type { DiagonalNoise } from '../src/format/manifest.ts';
import { createHeadRunner } from '../src/heads/runner.ts';
import { peakRssMiB, resetPeakRss } from './timing.ts';

export interface HeadRss {
  beforeMiB: number;
  afterLoadMiB: number;
  peakMcMiB: number;
}

/** The resident set once garbage is collected (when run with --expose-gc) and V8 has given the pages back. */
async function settledRssMiB(): Promise<number> {
  for (let i = 0; i < 3; i++) {
    (globalThis as { gc?: () => void }).gc?.();
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  return process.memoryUsage.rss() / 1048576;
}

const [dir, diagonalNoise, threads, budget] = process.argv.slice(2);
const checkpoint = await loadCheckpoint(dir);
const spec = { ...checkpoint.manifest.head, diagonalNoise: diagonalNoise as DiagonalNoise };
const beforeMiB = await settledRssMiB();
const runner = await createHeadRunner(spec, checkpoint.weights, { provider: 'cpu', threads: Number(threads) }, { memoryBudgetBytes: Number(budget) });
const afterLoadMiB = await settledRssMiB();
resetPeakRss();
const phi = Float32Array.from({ length: spec.D }, (_, i) => Math.tanh(Math.sin(0.91 * i)));
await runner.mc(phi, 1, { samples: 1000, seed: 1 });
const result: HeadRss = { beforeMiB, afterLoadMiB, peakMcMiB: peakRssMiB() };
await runner.dispose();
console.log(JSON.stringify(result));
