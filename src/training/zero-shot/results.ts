// The tables of docs/results-zero-shot.md, as Markdown text (src/cli/results-zero-shot.ts prints them):
//   servedTables    every given checkpoint folder through the served path on every renderer's seen
//                   and held-out test scenes (evaluation-sets.ts), mean mode and MC: accuracy, NLL,
//                   ECE, Brier; folders of any age (the first MLP model too), so they are comparable
//   runTables       from finished `npm run train-zero-shot` folders' evaluation.json: the tfjs and
//                   served figures side by side, then tau, timings and the command per run
//   pairBreakdown   per colour–shape pair of one renderer, served path, mean mode: accuracy, share
//                   with the colour right, share with the shape right, the most frequent wrong answer
import { readFile } from 'node:fs/promises';
import { basename, join } from 'node:path';
import type { MetricSummary } from '../../evaluate/metrics.ts';
import { labelIndex, type LabelledPixels } from './evaluate.ts';
import { evaluationSets, type EvaluationSet, type EvaluationSplit, type Renderer } from './evaluation-sets.ts';
import { evaluateServed, loadServed, servedPixels, servedProbs } from './served.ts';
import { allLabels, SHAPE_NAMES } from './shapes.ts';

const MC = { samples: 100, seed: 0 };

function cells(m: MetricSummary): string {
  return `${m.accuracy.toFixed(3)} | ${m.nll.toFixed(3)} | ${m.ece.toFixed(3)} | ${m.brier.toFixed(3)}`;
}

const SPLIT_NAME: Record<EvaluationSplit, string> = { seen: 'seen', heldOut: 'held-out' };

/** The set's pixels as the served model decodes them (svg: its own decoding of the PNG / JPEG files). */
async function servedSetPixels(model: Awaited<ReturnType<typeof loadServed>>, set: EvaluationSet): Promise<LabelledPixels> {
  return set.encoded ? { images: await servedPixels(model, set.encoded), scenes: set.pixels.scenes } : set.pixels;
}

/** One row per folder, renderer, split and mode, through the served path (count scenes per set). */
export async function servedTables(dirs: string[], count = 1000): Promise<string> {
  const sets = await evaluationSets(count);
  const lines = ['| model | renderer | split | mode | accuracy | NLL | ECE | Brier |', '|---|---|---|---|---|---|---|---|'];
  for (const dir of dirs) {
    const model = await loadServed(dir);
    try {
      for (const set of sets) {
        const e = await evaluateServed(model, await servedSetPixels(model, set), MC.samples, MC.seed);
        const name = `${basename(dir)} (${model.metadata.head.type})`;
        lines.push(`| ${name} | ${set.renderer} | ${SPLIT_NAME[set.split]} | mean | ${cells(e.mean)} |`);
        if (e.mc) lines.push(`| ${name} | ${set.renderer} | ${SPLIT_NAME[set.split]} | MC (S = ${MC.samples}) | ${cells(e.mc)} |`);
      }
    } finally {
      await model.dispose();
    }
  }
  return lines.join('\n');
}

interface SplitFigures {
  mean: MetricSummary;
  mc?: MetricSummary;
}

/** What the tables read of a folder's evaluation.json (cli/train-zero-shot.ts writes it). */
interface Evaluation {
  tau: number;
  renderers: Partial<Record<Renderer, Partial<Record<EvaluationSplit, SplitFigures>>>>;
  served?: { renderers: Partial<Record<Renderer, Partial<Record<EvaluationSplit, SplitFigures>>>> };
}

/** tfjs against served per run, renderer, split and mode; then one row per run. */
export async function runTables(dirs: string[]): Promise<string> {
  const lines = ['| run | renderer | split | mode | tfjs accuracy / NLL | served accuracy / NLL |', '|---|---|---|---|---|---|'];
  const runs: string[] = ['', '| run | head | seed | tau | data s | training s | command |', '|---|---|---|---|---|---|---|'];
  for (const dir of dirs) {
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    const e = JSON.parse(await readFile(join(dir, 'evaluation.json'), 'utf8')) as Evaluation;
    for (const [renderer, splits] of Object.entries(e.renderers)) {
      for (const [split, figures] of Object.entries(splits)) {
        const served = e.served?.renderers[renderer as Renderer]?.[split as EvaluationSplit];
        for (const mode of ['mean', 'mc'] as const) {
          const t = figures[mode];
          if (!t) continue;
          const s = served?.[mode];
          lines.push(`| ${dir} | ${renderer} | ${SPLIT_NAME[split as EvaluationSplit]} | ${mode} | ${t.accuracy.toFixed(3)} / ${t.nll.toFixed(3)} | ${s ? `${s.accuracy.toFixed(3)} / ${s.nll.toFixed(3)}` : '-'} |`);
        }
      }
    }
    const p = manifest.provenance;
    runs.push(`| ${dir} | ${manifest.head.type} | ${p.seed} | ${e.tau.toFixed(4)} | ${Math.round(p.data.seconds ?? 0)} | ${Math.round(p.training.seconds)} | \`${p.command}\` |`);
  }
  return [...lines, ...runs].join('\n');
}

/** Per pair of one renderer's seen and held-out test scenes (1000 each), through the served model in `modelDir`, mean mode. */
export async function pairBreakdown(modelDir: string, renderer: Renderer): Promise<string> {
  const sets = (await evaluationSets(1000)).filter((s) => s.renderer === renderer);
  const model = await loadServed(modelDir);
  const labels = allLabels();
  const K = labels.length;
  const lines = ['| split | pair | n | accuracy | colour right | shape right | most frequent wrong answer |', '|---|---|---|---|---|---|---|'];
  try {
    for (const set of sets) {
      const name = SPLIT_NAME[set.split];
      const data = await servedSetPixels(model, set);
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
