// `npm run convert -- clip` (issue #12 item 4) on the CLIP stand-in of test/fixtures/clip/: the
// tensor names read from the exports or given by flags, the context length from
// tokenizer_config.json or the tower's static length, logit_scale; the converted model serves what
// the hand-assembled checkpoint of test/convert/clip-fixture.ts serves (which
// test/http/zero-shot-clip.test.ts checks against the float64 reference); with a noise head, HET-XL
// noise whose mean mode is the det model's and whose MC mode with the noise scaled to ~0 is too
// (the one tau, from logitScale, in both); every refusal names the file and the problem.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertClip, type ClipOptions } from '../../src/convert/clip.ts';
import { ConvertError } from '../../src/convert/errors.ts';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import { writeSafetensors } from '../../src/format/safetensors.ts';
import { ZeroShotPipeline } from '../../src/pipelines/zero-shot.ts';
import { runCli } from '../helpers/cli.ts';
import { testLimits } from '../helpers/app.ts';
import { CLIP_FIXTURE, CLIP_TEMPLATES, clipExpected, formulaPixels, writeClipCheckpoint } from './clip-fixture.ts';

const E = 16;
const LABELS = ['red circle', 'blue square', 'yellow star', 'green triangle'];
let scratch: string;
let logitScale: number;
let count = 0;

before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convert-clip-'));
  logitScale = (await clipExpected()).logitScale;
  await writeFile(join(scratch, 'templates.json'), JSON.stringify(CLIP_TEMPLATES));
});
after(() => rm(scratch, { recursive: true, force: true }));

const f = (name: string) => join(CLIP_FIXTURE, name);
const options = (overrides: Partial<ClipOptions> = {}): ClipOptions => ({
  imageOnnx: f('image.onnx'),
  textOnnx: f('text.onnx'),
  tokenizer: f('tokenizer'),
  input: f('input.json'),
  logitScale,
  templates: join(scratch, 'templates.json'),
  out: join(scratch, 'models'),
  name: `clip-${count++}`,
  ...overrides,
});

/** Mean-mode (or MC) probabilities of a checkpoint folder over LABELS for the formula pixels. */
async function probabilities(dir: string, mode: 'mean' | 'mc' = 'mean'): Promise<Float32Array> {
  const pipeline = await ZeroShotPipeline.load(await loadCheckpoint(dir), { provider: 'cpu', threads: 1 }, testLimits());
  try {
    const [prediction] = await pipeline.predictPixels(formulaPixels(), 1, LABELS, CLIP_TEMPLATES, { mode, samples: 200, seed: 1 });
    return prediction.probs;
  } finally {
    await pipeline.dispose();
  }
}

/** A noise head whose noise is ~0: no low-rank part, softplus(-30) + minScale 1e-6 on the diagonal. */
function quietNoiseHead(R: number): Buffer {
  const zeros = (n: number) => new Float32Array(n);
  return writeSafetensors([
    ['scale_layer_heteroscedastic/kernel', { dims: [E, E], data: zeros(E * E) }],
    ['scale_layer_heteroscedastic/bias', { dims: [E], data: zeros(E) }],
    ['scale_layer_homoscedastic/kernel', { dims: [R, E], data: zeros(R * E).fill(0.1) }],
    ['scale_layer_homoscedastic/bias', { dims: [E], data: zeros(E) }],
    ['diag_layer/kernel', { dims: [E, E], data: zeros(E * E) }],
    ['diag_layer/bias', { dims: [E], data: zeros(E).fill(-30) }],
  ]);
}

describe('converting', () => {
  test('a Hugging Face / optimum export: names from the export, context length 77 from tokenizer_config.json; serves as the hand-made checkpoint', async () => {
    const c = await convertClip(options());
    assert.deepEqual(c.files, ['manifest.json', 'backbone.onnx', 'head.safetensors', 'text.onnx', 'tokenizer.json', 'tokenizer_config.json']);
    assert.deepEqual(c.manifest.input.names, { image: 'pixel_values', prelogits: 'image_embeds' });
    assert.deepEqual(c.manifest.zeroShot!.text, { inputIds: 'input_ids', attentionMask: 'attention_mask', embedding: 'text_embeds' });
    assert.deepEqual(c.contextLength, { value: 77, from: "tokenizer_config.json's model_max_length" });
    assert.deepEqual(c.namesFrom, []);
    assert.equal(c.manifest.head.type, 'det');
    assert.ok(Math.abs(c.manifest.head.tau - Math.exp(-logitScale)) < 1e-15);
    const handMade = await writeClipCheckpoint(join(scratch, 'hand'), 'clip-hf', 'hf');
    const [converted, reference] = [await probabilities(c.dir), await probabilities(handMade)];
    reference.forEach((p, k) => assert.ok(Math.abs(converted[k] - p) < 1e-6, `${LABELS[k]}: ${converted[k]} vs ${p}`));
  });

  test('an open_clip-style export: names by flags; without tokenizer_config.json the static length 77 is the context length', async () => {
    const tokenizer = join(scratch, 'tokenizer-only');
    await mkdir(tokenizer, { recursive: true });
    await copyFile(f('tokenizer/tokenizer.json'), join(tokenizer, 'tokenizer.json'));
    const c = await convertClip(options({ textOnnx: f('text-static.onnx'), tokenizer, names: { textInput: 'text', textOutput: 'text_features' } }));
    assert.deepEqual(c.manifest.zeroShot!.text, { inputIds: 'text', embedding: 'text_features', contextLength: 77 });
    assert.deepEqual(c.contextLength, { value: 77, from: 'the static length of "text"' });
    assert.deepEqual(c.namesFrom, ['--text-input', '--text-output']);
    assert.ok(!c.files.includes('tokenizer_config.json'));
    const hf = await probabilities((await convertClip(options())).dir);
    const open = await probabilities(c.dir);
    hf.forEach((p, k) => assert.ok(Math.abs(open[k] - p) < 1e-4, `${LABELS[k]}: open_clip ${open[k]} vs hf ${p}`));
  });

  test('with a noise head: HET-XL on the image embedding; mean mode is the det model, MC with ~0 noise too (one tau from logitScale)', async () => {
    await writeFile(join(scratch, 'noise.safetensors'), quietNoiseHead(2));
    await writeFile(join(scratch, 'noise.json'), JSON.stringify({ R: 2, minScale: 1e-6, defaultSamples: 100 }));
    const noisy = await convertClip(options({ noiseHead: join(scratch, 'noise.safetensors'), noiseConfig: join(scratch, 'noise.json') }));
    assert.equal(noisy.manifest.head.type, 'het-xl');
    assert.equal(noisy.manifest.head.R, 2);
    assert.equal(noisy.manifest.mc.defaultSamples, 100);
    const det = await probabilities((await convertClip(options())).dir);
    const [mean, mc] = [await probabilities(noisy.dir), await probabilities(noisy.dir, 'mc')];
    det.forEach((p, k) => {
      assert.ok(Math.abs(mean[k] - p) < 1e-6, `mean ${LABELS[k]}: ${mean[k]} vs det ${p}`);
      assert.ok(Math.abs(mc[k] - p) < 1e-3, `mc ${LABELS[k]}: ${mc[k]} vs det ${p}`);
    });
  });
});

describe('refusals name the file and the problem, and write nothing', () => {
  const refuses = async (overrides: Partial<ClipOptions>, pattern: RegExp) => {
    const o = options({ ...overrides, out: join(scratch, 'refused') });
    await assert.rejects(convertClip(o), (e: unknown) => {
      assert.ok(e instanceof ConvertError || e instanceof CheckpointError, String(e));
      assert.match((e as Error).message, pattern);
      return true;
    });
    assert.deepEqual(await readdir(join(scratch, 'refused')).catch(() => []), []);
  };

  test('tensor names', async () => {
    await refuses({ imageOnnx: f('text.onnx') }, /text\.onnx: its inputs are \[input_ids, attention_mask\], without the export name "pixel_values"; give the input with --image-input/);
    await refuses({ textOnnx: f('text-static.onnx') }, /text-static\.onnx: its inputs are \[text\], without the export name "input_ids"; give the input with --text-input/);
    await refuses({ names: { textOutput: 'pooler_output' } }, /text\.onnx: no output named "pooler_output" \(--text-output\); its outputs are \[text_embeds, last_hidden_state\]/);
    await refuses({ textOnnx: f('image.onnx'), names: { textInput: 'pixel_values', textOutput: 'image_embeds' } }, /image\.onnx: input "pixel_values" has element type FLOAT, expected INT64/);
  });

  test('tokenizer, context length, logit scale, templates', async () => {
    await refuses({ tokenizer: scratch }, /tokenizer\.json: cannot read the tokenizer \(tokenizer\.json\) \(no such file\)/);
    await refuses({ contextLength: 64 }, /--context-length: zeroShot.text.contextLength 64 disagrees with tokenizer_config.json's model_max_length 77/);
    await refuses({ logitScale: Number.NaN }, /--logit-scale must be a number/);
    await writeFile(join(scratch, 'bad-templates.json'), JSON.stringify(['a photo']));
    await refuses({ templates: join(scratch, 'bad-templates.json') }, /manifest\.json: schema errors: \/zeroShot\/templates\/0/);
  });

  test('noise head and config', async () => {
    await writeFile(join(scratch, 'noise-r3.safetensors'), quietNoiseHead(3));
    await writeFile(join(scratch, 'noise-r2.json'), JSON.stringify({ R: 2 }));
    await writeFile(join(scratch, 'noise-bad.json'), JSON.stringify({ R: 2, factors: 2 }));
    await refuses({ noiseHead: join(scratch, 'noise-r3.safetensors') }, /--noise-head and --noise-config go together/);
    await refuses({ noiseHead: join(scratch, 'noise-r3.safetensors'), noiseConfig: join(scratch, 'noise-r2.json') },
      /noise-r3\.safetensors: tensors do not match the het-xl param-efficient head with D = 16, K = 1, R = 2: tensor scale_layer_homoscedastic\/kernel has shape \[3, 16\], expected \[2, 16\]/);
    await refuses({ noiseHead: join(scratch, 'noise-r3.safetensors'), noiseConfig: join(scratch, 'noise-bad.json') }, /noise-bad\.json: unknown field factors/);
  });
});

test('the command of the guide converts the fixture; a usage error exits 2', async () => {
  const out = join(scratch, 'cli');
  const args = ['clip', '--image-onnx', f('image.onnx'), '--text-onnx', f('text.onnx'), '--tokenizer', f('tokenizer'), '--input', f('input.json'), '--logit-scale', '4.6052', '--out', out, '--name', 'clip-vit'];
  const { code, stdout, stderr } = await runCli('src/cli/convert.ts', args);
  assert.equal(code, 0, stderr);
  assert.match(stdout, /^wrote .*clip-vit \(manifest\.json, backbone\.onnx, head\.safetensors, text\.onnx, tokenizer\.json, tokenizer_config\.json\)$/m);
  assert.match(stdout, /text tower: input_ids \+ attention_mask -> text_embeds \[B, 16\]/);
  assert.match(stdout, /tau = 1 \/ exp\(4\.6052\) = 0\.0099/);
  const usage = await runCli('src/cli/convert.ts', ['clip', '--image-onnx', f('image.onnx'), '--logit-scale', 'big']);
  assert.equal(usage.code, 2);
  assert.match(usage.stderr, /convert: missing --text-onnx, --tokenizer, --input, --out, --name/);
});
