// Loading zero-shot checkpoints: a valid one loads with its text tower and tokenizer; each broken
// piece is refused naming the file and the problem. CLIP exports: the tower contracts of
// zeroShot.text, the context length, and tau from logitScale.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { generateCheckpoint, type GenerateOptions } from '../../src/synthetic/random-checkpoint.ts';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import { editManifest } from '../helpers/manifest.ts';
import { writeClipCheckpoint, type ClipVariant } from '../convert/clip-fixture.ts';

const root = await mkdtemp(join(tmpdir(), 'hetxl-zs-ckpt-'));
after(() => rm(root, { recursive: true, force: true }));

let count = 0;
async function zeroShot(overrides: Partial<GenerateOptions> = {}): Promise<string> {
  const written = await generateCheckpoint({
    modelsDir: root,
    name: `zs-${count++}`,
    head: { type: 'het-xl', D: 4, K: 3, R: 2 },
    input: { height: 4, width: 4, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] },
    zeroShot: { vocabulary: ['a', 'red', 'circle'], templates: ['a {label}'] },
    ...overrides,
  });
  return written.dir;
}

async function refuses(dir: string, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadCheckpoint(dir), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.equal(basename(e.file), file, `wrong file in: ${e.message}`);
    assert.match(e.problem, pattern);
    return true;
  });
}

test('a valid zero-shot checkpoint loads: no labels, noise tensors without loc_layer, text tower and tokenizer', async () => {
  const c = await loadCheckpoint(await zeroShot());
  assert.equal(c.manifest.task, 'zero-shot');
  assert.deepEqual(c.labels, []);
  assert.deepEqual([...c.weights.keys()].sort(), [
    'diag_layer/bias', 'diag_layer/kernel', 'scale_layer_heteroscedastic/bias', 'scale_layer_heteroscedastic/kernel',
    'scale_layer_homoscedastic/bias', 'scale_layer_homoscedastic/kernel',
  ]);
  assert.ok(c.text && c.text.tower.byteLength > 0);
  // The WordLevel vocabulary as written: [PAD] 0, [UNK] 1, then the words in order.
  assert.deepEqual(c.text.tokenizer.encode('A red hexagon'), { ids: [2, 3, 1], unknownWords: ['hexagon'], allUnknown: false });
  assert.deepEqual(c.manifest.zeroShot, { templates: ['a {label}'], imageNormalisation: 'after-noise' });
});

test('refuses a zero-shot checkpoint without text.onnx or tokenizer.json', async () => {
  for (const file of ['text.onnx', 'tokenizer.json']) {
    const dir = await zeroShot();
    await rm(join(dir, file));
    await refuses(dir, file, /missing file/);
  }
});

test('refuses a tokenizer.json that is not JSON or not a tokenizer', async () => {
  const dir = await zeroShot();
  await writeFile(join(dir, 'tokenizer.json'), '{"model": ');
  await refuses(dir, 'tokenizer.json', /not valid JSON/);
  await writeFile(join(dir, 'tokenizer.json'), JSON.stringify({ model: { type: 'WordLevel', vocab: { a: 0 }, unk_token: '[UNK]' } }));
  await refuses(dir, 'tokenizer.json', /not a usable Hugging Face tokenizer/);
});

test('refuses a text tower whose embedding width differs from head.D, or that is not ONNX', async () => {
  const dir = await zeroShot();
  const wider = await zeroShot({ head: { type: 'het-xl', D: 5, K: 3, R: 2 } });
  await copyFile(join(wider, 'text.onnx'), join(dir, 'text.onnx'));
  await refuses(dir, 'text.onnx', /output "text_embedding" has shape \[batch, 5\], but the manifest says D = 4/);
  await writeFile(join(dir, 'text.onnx'), Buffer.from('not a model'));
  await refuses(dir, 'text.onnx', /not an ONNX model/);
});

test('refuses a backbone.onnx as text tower (wrong input name)', async () => {
  const dir = await zeroShot();
  await copyFile(join(dir, 'backbone.onnx'), join(dir, 'text.onnx'));
  await refuses(dir, 'text.onnx', /no input named "input_ids"/);
});

test('refuses zero-shot manifests that lack or misuse the zeroShot section', async () => {
  const cases: [(m: Record<string, any>) => void, RegExp][] = [
    [(m) => delete m.zeroShot, /task zero-shot needs a zeroShot section/],
    [(m) => (m.task = 'classification'), /zeroShot section given for a classification model/],
    [(m) => (m.zeroShot.templates = ['a photo']), /\/zeroShot\/templates\/0/],
    [(m) => (m.zeroShot.imageNormalisation = 'never'), /imageNormalisation/],
    [(m) => (m.head.covariance = 'full'), /must use covariance "param-efficient"/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = await zeroShot();
    await editManifest(dir, edit);
    await refuses(dir, 'manifest.json', pattern);
  }
});

test('refuses a zero-shot head that carries a loc_layer (its classes come from the text tower)', async () => {
  const dir = await zeroShot();
  const withLoc = await generateCheckpoint({ modelsDir: root, name: `cls-${count++}`, head: { type: 'het-xl', D: 4, K: 3, R: 2 }, input: { height: 4, width: 4, channels: 3, mean: [0, 0, 0], std: [1, 1, 1] } });
  await copyFile(join(withLoc.dir, 'head.safetensors'), join(dir, 'head.safetensors'));
  await refuses(dir, 'head.safetensors', /unexpected tensor loc_layer\/kernel/);
});

// CLIP exports (test/fixtures/clip/): the tower contracts of zeroShot.text, the context length and logitScale.
let clipCount = 0;
const clip = (variant: ClipVariant, manifest: Record<string, unknown> = {}) => writeClipCheckpoint(root, `clip-${clipCount++}`, variant, manifest);

test('a Hugging Face CLIP export loads: tau from logitScale, the tokenizer with tokenizer_config.json, a dynamic length', async () => {
  const c = await loadCheckpoint(await clip('hf'));
  assert.ok(Math.abs(c.manifest.head.tau - 1 / 100) < 1e-12);
  assert.equal(c.text!.tokenizer.contextLength, 77);
  assert.equal(c.text!.sequenceLength, undefined);
  const open = await loadCheckpoint(await clip('open_clip'));
  assert.equal(open.text!.sequenceLength, 77);
  assert.equal(open.text!.tokenizer.padId, 0);
});

test('refuses CLIP towers whose inputs, output or static length disagree with the manifest, saying what it found', async () => {
  const hf = (text: Record<string, unknown>) => ({ zeroShot: { templates: ['a {label}'], logitScale: 4.6, text } });
  await refuses(await clip('hf', hf({ inputIds: 'input_ids', embedding: 'text_embeds' })), 'text.onnx',
    /inputs are \[input_ids, attention_mask\]; the manifest's zeroShot.text expects \[input_ids\] \(set zeroShot.text.attentionMask to "attention_mask"/);
  await refuses(await clip('hf', hf({ inputIds: 'input_ids', attentionMask: 'attention_mask', embedding: 'pooler_output' })), 'text.onnx',
    /no output named "pooler_output" \(outputs: text_embeds, last_hidden_state\)/);
  await refuses(await clip('open_clip', hf({ inputIds: 'text', embedding: 'text_features' })), 'text.onnx',
    /input "text" has the static length 77, but no context length is given \(zeroShot.text.contextLength or tokenizer_config.json model_max_length\)/);
  await refuses(await clip('open_clip', hf({ inputIds: 'text', embedding: 'text_features', contextLength: 64 })), 'text.onnx', /static length 77, but the context length is 64/);
  await refuses(await clip('hf', hf({ inputIds: 'input_ids', attentionMask: 'attention_mask', embedding: 'text_embeds', contextLength: 64 })), 'manifest.json',
    /zeroShot.text.contextLength 64 disagrees with tokenizer_config.json's model_max_length 77/);
});

test('refuses a head.tau that disagrees with zeroShot.logitScale', async () => {
  const dir = await clip('hf', { head: { type: 'det', D: 16, K: 1, tau: 0.07 } });
  await refuses(dir, 'manifest.json', /head.tau 0.07 disagrees with zeroShot.logitScale 4.60517\d*: 1 \/ exp\(logitScale\) = 0.01 \(leave head.tau out/);
  const agrees = await loadCheckpoint(await clip('hf', { head: { type: 'det', D: 16, K: 1, tau: 0.01 } }));
  assert.equal(agrees.manifest.head.tau, 0.01);
});
