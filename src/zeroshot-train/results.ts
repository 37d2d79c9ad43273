// Tables for docs/results-zero-shot.md from finished `npm run train-zero-shot` folders: mean ± std
// (sample std over seeds) of accuracy, NLL and ECE per head, split and mode, from each folder's
// evaluation.json (tfjs and served-path figures), plus tau and timings per run.
// Usage: npx tsx src/zeroshot-train/results.ts CHECKPOINT_DIR...
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';

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
