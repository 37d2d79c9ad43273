// The tables of docs/results-zero-shot.md, as Markdown text, from finished `npm run train-zero-shot`
// folders (src/cli/results-zero-shot.ts prints them):
//   resultTables    mean ± std (sample std over seeds) of accuracy, NLL, ECE and Brier per head,
//                   split and mode, from each folder's evaluation.json (tfjs and served-path
//                   figures), plus tau and timings per run
//   pairBreakdown   per colour–shape pair, served path, mean mode: accuracy, share with the colour
//                   right, share with the shape right, the most frequent wrong answer
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { MetricSummary } from '../../evaluate/metrics.ts';
import { labelIndex } from './evaluate.ts';
import { loadServed, servedProbs } from './served.ts';
import { allLabels, SHAPE_NAMES } from './shapes.ts';
import { shapesData } from './trainer.ts';

interface SplitFigures {
  mean: MetricSummary;
  mc?: MetricSummary;
  meanSingleTemplate?: MetricSummary;
}

/** What the tables read of a folder's evaluation.json (cli/train-zero-shot.ts writes it). */
interface Evaluation {
  tau: number;
  seen: SplitFigures;
  heldOut: SplitFigures;
  served?: { seen: SplitFigures; heldOut: SplitFigures; seconds: number };
}

function meanStd(xs: number[]): string {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  if (xs.length < 2) return m.toFixed(3);
  const sd = Math.sqrt(xs.reduce((a, b) => a + (b - m) ** 2, 0) / (xs.length - 1));
  return `${m.toFixed(3)} ± ${sd.toFixed(3)}`;
}

/** The metric table over the runs' heads, splits, modes and paths, then one row per run. */
export async function resultTables(dirs: string[]): Promise<string> {
  const runs: { dir: string; head: string; seed: number; e: Evaluation; seconds: number; command: string }[] = [];
  for (const dir of dirs) {
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    const e = JSON.parse(await readFile(join(dir, 'evaluation.json'), 'utf8')) as Evaluation;
    runs.push({ dir, head: manifest.head.type, seed: manifest.provenance.seed, e, seconds: manifest.provenance.training.seconds, command: manifest.provenance.command });
  }
  const lines = ['| model | split | mode | path | accuracy | NLL | ECE | Brier | seeds |', '|---|---|---|---|---|---|---|---|---|'];
  for (const head of new Set(runs.map((r) => r.head))) {
    const rs = runs.filter((r) => r.head === head);
    for (const split of ['seen', 'heldOut'] as const) {
      for (const mode of ['mean', 'mc', 'meanSingleTemplate'] as const) {
        for (const path of ['tfjs', 'served'] as const) {
          const ms = rs.map((r) => (path === 'tfjs' ? r.e[split] : r.e.served?.[split])?.[mode]).filter((m): m is MetricSummary => m !== undefined);
          if (ms.length === 0) continue;
          const modeName = mode === 'mc' ? 'MC (S = 100)' : mode === 'mean' ? 'mean' : 'mean, "a {label}" only';
          lines.push(
            `| ${head} | ${split === 'seen' ? 'seen' : 'held-out'} | ${modeName} | ${path} | ${meanStd(ms.map((m) => m.accuracy))} | ${meanStd(ms.map((m) => m.nll))} | ${meanStd(ms.map((m) => m.ece))} | ${meanStd(ms.map((m) => m.brier))} | ${ms.length} |`,
          );
        }
      }
    }
  }
  lines.push('', '| run | head | seed | tau | training s | command |', '|---|---|---|---|---|---|');
  for (const r of runs) lines.push(`| ${r.dir} | ${r.head} | ${r.seed} | ${r.e.tau.toFixed(4)} | ${Math.round(r.seconds)} | \`${r.command}\` |`);
  return lines.join('\n');
}

/** Per pair of the seen and held-out evaluation scenes (1000 each, seed 99), through the served model in `modelDir`. */
export async function pairBreakdown(modelDir: string): Promise<string> {
  const model = await loadServed(modelDir);
  const labels = allLabels();
  const K = labels.length;
  const lines = ['| split | pair | n | accuracy | colour right | shape right | most frequent wrong answer |', '|---|---|---|---|---|---|---|'];
  try {
    for (const split of ['train', 'heldout'] as const) {
      const name = split === 'train' ? 'seen' : 'held-out';
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
        // Labels are colour-major: the colour is the index over the shape count, the shape its remainder.
        if (Math.floor(top / SHAPE_NAMES.length) === Math.floor(y / SHAPE_NAMES.length)) r.colour++;
        if (top % SHAPE_NAMES.length === y % SHAPE_NAMES.length) r.shape++;
        rows.set(y, r);
      });
      const total = { n: 0, hit: 0, colour: 0, shape: 0 };
      for (const [y, r] of [...rows].sort((a, b) => a[0] - b[0])) {
        const [w, c] = [...r.wrong].sort((a, b) => b[1] - a[1])[0] ?? [-1, 0];
        lines.push(`| ${name} | ${labels[y]} | ${r.n} | ${(r.hit / r.n).toFixed(2)} | ${(r.colour / r.n).toFixed(2)} | ${(r.shape / r.n).toFixed(2)} | ${w < 0 ? '-' : `${labels[w]} (${c})`} |`);
        total.n += r.n;
        total.hit += r.hit;
        total.colour += r.colour;
        total.shape += r.shape;
      }
      lines.push(`| ${name} | all | ${total.n} | ${(total.hit / total.n).toFixed(3)} | ${(total.colour / total.n).toFixed(3)} | ${(total.shape / total.n).toFixed(3)} | |`);
    }
  } finally {
    await model.dispose();
  }
  return lines.join('\n');
}
