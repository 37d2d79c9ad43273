// The zero-shot trainer (src/training/zero-shot/): determinism for a seed, the loss going down on a
// tiny run, the exported folder's files (names, shapes, graphs against the tfjs forward), and
// the tfjs noise formula and contrastive loss against float64 references written here.
import assert from 'node:assert/strict';
import { mkdtemp, readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { createSession, defaultEngineOptions } from '../../../src/engine/session.ts';
import { loadCheckpoint } from '../../../src/format/checkpoint.ts';
import { readSafetensors } from '../../../src/format/safetensors.ts';
import { tfWasm } from '../../../src/training/common/tf.ts';
import { PromptTokenizer } from '../../../src/format/tokenizer.ts';
import { DEFAULT_TEMPLATES } from '../../../src/training/zero-shot/evaluate.ts';
import { exportZeroShot } from '../../../src/training/zero-shot/export.ts';
import { DualEncoder, HEAD_PARAMS, type DualEncoderConfig } from '../../../src/training/zero-shot/model.ts';
import { captionVocabulary } from '../../../src/training/zero-shot/shapes.ts';
import { defaultConfig, encodeTexts, PIXELS, quantise, shapesData, shapesTokenizerJson, textEncoder, trainDualEncoder, vocabularySize } from '../../../src/training/zero-shot/trainer.ts';
import { mulberry32 } from '../../reference/heads.ts';

const tf = await tfWasm();
const V = vocabularySize(shapesTokenizerJson());
const data = shapesData(256, 3, 'train');

function tinyConfig(head: DualEncoderConfig['head']): DualEncoderConfig {
  return { ...defaultConfig(head, V), convWidths: [4, 8], dim: 8, tokenWidth: 8, factors: 3 };
}

async function trainTiny(head: DualEncoderConfig['head'], seed: number, steps: number, learningRate = 0.01) {
  const model = new DualEncoder(tinyConfig(head), seed);
  const summary = await trainDualEncoder(model, data, { steps, batchSize: 32, learningRate, samples: 4, seed }, undefined, 10);
  return { model, summary };
}

test('same seed gives identical weights after training; another seed differs', async () => {
  const a = await trainTiny('het-xl', 4, 6);
  const b = await trainTiny('het-xl', 4, 6);
  const c = await trainTiny('het-xl', 5, 6);
  const sa = a.model.snapshot(), sb = b.model.snapshot(), sc = c.model.snapshot();
  for (const [name, v] of sa) assert.deepEqual(v.data, sb.get(name)!.data, name);
  assert.notDeepEqual(sa.get(HEAD_PARAMS.diagKernel)!.data, sc.get(HEAD_PARAMS.diagKernel)!.data);
  assert.deepEqual(a.summary.curve, b.summary.curve);
  for (const m of [a, b, c]) m.model.dispose();
});

test('the contrastive loss goes down on a tiny run (het-xl and det)', async () => {
  for (const head of ['het-xl', 'det'] as const) {
    const { model, summary } = await trainTiny(head, 1, 80, 0.03);
    const first = summary.curve[0].loss, last = summary.curve.at(-1)!.loss;
    assert.ok(last < 0.8 * first, `${head}: loss ${first} -> ${last}`);
    model.dispose();
  }
});

test('quantise gives 8-bit pixel values', () => {
  const q = quantise(Float32Array.from([0, 0.5, 0.9993, 1, 0.1234]));
  for (const v of q) assert.ok(Math.abs(v * 255 - Math.round(v * 255)) < 1e-4);
  assert.equal(q[1], Math.fround(128 / 255));
});

test('noise formula: z_s = z + (eps_R J + b_J) * v + d * eps_D against float64 (rel 1e-5)', () => {
  const config = tinyConfig('het-xl');
  const model = new DualEncoder(config, 9);
  const E = config.dim, R = config.factors, B = 3, S = 2;
  const u = mulberry32(11);
  const rnd = (n: number, s = 1) => Float32Array.from({ length: n }, () => s * (2 * u() - 1));
  // non-trivial biases, so every term is exercised
  model.p(HEAD_PARAMS.hetBias).assign(tf.tensor1d(rnd(E, 0.5)));
  model.p(HEAD_PARAMS.homBias).assign(tf.tensor1d(rnd(E, 0.5)));
  model.p(HEAD_PARAMS.diagBias).assign(tf.tensor1d(rnd(E, 1)));
  const z = rnd(B * E, 2), epsR = rnd(S * B * R, 2), epsD = rnd(S * B * E, 2);
  const got = tf.tidy(() =>
    model.noisyEmbeddingsFrom(tf.tensor2d(z, [B, E]), tf.tensor3d(epsR, [S, B, R]), tf.tensor3d(epsD, [S, B, E])).dataSync(),
  );
  const w = model.snapshot();
  const Wh = w.get(HEAD_PARAMS.hetKernel)!.data, bh = w.get(HEAD_PARAMS.hetBias)!.data;
  const J = w.get(HEAD_PARAMS.homKernel)!.data, bJ = w.get(HEAD_PARAMS.homBias)!.data;
  const Wd = w.get(HEAD_PARAMS.diagKernel)!.data, bd = w.get(HEAD_PARAMS.diagBias)!.data;
  for (let s = 0; s < S; s++) {
    for (let b = 0; b < B; b++) {
      for (let e = 0; e < E; e++) {
        let v = bh[e], pre = bd[e], a = bJ[e];
        for (let i = 0; i < E; i++) {
          v += z[b * E + i] * Wh[i * E + e];
          pre += z[b * E + i] * Wd[i * E + e];
        }
        for (let r = 0; r < R; r++) a += epsR[(s * B + b) * R + r] * J[r * E + e];
        const d = Math.log1p(Math.exp(pre)) + config.minScale;
        const ref = z[b * E + e] + a * v + d * epsD[(s * B + b) * E + e];
        const g = got[(s * B + b) * E + e];
        assert.ok(Math.abs(g - ref) <= 1e-5 * Math.max(1, Math.abs(ref)), `s${s} b${b} e${e}: ${g} vs ${ref}`);
      }
    }
  }
  model.dispose();
});

test('contrastive loss with the MC average inside the log against float64 (rel 1e-5)', () => {
  const model = new DualEncoder(tinyConfig('het-xl'), 2);
  const E = 8, B = 4, S = 3;
  const u = mulberry32(5);
  const zs = Float32Array.from({ length: S * B * E }, () => 2 * u() - 1);
  const text = Float32Array.from({ length: B * E }, () => 2 * u() - 1);
  const got = tf.tidy(() => model.contrastiveLoss(tf.tensor3d(zs, [S, B, E]), tf.tensor2d(text, [B, E])).dataSync()[0]);
  const tau = model.tauValue();
  const unit = (v: ArrayLike<number>) => {
    const n = Math.sqrt(Array.from(v).reduce((a, x) => a + x * x, 0));
    return Array.from(v, (x) => x / n);
  };
  const t = Array.from({ length: B }, (_, j) => unit(text.subarray(j * E, (j + 1) * E)));
  const logits = Array.from({ length: S }, (_, s) =>
    Array.from({ length: B }, (_, i) => {
      const us = unit(zs.subarray((s * B + i) * E, (s * B + i + 1) * E));
      return t.map((tj) => tj.reduce((a, x, e) => a + x * us[e], 0) / tau);
    }),
  );
  const softmaxAt = (row: number[], k: number) => Math.exp(row[k]) / row.reduce((a, x) => a + Math.exp(x), 0);
  let imageLoss = 0, textLoss = 0;
  for (let i = 0; i < B; i++) {
    let pImage = 0, pText = 0;
    for (let s = 0; s < S; s++) {
      pImage += softmaxAt(logits[s][i], i) / S;
      pText += softmaxAt(logits[s].map((row) => row[i]), i) / S;
    }
    imageLoss -= Math.log(Math.max(pImage, 1e-7)) / B;
    textLoss -= Math.log(Math.max(pText, 1e-7)) / B;
  }
  const ref = (imageLoss + textLoss) / 2;
  assert.ok(Math.abs(got - ref) <= 1e-5 * Math.abs(ref), `${got} vs ${ref}`);
  model.dispose();
});

test('export writes the zero-shot checkpoint format; the graphs equal the tfjs towers', async () => {
  for (const head of ['het-xl', 'det'] as const) {
    const model = new DualEncoder(tinyConfig(head), 7);
    const dir = join(await mkdtemp(join(tmpdir(), 'zs-train-')), `tiny-${head}`);
    await exportZeroShot(model, { dir, description: 'test', templates: DEFAULT_TEMPLATES, provenance: { command: 'test' } });
    const checkpoint = await loadCheckpoint(dir);
    const manifest = JSON.parse(await readFile(join(dir, 'manifest.json'), 'utf8'));
    assert.equal(manifest.name, `tiny-${head}`);
    assert.equal(manifest.task, 'zero-shot');
    assert.equal(manifest.head.type, head);
    assert.equal(manifest.head.D, 8);
    assert.equal(manifest.head.K, 28);
    assert.deepEqual(manifest.zeroShot, { templates: DEFAULT_TEMPLATES, imageNormalisation: 'after-noise' });
    assert.deepEqual(manifest.input, { height: 32, width: 32, channels: 3, layout: 'NHWC', resize: 'stretch', scale: 1 / 255, mean: [0, 0, 0], std: [1, 1, 1] });
    const { min, max, t } = manifest.head.temperature;
    assert.ok(Math.abs(min + (max - min) / (1 + Math.exp(-t)) - manifest.head.tau) < 1e-6);
    const tensors = readSafetensors(await readFile(join(dir, 'head.safetensors')));
    const shapes = Object.fromEntries([...tensors].map(([name, v]) => [name, v.dims]));
    if (head === 'det') {
      assert.deepEqual(shapes, {});
      assert.equal(manifest.head.R, undefined);
    } else {
      assert.deepEqual(shapes, {
        'scale_layer_heteroscedastic/kernel': [8, 8], 'scale_layer_heteroscedastic/bias': [8],
        'scale_layer_homoscedastic/kernel': [3, 8], 'scale_layer_homoscedastic/bias': [8],
        'diag_layer/kernel': [8, 8], 'diag_layer/bias': [8],
      });
      assert.equal(manifest.head.R, 3);
      assert.equal(manifest.head.covariance, 'param-efficient');
      assert.equal(checkpoint.weights.size, 6);
    }
    // tokenizer.json: the caption vocabulary, [PAD] = 0, [UNK] = 1
    const tokenizerJson = JSON.parse(await readFile(join(dir, 'tokenizer.json'), 'utf8'));
    const vocab = tokenizerJson.model.vocab as Record<string, number>;
    assert.equal(vocab['[PAD]'], 0);
    assert.equal(vocab['[UNK]'], 1);
    assert.deepEqual(Object.keys(vocab).slice(2), captionVocabulary());

    // backbone.onnx against the tfjs image tower, text.onnx against the tfjs text tower
    const images = data.images.subarray(0, 3 * PIXELS);
    const backbone = await createSession(await readFile(join(dir, 'backbone.onnx')), defaultEngineOptions);
    const z = (await backbone.run({ image: new ort.Tensor('float32', images, [3, 32, 32, 3]) })).prelogits;
    assert.deepEqual(z.dims, [3, 8]);
    const zRef = tf.tidy(() => model.imageEmbedding(tf.tensor2d(images, [3, PIXELS])).dataSync());
    zRef.forEach((r, i) => assert.ok(Math.abs((z.data as Float32Array)[i] - r) < 1e-4 * Math.max(1, Math.abs(r))));
    const prompts = ['a red circle', 'a small blue square on the left', 'a zebra'];
    const tok = new PromptTokenizer(tokenizerJson);
    const ids = prompts.map((p) => tok.encode(p).ids);
    const L = Math.max(...ids.map((r) => r.length));
    const padded = BigInt64Array.from(ids.flatMap((r) => [...r, ...Array(L - r.length).fill(0)]).map(BigInt));
    const text = await createSession(await readFile(join(dir, 'text.onnx')), defaultEngineOptions);
    const g = (await text.run({ input_ids: new ort.Tensor('int64', padded, [3, L]) })).text_embedding;
    const enc = textEncoder();
    const gRef = tf.tidy(() => model.textEmbedding(tf.tensor2d(encodeTexts(prompts, enc), [3, enc.vocabulary])).dataSync());
    gRef.forEach((r, i) => assert.ok(Math.abs((g.data as Float32Array)[i] - r) < 1e-5 * Math.max(1, Math.abs(r))));
    await backbone.release();
    await text.release();
    model.dispose();
  }
});
