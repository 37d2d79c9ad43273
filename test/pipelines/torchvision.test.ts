// A backbone exported from PyTorch (issue #11, item 6): torchvision's squeezenet1_1 with random
// weights, exported by torch.onnx.export under its own tensor names, served through
// loadCheckpoint + ImageTower / ClassifierPipeline with torchvision-style preprocessing
// (Resize(256, bilinear), CenterCrop(224), ImageNet mean / std), against torch's own transform
// and forward on the same images. The fixture and the expected values are written by
// scripts/make-torchvision-fixture.py (torch 1.13, torchvision 0.14, PIL 9.4).
//
// Tolerances (measured, docs/conversion.md "From PyTorch"): on one input tensor, ORT and
// torch agree to 1e-6 (max abs, values ~1; tolerance 1e-4). On images sharp's resize is not
// PIL's: the relative L2 error of the pre-logits was at most 0.018 (enlarged 32 x 32 images;
// 0.0009 for the reduced photo), tolerance 0.03; the largest probability difference 0.0016,
// tolerance 0.003. The wrong kernel (nearest 0.48, lanczos3 0.12) or no resize margin (0.16)
// is 4 to 16 times the tolerance: the last test checks that, so these comparisons can fail.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { cp, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint, type Checkpoint } from '../../src/format/checkpoint.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import type { InputSpec } from '../../src/format/manifest.ts';
import { ClassifierPipeline } from '../../src/pipelines/classifier.ts';
import { ImageTower } from '../../src/pipelines/image-tower.ts';
import { testLimits } from '../helpers/app.ts';

const FIXTURE = path.join(import.meta.dirname, '..', 'fixtures', 'torchvision');
const EXAMPLES = path.join(import.meta.dirname, '..', '..', 'docs', 'examples');
const ENGINE = { provider: 'cpu', threads: 1 } as const;
const LIMITS = testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 16 });
const CROP = 224;

interface Expected {
  images: Record<string, { prelogits: number[]; probs: number[] }>;
  formulaPrelogits: number[];
}
const expected = JSON.parse(readFileSync(path.join(FIXTURE, 'expected.json'), 'utf8')) as Expected;
const names = Object.keys(expected.images);
const imageBytes = names.map((name) => readFileSync(path.join(name.startsWith('photo-') ? FIXTURE : EXAMPLES, name)));

const PRELOGITS_REL_TOL = 0.03;
const PROBS_ABS_TOL = 3e-3;
const FORMULA_ABS_TOL = 1e-4;

let checkpoint: Checkpoint;
let tower: ImageTower;
const towers: ImageTower[] = [];

/** ||a - b|| / ||b|| in float64. */
function relativeError(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let diff = 0;
  let norm = 0;
  for (let i = 0; i < b.length; i++) {
    diff += (a[i] - b[i]) ** 2;
    norm += b[i] ** 2;
  }
  return Math.sqrt(diff / norm);
}

/** The served pre-logits of every fixture image, one row per image, under an input spec. */
async function servedPrelogits(input: InputSpec): Promise<Float32Array[]> {
  const t = input === checkpoint.manifest.input ? tower : await ImageTower.create(checkpoint.backbone, input, ENGINE, LIMITS.maxImagePixels);
  if (t !== tower) towers.push(t);
  const phi = await t.embed(await t.preprocess(imageBytes), names.length);
  const D = checkpoint.manifest.head.D;
  return names.map((_, i) => phi.subarray(i * D, (i + 1) * D));
}

before(async () => {
  checkpoint = await loadCheckpoint(path.join(FIXTURE, 'torchvision-squeezenet'));
  tower = await ImageTower.create(checkpoint.backbone, checkpoint.manifest.input, ENGINE, LIMITS.maxImagePixels);
});
after(async () => {
  await Promise.all([tower, ...towers].map((t) => t.release()));
});

test('the torch export loads under its own tensor names and the torchvision preprocessing', () => {
  const { input, head } = checkpoint.manifest;
  assert.deepEqual(input.names, { image: 'pixel_values', prelogits: 'features' });
  assert.equal(input.resize, 'shorter-side-then-center-crop');
  assert.equal(input.resizeSize, 256);
  assert.equal(input.kernel, 'bilinear');
  assert.equal(head.D, 512);
});

test('ORT runs the exported graph as torch does: same input tensor, same pre-logits', async () => {
  // The tensor of the script's formula_input(): sin(0.01 * (224 h + w) + c), NCHW.
  const x = new Float32Array(3 * CROP * CROP);
  for (let c = 0; c < 3; c++) {
    for (let h = 0; h < CROP; h++) {
      for (let w = 0; w < CROP; w++) x[(c * CROP + h) * CROP + w] = Math.sin(0.01 * (CROP * h + w) + c);
    }
  }
  const phi = await tower.embed(x, 1);
  let maxAbs = 0;
  for (let i = 0; i < phi.length; i++) maxAbs = Math.max(maxAbs, Math.abs(phi[i] - expected.formulaPrelogits[i]));
  assert.equal(phi.length, expected.formulaPrelogits.length);
  assert.ok(maxAbs <= FORMULA_ABS_TOL, `max abs difference ${maxAbs}`);
});

test('served pre-logits match torchvision transform + torch forward on every image', async () => {
  const served = await servedPrelogits(checkpoint.manifest.input);
  names.forEach((name, i) => {
    const error = relativeError(served[i], expected.images[name].prelogits);
    assert.ok(error <= PRELOGITS_REL_TOL, `${name}: relative L2 error ${error.toFixed(4)} over ${PRELOGITS_REL_TOL}`);
  });
});

test('served probabilities (DET head from an nn.Linear, weight transposed) match torch', async () => {
  const model = await ClassifierPipeline.load(checkpoint, ENGINE, LIMITS);
  try {
    const predictions = await model.predict(model.prepare({ images: imageBytes }), { mode: 'mean', samples: 1, seed: 0 });
    names.forEach((name, i) => {
      const want = expected.images[name].probs;
      const maxAbs = Math.max(...want.map((p, k) => Math.abs(predictions[i].probs[k] - p)));
      assert.ok(maxAbs <= PROBS_ABS_TOL, `${name}: max abs probability difference ${maxAbs}`);
    });
  } finally {
    await model.dispose();
  }
});

test('the comparison can fail: another kernel, or no resize margin, exceeds the tolerance', async () => {
  const input = checkpoint.manifest.input;
  const worst = async (spec: InputSpec) => {
    const served = await servedPrelogits(spec);
    return Math.max(...names.map((name, i) => relativeError(served[i], expected.images[name].prelogits)));
  };
  const nearest = await worst({ ...input, kernel: 'nearest' });
  assert.ok(nearest > PRELOGITS_REL_TOL, `nearest instead of bilinear: worst error ${nearest}`);
  // No kernel in the manifest: sharp's default lanczos3, what a forgotten `kernel` would serve.
  const lanczos = await worst({ ...input, kernel: undefined });
  assert.ok(lanczos > PRELOGITS_REL_TOL, `lanczos3 instead of bilinear: worst error ${lanczos}`);
  // Resize straight to 224 (sharp's cover + centre crop) instead of 256 then CenterCrop(224).
  const noMargin = await worst({ ...input, resize: 'center-crop', resizeSize: undefined });
  assert.ok(noMargin > PRELOGITS_REL_TOL, `center-crop without the 256 margin: worst error ${noMargin}`);
});

test('the loader refuses tensor names and resize fields that do not fit, naming the problem', async () => {
  const parent = await mkdtemp(path.join(tmpdir(), 'hetxl-torchvision-'));
  const dir = path.join(parent, 'torchvision-squeezenet');
  await cp(path.join(FIXTURE, 'torchvision-squeezenet'), dir, { recursive: true });
  const original = JSON.parse(await readFile(path.join(dir, 'manifest.json'), 'utf8')) as { input: Record<string, unknown> };
  const refused = async (input: Record<string, unknown>, problem: RegExp) => {
    await writeFile(path.join(dir, 'manifest.json'), JSON.stringify({ ...original, input: { ...original.input, ...input } }));
    await assert.rejects(loadCheckpoint(dir), (e: unknown) => e instanceof CheckpointError && problem.test(e.problem));
  };
  try {
    // Without input.names the default names are looked for, and this export has others.
    await refused({ names: undefined }, /no input named "image" \(inputs: pixel_values\)/);
    await refused({ names: { image: 'pixel_values', prelogits: 'logits' } }, /no output named "logits" \(outputs: features\)/);
    await refused({ resizeSize: undefined }, /needs input.resizeSize/);
    await refused({ resizeSize: 200 }, /resizeSize 200 is smaller than the 224 x 224 crop/);
    await refused({ resize: 'stretch' }, /resizeSize is read by resize "shorter-side-then-center-crop" only/);
    await refused({ kernel: 'mitchell' }, /\/input\/kernel/);
  } finally {
    await rm(parent, { recursive: true, force: true });
  }
});
