// Tables for docs/results-zero-shot.md from finished `npm run train-zero-shot` folders: mean ± std
// (sample std over seeds) of accuracy, NLL and ECE per head, split and mode, from each folder's
// evaluation.json (tfjs and served-path figures), plus tau and timings per run.
// Usage: npx tsx src/training/zero-shot/results.ts CHECKPOINT_DIR...
//        npx tsx src/training/zero-shot/results.ts --breakdown CHECKPOINT_DIR   (per pair, served path,
//        mean mode: accuracy, share with the colour right, share with the shape right, top confusion)
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { labelIndex } from './evaluate.ts';
import { loadServed, servedProbs } from './served.ts';
import { allLabels, SHAPE_NAMES } from './shapes.ts';
import { shapesData } from './trainer.ts';

if (process.argv[2] === '--breakdown') {
  const model = await loadServed(process.argv[3]);
  const labels = allLabels();
  const K = labels.length;
  console.log('| split | pair | n | accuracy | colour right | shape right | most frequent wrong answer |');
  console.log('|---|---|---|---|---|---|---|');
  for (const split of ['train', 'heldout'] as const) {
    const data = shapesData(1000, 99, split);
    const probs = await servedProbs(model, data.images, 0, 0);
    const rows = new Map<number, { n: number; hit: number; colour: number; shape: number; wrong: Map<number, number> }>();
    data.scenes.forEach((scene, i) => {
      const y = labelIndex(scene);
      const row = probs.subarray(i * K, (i + 1) * K);
      const top = row.indexOf(Math.max(...row));
      const r = rows.get(y) ?? { n: 0, hit: 0, colour: 0, shape: 0, wrong: new Map() };
      r.n++;
      if (top === y) r.hit++;
      else r.wrong.set(top, (r.wrong.get(top) ?? 0) + 1);
      if (Math.floor(top / SHAPE_NAMES.length) === Math.floor(y / SHAPE_NAMES.length)) r.colour++;
      if (top % SHAPE_NAMES.length === y % SHAPE_NAMES.length) r.shape++;
      rows.set(y, r);
    });
    const total = { n: 0, hit: 0, colour: 0, shape: 0 };
    for (const [y, r] of [...rows].sort((a, b) => a[0] - b[0])) {
      const [w, c] = [...r.wrong].sort((a, b) => b[1] - a[1])[0] ?? [-1, 0];
      console.log(`| ${split === 'train' ? 'seen' : 'held-out'} | ${labels[y]} | ${r.n} | ${(r.hit / r.n).toFixed(2)} | ${(r.colour / r.n).toFixed(2)} | ${(r.shape / r.n).toFixed(2)} | ${w < 0 ? '-' : `${labels[w]} (${c})`} |`);
      total.n += r.n; total.hit += r.hit; total.colour += r.colour; total.shape += r.shape;
    }
    console.log(`| ${split === 'train' ? 'seen' : 'held-out'} | all | ${total.n} | ${(total.hit / total.n).toFixed(3)} | ${(total.colour / total.n).toFixed(3)} | ${(total.shape / total.n).toFixed(3)} | |`);
  }
  await model.dispose();
  process.exit(0);
}

interface M { accuracy: number; nll: number; ece: number; brier: number }
interface Split { mean: M; mc?: M; meanSingleTemplate?: M }
interface Evaluation { tau: number; seen: Split; heldOut: Split; served?: { seen: Split; heldOut: Split; seconds: number } }

function stats(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return m.toFixed(3);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

const runs: { dir: string; head: string; seed: number; e: Evaluation; seconds: number; command: string }[] = [];
for (const dir of process.argv.slice(2)) {
  const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
  const e = JSON.parse(await readFile(join(dir, 'evaluation.json'), 'utf8')) as Evaluation;
  runs.push({ dir, head: manifest.head.type, seed: manifest.provenance.seed, e, seconds: manifest.provenance.training.seconds, command: manifest.provenance.command });
}

const heads = [...new Set(runs.map((r) => r.head))];
console.log('| model | split | mode | path | accuracy | NLL | ECE | Brier | seeds |');
console.log('|---|---|---|---|---|---|---|---|---|');
for (const head of heads) {
  const rs = runs.filter((r) => r.head === head);
  for (const split of ['seen', 'heldOut'] as const) {
    for (const mode of ['mean', 'mc', 'meanSingleTemplate'] as const) {
      for (const path of ['tfjs', 'served'] as const) {
        const ms = rs.map((r) => (path === 'tfjs' ? r.e[split] : r.e.served?.[split])?.[mode]).filter((m): m is M => m !== undefined);
        if (ms.length === 0) continue;
        const modeName = mode === 'mc' ? 'MC (S = 100)' : mode === 'mean' ? 'mean' : 'mean, "a {label}" only';
        console.log(
          `| ${head} | ${split === 'seen' ? 'seen' : 'held-out'} | ${modeName} | ${path} | ${stats(ms.map((m) => m.accuracy))} | ${stats(ms.map((m) => m.nll))} | ${stats(ms.map((m) => m.ece))} | ${stats(ms.map((m) => m.brier))} | ${ms.length} |`,
        );
      }
    }
  }
}
console.log('\n| run | head | seed | tau | training s | command |');
console.log('|---|---|---|---|---|---|');
for (const r of runs) console.log(`| ${r.dir} | ${r.head} | ${r.seed} | ${r.e.tau.toFixed(4)} | ${Math.round(r.seconds)} | \`${r.command}\` |`);
