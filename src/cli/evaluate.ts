// npm run evaluate -- <checkpoint folder> [--data DIR] [--samples S] [--seed N] [--out DIR]
// Runs the checkpoint through the served path on the Fashion-MNIST test set (mean mode, and the
// MC predictive for noisy heads) and writes evaluation.json and reliability-<mode>.png into
// --out (default: the checkpoint folder). Prints the summary as one JSON line: accuracy, NLL, ECE,
// Brier per mode, and under `uncertainty` each score's misclassification AUROC and selective prediction.
import { parseArgs } from 'node:util';
import { resolve } from 'node:path';
import { evaluateCheckpoint, reportSummary, uncertaintySummary, writeEvaluation } from '../evaluate/evaluate.ts';
import { DatasetMissingError, DEFAULT_FASHION_MNIST_DIR, loadFashionMnist } from '../training/fashion-mnist/data.ts';

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    data: { type: 'string', default: DEFAULT_FASHION_MNIST_DIR },
    samples: { type: 'string', default: '1000' },
    seed: { type: 'string', default: '0' },
    out: { type: 'string' },
  },
});

async function main(): Promise<void> {
  if (positionals.length !== 1) throw new Error('usage: npm run evaluate -- <checkpoint folder> [--data DIR] [--samples S] [--seed N] [--out DIR]');
  const dir = resolve(positionals[0]);
  const samples = Number(values.samples);
  const seed = Number(values.seed);
  if (!Number.isSafeInteger(samples) || samples < 1) throw new Error(`--samples: bad value "${values.samples}"`);
  if (!Number.isSafeInteger(seed) || seed < 0) throw new Error(`--seed: bad value "${values.seed}"`);
  const test = await loadFashionMnist(values.data, 'test');
  const report = await evaluateCheckpoint(dir, test, `Fashion-MNIST test set (${test.count} images, clean labels) from ${values.data}`, { samples, seed });
  const written = await writeEvaluation(report, values.out ?? dir);
  console.error(`wrote ${written.join(', ')}`);
  console.log(JSON.stringify({ name: report.name, ...reportSummary(report), uncertainty: uncertaintySummary(report) }));
}

main().catch((error: unknown) => {
  console.error(error instanceof DatasetMissingError ? error.message : error);
  process.exit(1);
});
