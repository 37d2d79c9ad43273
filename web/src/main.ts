// The page (issue #14): pick a model and an image, run it in mean and MC mode side by side, and
// draw the top classes, the spread of the sampled predictions and the uncertainty statistics.
// It uses the public HTTP API only (api.ts).
import { ApiError, classify, listModels, modelDetails, predictive, zeroShot, type ClassifyResult, type ModelDetails, type RunOptions } from './api.ts';
import { ImageInput, SAMPLES } from './image-input.ts';
import { el, resultColumn, type Strips } from './render.ts';

type Task = 'classification' | 'zero-shot';

/** Single-sample requests behind the strip of sampled probabilities: few, and a few at a time. */
const STRIP_SAMPLES = 24;
const STRIP_PARALLEL = 4;
const SEED_RANGE = 2 ** 32;

const $ = <T extends HTMLElement>(id: string) => document.getElementById(id) as T;

const ui = {
  tabs: { classification: $<HTMLButtonElement>('tab-classification'), 'zero-shot': $<HTMLButtonElement>('tab-zero-shot') },
  form: $<HTMLFormElement>('form'),
  model: $<HTMLSelectElement>('model'),
  info: $<HTMLElement>('model-info'),
  sample: $<HTMLSelectElement>('sample'),
  file: $<HTMLInputElement>('file'),
  drop: $<HTMLElement>('drop'),
  zeroShotFields: $<HTMLElement>('zero-shot-fields'),
  labels: $<HTMLTextAreaElement>('labels'),
  templates: $<HTMLTextAreaElement>('templates'),
  mode: $<HTMLSelectElement>('mode'),
  samples: $<HTMLInputElement>('samples'),
  seed: $<HTMLInputElement>('seed'),
  estimator: $<HTMLSelectElement>('estimator'),
  topK: $<HTMLInputElement>('topk'),
  run: $<HTMLButtonElement>('run'),
  busy: $<HTMLElement>('busy'),
  error: $<HTMLElement>('error'),
  warnings: $<HTMLElement>('warnings'),
  results: $<HTMLElement>('results'),
};

let task: Task = 'classification';
let models: { name: string; task?: string; status: string }[] = [];
let details: ModelDetails | null = null;

function showError(error: unknown): void {
  const text = error instanceof ApiError ? `${error.status || 'no answer'} ${error.code}: ${error.message}` : `Error: ${(error as Error).message ?? String(error)}`;
  ui.error.replaceChildren(el('strong', {}, 'The request failed. '), text);
  ui.error.hidden = false;
}

function clearError(): void {
  ui.error.hidden = true;
  ui.error.replaceChildren();
}

const image = new ImageInput($('preview'), $('preview-caption'), $('canvas'), (message) => showError(new Error(message)));

function showModelInfo(m: ModelDetails): void {
  const facts: [string, string][] = [
    ['head', m.head.type],
    ['K', m.task === 'zero-shot' ? `${m.head.K} (trained on; a request ranks its own labels)` : String(m.head.K)],
    ['tau', m.head.tau === undefined ? '—' : m.head.tau.toPrecision(4)],
    ['link', m.head.link ?? 'softmax'],
    ['extra parameters', m.extraParameters.toLocaleString('en')],
    ['default mode', `${m.defaults.mode}, S = ${m.defaults.samples} (at most ${m.defaults.maxSamples})`],
  ];
  if (m.untrained) facts.push(['note', 'untrained (random weights)']);
  ui.info.replaceChildren(...facts.flatMap(([k, v]) => [el('dt', {}, k), el('dd', { 'data-fact': k }, v)]));
  ui.samples.value = String(m.defaults.samples);
  ui.samples.max = String(m.defaults.maxSamples);
  ui.topK.max = String(m.defaults.maxTopK);
  const canMc = m.head.type !== 'det';
  for (const option of ui.mode.options) option.disabled = !canMc && option.value !== 'mean';
  // DET has no MC mode; coming back from one, a HET-XL model starts side by side again.
  if (!canMc) ui.mode.value = 'mean';
  else if (ui.mode.value === 'mean') ui.mode.value = 'both';
  if (m.zeroShot && ui.templates.dataset.model !== m.name) {
    ui.templates.value = m.zeroShot.templates.join('\n');
    ui.templates.dataset.model = m.name;
  }
}

async function selectModel(name: string): Promise<void> {
  details = null;
  ui.info.replaceChildren();
  try {
    details = await modelDetails(name);
    showModelInfo(details);
    // The estimators this model takes, its default first; a choice the new model also takes stays.
    const chosen = ui.estimator.value;
    ui.estimator.replaceChildren(...details.estimators.map((e, i) => el('option', { value: e }, i === 0 ? `${e} (default)` : e)));
    if (details.estimators.includes(chosen)) ui.estimator.value = chosen;
  } catch (error) {
    showError(error);
  }
}

async function selectTask(next: Task): Promise<void> {
  task = next;
  for (const [name, tab] of Object.entries(ui.tabs)) {
    tab.setAttribute('aria-selected', String(name === task));
    tab.tabIndex = name === task ? 0 : -1;
  }
  ui.form.setAttribute('aria-labelledby', ui.tabs[task].id);
  ui.zeroShotFields.hidden = task !== 'zero-shot';
  ui.results.replaceChildren();
  clearError();
  const usable = models.filter((m) => m.task === task && m.status === 'ready');
  ui.model.replaceChildren(...usable.map((m) => el('option', { value: m.name }, m.name)));
  ui.sample.replaceChildren(el('option', { value: '' }, '(choose)'), ...SAMPLES.filter((s) => s.task === task).map((s) => el('option', { value: s.file }, s.file)));
  if (usable.length === 0) showError(new Error(`no ${task} model is ready on this server`));
  else await selectModel(usable[0].name);
}

/** An integer field as typed: the API checks it (and refuses e.g. 0 samples with its own message). */
const field = (input: HTMLInputElement): number | undefined => (input.value.trim() === '' ? undefined : Number(input.value));

const lines = (text: string) => text.split('\n').map((s) => s.trim()).filter((s) => s !== '');

/**
 * The strip: with samples = 1 the API returns one genuine MC sample p_s (the noise is a pure
 * function of seed and sample index), so STRIP_SAMPLES requests with seeds derived from the
 * user's give that many samples of the top classes' probabilities.
 */
async function sampleStrips(run: (options: RunOptions) => Promise<Map<number, number>>, base: RunOptions, indices: number[]): Promise<Strips> {
  const byIndex = new Map(indices.map((i) => [i, [] as number[]]));
  const seeds = Array.from({ length: STRIP_SAMPLES }, (_, i) => ((base.seed ?? 0) + 1 + i) % SEED_RANGE);
  for (let start = 0; start < seeds.length; start += STRIP_PARALLEL) {
    const batch = seeds.slice(start, start + STRIP_PARALLEL).map((seed) => run({ mode: 'mc', samples: 1, seed, estimator: 'plain', topK: base.topK }));
    for (const probs of await Promise.all(batch)) {
      // A zero-shot class outside a sample's listed labels has no value there: left out, not drawn at 0.
      for (const i of indices) {
        const p = probs.get(i);
        if (p !== undefined) byIndex.get(i)!.push(p);
      }
    }
  }
  const first = seeds[0];
  const last = seeds[seeds.length - 1];
  const note =
    `The dots are ${STRIP_SAMPLES} single MC samples p_s, each from its own request with samples = 1 and seeds ${first}..${last} ` +
    '(plain estimator); the tick is the mean above. The whiskers are ± std (thin) and ± stdError (thick) over all S samples.';
  return { count: STRIP_SAMPLES, byIndex, note };
}

async function runOnce(): Promise<void> {
  const blob = image.image;
  const model = details;
  if (!model) throw new Error('no model selected');
  if (!blob) throw new Error('choose an image first: a sample, a file or a drawing');
  const base: RunOptions = { mode: 'mc', seed: field(ui.seed), topK: field(ui.topK) };
  const mc: RunOptions = { ...base, samples: field(ui.samples), estimator: ui.estimator.value || undefined };
  const labels = lines(ui.labels.value);
  const templates = lines(ui.templates.value);
  const call = (options: RunOptions) =>
    task === 'zero-shot' ? zeroShot(model.name, blob, options, labels, templates) : classify(model.name, blob, options);

  const wanted = ui.mode.value;
  const columns: { title: string; result: ClassifyResult }[] = [];
  if (wanted !== 'mc') columns.push({ title: 'Mean mode (noise off)', result: await call({ mode: 'mean', topK: base.topK }) });
  let strips: Strips | undefined;
  if (wanted !== 'mean') {
    const result = await call(mc);
    columns.push({ title: 'MC predictive', result });
    const indices = result.predictions[0].classes.map((c) => c.index);
    strips = await sampleStrips(stripRun(model, blob, labels, templates), mc, indices);
  }
  const warnings = columns.flatMap((c) => c.result.warnings ?? []);
  ui.warnings.hidden = warnings.length === 0;
  ui.warnings.textContent = warnings.length ? `Warnings: ${[...new Set(warnings)].join('; ')}` : '';
  ui.results.replaceChildren(
    el('div', { class: 'columns' }, ...columns.map((c) => resultColumn(c.title, c.result, c.result.mode === 'mc' ? strips : undefined))),
  );
}

/** One single-sample request -> probability per class index (every class: predictive, or all labels). */
function stripRun(model: ModelDetails, blob: Blob, labels: string[], templates: string[]) {
  return async (options: RunOptions): Promise<Map<number, number>> => {
    if (task === 'classification') {
      const probs = await predictive(model.name, blob, { ...options, topK: undefined });
      return new Map(Array.from(probs, (p, i) => [i, p]));
    }
    // Zero-shot has no predictive endpoint: ask for as many labels as the server lists.
    const topK = Math.min(labels.length, model.defaults.maxTopK);
    const result = await zeroShot(model.name, blob, { ...options, topK }, labels, templates);
    return new Map(result.predictions[0].classes.map((c) => [c.index, c.probability]));
  };
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  clearError();
  // Old results under a new error would read as the answer to the new request.
  ui.results.replaceChildren();
  ui.run.disabled = true;
  ui.busy.textContent = 'running…';
  runOnce()
    .catch(showError)
    .finally(() => {
      ui.run.disabled = false;
      ui.busy.textContent = '';
    });
});

for (const [name, tab] of Object.entries(ui.tabs) as [Task, HTMLButtonElement][]) {
  tab.addEventListener('click', () => void selectTask(name));
  // Arrow keys move between the two tabs (the ARIA tabs pattern).
  tab.addEventListener('keydown', (e) => {
    if (e.key !== 'ArrowLeft' && e.key !== 'ArrowRight') return;
    const other = name === 'classification' ? 'zero-shot' : 'classification';
    ui.tabs[other].focus();
    void selectTask(other);
  });
}
ui.model.addEventListener('change', () => void selectModel(ui.model.value));
ui.sample.addEventListener('change', () => {
  if (ui.sample.value) void image.loadSample(ui.sample.value);
});
ui.file.addEventListener('change', () => {
  const file = ui.file.files?.[0];
  if (file) image.set(file, file.name);
});
ui.drop.addEventListener('dragover', (e) => {
  e.preventDefault();
  ui.drop.classList.add('over');
});
ui.drop.addEventListener('dragleave', () => ui.drop.classList.remove('over'));
ui.drop.addEventListener('drop', (e) => {
  e.preventDefault();
  ui.drop.classList.remove('over');
  const file = e.dataTransfer?.files[0];
  if (file) image.set(file, file.name);
});
$('clear').addEventListener('click', () => image.clearCanvas());

async function start(): Promise<void> {
  $('boot').hidden = true;
  try {
    models = (await listModels()).models;
  } catch (error) {
    showError(error);
    return;
  }
  await selectTask('classification');
}

void start();
