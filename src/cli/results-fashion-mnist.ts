// npx tsx src/cli/results-fashion-mnist.ts [RUNS_DIR (default /tmp/fm-runs)]
// Reads the run folders of scripts/experiment-fashion-mnist.sh (manifest.json + evaluation.json)
// and prints the Markdown tables of docs/results-fashion-mnist.md: mean +- std over seeds,
// learned tau values, the fixed-tau sweep, and the extra-parameter table.
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { extraParameterCount } from '../format/head-params.ts';
import type { HeadSpec, Manifest } from '../format/manifest.ts';
import type { EvaluationReport, ModeReport } from '../evaluate/evaluate.ts';
import type { PredictMode } from '../pipelines/served-model.ts';

const dir = process.argv[2] ?? '/tmp/fm-runs';

interface Run {
  name: string;
  manifest: Manifest;
  report: EvaluationReport;
}

const runs: Run[] = readdirSync(dir)
  .filter((n) => existsSync(join(dir, n, 'evaluation.json')))
  .map((name) => ({
    name,
    manifest: JSON.parse(readFileSync(join(dir, name, 'manifest.json'), 'utf8')) as Manifest,
    report: JSON.parse(readFileSync(join(dir, name, 'evaluation.json'), 'utf8')) as EvaluationReport,
  }));

const MAIN = /^(det|het|het-xl)-(noisy|clean)-s(\d+)$/;
const SWEEP = /^het-xl-noisy-tau([\d.]+)-s(\d+)$/;

function meanStd(values: number[]): string {
  const n = values.length;
  if (n === 0) return 'n/a';
  const mean = values.reduce((a, b) => a + b, 0) / n;
  if (n === 1) return mean.toFixed(4);
  const std = Math.sqrt(values.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return `${mean.toFixed(4)} ± ${std.toFixed(4)}`;
}

function mode(run: Run, m: PredictMode): ModeReport | undefined {
  return run.report.modes.find((x) => x.mode === m);
}

const HEAD_NAMES: Record<string, string> = { det: 'DET', het: 'HET (tau 1)', 'het-xl': 'HET-XL (learned tau)' };
const lines: string[] = [];

for (const labels of ['noisy', 'clean'] as const) {
  lines.push(`### ${labels === 'noisy' ? 'Noisy training labels (40% within look-alike groups)' : 'Clean training labels'}`, '');
  lines.push('| head | mode | seeds | accuracy | NLL | ECE (15 bins) | Brier |', '|---|---|---|---|---|---|---|');
  for (const head of ['det', 'het', 'het-xl']) {
    const group = runs.filter((r) => {
      const m = MAIN.exec(r.name);
      return m && m[1] === head && m[2] === labels;
    });
    for (const m of head === 'det' ? (['mean'] as const) : (['mean', 'mc'] as const)) {
      const reports = group.map((r) => mode(r, m)).filter((x): x is ModeReport => x !== undefined);
      const label = m === 'mc' ? `MC, S = ${reports[0]?.samples ?? '?'}` : 'mean';
      const col = (f: (x: ModeReport) => number) => meanStd(reports.map(f));
      lines.push(`| ${HEAD_NAMES[head]} | ${label} | ${reports.length} | ${col((x) => x.accuracy)} | ${col((x) => x.nll)} | ${col((x) => x.ece)} | ${col((x) => x.brier)} |`);
    }
  }
  lines.push('');
}

lines.push('### Learned tau (HET-XL, bounds [0.05, 5], t initialised at 0 = tau 2.525)', '', '| labels | seed | tau | t |', '|---|---|---|---|');
for (const r of runs.filter((r) => MAIN.exec(r.name)?.[1] === 'het-xl').sort((a, b) => a.name.localeCompare(b.name))) {
  const [, , labels, seed] = MAIN.exec(r.name)!;
  lines.push(`| ${labels} | ${seed} | ${r.manifest.head.tau.toFixed(4)} | ${r.manifest.head.temperature?.t.toFixed(4)} |`);
}
lines.push('');

lines.push('### HET-XL: fixed tau sweep vs learned tau (noisy labels, seed 0)', '');
lines.push('| tau | MC accuracy | MC NLL | MC ECE | mean-mode NLL | mean-mode ECE |', '|---|---|---|---|---|---|');
const sweep = runs
  .map((r) => ({ r, m: SWEEP.exec(r.name) }))
  .filter((x) => x.m && x.m[2] === '0')
  .map((x) => ({ label: `fixed ${x.m![1]}`, tau: Number(x.m![1]), r: x.r }))
  .sort((a, b) => a.tau - b.tau);
const learned = runs.find((r) => r.name === 'het-xl-noisy-s0');
if (learned) sweep.push({ label: `learned ${learned.manifest.head.tau.toFixed(3)}`, tau: learned.manifest.head.tau, r: learned });
for (const { label, r } of sweep) {
  const mc = mode(r, 'mc')!;
  const mean = mode(r, 'mean')!;
  lines.push(`| ${label} | ${mc.accuracy.toFixed(4)} | ${mc.nll.toFixed(4)} | ${mc.ece.toFixed(4)} | ${mean.nll.toFixed(4)} | ${mean.ece.toFixed(4)} |`);
}
lines.push('');

lines.push('### Extra parameters over DET (parameter-efficient covariance, biases included; src/format/head-params.ts)', '');
lines.push('| setting | HET | HET-XL | HET / HET-XL |', '|---|---|---|---|');
const example = runs.find((r) => r.manifest.head.type !== 'det')?.manifest.head;
const settings: { label: string; D: number; K: number; R: number }[] = [
  ...(example ? [{ label: `this experiment (K = ${example.K}, D = ${example.D}, R = ${example.R})`, D: example.D, K: example.K, R: example.R ?? 1 }] : []),
  { label: 'JFT-4B scale (K = 29,593, D = 1024, R = 50)', D: 1024, K: 29593, R: 50 },
];
for (const s of settings) {
  const spec = (type: 'het' | 'het-xl'): HeadSpec => ({ type, covariance: 'param-efficient', D: s.D, K: s.K, R: s.R, tau: 1, minScale: 1e-3 });
  const het = extraParameterCount(spec('het'));
  const hetxl = extraParameterCount(spec('het-xl'));
  lines.push(`| ${s.label} | ${het.toLocaleString('en-US')} | ${hetxl.toLocaleString('en-US')} | ${(het / hetxl).toFixed(3)} |`);
}
lines.push('');

lines.push('### Training time per run (seconds, tfjs wasm, shared 2-core CPU)', '', '| head | runs | seconds (mean ± std) |', '|---|---|---|');
for (const head of ['det', 'het', 'het-xl']) {
  const secs = runs.filter((r) => r.manifest.head.type === head).map((r) => Number((r.manifest.provenance?.training as { seconds: number }).seconds));
  lines.push(`| ${head} | ${secs.length} | ${meanStd(secs)} |`);
}
console.log(lines.join('\n'));
