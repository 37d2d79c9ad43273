// Drawing the answers: the top classes with bars and error bars, the strip of sampled
// probabilities, and each uncertainty statistic with what it means. DOM and SVG elements only
// (no innerHTML of API text, no inline styles: the CSP forbids them).
import type { ClassifyResult, ClassScore, Statistics } from './api.ts';

const SVG = 'http://www.w3.org/2000/svg';
const BAR_WIDTH = 150;
const BAR_HEIGHT = 16;

export function el<K extends keyof HTMLElementTagNameMap>(tag: K, attrs: Record<string, string> = {}, ...children: (Node | string)[]) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, value);
  node.append(...children);
  return node;
}

function svg(tag: string, attrs: Record<string, string | number>): SVGElement {
  const node = document.createElementNS(SVG, tag);
  for (const [key, value] of Object.entries(attrs)) node.setAttribute(key, String(value));
  return node;
}

/** The number as the page shows it; the e2e test formats the API's numbers the same way. */
export const fmt = (x: number) => x.toFixed(4);

const clamp01 = (x: number) => Math.min(1, Math.max(0, x));
const xOf = (p: number) => clamp01(p) * BAR_WIDTH;

/** A bar for p_hat with whiskers for ± std (thin) and ± stdError (thick), on a 0..1 axis. */
function bar(c: ClassScore): SVGElement {
  const root = svg('svg', { width: BAR_WIDTH, height: BAR_HEIGHT, viewBox: `0 0 ${BAR_WIDTH} ${BAR_HEIGHT}`, 'aria-hidden': 'true', class: 'bar' });
  root.append(svg('rect', { x: 0, y: 3, width: xOf(c.probability), height: BAR_HEIGHT - 6, class: 'bar-fill' }));
  const mid = BAR_HEIGHT / 2;
  if (c.std !== undefined) root.append(svg('line', { x1: xOf(c.probability - c.std), x2: xOf(c.probability + c.std), y1: mid, y2: mid, class: 'whisker-std' }));
  if (c.stdError !== undefined) {
    root.append(svg('line', { x1: xOf(c.probability - c.stdError), x2: xOf(c.probability + c.stdError), y1: mid, y2: mid, class: 'whisker-se' }));
  }
  return root;
}

/** The sampled probabilities of one class as dots on a 0..1 axis, with its mean as a tick. */
function strip(values: number[], mean: number): SVGElement {
  const root = svg('svg', { width: BAR_WIDTH, height: BAR_HEIGHT, viewBox: `0 0 ${BAR_WIDTH} ${BAR_HEIGHT}`, 'aria-hidden': 'true', class: 'strip' });
  root.append(svg('line', { x1: 0, x2: BAR_WIDTH, y1: BAR_HEIGHT / 2, y2: BAR_HEIGHT / 2, class: 'axis' }));
  for (const v of values) root.append(svg('circle', { cx: xOf(v), cy: BAR_HEIGHT / 2, r: 3, class: 'dot' }));
  root.append(svg('line', { x1: xOf(mean), x2: xOf(mean), y1: 1, y2: BAR_HEIGHT - 1, class: 'mean-tick' }));
  return root;
}

/** What each statistic means, in one plain sentence. */
const MEANINGS: Record<keyof Statistics, string> = {
  predictiveEntropy: 'Total uncertainty: the entropy (in nats) of the averaged prediction; 0 is certain, log K is a uniform guess.',
  maxProbability: 'The probability of the most likely class.',
  margin: 'Top-1 minus top-2 probability: near 0, two classes compete.',
  expectedEntropy: 'Aleatoric part: the average entropy of the single samples, the ambiguity the model sees in the image itself.',
  mutualInformation: 'The part due to the noise spread (total minus aleatoric): how much the sampled predictions disagree.',
  variationRatio: 'Share of samples whose top class is not the most common one; 0 when every sample agrees.',
};
const MEAN_MODE_ENTROPY = 'Entropy (in nats) of the single noise-free prediction; mean mode cannot split it into parts.';

function statistics(stats: Statistics, mode: 'mean' | 'mc'): HTMLElement {
  const list = el('dl', { class: 'stats' });
  for (const key of Object.keys(MEANINGS) as (keyof Statistics)[]) {
    const value = stats[key];
    if (value === undefined) continue;
    const meaning = key === 'predictiveEntropy' && mode === 'mean' ? MEAN_MODE_ENTROPY : MEANINGS[key];
    list.append(
      el('dt', {}, key),
      el('dd', { 'data-stat': key, 'data-value': String(value) }, el('span', { class: 'num' }, fmt(value)), ' ', el('span', { class: 'meaning' }, meaning)),
    );
  }
  return list;
}

/** Sampled probabilities per class index, from single-sample requests (see main.ts). */
export interface Strips {
  count: number;
  byIndex: Map<number, number[]>;
  note: string;
}

/** One column of results (mean or MC): header, the classes table, the statistics. */
export function resultColumn(title: string, result: ClassifyResult, strips?: Strips): HTMLElement {
  const prediction = result.predictions[0];
  const mc = result.mode === 'mc';
  // estimator=exact draws no samples (the response has no samples or seed).
  const sampling = result.samples === undefined ? 'no samples' : `S = ${result.samples}, seed ${result.seed}`;
  const facts = mc ? `${sampling}, ${result.estimator}, ${result.provider}` : `noise off, ${result.provider}`;
  const head = el('tr', {}, el('th', { scope: 'col' }, 'class'), el('th', { scope: 'col' }, 'probability'));
  if (mc) head.append(el('th', { scope: 'col' }, 'std'), el('th', { scope: 'col' }, 'stdError'));
  head.append(el('th', { scope: 'col' }, mc ? 'p̂ ± std, ± stdError' : 'p̂'));
  if (strips) head.append(el('th', { scope: 'col' }, `${strips.count} sampled p_s`));
  const body = el('tbody');
  for (const c of prediction.classes) {
    const attrs: Record<string, string> = { class: 'class-row', 'data-index': String(c.index), 'data-label': c.label, 'data-probability': String(c.probability) };
    const row = el('tr', attrs, el('th', { scope: 'row', class: 'label' }, c.label), el('td', { class: 'num probability' }, fmt(c.probability)));
    if (mc) row.append(el('td', { class: 'num std' }, fmt(c.std ?? 0)), el('td', { class: 'num std-error' }, fmt(c.stdError ?? 0)));
    row.append(el('td', {}, bar(c)));
    if (strips) row.append(el('td', {}, strip(strips.byIndex.get(c.index) ?? [], c.probability)));
    body.append(row);
  }
  // Only the top classes are drawn (K may be ~30k): the rest is one row of remaining mass.
  const remaining = Math.max(0, 1 - prediction.classes.reduce((sum, c) => sum + c.probability, 0));
  body.append(el('tr', { class: 'remaining' }, el('th', { scope: 'row' }, 'all other classes'), el('td', { class: 'num', 'data-value': String(remaining) }, fmt(remaining))));
  const parts: (Node | string)[] = [
    el('h3', {}, title),
    el('p', { class: 'facts' }, facts),
    el('table', { class: 'classes' }, el('caption', {}, `top ${prediction.classes.length} classes`), el('thead', {}, head), body),
  ];
  if (strips) parts.push(el('p', { class: 'small' }, strips.note));
  parts.push(el('h4', {}, 'Uncertainty'), statistics(prediction.statistics, result.mode));
  return el('section', { class: 'column', 'data-mode': result.mode }, ...parts);
}
