// npx tsx src/cli/results-fashion-mnist.ts [RUNS_DIR (default /tmp/fm-runs)] [--plot FILE.png]
// Reads the run folders of scripts/experiment-fashion-mnist.sh (manifest.json + evaluation.json)
// and prints the Markdown tables of docs/results-fashion-mnist.md, mean ± sample std over seeds:
// test-set metrics, misclassification detection and selective prediction, flipped-label detection
// and the per-epoch test NLL for each noise kind; learned tau, the fixed-tau sweep, the extra
// parameters and the training time. --plot also draws the test-NLL curves (curve-plot.ts).
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { extraParameterCount } from '../format/head-params.ts';
import type { HeadSpec, Manifest } from '../format/manifest.ts';
import type { EvaluationReport, ModeReport } from '../evaluate/evaluate.ts';
import { curvePlotPng, type CurveSeries } from '../evaluate/curve-plot.ts';
import { UNCERTAINTY_SCORES, type FlipDetection } from '../evaluate/uncertainty-quality.ts';
import type { PredictMode } from '../pipelines/served-model.ts';

const { values, positionals } = parseArgs({ allowPositionals: true, options: { plot: { type: 'string' } } });
const dir = positionals[0] ?? '/tmp/fm-runs';

interface EpochTestNll {
  count?: number;
  mean: number[];
  mc?: number[];
  samples?: number;
}

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

const HEADS = ['det', 'het', 'het-xl'] as const;
const KINDS = ['input', 'class'] as const;
type Head = (typeof HEADS)[number];
type Kind = (typeof KINDS)[number];
const MAIN = /^(det|het|het-xl)-(input|class)-s(\d+)$/;
const SWEEP = /^(het-xl|det)-input-tau([\d.]+)-s(\d+)$/;
const HEAD_NAMES: Record<Head, string> = { det: 'DET', het: 'HET (tau 1)', 'het-xl': 'HET-XL (learned tau)' };
const KIND_TITLES: Record<Kind, string> = {
  input: 'Input-dependent noise (flip probability 0.4 sigmoid(4 z(x)) within the look-alike groups)',
  class: 'Class-conditional noise (flip probability 0.4 within the look-alike groups)',
};
const SCORE_NAMES: Record<string, string> = {
  maxProbability: 'max prob',
  predictiveEntropy: 'entropy',
  mutualInformation: 'MI',
  margin: 'margin',
  givenLabelProbability: '1 - p(given label)',
};

function mean(values: number[]): number {
  return values.reduce((a, b) => a + b, 0) / values.length;
}

function std(values: number[]): number {
  const m = mean(values);
  return Math.sqrt(values.reduce((a, b) => a + (b - m) ** 2, 0) / (values.length - 1));
}

/** "mean ± std" (sample std), the mean alone for one value, n/a for none; nulls are dropped. */
function meanStd(raw: (number | null | undefined)[], digits = 4): string {
  const values = raw.filter((v): v is number => typeof v === 'number');
  if (values.length === 0) return 'n/a';
  if (values.length === 1) return values[0].toFixed(digits);
  return `${mean(values).toFixed(digits)} ± ${std(values).toFixed(digits)}`;
}

function mainRuns(head: Head, kind: Kind): Run[] {
  return runs.filter((r) => {
    const m = MAIN.exec(r.name);
    return m && m[1] === head && m[2] === kind;
  });
}

function modeOf(run: Run, m: PredictMode): ModeReport | undefined {
  return run.report.modes.find((x) => x.mode === m);
}

function flipsOf(run: Run, m: PredictMode): FlipDetection | undefined {
  return run.report.flippedLabels?.modes.find((x) => x.mode === m)?.auroc;
}

function curveOf(run: Run): EpochTestNll | undefined {
  return (run.manifest.provenance?.training as { epochTestNll?: EpochTestNll } | undefined)?.epochTestNll;
}

function modesOf(head: Head): PredictMode[] {
  return head === 'det' ? ['mean'] : ['mean', 'mc'];
}

function modeLabel(group: Run[], m: PredictMode): string {
  return m === 'mc' ? `MC, S = ${group.map((r) => modeOf(r, 'mc')?.samples).find((s) => s) ?? '?'}` : 'mean';
}

const lines: string[] = [];
const table = (header: string[]) => lines.push(`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`);
const row = (cells: (string | number)[]) => lines.push(`| ${cells.join(' | ')} |`);

/** One row per head and mode: `cells` of the group's runs in that mode. */
function headModeTable(kind: Kind, header: string[], cells: (group: Run[], m: PredictMode) => string[]): void {
  table(['head', 'mode', 'seeds', ...header]);
  for (const head of HEADS) {
    const group = mainRuns(head, kind);
    if (group.length === 0) continue;
    for (const m of modesOf(head)) row([HEAD_NAMES[head], modeLabel(group, m), group.length, ...cells(group, m)]);
  }
  lines.push('');
}

/** Seed mean of the per-epoch test NLL of a group (runs with fewer epochs are left out). */
function meanCurve(group: Run[], pick: (c: EpochTestNll) => number[] | undefined): number[] | undefined {
  const curves = group.map((r) => curveOf(r)).map((c) => c && pick(c)).filter((c): c is number[] => Array.isArray(c));
  if (curves.length === 0) return undefined;
  const epochs = Math.max(...curves.map((c) => c.length));
  const full = curves.filter((c) => c.length === epochs);
  return Array.from({ length: epochs }, (_, e) => mean(full.map((c) => c[e])));
}

function curveColumns(kind: Kind): { label: string; head: Head; pick: (c: EpochTestNll) => number[] | undefined }[] {
  return HEADS.flatMap((head) => [
    { label: `${HEAD_NAMES[head]} mean`, head, pick: (c: EpochTestNll) => c.mean },
    ...(head === 'det' ? [] : [{ label: `${HEAD_NAMES[head]} MC`, head, pick: (c: EpochTestNll) => c.mc }]),
  ]).filter((col) => meanCurve(mainRuns(col.head, kind), col.pick));
}

const plotSeries: CurveSeries[] = [];

for (const kind of KINDS) {
  if (HEADS.every((h) => mainRuns(h, kind).length === 0)) continue;
  lines.push(`### ${KIND_TITLES[kind]}`, '');
  lines.push('Test set (10,000 images, clean labels):', '');
  headModeTable(kind, ['accuracy', 'NLL', 'ECE (15 bins)', 'Brier'], (group, m) => {
    const reports = group.map((r) => modeOf(r, m));
    return [meanStd(reports.map((x) => x?.accuracy)), meanStd(reports.map((x) => x?.nll)), meanStd(reports.map((x) => x?.ece)), meanStd(reports.map((x) => x?.brier))];
  });

  lines.push('Misclassification detection on the test set, AUROC per score (higher is better), and AURC (area under the risk-coverage curve, lower is better):', '');
  headModeTable(kind, [...UNCERTAINTY_SCORES.map((s) => `AUROC ${SCORE_NAMES[s]}`), 'AURC max prob', 'AURC MI'], (group, m) => {
    const u = group.map((r) => modeOf(r, m)?.uncertainty);
    return [
      ...UNCERTAINTY_SCORES.map((s) => meanStd(u.map((x) => x?.[s]?.misclassificationAuroc))),
      meanStd(u.map((x) => x?.maxProbability?.aurc)),
      meanStd(u.map((x) => x?.mutualInformation?.aurc)),
    ];
  });

  lines.push('Selective prediction by max probability: accuracy of the most confident share of the test images:', '');
  headModeTable(kind, ['50%', '80%', '90%', '100%'], (group, m) => {
    const reports = group.map((r) => modeOf(r, m));
    return [...['0.5', '0.8', '0.9'].map((c) => meanStd(reports.map((x) => x?.uncertainty.maxProbability?.accuracyAtCoverage[c]))), meanStd(reports.map((x) => x?.accuracy))];
  });

  const flipData = mainRuns('det', kind)[0]?.report.flippedLabels?.data;
  lines.push(`Flipped-label detection on the training set (${flipData ? `${flipData.count} images, ${flipData.flipped} flipped for seed 0` : 'n/a'}), AUROC per score:`, '');
  headModeTable(kind, [...UNCERTAINTY_SCORES, 'givenLabelProbability'].map((s) => SCORE_NAMES[s]), (group, m) =>
    [...UNCERTAINTY_SCORES, 'givenLabelProbability' as const].map((s) => meanStd(group.map((r) => flipsOf(r, m)?.[s]))),
  );

  const columns = curveColumns(kind);
  if (columns.length > 0) {
    const samples = runs.map((r) => curveOf(r)?.samples).find((s) => s);
    const curveImages = runs.map((r) => curveOf(r)?.count).find((c) => c);
    const mcWords = samples ? `; MC with S = ${samples}, the same noise every epoch` : '';
    lines.push(`Test NLL after epochs 1-10 and every 5th (the first ${curveImages ?? 'n/a'} test images, clean labels, tfjs graph, seed mean${mcWords}):`, '');
    const curves = columns.map((c) => meanCurve(mainRuns(c.head, kind), c.pick)!);
    table(['epoch', ...columns.map((c) => c.label)]);
    // Every epoch up to 10, then every 5th and the last: the table stays short, the plot and the manifests have them all.
    const shown = (e: number, last: number) => e <= 10 || e % 5 === 0 || e === last;
    for (let e = 1; e <= curves[0].length; e++) if (shown(e, curves[0].length)) row([e, ...curves.map((c) => (c[e - 1] === undefined ? 'n/a' : c[e - 1].toFixed(4)))]);
    lines.push('');
    columns.forEach((c, i) => plotSeries.push({ label: c.label, values: curves[i], dashed: c.label.endsWith('MC'), group: `${kind} noise` }));

    lines.push('Overfitting per run (seed mean ± std): best epoch of the mean-mode test NLL, its NLL, the final NLL and the rise from best to final:', '');
    table(['head', 'seeds', 'best epoch', 'best NLL', 'final NLL', 'rise']);
    for (const head of HEADS) {
      const cs = mainRuns(head, kind).map((r) => curveOf(r)?.mean).filter((c): c is number[] => Array.isArray(c));
      if (cs.length === 0) continue;
      const best = cs.map((c) => Math.min(...c));
      const final = cs.map((c) => c[c.length - 1]);
      row([HEAD_NAMES[head], cs.length, meanStd(cs.map((c) => c.indexOf(Math.min(...c)) + 1), 1), meanStd(best), meanStd(final), meanStd(final.map((f, i) => f - best[i]))]);
    }
    lines.push('');
  }
}

lines.push('### Learned tau (HET-XL, bounds [0.05, 5], t initialised at 0 = tau 2.525)', '');
table(['noise', 'seed', 'tau', 't']);
for (const r of runs.filter((x) => MAIN.exec(x.name)?.[1] === 'het-xl').sort((a, b) => a.name.localeCompare(b.name))) {
  const [, , kind, seed] = MAIN.exec(r.name)!;
  row([kind, seed, r.manifest.head.tau.toFixed(4), r.manifest.head.temperature?.t.toFixed(4) ?? 'n/a']);
}
lines.push('');

const sweep = runs
  .map((r) => ({ r, m: SWEEP.exec(r.name) }))
  .filter((x) => x.m)
  .map((x) => ({ head: x.m![1] as Head, tau: Number(x.m![2]), seed: x.m![3], r: x.r }));
if (sweep.length > 0) {
  const seeds = new Set(sweep.filter((s) => s.head === 'het-xl').map((s) => s.seed));
  const sameSeeds = (head: Head) => mainRuns(head, 'input').filter((r) => seeds.has(MAIN.exec(r.name)![3]));
  const fixed = (head: Head) =>
    [...new Set(sweep.filter((s) => s.head === head).map((s) => s.tau))]
      .sort((a, b) => a - b)
      .map((tau) => ({ label: `${HEAD_NAMES[head].split(' ')[0]}, fixed tau ${tau}`, group: sweep.filter((s) => s.head === head && s.tau === tau).map((s) => s.r) }));
  const learned = sameSeeds('het-xl');
  const groups = [
    ...fixed('het-xl'),
    { label: `HET-XL, learned tau (${meanStd(learned.map((r) => r.manifest.head.tau), 3)})`, group: learned },
    { label: 'DET, tau 1 (the main runs)', group: sameSeeds('det') },
    ...fixed('det'),
  ];
  lines.push(`### Fixed tau sweep vs learned tau (input noise, seeds ${[...seeds].sort().join(', ')}; DET at a fixed tau as the control)`, '');
  table(['head, tau', 'seeds', 'accuracy (mean)', 'NLL (mean)', 'NLL (MC)', 'ECE (mean)', 'ECE (MC)', 'best-epoch NLL', 'rise after it', 'flipped AUROC max prob (mean)', 'flipped AUROC MI (MC)']);
  for (const { label, group } of groups) {
    const mean = group.map((r) => modeOf(r, 'mean'));
    const mc = group.map((r) => modeOf(r, 'mc'));
    const curves = group.map((r) => curveOf(r)?.mean).filter((c): c is number[] => Array.isArray(c));
    row([
      label,
      group.length,
      meanStd(mean.map((x) => x?.accuracy)),
      meanStd(mean.map((x) => x?.nll)),
      meanStd(mc.map((x) => x?.nll)),
      meanStd(mean.map((x) => x?.ece)),
      meanStd(mc.map((x) => x?.ece)),
      meanStd(curves.map((c) => Math.min(...c))),
      meanStd(curves.map((c) => c[c.length - 1] - Math.min(...c))),
      meanStd(group.map((r) => flipsOf(r, 'mean')?.maxProbability)),
      meanStd(group.map((r) => flipsOf(r, 'mc')?.mutualInformation)),
    ]);
  }
  lines.push('');
}

lines.push('### Extra parameters over DET (parameter-efficient covariance, biases included; src/format/head-params.ts)', '');
table(['setting', 'HET', 'HET-XL', 'HET / HET-XL']);
const example = runs.find((r) => r.manifest.head.type !== 'det')?.manifest.head;
const settings: { label: string; D: number; K: number; R: number }[] = [
  ...(example ? [{ label: `this experiment (K = ${example.K}, D = ${example.D}, R = ${example.R})`, D: example.D, K: example.K, R: example.R ?? 1 }] : []),
  { label: 'JFT-4B scale (K = 29,593, D = 1024, R = 50)', D: 1024, K: 29593, R: 50 },
];
for (const s of settings) {
  const spec = (type: 'het' | 'het-xl'): HeadSpec => ({ type, covariance: 'param-efficient', D: s.D, K: s.K, R: s.R, tau: 1, minScale: 1e-3 });
  const het = extraParameterCount(spec('het'));
  const hetxl = extraParameterCount(spec('het-xl'));
  row([s.label, het.toLocaleString('en-US'), hetxl.toLocaleString('en-US'), (het / hetxl).toFixed(3)]);
}
lines.push('');

lines.push('### Training time per run (seconds, tfjs wasm, shared 2-core CPU; includes the per-epoch test NLL)', '');
table(['head', 'runs', 'seconds (mean ± std)']);
for (const head of HEADS) {
  const secs = runs.filter((r) => r.manifest.head.type === head).map((r) => Number((r.manifest.provenance?.training as { seconds: number }).seconds));
  row([head, secs.length, meanStd(secs, 1)]);
}
console.log(lines.join('\n'));

if (values.plot) {
  writeFileSync(values.plot, await curvePlotPng(plotSeries, 'Test NLL (clean labels) after each epoch, seed mean'));
  console.error(`wrote ${values.plot}`);
}
