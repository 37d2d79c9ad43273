// `npx tsx src/cli/results-fashion-mnist.ts DIR --plot FILE` on hand-made run folders (the
// manifest and evaluation.json fields it reads): mean ± sample std over seeds, the seed-mean
// learning curve, the best epoch and rise, and a PNG plot.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from '../helpers/cli.ts';

let scratch: string;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'results-cli-'));
});
after(() => rm(scratch, { recursive: true, force: true }));

const results = (args: string[]) => runCli('src/cli/results-fashion-mnist.ts', args);

interface FakeRun {
  name: string;
  type: 'det' | 'het-xl';
  accuracy: number;
  nll: number;
  curve: number[];
  flipAuroc: number;
}

async function writeRun(dir: string, run: FakeRun): Promise<void> {
  const folder = join(dir, run.name);
  await mkdir(folder, { recursive: true });
  const head = { type: run.type, D: 4, K: 3, R: 2, tau: 1, minScale: 1e-3, ...(run.type === 'het-xl' ? { covariance: 'param-efficient', temperature: { t: -0.5 } } : {}) };
  const manifest = { name: run.name, head, provenance: { training: { seconds: 10, epochTestNll: { count: 50, mean: run.curve } } } };
  const quality = { misclassificationAuroc: 0.8, accuracyAtCoverage: { '0.5': 0.9, '0.8': 0.85, '0.9': 0.8 }, aurc: 0.1 };
  const report = {
    name: run.name,
    head,
    data: { description: 'test', count: 100 },
    modes: [{ mode: 'mean', accuracy: run.accuracy, nll: run.nll, ece: 0.05, brier: 0.3, uncertainty: { maxProbability: quality }, seconds: 1 }],
    flippedLabels: { data: { description: 'train', count: 40, flipped: 7 }, modes: [{ mode: 'mean', auroc: { maxProbability: run.flipAuroc } }] },
  };
  await writeFile(join(folder, 'manifest.json'), JSON.stringify(manifest));
  await writeFile(join(folder, 'evaluation.json'), JSON.stringify(report));
}

/** "mean ± sample std" to 4 decimals, computed here in float64. */
function meanStd(values: number[], digits = 4): string {
  const mean = values.reduce((a, b) => a + b, 0) / values.length;
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (values.length - 1));
  return `${mean.toFixed(digits)} ± ${std.toFixed(digits)}`;
}

test('the tables hold the seed mean ± std of each run folder, the mean curve, best epoch and rise; --plot writes a PNG', async () => {
  const dir = join(scratch, 'runs');
  const det = [
    { name: 'det-input-s0', type: 'det' as const, accuracy: 0.7, nll: 0.9, curve: [1.0, 0.6, 0.8], flipAuroc: 0.81 },
    { name: 'det-input-s1', type: 'det' as const, accuracy: 0.8, nll: 0.7, curve: [0.9, 0.7, 0.75], flipAuroc: 0.85 },
  ];
  for (const run of det) await writeRun(dir, run);
  await writeRun(dir, { name: 'het-xl-input-s0', type: 'het-xl', accuracy: 0.75, nll: 0.8, curve: [1.1, 0.65, 0.9], flipAuroc: 0.8 });
  await mkdir(join(dir, 'logs'));
  const plot = join(scratch, 'curves.png');
  const { code, stdout, stderr } = await results([dir, '--plot', plot]);
  assert.equal(code, 0, stderr);
  const lines = stdout.split('\n');
  const detRow = lines.find((l) => l.startsWith('| DET | mean | 2 | ') && l.includes('0.0500'))!;
  assert.ok(detRow, stdout);
  assert.ok(detRow.includes(`| ${meanStd([0.7, 0.8])} | ${meanStd([0.9, 0.7])} |`), detRow);
  assert.ok(lines.some((l) => l.startsWith('| DET | mean | 2 |') && l.includes(meanStd([0.81, 0.85]))), 'flipped-label AUROC row');
  // Epoch 2: DET seed mean (0.6 + 0.7) / 2, HET-XL 0.65.
  assert.ok(lines.includes('| 2 | 0.6500 | 0.6500 |'), stdout);
  // Best epoch 2 for both DET seeds; rise 0.2 and 0.05.
  assert.ok(lines.includes(`| DET | 2 | 2.0 ± 0.0 | ${meanStd([0.6, 0.7])} | ${meanStd([0.8, 0.75])} | ${meanStd([0.2, 0.05])} |`), stdout);
  assert.ok(lines.includes('| input | 0 | 1.0000 | -0.5000 |'), 'learned tau row');
  const png = await readFile(plot);
  assert.deepEqual([...png.subarray(0, 8)], [0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
});
