// POST /v1/models/{name}/zero-shot end to end with `inject`, over a generated zero-shot checkpoint
// (random image and text towers, HET-XL noise on the image embedding): results, options, the
// text-embedding cache, Hugging Face's field names, and every kind of bad labels or templates
// getting a 400.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../../src/app.ts';
import { modelLimitsOf, loadConfig } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { ModelRegistry } from '../../src/pipelines/registry.ts';
import type { ZeroShotPipeline } from '../../src/pipelines/zero-shot.ts';
import type { BatchingModel } from '../../src/pipelines/batching.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { multipart, testPng } from '../helpers/app.ts';

const ZS = 'tiny-zero-shot';
const CLASSIFIER = 'tiny-classifier';
const VOCABULARY = ['a', 'photo', 'of', 'red', 'green', 'blue', 'circle', 'square', 'triangle', 'big'];
const TEMPLATES = ['a photo of a {label}', 'a {label}'];

let modelsDir: string;
let registry: ModelRegistry;
let app: App;
let png: Buffer;
let png2: Buffer;

before(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-zs-'));
  await generateCheckpoint({
    modelsDir,
    name: ZS,
    seed: 3,
    head: { type: 'het-xl', D: 8, K: 9, R: 2, tau: 0.1 },
    input: { height: 8, width: 8, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
    mc: { defaultSamples: 50, maxSamples: 500 },
    zeroShot: { vocabulary: VOCABULARY, templates: TEMPLATES },
  });
  await makeTinyCheckpoint(modelsDir, { name: CLASSIFIER, type: 'det' });
  const config = loadConfig({}, {
    modelsDir, logLevel: 'silent', ortThreads: 1, maxZeroShotLabels: 4, maxZeroShotTemplates: 3, maxLabelLength: 30, maxImagesPerRequest: 3, maxZeroShotPromptTokens: 200,
    maxImagePixels: 1 << 20, headMemoryBudgetMB: 64, textCacheSize: 100, textBatchTokens: 16,
  });
  // The prompt limits are the model's (its pipeline checks them): the registry gets them from the same config.
  registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, modelLimitsOf(config), { info() {}, error() {} });
  await registry.loadAll(modelsDir);
  app = await buildApp(config, { registry, logger: false });
  png = await testPng(8, 8, 1);
  png2 = await testPng(10, 6, 2);
});
after(async () => {
  await app.close();
  await registry.dispose();
  await rm(modelsDir, { recursive: true, force: true });
});

const url = `/v1/models/${ZS}/zero-shot`;
const post = (body: unknown, target = url) => app.inject({ method: 'POST', url: target, payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
const b64 = (b: Buffer) => b.toString('base64');
const LABELS = ['red circle', 'green square', 'blue triangle', 'big circle'];
type Class = { index: number; label: string; probability: number; std?: number; stdError?: number };
const byLabel = (classes: Class[]) => new Map(classes.map((c) => [c.label, c.probability]));
// The registry serves each model through its batcher; the pipeline is inside.
const zeroShotModel = () => (registry.get(ZS)!.model as BatchingModel).inner as ZeroShotPipeline;

describe('zero-shot results', () => {
  test('mean mode: a distribution over the given labels, ranked, with mean-mode statistics', async () => {
    const res = await post({ images: [b64(png), b64(png2)], labels: LABELS, mode: 'mean', topK: 4 });
    assert.equal(res.statusCode, 200, res.body);
    const body = res.json();
    assert.equal(body.model, ZS);
    assert.equal(body.mode, 'mean');
    assert.deepEqual(body.templates, TEMPLATES);
    assert.equal(body.predictions.length, 2);
    for (const p of body.predictions as { classes: Class[]; statistics: Record<string, number> }[]) {
      assert.deepEqual(p.classes.map((c) => c.label).sort(), [...LABELS].sort());
      p.classes.forEach((c) => assert.equal(LABELS[c.index], c.label));
      assert.ok(Math.abs(p.classes.reduce((a, c) => a + c.probability, 0) - 1) < 1e-5);
      for (let i = 1; i < p.classes.length; i++) assert.ok(p.classes[i - 1].probability >= p.classes[i].probability);
      assert.ok(Math.abs(p.statistics.maxProbability - p.classes[0].probability) < 1e-6);
      assert.equal(p.statistics.mutualInformation, undefined);
    }
  });

  test('the labels order does not change any label probability (the text embeddings are the classifier)', async () => {
    const a = (await post({ images: [b64(png)], labels: LABELS, mode: 'mean', topK: 4 })).json();
    const b = (await post({ images: [b64(png)], labels: [...LABELS].reverse(), mode: 'mean', topK: 4 })).json();
    const pa = byLabel(a.predictions[0].classes);
    for (const [label, p] of byLabel(b.predictions[0].classes)) assert.ok(Math.abs(p - pa.get(label)!) < 1e-6, label);
  });

  test('templates matter: one template gives other numbers than the default pair', async () => {
    const a = byLabel((await post({ images: [b64(png)], labels: LABELS, mode: 'mean', topK: 4 })).json().predictions[0].classes);
    const b = byLabel((await post({ images: [b64(png)], labels: LABELS, templates: ['{label}'], mode: 'mean', topK: 4 })).json().predictions[0].classes);
    assert.ok(LABELS.some((l) => Math.abs(a.get(l)! - b.get(l)!) > 1e-4));
  });

  test("Hugging Face's names: candidate_labels and hypothesis_template ({} for the label) give the labels / templates answer", async () => {
    const ours = (await post({ images: [b64(png)], labels: LABELS, templates: ['a photo of a {label}'], mode: 'mean', topK: 4 })).json();
    const res = await post({ images: [b64(png)], candidate_labels: LABELS, hypothesis_template: 'a photo of a {}', mode: 'mean', topK: 4 });
    assert.equal(res.statusCode, 200, res.body);
    assert.deepEqual(res.json().templates, ['a photo of a {label}']);
    assert.deepEqual(res.json().predictions, ours.predictions);
    const form = await multipart([{ data: png }], { candidate_labels: JSON.stringify(LABELS), hypothesis_template: 'a photo of a {}', mode: 'mean', topK: '4' });
    const viaMultipart = await app.inject({ method: 'POST', url, ...form });
    assert.equal(viaMultipart.statusCode, 200, viaMultipart.body);
    assert.deepEqual(viaMultipart.json().predictions, ours.predictions);
  });

  test('MC (the default mode): seeded, with std, stdError and MC statistics; another seed gives other numbers', async () => {
    const request = { images: [b64(png)], labels: LABELS, samples: 40, seed: 9, topK: 4 };
    const first = (await post(request)).json();
    const again = (await post(request)).json();
    const other = (await post({ ...request, seed: 10 })).json();
    assert.equal(first.mode, 'mc');
    assert.equal(first.samples, 40);
    assert.deepEqual(again.predictions, first.predictions);
    assert.notDeepEqual(other.predictions[0].classes, first.predictions[0].classes);
    const p = first.predictions[0];
    for (const c of p.classes as Class[]) assert.ok(Math.abs(c.stdError! - c.std! / Math.sqrt(40)) < 1e-6);
    assert.ok(p.statistics.mutualInformation >= 0);
    assert.ok(Math.abs(p.statistics.mutualInformation - (p.statistics.predictiveEntropy - p.statistics.expectedEntropy)) < 1e-6);
  });

  test('multipart with repeated labels fields gives the JSON answer', async () => {
    const form = new FormData();
    form.append('image', new Blob([new Uint8Array(png)]), 'a.png');
    for (const l of LABELS) form.append('labels', l);
    form.append('mode', 'mean');
    form.append('topK', '4');
    const request = new Request('http://localhost/', { method: 'POST', body: form });
    const res = await app.inject({ method: 'POST', url, payload: Buffer.from(await request.arrayBuffer()), headers: { 'content-type': request.headers.get('content-type')! } });
    assert.equal(res.statusCode, 200, res.body);
    const viaJson = (await post({ images: [b64(png)], labels: LABELS, mode: 'mean', topK: 4 })).json();
    assert.deepEqual(res.json().predictions, viaJson.predictions);
    const asArray = await multipart([{ data: png }], { labels: JSON.stringify(LABELS), mode: 'mean', topK: '4' });
    const res2 = await app.inject({ method: 'POST', url, ...asArray });
    assert.deepEqual(res2.json().predictions, viaJson.predictions);
  });

  test('labels whose prompts are all cached run no text-tower work; a new label runs it once', async () => {
    const labels = ['green triangle', 'blue square'];
    await post({ images: [b64(png)], labels, mode: 'mean' });
    const runs = zeroShotModel().textTowerRuns;
    const cached = await post({ images: [b64(png2)], labels: [...labels].reverse(), mode: 'mean' });
    assert.equal(cached.statusCode, 200);
    assert.equal(zeroShotModel().textTowerRuns, runs);
    await post({ images: [b64(png)], labels: [...labels, 'red square'], mode: 'mean' });
    assert.equal(zeroShotModel().textTowerRuns, runs + 1);
  });

  test('unknown words in labels or templates come back as warnings; none when all words are known', async () => {
    const known = (await post({ images: [b64(png)], labels: ['red circle'], mode: 'mean' })).json();
    assert.equal(known.warnings, undefined);
    const res = await post({ images: [b64(png)], labels: ['red hexagon', 'blue square'], templates: ['a sketch of {label}'], mode: 'mean' });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().warnings, [
      'label "red hexagon": words the text tower does not know: hexagon',
      'template "a sketch of {label}": words the text tower does not know: sketch',
    ]);
  });

  test('model details show the zero-shot section; there is no fixed label list', async () => {
    const details = (await app.inject({ url: `/v1/models/${ZS}` })).json();
    assert.equal(details.task, 'zero-shot');
    assert.deepEqual(details.zeroShot, { templates: TEMPLATES, imageNormalisation: 'after-noise' });
    assert.equal(details.extraParameters, 8 * (2 * 8 + 2 + 3));
    const labels = await app.inject({ url: `/v1/models/${ZS}/labels` });
    assert.equal(labels.statusCode, 404);
  });
});

describe('zero-shot bad input: a 400 naming the problem, and the server keeps serving', () => {
  // The PNG exists only once `before` has run: cases name it and the test puts it in.
  const image = () => ['PNG'];
  const cases: Array<[string, Record<string, unknown>, string, RegExp]> = [
    ['no labels field', { images: image() }, 'NO_LABELS', /labels: give at least one label/],
    ['labels and candidate_labels', { images: image(), labels: ['red circle'], candidate_labels: ['blue square'] }, 'CONFLICTING_FIELDS', /'candidate_labels' is Hugging Face's name for 'labels'; give one of them/],
    ['templates and hypothesis_template', { images: image(), labels: ['red circle'], templates: ['a {label}'], hypothesis_template: 'a {}' }, 'CONFLICTING_FIELDS', /'hypothesis_template' is Hugging Face's name for 'templates'/],
    ['hypothesis_template without {}', { images: image(), labels: ['red circle'], hypothesis_template: 'a {label}' }, 'TEMPLATE_WITHOUT_LABEL', /'hypothesis_template' "a \{label\}" does not contain \{\}/],
    ['hypothesis_template not a string', { images: image(), labels: ['red circle'], hypothesis_template: ['a {}', 'the {}'] }, 'INVALID_REQUEST', /hypothesis_template/],
    ['empty labels', { images: image(), labels: [] }, 'NO_LABELS', /at least one label/],
    ['duplicate labels', { images: image(), labels: ['red circle', 'red circle'] }, 'DUPLICATE_LABEL', /duplicate label "red circle"/],
    ['over-long label', { images: image(), labels: ['red circle '.repeat(4)] }, 'LABEL_TOO_LONG', /at most 30/],
    ['too many labels', { images: image(), labels: ['red', 'green', 'blue', 'circle', 'square'] }, 'TOO_MANY_LABELS', /5 labels, at most 4/],
    ['label of no words', { images: image(), labels: ['   '] }, 'EMPTY_LABEL', /no words/],
    ['label of unknown words only', { images: image(), labels: ['red circle', 'purple hexagon'] }, 'UNKNOWN_WORDS', /does not know: purple, hexagon/],
    ['template without {label}', { images: image(), labels: ['red circle'], templates: ['a photo'] }, 'TEMPLATE_WITHOUT_LABEL', /does not contain \{label\}/],
    ['too many templates', { images: image(), labels: ['red circle'], templates: ['{label}', 'a {label}', 'of {label}', 'photo {label}'] }, 'TOO_MANY_TEMPLATES', /at most 3/],
    ['labels the same to the text tower', { images: image(), labels: ['red circle', 'Red Circle'] }, 'DUPLICATE_LABEL', /"red circle" and "Red Circle" are the same tokens to the text tower/],
    [
      'too many prompt tokens',
      // 4 labels of 5 tokens x 3 templates of 4 placeholders each: 20 x 12 = 240 tokens.
      { images: image(), labels: ['red circle blue square big', 'green circle blue square big', 'blue circle red square big', 'big circle red square blue'], templates: ['{label}{label} {label} {label}', '{label} {label}{label} {label}', '{label} {label} {label}{label}'] },
      'TOO_MANY_PROMPT_TOKENS',
      /^labels x templates: up to 240 prompt tokens \(4 labels x 3 templates\), at most 200 allowed \(MAX_ZERO_SHOT_PROMPT_TOKENS\)/,
    ],
    ['labels not strings', { images: image(), labels: [{ text: 'red' }] }, 'INVALID_REQUEST', /labels/],
    ['topK above the number of labels', { images: image(), labels: ['red circle', 'blue square'], topK: 3 }, 'TOPK_OUT_OF_RANGE', /between 1 and 2/],
    ['no images', { labels: ['red circle'] }, 'INVALID_REQUEST', /images/],
  ];
  for (const [name, body, code, message] of cases) {
    test(name, async () => {
      const res = await post('images' in body ? { ...body, images: [b64(png)] } : body);
      assert.equal(res.statusCode, 400, res.body);
      assert.equal(res.json().code, code);
      assert.match(res.json().message, message);
    });
  }

  test('multipart labels field that looks like JSON but is not', async () => {
    const res = await app.inject({ method: 'POST', url, ...(await multipart([{ data: png }], { labels: '["red circle"' })) });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'INVALID_LABELS');
  });

  test('the wrong endpoint for the task says which one to use', async () => {
    const classify = await post({ images: [b64(png)] }, `/v1/models/${ZS}/classify`);
    assert.equal(classify.statusCode, 400);
    assert.equal(classify.json().code, 'WRONG_TASK');
    assert.match(classify.json().message, /zero-shot/);
    const zeroShot = await post({ images: [b64(png)], labels: ['red circle'] }, `/v1/models/${CLASSIFIER}/zero-shot`);
    assert.equal(zeroShot.statusCode, 400);
    assert.equal(zeroShot.json().code, 'WRONG_TASK');
    assert.match(zeroShot.json().message, /classify/);
    const unknown = await post({ images: [b64(png)], labels: ['red circle'] }, '/v1/models/nope/zero-shot');
    assert.equal(unknown.statusCode, 404);
  });

  test('an abandoned request (aborted signal) stops before any image or text-tower work', async () => {
    const model = zeroShotModel();
    const runs = model.textTowerRuns;
    const options = { mode: 'mean' as const, samples: 1, seed: 0, signal: AbortSignal.abort() };
    await assert.rejects(model.predict(model.prepare({ images: [png], labels: ['green circle', 'blue circle'], templates: TEMPLATES }), options), { name: 'AbortError' });
    assert.equal(model.textTowerRuns, runs);
  });

  test('after all of that, a good request still works', async () => {
    const res = await post({ images: [b64(png)], labels: ['red circle', 'blue square'] });
    assert.equal(res.statusCode, 200);
  });
});
