// Child process of test/system/memory.test.ts: runs one MC request and reports the head's peak working
// memory, measured as the rise of the resident set's high-water mark over the resident set
// just before the request (Linux: the mark is reset through /proc/self/clear_refs).
// argv: K D R samples batch budgetMB. Prints one JSON line.
import { readFileSync, writeFileSync } from 'node:fs';
import { createHeadRunner } from '../../src/heads/runner.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { randomHeadWeights } from '../reference/heads.ts';

const [K, D, R, samples, batch, budgetMB] = process.argv.slice(2).map(Number);

function statusKiB(field: 'VmRSS' | 'VmHWM'): number {
  const match = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync('/proc/self/status', 'utf8'));
  if (!match) throw new Error(`no ${field} in /proc/self/status`);
  return Number(match[1]);
}

const spec: HeadSpec = { type: 'het-xl', covariance: 'param-efficient', D, K, R, tau: 1, minScale: 1e-3 };
const runner = await createHeadRunner(spec, randomHeadWeights(spec, 1), { provider: 'cpu', threads: 0 }, {
  memoryBudgetBytes: budgetMB * 1024 * 1024,
  noiseCacheBytes: 0,
});
const phi = Float32Array.from({ length: batch * D }, (_, i) => Math.sin(i));
await runner.mc(phi, batch, { samples: 1, seed: 0 }); // ORT's one-off initialisation is not the head's working memory
globalThis.gc?.();

const before = statusKiB('VmRSS');
writeFileSync('/proc/self/clear_refs', '5'); // resets VmHWM to the current RSS
const [first] = await runner.mc(phi, batch, { samples, seed: 3 });
const peak = statusKiB('VmHWM');
const chunks = runner.chunksFor(samples, batch);
console.log(JSON.stringify({
  workingMemoryBytes: (peak - before) * 1024,
  chunks: chunks.length,
  largestChunk: Math.max(...chunks.map((c) => c.count)),
  argmaxCount: first.sampleArgmax.length,
  probabilitySum: first.probs.reduce((a, b) => a + b, 0),
}));
await runner.dispose();
