// Serving a real CLIP export (issue #12): the stand-in of test/fixtures/clip/ (a CLIP tokenizer in
// Hugging Face's structure; small CLIP-like towers with attention_mask, end-of-text pooling and a
// projection, exported by scripts/make-clip-fixture.py) as a Hugging Face / optimum export and
// as an open_clip one. The served probabilities are checked against a reference computed here:
// the committed towers run through onnxruntime directly on ids from @huggingface/tokenizers
// padded to 77 as CLIPProcessor(padding="max_length") does, the pixels normalised in float64
// from the PNG's bytes, then CLIP's prompt ensemble and exp(logit_scale) * cosine softmax in float64.
// Also served from a worker thread (INFERENCE_WORKERS), which loads the folder itself.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { join } from 'node:path';
import * as ort from 'onnxruntime-node';
import sharp from 'sharp';
import { Tokenizer } from '@huggingface/tokenizers';
import { startTestServer, type TestServer } from '../helpers/app.ts';
import { CLIP_FIXTURE, CLIP_TEMPLATES, clipExpected, clipJson, writeClipCheckpoint, type ClipExpected } from '../convert/clip-fixture.ts';

const TOLERANCE = 1e-4;
const LABELS = ['red circle', 'blue square', 'yellow star', 'green triangle', 'hexagon'];
const MEAN = [0.48145466, 0.4578275, 0.40821073];
const STD = [0.26862954, 0.26130258, 0.27577711];

let server: TestServer;
let expected: ClipExpected;
let png: Buffer;
let rgb: Buffer;

before(async () => {
  expected = await clipExpected();
  server = await startTestServer(async (dir) => {
    await writeClipCheckpoint(dir, 'clip-hf', 'hf');
    await writeClipCheckpoint(dir, 'clip-open', 'open_clip');
  }, { maxLabelLength: 1000, textBatchTokens: 200 });
  // 32 x 32, the crop size: the shorter-side resize and the centre crop leave its pixels as they are.
  rgb = Buffer.alloc(32 * 32 * 3);
  for (let i = 0; i < rgb.length; i++) rgb[i] = (i * 53 + ((i * i) % 29) * 7) % 256;
  png = await sharp(rgb, { raw: { width: 32, height: 32, channels: 3 } }).png().toBuffer();
});
after(() => server.close());

const post = (model: string, body: Record<string, unknown>) =>
  server.app.inject({ method: 'POST', url: `/v1/models/${model}/zero-shot`, payload: JSON.stringify({ images: [png.toString('base64')], mode: 'mean', ...body, topK: ((body.labels ?? body.candidate_labels) as string[]).length }), headers: { 'content-type': 'application/json' } });

/** ids of one prompt as CLIPProcessor(padding="max_length") gives them: the library's encoding, <|endoftext|> pads, mask. */
function paddedRow(tokenizer: Tokenizer, prompt: string, pad: number): { ids: bigint[]; mask: bigint[] } {
  const ids = tokenizer.encode(prompt).ids;
  const row = [...ids, ...Array<number>(expected.contextLength - ids.length).fill(pad)];
  return { ids: row.map(BigInt), mask: row.map((_, i) => BigInt(i < ids.length ? 1 : 0)) };
}

const unit = (v: ArrayLike<number>): number[] => {
  const norm = Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
  return Array.from(v, (x) => x / norm);
};

/** softmax_k(exp(logitScale) cos(z, t_k)) with t_k the renormalised mean of the unit prompt embeddings, all in float64. */
async function referenceProbabilities(labels: string[], templates: string[]): Promise<number[]> {
  const tokenizer = new Tokenizer(await clipJson('tokenizer/tokenizer.json'), await clipJson('tokenizer/tokenizer_config.json'));
  const eot = tokenizer.token_to_id('<|endoftext|>')!;
  const text = await ort.InferenceSession.create(join(CLIP_FIXTURE, 'text.onnx'));
  const image = await ort.InferenceSession.create(join(CLIP_FIXTURE, 'image.onnx'));
  const pixels = new Float32Array(3 * 32 * 32);
  for (let c = 0; c < 3; c++) for (let p = 0; p < 32 * 32; p++) pixels[c * 1024 + p] = (rgb[p * 3 + c] / 255 - MEAN[c]) / STD[c];
  const z = unit((await image.run({ pixel_values: new ort.Tensor('float32', pixels, [1, 3, 32, 32]) })).image_embeds.data as Float32Array);
  const logits: number[] = [];
  for (const label of labels) {
    const sum = new Array<number>(z.length).fill(0);
    for (const template of templates) {
      const { ids, mask } = paddedRow(tokenizer, template.replace('{label}', label), eot);
      const out = await text.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(ids), [1, 77]), attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask), [1, 77]) });
      unit(out.text_embeds.data as Float32Array).forEach((x, i) => (sum[i] += x));
    }
    const t = unit(sum);
    logits.push(Math.exp(expected.logitScale) * z.reduce((a, x, i) => a + x * t[i], 0));
  }
  const max = Math.max(...logits);
  const e = logits.map((l) => Math.exp(l - max));
  const total = e.reduce((a, x) => a + x, 0);
  await Promise.all([text.release(), image.release()]);
  return e.map((x) => x / total);
}

type Class = { index: number; label: string; probability: number };
const served = (body: { predictions: { classes: Class[] }[] }): number[] => {
  const p: number[] = [];
  for (const c of body.predictions[0].classes) p[c.index] = c.probability;
  return p;
};

describe('a Hugging Face / optimum CLIP export', () => {
  test("the fixture's towers are torch's: text_embeds and image_embeds within 1e-4 of the values torch computed", async () => {
    const text = await ort.InferenceSession.create(join(CLIP_FIXTURE, 'text.onnx'));
    for (const [prompt, { ids, textEmbeds }] of Object.entries(expected.prompts)) {
      const row = [...ids, ...Array<number>(77 - ids.length).fill(ids.at(-1)!)];
      const mask = row.map((_, i) => (i < ids.length ? 1n : 0n));
      const out = await text.run({ input_ids: new ort.Tensor('int64', BigInt64Array.from(row.map(BigInt)), [1, 77]), attention_mask: new ort.Tensor('int64', BigInt64Array.from(mask), [1, 77]) });
      const got = out.text_embeds.data as Float32Array;
      textEmbeds.forEach((v, i) => assert.ok(Math.abs(got[i] - v) < TOLERANCE, `${prompt}: text_embeds[${i}] ${got[i]} vs torch ${v}`));
    }
    await text.release();
  });

  test('served probabilities equal the reference (towers run directly, 77-padded, CLIP softmax in float64) within 1e-4', async () => {
    const res = await post('clip-hf', { labels: LABELS });
    assert.equal(res.statusCode, 200, res.body);
    const reference = await referenceProbabilities(LABELS, CLIP_TEMPLATES);
    const got = served(res.json());
    reference.forEach((p, k) => assert.ok(Math.abs(got[k] - p) < TOLERANCE, `${LABELS[k]}: served ${got[k]}, reference ${p}`));
    // The scale matters: with tau = 1 instead of 1/100 these labels would be near uniform.
    assert.ok(Math.max(...reference) - Math.min(...reference) > 0.05, `reference ${reference}`);
    // Byte-level BPE has no unknown words: "hexagon" is six byte-pair pieces, and no warning.
    assert.equal(res.json().warnings, undefined);
  });

  test("Hugging Face's request names: candidate_labels and hypothesis_template match the reference for that one template", async () => {
    const res = await post('clip-hf', { candidate_labels: LABELS, hypothesis_template: 'This is a photo of {}.' });
    assert.equal(res.statusCode, 200, res.body);
    const reference = await referenceProbabilities(LABELS, ['This is a photo of {label}.']);
    const got = served(res.json());
    reference.forEach((p, k) => assert.ok(Math.abs(got[k] - p) < TOLERANCE, `${LABELS[k]}: served ${got[k]}, reference ${p}`));
  });

  test('a prompt longer than the context length of 77 is refused with a 400 naming the template, the label and the limit', async () => {
    const long = Array(14).fill('hexagon').join(' '); // 6 tokens a word: 84 tokens
    const res = await post('clip-hf', { labels: ['red circle', long] });
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'PROMPT_TOO_LONG');
    assert.match(res.json().message, /"a photo of a \{label\}\." with the label "hexagon hexagon .*" is \d+ tokens \(2 of them special\), longer than the text tower's context length of 77 \(tokenizer_config\.json's model_max_length\)/);
    const fits = Array(11).fill('hexagon').join(' '); // 66 + 5 + 2 tokens
    assert.equal((await post('clip-hf', { labels: ['red circle', fits] })).statusCode, 200);
  });
});

describe('an open_clip export: token ids alone, a static length of 77, pads 0', () => {
  test('serves the same probabilities as the Hugging Face export of the same weights (the causal mask hides the pads)', async () => {
    const [hf, open] = await Promise.all([post('clip-hf', { labels: LABELS }), post('clip-open', { labels: LABELS })]);
    assert.equal(open.statusCode, 200, open.body);
    const a = served(hf.json());
    served(open.json()).forEach((p, k) => assert.ok(Math.abs(p - a[k]) < TOLERANCE, `${LABELS[k]}: open_clip ${p}, hf ${a[k]}`));
  });

  test('its model details carry the contract: names, the context length, logitScale and tau = 1 / exp(logitScale)', async () => {
    const details = (await server.app.inject({ url: '/v1/models/clip-open' })).json();
    assert.deepEqual(details.zeroShot.text, { inputIds: 'text', embedding: 'text_features', contextLength: 77 });
    assert.equal(details.zeroShot.logitScale, expected.logitScale);
    assert.ok(Math.abs(details.head.tau - 0.01) < 1e-12);
  });
});

test('in a worker thread (INFERENCE_WORKERS, the default) the same export serves the same probabilities', async () => {
  const inWorker = await startTestServer((dir) => writeClipCheckpoint(dir, 'clip-hf', 'hf').then(() => undefined), { inferenceWorkers: true });
  try {
    const body = { images: [png.toString('base64')], labels: LABELS, mode: 'mean', topK: LABELS.length };
    const res = await inWorker.app.inject({ method: 'POST', url: '/v1/models/clip-hf/zero-shot', payload: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
    assert.equal(res.statusCode, 200, res.body);
    const inProcess = served((await post('clip-hf', { labels: LABELS })).json());
    served(res.json()).forEach((p, k) => assert.ok(Math.abs(p - inProcess[k]) < 1e-6, `${LABELS[k]}: worker ${p}, in process ${inProcess[k]}`));
  } finally {
    await inWorker.close();
  }
});
