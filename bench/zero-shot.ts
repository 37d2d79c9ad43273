// npx tsx bench/zero-shot.ts [--reps N]: the zero-shot MC head (src/heads/zero-shot-mc.ts) at a few
// sizes, from the demo model's (E = 32, 28 labels) to CLIP's (E = 512, 1000 labels), against the
// yardstick of bench/yardstick.ts: ORT's bare [S x E] @ [E x K] product reduced inside ORT, timed
// in alternation in the same process. Random weights; one image; a fresh seed per repetition.
import { parseArgs } from 'node:util';
import os from 'node:os';
import { ZeroShotMcHead } from '../src/heads/zero-shot-mc.ts';
import type { HeadWeights } from '../src/format/head-params.ts';
import { createYardstick } from './yardstick.ts';

const { values } = parseArgs({ options: { reps: { type: 'string', default: '7' } } });
const reps = Number(values.reps);
const engine = { provider: 'cpu' as const, threads: 0 };
const wave = (n: number, f: number) => Float32Array.from({ length: n }, (_, i) => 0.1 * Math.sin(i * f));
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

console.log(`load average ${os.loadavg().map((l) => l.toFixed(2)).join(' ')}, ${os.cpus().length} CPUs, ${reps} repetitions (medians)\n`);
console.log('| E | labels K | S | MC ms | yardstick ms | MC / yardstick |');
console.log('|---|---|---|---|---|---|');
for (const [E, K, S, R] of [[32, 28, 100, 4], [64, 100, 1000, 8], [512, 1000, 100, 8], [512, 1000, 1000, 8]]) {
  const weights: HeadWeights = new Map([
    ['scale_layer_heteroscedastic/kernel', { dims: [E, E], data: wave(E * E, 1.1) }],
    ['scale_layer_heteroscedastic/bias', { dims: [E], data: wave(E, 1.2) }],
    ['scale_layer_homoscedastic/kernel', { dims: [R, E], data: wave(R * E, 1.3) }],
    ['scale_layer_homoscedastic/bias', { dims: [E], data: wave(E, 1.4) }],
    ['diag_layer/kernel', { dims: [E, E], data: wave(E * E, 1.5) }],
    ['diag_layer/bias', { dims: [E], data: wave(E, 1.6) }],
  ]);
  const head = await ZeroShotMcHead.create({ dim: E, factors: R, tau: 0.05, minScale: 1e-3, imageNormalisation: 'after-noise', memoryBudgetBytes: 512 << 20 }, weights, engine);
  const texts = wave(K * E, 0.7);
  const yardstick = await createYardstick(texts, E, K, engine);
  const z = wave(E, 0.3);
  await head.mc(z, 1, texts, { samples: S, seed: 0 });
  await yardstick.run(S);
  const mc: number[] = [];
  const bare: number[] = [];
  for (let i = 0; i < reps; i++) {
    let t0 = performance.now();
    await head.mc(z, 1, texts, { samples: S, seed: i + 1 });
    mc.push(performance.now() - t0);
    t0 = performance.now();
    await yardstick.run(S);
    bare.push(performance.now() - t0);
  }
  console.log(`| ${E} | ${K} | ${S} | ${median(mc).toFixed(1)} | ${median(bare).toFixed(1)} | ${(median(mc) / median(bare)).toFixed(2)} |`);
  await Promise.all([head.dispose(), yardstick.release()]);
}
