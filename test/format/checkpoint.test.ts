import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readFile, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ort from 'onnxruntime-node';
import onnxProto from 'onnx-proto';
import { listCheckpointDirs, loadCheckpoint } from '../../src/format/checkpoint.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import { readSafetensors, writeSafetensors } from '../../src/format/safetensors.ts';
import { headParamShapes } from '../../src/format/head-params.ts';
import { buildRandomBackbone, generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { normalStream } from '../../src/training/common/random.ts';
import { defaultModelOptions, DEFAULT_MODEL_NAME, FASHION_MNIST_LABELS } from '../../src/synthetic/default-model.ts';
import { GraphBuilder } from '../../src/engine/graph.ts';
import { makeTinyCheckpoint, type TinyCheckpointOptions } from '../helpers/checkpoints.ts';
import { editManifest } from '../helpers/manifest.ts';

const { onnx } = onnxProto;

let tmp: string;
let counter = 0;
before(async () => {
  tmp = await mkdtemp(join(tmpdir(), 'ckpt-test-'));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

/** A fresh parent folder per call, so tests never share a checkpoint. */
async function freshParent(): Promise<string> {
  const dir = join(tmp, `p${counter++}`);
  await mkdir(dir);
  return dir;
}

async function tiny(options: TinyCheckpointOptions = {}): Promise<string> {
  return makeTinyCheckpoint(await freshParent(), options);
}

async function refuses(dir: string, file: string, pattern: RegExp): Promise<void> {
  await assert.rejects(loadCheckpoint(dir), (e: unknown) => {
    assert.ok(e instanceof CheckpointError, `expected CheckpointError, got ${String(e)}`);
    assert.equal(basename(e.file), file, `wrong file in: ${e.message}`);
    assert.match(e.problem, pattern);
    assert.equal(e.message, `${e.file}: ${e.problem}`);
    return true;
  });
}

/** The backbone's W [F, D] and b [D] read back from the ONNX initializers. */
function backboneWeights(bytes: Uint8Array): { W: Float32Array; b: Float32Array; F: number; D: number } {
  const model = onnx.ModelProto.decode(bytes);
  const init = model.graph!.initializer!;
  const get = (prefix: string) => {
    const t = init.find((i) => i.name!.startsWith(prefix))!;
    const raw = t.rawData!;
    const copy = new Uint8Array(raw.byteLength);
    copy.set(raw);
    return { data: new Float32Array(copy.buffer), dims: t.dims!.map(Number) };
  };
  const k = get('backbone_kernel');
  const b = get('backbone_bias');
  return { W: k.data, b: b.data, F: k.dims[0], D: k.dims[1] };
}

const VARIANTS: TinyCheckpointOptions[] = [
  { type: 'det' },
  { type: 'het', covariance: 'param-efficient' },
  { type: 'het', covariance: 'full' },
  { type: 'het-xl', covariance: 'param-efficient' },
  { type: 'het-xl', covariance: 'full' },
  { type: 'het-xl', covariance: 'full', rgb: true },
  { type: 'het-xl', rgb: true, layout: 'NHWC', height: 5, width: 3 },
];

for (const variant of VARIANTS) {
  const label = `${variant.type} ${variant.covariance ?? ''} ${variant.rgb ? 'rgb' : 'gray'} ${variant.layout ?? 'NCHW'}`;
  test(`loads a generated ${label} checkpoint; the backbone runs in ORT and equals tanh(x W + b)`, async () => {
    const dir = await tiny(variant);
    const ckpt = await loadCheckpoint(dir);
    const { manifest: m } = ckpt;
    assert.equal(ckpt.dir, dir);
    assert.equal(m.name, basename(dir));
    assert.equal(m.untrained, true);
    assert.equal(m.head.type, variant.type);
    assert.equal(m.head.D, 6);
    assert.equal(m.head.K, 5);
    assert.deepEqual(ckpt.labels, ['class_0000', 'class_0001', 'class_0002', 'class_0003', 'class_0004']);
    const shapes = headParamShapes(m.head);
    assert.deepEqual([...ckpt.weights.keys()], shapes.map((s) => s.name));
    for (const s of shapes) {
      const w = ckpt.weights.get(s.name)!;
      assert.deepEqual(w.dims, s.dims);
      assert.equal(w.data.length, s.dims.reduce((a, b) => a * b, 1));
      assert.ok(w.data.some((v) => v !== 0), `${s.name} is not all zeros`);
    }

    const C = m.input.channels;
    const H = m.input.height;
    const Wd = m.input.width;
    const B = 3;
    const F = C * H * Wd;
    const next = normalStream(123, 'test-input');
    const x = Float32Array.from({ length: B * F }, () => next());
    const shape = m.input.layout === 'NHWC' ? [B, H, Wd, C] : [B, C, H, Wd];
    const session = await ort.InferenceSession.create(ckpt.backbone);
    try {
      const out = (await session.run({ image: new ort.Tensor('float32', x, shape) })).prelogits;
      assert.deepEqual(out.dims, [B, m.head.D]);
      const y = out.data as Float32Array;
      const { W, b, F: F2, D } = backboneWeights(ckpt.backbone);
      assert.equal(F2, F);
      assert.equal(D, m.head.D);
      for (let i = 0; i < B; i++) {
        for (let j = 0; j < D; j++) {
          let acc = b[j];
          for (let f = 0; f < F; f++) acc += x[i * F + f] * W[f * D + j];
          assert.ok(Math.abs(y[i * D + j] - Math.tanh(acc)) < 1e-5, `prelogits[${i}, ${j}] = ${y[i * D + j]}, float64 ${Math.tanh(acc)}`);
        }
      }
    } finally {
      await session.release();
    }
  });
}

test('generation is deterministic: same seed, same bytes; another seed, other weights', async () => {
  const a = await tiny({ type: 'het-xl', covariance: 'full', seed: 7 });
  const b = await tiny({ type: 'het-xl', covariance: 'full', seed: 7 });
  const c = await tiny({ type: 'het-xl', covariance: 'full', seed: 8 });
  for (const f of ['manifest.json', 'backbone.onnx', 'head.safetensors', 'labels.txt']) {
    assert.deepEqual(await readFile(join(a, f)), await readFile(join(b, f)), f);
  }
  assert.notDeepEqual(await readFile(join(a, 'head.safetensors')), await readFile(join(c, 'head.safetensors')));
  assert.notDeepEqual(await readFile(join(a, 'backbone.onnx')), await readFile(join(c, 'backbone.onnx')));
});

test('a tensor does not depend on which other tensors the head has', async () => {
  const det = await loadCheckpoint(await tiny({ type: 'det', seed: 3 }));
  const hetxl = await loadCheckpoint(await tiny({ type: 'het-xl', seed: 3 }));
  assert.deepEqual(det.weights.get('loc_layer/kernel')!.data, hetxl.weights.get('loc_layer/kernel')!.data);
});

const repoModels = fileURLToPath(new URL('../../models', import.meta.url));

test('the bundled models are trained checkpoints that load, with provenance and test-set metrics', async () => {
  for (const [name, type] of [['hetxl-fashion-mnist', 'het-xl'], ['det-fashion-mnist', 'det']] as const) {
    const ckpt = await loadCheckpoint(join(repoModels, name));
    assert.equal(ckpt.manifest.head.type, type);
    assert.notEqual(ckpt.manifest.untrained, true);
    assert.deepEqual(ckpt.labels, FASHION_MNIST_LABELS);
    const provenance = ckpt.manifest.provenance as { command: string; labelNoise: { rate: number }; evaluation: { mean: { accuracy: number } } };
    assert.match(provenance.command, /^npm run train -- /);
    assert.equal(provenance.labelNoise.rate, 0.4);
    assert.ok(provenance.evaluation.mean.accuracy > 0.8, `${name} test accuracy ${provenance.evaluation.mean.accuracy}`);
  }
  const hetxl = await loadCheckpoint(join(repoModels, 'hetxl-fashion-mnist'));
  assert.ok(hetxl.manifest.head.temperature, 'HET-XL keeps its learned temperature t and bounds');
});

test('make-test-checkpoint generates the untrained model deterministically, and it loads', async () => {
  // The untrained model is no longer bundled (models/ ships trained checkpoints); it stays
  // available through `npm run make-test-checkpoint`.
  const generated = await generateCheckpoint(defaultModelOptions(await freshParent()));
  const again = await generateCheckpoint(defaultModelOptions(await freshParent()));
  for (const f of generated.files) {
    assert.deepEqual(await readFile(join(generated.dir, f)), await readFile(join(again.dir, f)), `${f} differs between two generations`);
  }
  assert.equal(generated.manifest.name, DEFAULT_MODEL_NAME);
  const ckpt = await loadCheckpoint(generated.dir);
  assert.equal(ckpt.manifest.head.type, 'het-xl');
  assert.equal(ckpt.manifest.head.covariance, 'param-efficient');
  assert.deepEqual([ckpt.manifest.head.D, ckpt.manifest.head.K, ckpt.manifest.head.R, ckpt.manifest.head.tau], [64, 10, 8, 1]);
  assert.deepEqual(ckpt.manifest.input, {
    height: 28, width: 28, channels: 1, layout: 'NCHW', resize: 'stretch', scale: 1 / 255, mean: [0.286], std: [0.353],
  });
  assert.deepEqual(ckpt.manifest.mc, { defaultSamples: 1000, maxSamples: 10000 });
  assert.equal(ckpt.manifest.untrained, true);
  assert.match(ckpt.manifest.description ?? '', /random/i);
  assert.deepEqual(ckpt.labels, FASHION_MNIST_LABELS);
});

test('generated HET-XL weights give non-degenerate predictions: MC predictive differs visibly from mean mode', async () => {
  // A float64 reference of the parameter-efficient HET-XL head (docs/method.md), independent of src/heads.
  const ckpt = await loadCheckpoint((await generateCheckpoint(defaultModelOptions(await freshParent()))).dir);
  const { D, K, R } = ckpt.manifest.head as { D: number; K: number; R: number };
  const w = (n: string) => ckpt.weights.get(n)!.data;
  const dense = (phi: number[], kernel: Float32Array, bias: Float32Array, N: number) =>
    Array.from({ length: N }, (_, j) => phi.reduce((acc, p, i) => acc + p * kernel[i * N + j], bias[j]));
  const softmax = (u: number[]) => {
    const mx = Math.max(...u);
    const e = u.map((v) => Math.exp(v - mx));
    const z = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / z);
  };
  const session = await ort.InferenceSession.create(ckpt.backbone);
  const B = 4;
  const next = normalStream(5, 'images');
  const x = Float32Array.from({ length: B * 784 }, () => (Math.min(1, Math.max(0, 0.5 + 0.4 * next())) - 0.286) / 0.353);
  const phiAll = (await session.run({ image: new ort.Tensor('float32', x, [B, 1, 28, 28]) })).prelogits.data as Float32Array;
  await session.release();
  const noise = normalStream(9, 'noise');
  const S = 300;
  let tvSum = 0;
  for (let i = 0; i < B; i++) {
    const phi = Array.from(phiAll.subarray(i * D, (i + 1) * D));
    const mean = softmax(dense(phi, w('loc_layer/kernel'), w('loc_layer/bias'), K));
    assert.ok(Math.max(...mean) < 0.99, 'mean mode is not one-hot');
    assert.ok(Math.max(...mean) > 1.5 / K, 'mean mode is not uniform');
    const v = dense(phi, w('scale_layer_heteroscedastic/kernel'), w('scale_layer_heteroscedastic/bias'), D);
    const d = dense(phi, w('diag_layer/kernel'), w('diag_layer/bias'), D).map((t) => Math.log1p(Math.exp(t)) + 1e-3);
    const J = w('scale_layer_homoscedastic/kernel');
    const bJ = w('scale_layer_homoscedastic/bias');
    const mc = new Array(K).fill(0);
    for (let s = 0; s < S; s++) {
      const eR = Array.from({ length: R }, noise);
      const z = phi.map((p, j) => {
        let lr = bJ[j];
        for (let r = 0; r < R; r++) lr += eR[r] * J[r * D + j];
        return p + lr * v[j] + d[j] * noise();
      });
      softmax(dense(z, w('loc_layer/kernel'), w('loc_layer/bias'), K)).forEach((p, k) => (mc[k] += p / S));
    }
    const tv = 0.5 * mean.reduce((acc, p, k) => acc + Math.abs(p - mc[k]), 0);
    assert.ok(tv < 0.5, `MC predictive is not pure noise (TV ${tv})`);
    assert.ok(Math.max(...mc) > 1.5 / K, 'MC predictive is not uniform');
    tvSum += tv;
  }
  assert.ok(tvSum / B > 0.02, `MC predictive differs visibly from mean mode (mean TV ${tvSum / B})`);
});

test('schema defaults are applied (layout, resize, scale, minScale)', async () => {
  const dir = await tiny();
  await editManifest(dir, (m) => {
    delete m.input.layout;
    delete m.input.resize;
    delete m.input.scale;
    delete m.head.minScale;
    delete m.mc.defaultSamples;
  });
  const { manifest } = await loadCheckpoint(dir);
  assert.equal(manifest.input.layout, 'NCHW');
  assert.equal(manifest.input.resize, 'stretch');
  assert.equal(manifest.input.scale, 1 / 255);
  assert.equal(manifest.head.minScale, 1e-3);
  assert.equal(manifest.mc.defaultSamples, 1000);
});

// --- refusals ---------------------------------------------------------------------------------

test('refuses a missing folder', async () => {
  await assert.rejects(loadCheckpoint(join(tmp, 'nope')), (e: unknown) => e instanceof CheckpointError && /folder not found/.test(e.problem) && e.file === join(tmp, 'nope'));
});

for (const file of ['manifest.json', 'backbone.onnx', 'head.safetensors', 'labels.txt']) {
  test(`refuses a missing ${file}`, async () => {
    const dir = await tiny();
    await unlink(join(dir, file));
    await refuses(dir, file, /missing file/);
  });
}

test('refuses manifest.json that is not JSON or not an object', async () => {
  const dir = await tiny();
  await writeFile(join(dir, 'manifest.json'), '{"formatVersion": 1,');
  await refuses(dir, 'manifest.json', /not valid JSON/);
  await writeFile(join(dir, 'manifest.json'), '[1]');
  await refuses(dir, 'manifest.json', /must be a JSON object/);
});

test('refuses schema errors, listing JSON paths', async () => {
  const dir = await tiny();
  await editManifest(dir, (m) => {
    m.head.D = 'six';
    m.input.colour = true;
    delete m.task;
  });
  await refuses(dir, 'manifest.json', /schema errors: .*\/head\/D.*/);
  await refuses(dir, 'manifest.json', /\/task/);
  await refuses(dir, 'manifest.json', /\/input\/colour/);
});

test('refuses an unsupported format version', async () => {
  const dir = await tiny();
  await editManifest(dir, (m) => (m.formatVersion = 2));
  await refuses(dir, 'manifest.json', /unsupported formatVersion 2/);
});

test('refuses an unknown head type', async () => {
  const dir = await tiny();
  await editManifest(dir, (m) => (m.head.type = 'het-xxl'));
  await refuses(dir, 'manifest.json', /unknown head type "het-xxl"/);
});

test('refuses het / het-xl without covariance or R', async () => {
  for (const type of ['het', 'het-xl'] as const) {
    const dir = await tiny({ type });
    await editManifest(dir, (m) => delete m.head.covariance);
    await refuses(dir, 'manifest.json', new RegExp(`head type ${type} needs head.covariance`));
    const dir2 = await tiny({ type });
    await editManifest(dir2, (m) => delete m.head.R);
    await refuses(dir2, 'manifest.json', new RegExp(`head type ${type} needs head.R`));
  }
});

test('refuses a manifest name that differs from the folder name', async () => {
  const dir = await tiny();
  await editManifest(dir, (m) => (m.name = 'other-name'));
  await refuses(dir, 'manifest.json', /manifest name "other-name" differs from the folder name "tiny-het-xl-param-efficient"/);
});

test('refuses inconsistent manifest values the schema cannot see', async () => {
  const cases: [(m: Record<string, any>) => void, RegExp][] = [
    [(m) => (m.input.mean = [0.5, 0.5, 0.5]), /input.mean has 3 values for 1 channel/],
    [(m) => (m.input.std = []), /\/input\/std/],
    [(m) => (m.mc = { defaultSamples: 500, maxSamples: 100 }), /mc.defaultSamples 500 exceeds mc.maxSamples 100/],
    [(m) => (m.head.temperature = { t: 0, min: 0.3, max: 3 }), /head.tau 1 disagrees with head.temperature/],
    [(m) => ((m.head.temperature = { t: 0, min: 3, max: 0.3 }), (m.head.tau = 1.65)), /min < max/],
    [(m) => ((m.task = 'zero-shot'), (m.head.type = 'het')), /zero-shot models need head type det or het-xl/],
  ];
  for (const [edit, pattern] of cases) {
    const dir = await tiny();
    await editManifest(dir, edit);
    await refuses(dir, 'manifest.json', pattern);
  }
  const ok = await tiny();
  await editManifest(ok, (m) => ((m.head.temperature = { t: 0, min: 0.3, max: 3 }), (m.head.tau = 1.65)));
  assert.equal((await loadCheckpoint(ok)).manifest.head.temperature?.t, 0);
});

async function rewriteHead(dir: string, edit: (t: Map<string, { dims: number[]; data: Float32Array }>) => void): Promise<void> {
  const file = join(dir, 'head.safetensors');
  const tensors = readSafetensors(await readFile(file));
  const copy = new Map([...tensors].map(([k, v]) => [k, { dims: v.dims, data: Float32Array.from(v.data) }]));
  edit(copy);
  await writeFile(file, writeSafetensors(copy));
}

test('refuses missing, extra and wrongly shaped tensors', async () => {
  const a = await tiny({ type: 'het-xl', covariance: 'full' });
  await rewriteHead(a, (t) => t.delete('scale_layer/kernel'));
  await refuses(a, 'head.safetensors', /missing tensor scale_layer\/kernel \[6, 18\]/);
  await refuses(a, 'head.safetensors', /het-xl full head with D = 6, K = 5, R = 3/);

  const b = await tiny({ type: 'det' });
  await rewriteHead(b, (t) => t.set('diag_layer/kernel', { dims: [6, 6], data: new Float32Array(36) }));
  await refuses(b, 'head.safetensors', /unexpected tensor diag_layer\/kernel/);

  const c = await tiny({ type: 'het', covariance: 'param-efficient' });
  await rewriteHead(c, (t) => t.set('loc_layer/kernel', { dims: [5, 6], data: new Float32Array(30) }));
  await refuses(c, 'head.safetensors', /tensor loc_layer\/kernel has shape \[5, 6\], expected \[6, 5\]/);
});

test('refuses non-F32 tensors and malformed safetensors, naming head.safetensors', async () => {
  const dir = await tiny({ type: 'det' });
  const header = JSON.stringify({
    'loc_layer/kernel': { dtype: 'F16', shape: [6, 5], data_offsets: [0, 60] },
    'loc_layer/bias': { dtype: 'F32', shape: [5], data_offsets: [60, 80] },
  });
  const buf = Buffer.alloc(8 + header.length + 80);
  buf.writeBigUInt64LE(BigInt(header.length), 0);
  buf.write(header, 8);
  await writeFile(join(dir, 'head.safetensors'), buf);
  await refuses(dir, 'head.safetensors', /dtype F16; only F32/);

  const bytes = await readFile(join(await tiny(), 'head.safetensors'));
  const dir2 = await tiny();
  await writeFile(join(dir2, 'head.safetensors'), bytes.subarray(0, bytes.length - 4));
  await refuses(dir2, 'head.safetensors', /run past the data section/);
});

test('refuses non-finite weights', async () => {
  const dir = await tiny({ type: 'det' });
  await rewriteHead(dir, (t) => (t.get('loc_layer/bias')!.data[2] = NaN));
  await refuses(dir, 'head.safetensors', /tensor loc_layer\/bias holds a non-finite value \(NaN\) at flat index 2/);
});

test('labels.txt: one trailing newline and CRLF are fine; wrong count, empty or duplicate labels are refused', async () => {
  const labels = ['a', 'b b', 'c', 'd', 'e'];
  const dir = await tiny();
  for (const text of ['a\nb b\nc\nd\ne', 'a\nb b\nc\nd\ne\n', 'a\r\nb b\r\nc\r\nd\r\ne\r\n', '\ufeffa\nb b\nc\nd\ne\n']) {
    await writeFile(join(dir, 'labels.txt'), text);
    assert.deepEqual((await loadCheckpoint(dir)).labels, labels);
  }
  const cases: [string, RegExp][] = [
    ['a\nb\nc\nd\n', /4 labels \(lines\), but the manifest says K = 5/],
    ['a\nb\nc\nd\ne\nf\n', /6 labels/],
    ['a\nb\nc\nd\ne\n\n', /6 labels/],
    ['', /0 labels/],
    ['a\nb\n \nd\ne\n', /empty label on line 3/],
    ['a\nb\nc\nb\ne\n', /duplicate label "b" on lines 2 and 4/],
  ];
  for (const [text, pattern] of cases) {
    await writeFile(join(dir, 'labels.txt'), text);
    await refuses(dir, 'labels.txt', pattern);
  }
  await writeFile(join(dir, 'labels.txt'), Buffer.from([0x61, 0x0a, 0xff, 0x0a]));
  await refuses(dir, 'labels.txt', /not valid UTF-8/);
});

test('refuses a backbone.onnx that is not an ONNX model', async () => {
  const dir = await tiny();
  await writeFile(join(dir, 'backbone.onnx'), 'this is not a protobuf, just some text\n');
  await refuses(dir, 'backbone.onnx', /not an ONNX model/);
  await writeFile(join(dir, 'backbone.onnx'), new Uint8Array(0));
  await refuses(dir, 'backbone.onnx', /empty file/);
});

function backboneWith(build: (g: GraphBuilder) => void): Uint8Array {
  const g = new GraphBuilder('b');
  build(g);
  return g.toBytes();
}

test('refuses a backbone without input "image" or output "prelogits"', async () => {
  const dir = await tiny();
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.op('Flatten', [g.input('pixels', ['B', 1, 4, 4])]), 'prelogits', ['B', 16])));
  await refuses(dir, 'backbone.onnx', /no input named "image" \(inputs: pixels\)/);
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.op('Flatten', [g.input('image', ['B', 1, 4, 4])]), 'features', ['B', 16])));
  await refuses(dir, 'backbone.onnx', /no output named "prelogits" \(outputs: features\)/);
});

test('refuses a backbone whose prelogits dimension differs from D', async () => {
  const dir = await tiny();
  await writeFile(join(dir, 'backbone.onnx'), buildRandomBackbone({ channels: 1, height: 4, width: 4, layout: 'NCHW' }, 7, 1));
  await refuses(dir, 'backbone.onnx', /output "prelogits" has shape \[B, 7\], but the manifest says D = 6/);
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.input('image', ['B', 1, 4, 4]), 'prelogits', ['B', 1, 16])));
  await refuses(dir, 'backbone.onnx', /expected rank 2/);
});

test('refuses a backbone whose image shape disagrees with the manifest input', async () => {
  const dir = await tiny();
  await writeFile(join(dir, 'backbone.onnx'), buildRandomBackbone({ channels: 1, height: 5, width: 4, layout: 'NCHW' }, 6, 1));
  await refuses(dir, 'backbone.onnx', /input "image" has shape \[B, 1, 5, 4\], but the manifest's input says \[B, 1, 4, 4\] \(NCHW\): height 5 != 4/);
  await writeFile(join(dir, 'backbone.onnx'), buildRandomBackbone({ channels: 1, height: 4, width: 4, layout: 'NHWC' }, 6, 1));
  await refuses(dir, 'backbone.onnx', /\[B, 4, 4, 1\].*channels 4 != 1/);
  const rgb = await tiny({ rgb: true });
  await writeFile(join(rgb, 'backbone.onnx'), buildRandomBackbone({ channels: 1, height: 4, width: 4, layout: 'NCHW' }, 6, 1));
  await refuses(rgb, 'backbone.onnx', /channels 1 != 3/);
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.op('Flatten', [g.input('image', ['B', 16])]), 'prelogits', ['B', 6])));
  await refuses(dir, 'backbone.onnx', /expected rank 4/);
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.op('Flatten', [g.input('image', [1, 1, 4, 4])]), 'prelogits', ['B', 6])));
  await refuses(dir, 'backbone.onnx', /fixed batch dimension 1/);
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.op('Flatten', [g.input('image', ['B', 1, 4, 4], 'int64')]), 'prelogits', ['B', 6])));
  await refuses(dir, 'backbone.onnx', /element type INT64, expected FLOAT/);
  // Symbolic dims anywhere are accepted (shape checked by ORT at run time).
  await writeFile(join(dir, 'backbone.onnx'), backboneWith((g) => g.output(g.op('Flatten', [g.input('image', ['B', 'C', 'H', 'W'])]), 'prelogits', ['B', 'D'])));
  await loadCheckpoint(dir);
});

test('listCheckpointDirs lists subfolders holding checkpoint files, sorted, skipping dotfiles', async () => {
  const models = await freshParent();
  await makeTinyCheckpoint(models, { name: 'b-model' });
  await makeTinyCheckpoint(models, { name: 'a-model', type: 'det' });
  await mkdir(join(models, 'partial'));
  await writeFile(join(models, 'partial', 'labels.txt'), 'x\n');
  await mkdir(join(models, 'empty'));
  await mkdir(join(models, 'notes'));
  await writeFile(join(models, 'notes', 'README.md'), 'hi');
  await mkdir(join(models, '.hidden'));
  await writeFile(join(models, '.hidden', 'manifest.json'), '{}');
  await writeFile(join(models, 'manifest.json'), '{}');
  await symlink(join(models, 'a-model'), join(models, 'c-link'));
  assert.deepEqual(await listCheckpointDirs(models), ['a-model', 'b-model', 'c-link', 'partial'].map((n) => join(models, n)));
  await assert.rejects(listCheckpointDirs(join(models, 'nope')), (e: unknown) => e instanceof CheckpointError && /models folder not found/.test(e.problem));
});
