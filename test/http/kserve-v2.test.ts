// The KServe Open Inference Protocol v2 (REST) end to end with `inject`: server and model metadata,
// readiness as the protocol defines it, infer with preprocessed FP32 pixels (against a float64
// reference of a DET model with a linear backbone) and with encoded images as BYTES (the same
// answers as /v1), zero-shot labels, output selection, and every bad request getting a 4xx in the
// protocol's error shape while the server keeps serving. Requests are hand-written from the
// spec's examples: no maintained JavaScript client of the protocol is on the npm registry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { GraphBuilder } from '../../src/engine/graph.ts';
import { BACKBONE_INPUT, BACKBONE_OUTPUT } from '../../src/format/manifest.ts';
import { readSafetensors } from '../../src/format/safetensors.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, testPng, type TestServer } from '../helpers/app.ts';
import { entropy, gaussianSource, softmax } from '../reference/heads.ts';

const HETXL = 'tiny-het-xl';
const LINEAR = 'linear-det';
const ZS = 'tiny-zero-shot';
const SIGMOID = 'tiny-sigmoid';
const K = 5;
const D = 6;
// The linear DET model: 2 x 2 RGB, NHWC, so F = 12 pixel values per image.
const F = 12;
const TAU = 0.8;
const backboneKernel = Array.from({ length: F * D }, gaussianSource(11)).map((v) => v / Math.sqrt(F));
const backboneBias = Array.from({ length: D }, gaussianSource(12)).map((v) => 0.1 * v);

/** backbone.onnx without a nonlinearity: phi = flatten(image) @ kernel + bias, with the test's own weights. */
function linearBackbone(): Uint8Array {
  const g = new GraphBuilder('linear_backbone');
  const image = g.input(BACKBONE_INPUT, ['B', 2, 2, 3]);
  const flat = g.op('Flatten', [image], { axis: 1 });
  const kernel = g.initializer('kernel', Float32Array.from(backboneKernel), [F, D]);
  const bias = g.initializer('bias', Float32Array.from(backboneBias), [D]);
  g.output(g.op('Add', [g.op('MatMul', [flat, kernel]), bias]), BACKBONE_OUTPUT, ['B', D]);
  return g.toBytes('test: linear backbone');
}

let server: TestServer;
let head: { W: Float32Array; b: Float32Array };

before(async () => {
  server = await startTestServer(
    async (dir) => {
      await makeTinyCheckpoint(dir, { name: HETXL, type: 'het-xl' });
      await makeTinyCheckpoint(dir, { name: SIGMOID, type: 'het-xl', link: 'sigmoid' });
      const linear = await makeTinyCheckpoint(dir, { name: LINEAR, type: 'det', rgb: true, layout: 'NHWC', height: 2, width: 2, tau: TAU });
      await writeFile(path.join(linear, 'backbone.onnx'), linearBackbone());
      const broken = await makeTinyCheckpoint(dir, { name: 'broken', type: 'het' });
      await rm(path.join(broken, 'head.safetensors'));
      await generateCheckpoint({
        modelsDir: dir,
        name: ZS,
        seed: 3,
        head: { type: 'het-xl', D: 8, K: 9, R: 2, tau: 0.1 },
        input: { height: 8, width: 8, channels: 3, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] },
        mc: { defaultSamples: 50, maxSamples: 500 },
        zeroShot: { vocabulary: ['a', 'photo', 'of', 'red', 'blue', 'circle', 'square'], templates: ['a photo of a {label}'] },
      });
    },
    { bodyLimitBytes: 64 * 1024, maxImagesPerRequest: 4, maxSamples: 2000 },
  );
  const tensors = readSafetensors(await readFile(path.join(server.modelsDir, LINEAR, 'head.safetensors')));
  head = { W: tensors.get('loc_layer/kernel')!.data, b: tensors.get('loc_layer/bias')!.data };
});
after(() => server.close());

const infer = (model: string, body: unknown) =>
  server.app.inject({ method: 'POST', url: `/v2/models/${model}/infer`, payload: typeof body === 'string' ? body : JSON.stringify(body), headers: { 'content-type': 'application/json' } });
type Output = { name: string; datatype: string; shape: number[]; data: number[] };
const outputNamed = (outputs: Output[], name: string) => outputs.find((o) => o.name === name)!;
const close = (actual: number, expected: number, tol: number, what: string) => assert.ok(Math.abs(actual - expected) <= tol, `${what}: ${actual} vs ${expected}`);

/** Float64 reference of the linear DET model in mean mode: softmax((W^T (x A + a) + b) / tau). */
function referenceProbs(x: number[]): number[] {
  const phi = Array.from({ length: D }, (_, j) => backboneBias[j] + x.reduce((s, v, f) => s + v * backboneKernel[f * D + j], 0));
  const logits = Array.from({ length: K }, (_, k) => head.b[k] + phi.reduce((s, v, j) => s + v * head.W[j * K + k], 0));
  return softmax(logits.map((u) => u / TAU));
}

describe('metadata and readiness', () => {
  test('server metadata: name, version, no extensions', async () => {
    for (const url of ['/v2', '/v2/']) {
      const res = await server.app.inject({ url });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { name: 'hetxl-serve', version: '0.1.0', extensions: [] });
    }
  });

  test('model metadata lists both inputs and the outputs with datatypes and shapes', async () => {
    const hetxl = (await server.app.inject({ url: `/v2/models/${HETXL}` })).json();
    assert.equal(hetxl.name, HETXL);
    assert.equal(hetxl.platform, 'onnxruntime_onnx');
    assert.deepEqual(hetxl.inputs, [
      { name: 'images', datatype: 'BYTES', shape: [-1] },
      { name: 'pixels', datatype: 'FP32', shape: [-1, 1, 4, 4] },
    ]);
    const perClass = (name: string) => ({ name, datatype: 'FP32', shape: [-1, K] });
    const stat = (name: string) => ({ name, datatype: 'FP32', shape: [-1] });
    assert.deepEqual(hetxl.outputs, [
      perClass('probabilities'), perClass('std'), perClass('std_error'),
      stat('predictive_entropy'), stat('max_probability'), stat('margin'), stat('expected_entropy'), stat('mutual_information'), stat('variation_ratio'),
      // The run's figures: with a targetStdError, and with estimator candidates (a HET-XL softmax head).
      { name: 'samples_used', datatype: 'INT32', shape: [-1] }, stat('std_error_reached'),
      { name: 'candidate_count', datatype: 'INT32', shape: [-1] }, stat('candidate_bound'), { name: 'candidate_fallback', datatype: 'BOOL', shape: [-1] },
    ]);
    // DET has no MC outputs; NHWC puts the channels last.
    const det = (await server.app.inject({ url: `/v2/models/${LINEAR}` })).json();
    assert.deepEqual(det.inputs[1], { name: 'pixels', datatype: 'FP32', shape: [-1, 2, 2, 3] });
    assert.deepEqual(det.outputs.map((o: Output) => o.name), ['probabilities', 'predictive_entropy', 'max_probability', 'margin']);
    const zs = (await server.app.inject({ url: `/v2/models/${ZS}` })).json();
    assert.deepEqual(zs.inputs.map((i: Output) => [i.name, i.datatype]), [['images', 'BYTES'], ['labels', 'BYTES'], ['templates', 'BYTES']]);
    assert.deepEqual(zs.outputs[0], { name: 'probabilities', datatype: 'FP32', shape: [-1, -1] });
  });

  test('model readiness: 200 ready, 503 for a failed model, 404 in the protocol shape for an unknown one', async () => {
    const ready = await server.app.inject({ url: `/v2/models/${HETXL}/ready` });
    assert.equal(ready.statusCode, 200);
    assert.deepEqual(ready.json(), { name: HETXL, ready: true });
    const failed = await server.app.inject({ url: '/v2/models/broken/ready' });
    assert.equal(failed.statusCode, 503);
    assert.deepEqual(failed.json(), { name: 'broken', ready: false });
    const unknown = await server.app.inject({ url: '/v2/models/nope/ready' });
    assert.equal(unknown.statusCode, 404);
    assert.equal(unknown.json().code, 'MODEL_NOT_FOUND');
    assert.deepEqual(Object.keys(unknown.json()).sort(), ['code', 'error']);
  });

  test('server readiness is strict (every model ready) while /readyz is ready with one model serving', async () => {
    const v2 = await server.app.inject({ url: '/v2/health/ready' });
    assert.equal(v2.statusCode, 503);
    assert.equal(v2.json().ready, false);
    assert.equal(v2.json().models.find((m: { name: string }) => m.name === 'broken').status, 'failed');
    assert.equal((await server.app.inject({ url: '/readyz' })).statusCode, 200);

    const healthy = await startTestServer((dir) => makeTinyCheckpoint(dir, { name: HETXL }).then(() => undefined));
    const empty = await startTestServer(async () => {});
    try {
      const res = await healthy.app.inject({ url: '/v2/health/ready' });
      assert.equal(res.statusCode, 200);
      assert.deepEqual(res.json(), { ready: true, models: [{ name: HETXL, status: 'ready', task: 'classification', headType: 'het-xl', K, untrained: true }] });
      // No model at all cannot serve anything: not ready, on both paths.
      assert.equal((await empty.app.inject({ url: '/v2/health/ready' })).statusCode, 503);
      assert.equal((await empty.app.inject({ url: '/readyz' })).statusCode, 503);
    } finally {
      await healthy.close();
      await empty.close();
    }
  });
});

describe('infer', () => {
  // Two images of 2 x 2 x 3 normalised values (NHWC), row-major.
  const x1 = Array.from({ length: F }, (_, i) => Math.sin(i + 1));
  const x2 = Array.from({ length: F }, (_, i) => Math.cos(2 * i) - 0.3);

  test('FP32 pixels: the float64 reference of the DET model, id echoed, the spec example shape', async () => {
    const res = await infer(LINEAR, { id: '42', inputs: [{ name: 'pixels', shape: [2, 2, 2, 3], datatype: 'FP32', data: [...x1, ...x2] }] });
    assert.equal(res.statusCode, 200);
    const body = res.json();
    assert.equal(body.model_name, LINEAR);
    assert.equal(body.id, '42');
    assert.deepEqual(body.parameters, { mode: 'mean', provider: 'cpu' });
    const probs = outputNamed(body.outputs, 'probabilities');
    assert.equal(probs.datatype, 'FP32');
    assert.deepEqual(probs.shape, [2, K]);
    const expected = [referenceProbs(x1), referenceProbs(x2)];
    // float32 backbone and head against float64: a few ulps of probabilities near 1.
    expected.flat().forEach((p, i) => close(probs.data[i], p, 1e-5, `p[${i}]`));
    const entropyOut = outputNamed(body.outputs, 'predictive_entropy');
    assert.deepEqual(entropyOut.shape, [2]);
    expected.forEach((p, i) => {
      close(entropyOut.data[i], entropy(p), 1e-5, 'predictive_entropy');
      const sorted = [...p].sort((a, b) => b - a);
      close(outputNamed(body.outputs, 'max_probability').data[i], sorted[0], 1e-5, 'max_probability');
      close(outputNamed(body.outputs, 'margin').data[i], sorted[0] - sorted[1], 1e-5, 'margin');
    });
    // The nested form of the same tensor is the same request.
    const nested = (x: number[]) => [0, 1].map((h) => [0, 1].map((w) => x.slice((h * 2 + w) * 3, (h * 2 + w) * 3 + 3)));
    const again = await infer(LINEAR, { id: '42', inputs: [{ name: 'pixels', shape: [2, 2, 2, 3], datatype: 'FP32', data: [nested(x1), nested(x2)] }] });
    assert.deepEqual(again.json(), body);
  });

  test('BYTES images: the answer of /v1 predictive, and the same as the image preprocessed by hand as FP32 pixels', async () => {
    // A 4 x 4 grayscale PNG at the model's own size: preprocessing is only (v / 255 - 0.5) / 0.25.
    const grey = Buffer.from(Array.from({ length: 16 }, (_, i) => (i * 53 + 7) % 256));
    const png = await sharp(grey, { raw: { width: 4, height: 4, channels: 1 } }).png().toBuffer();
    const options = { mode: 'mc', samples: 64, seed: 3, estimator: 'antithetic' };
    const bytes = await infer(HETXL, { parameters: options, inputs: [{ name: 'images', shape: [1], datatype: 'BYTES', data: [png.toString('base64')] }] });
    assert.equal(bytes.statusCode, 200);
    const body = bytes.json();
    assert.deepEqual(body.parameters, { ...options, provider: 'cpu' });
    assert.equal(body.id, undefined);
    assert.deepEqual(body.outputs.map((o: Output) => o.name), ['probabilities', 'std', 'std_error', 'predictive_entropy', 'max_probability', 'margin', 'expected_entropy', 'mutual_information', 'variation_ratio']);

    const v1 = (await server.app.inject({ method: 'POST', url: `/v1/models/${HETXL}/predictive`, payload: { image: png.toString('base64'), ...options } })).json();
    assert.deepEqual(outputNamed(body.outputs, 'probabilities').data, v1.probabilities);
    assert.deepEqual(outputNamed(body.outputs, 'std_error').data, v1.stdError);
    assert.deepEqual(outputNamed(body.outputs, 'mutual_information').data, [v1.statistics.mutualInformation]);

    const pixels = Array.from(grey, (v) => (v / 255 - 0.5) / 0.25);
    const byHand = await infer(HETXL, { parameters: options, inputs: [{ name: 'pixels', shape: [1, 1, 4, 4], datatype: 'FP32', data: pixels }] });
    for (const output of byHand.json().outputs as Output[]) {
      // float32 rounding of the normalised pixels, then tanh and the head: far below 1e-5.
      output.data.forEach((v, i) => close(v, outputNamed(body.outputs, output.name).data[i], 1e-5, `${output.name}[${i}]`));
    }
  });

  test('requested outputs come back in the order asked; an MC output in mean mode or an unknown one is refused', async () => {
    const input = { name: 'pixels', shape: [1, 2, 2, 3], datatype: 'FP32', data: x1 };
    const res = await infer(LINEAR, { inputs: [input], outputs: [{ name: 'margin' }, { name: 'probabilities', parameters: { binary_data: false } }] });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json().outputs.map((o: Output) => o.name), ['margin', 'probabilities']);
    const std = await infer(HETXL, { parameters: { mode: 'mean' }, inputs: [{ name: 'pixels', shape: [1, 1, 4, 4], datatype: 'FP32', data: new Array(16).fill(0) }], outputs: [{ name: 'std' }] });
    assert.equal(std.statusCode, 400);
    assert.equal(std.json().code, 'MODE_UNAVAILABLE');
  });

  test('targetStdError and tolerance: the figures of /v1 predictive as samples_used, std_error_reached and the candidate outputs', async () => {
    const png = await testPng(4, 4, 1);
    const image = { name: 'images', shape: [1], datatype: 'BYTES', data: [png.toString('base64')] };
    const predictive = async (options: Record<string, unknown>) =>
      (await server.app.inject({ method: 'POST', url: `/v1/models/${HETXL}/predictive`, payload: { image: png.toString('base64'), ...options } })).json();

    const target = { mode: 'mc', samples: 1000, seed: 5, targetStdError: 0.02 };
    const stopped = await infer(HETXL, { parameters: target, inputs: [image] });
    assert.equal(stopped.statusCode, 200, stopped.body);
    const outputs: Output[] = stopped.json().outputs;
    assert.deepEqual(outputs.slice(-2).map((o) => [o.name, o.datatype, o.shape]), [['samples_used', 'INT32', [1]], ['std_error_reached', 'FP32', [1]]]);
    const v1 = await predictive(target);
    const used = outputNamed(outputs, 'samples_used').data[0];
    // Stopped early, by the same rule over all K probabilities as /v1 predictive.
    assert.ok(used < 1000, `samples used ${used}`);
    assert.equal(used, v1.samplesUsed);
    close(outputNamed(outputs, 'std_error_reached').data[0], v1.stdErrorReached, 1e-7, 'std_error_reached');
    assert.ok(outputNamed(outputs, 'std_error_reached').data[0] <= 0.02);
    assert.deepEqual(outputNamed(outputs, 'probabilities').data, v1.probabilities);

    const candidates = { mode: 'mc', samples: 200, seed: 5, estimator: 'candidates', tolerance: 0.01 };
    const bounded = await infer(HETXL, { parameters: candidates, inputs: [image], outputs: [{ name: 'candidate_count' }, { name: 'candidate_bound' }, { name: 'candidate_fallback' }, { name: 'probabilities' }] });
    assert.equal(bounded.statusCode, 200, bounded.body);
    const v1Candidates = await predictive(candidates);
    const [count, bound, fallback, probs] = bounded.json().outputs as Output[];
    assert.deepEqual([count.data, bound.data, fallback.data], [[v1Candidates.candidates.count], [v1Candidates.candidates.bound], [v1Candidates.candidates.fallback]]);
    assert.equal(typeof fallback.data[0], 'boolean');
    assert.deepEqual(probs.data, v1Candidates.probabilities);

    // Without the parameter that makes them, the run's figures are not among the default outputs, and asking for one is a 400.
    const plain = await infer(HETXL, { parameters: { mode: 'mc', samples: 20 }, inputs: [image] });
    assert.ok(!(plain.json().outputs as Output[]).some((o) => ['samples_used', 'candidate_count'].includes(o.name)));
    for (const [name, why] of [['samples_used', /targetStdError only/], ['candidate_bound', /estimator candidates only/]] as const) {
      const refused = await infer(HETXL, { parameters: { mode: 'mc', samples: 20 }, inputs: [image], outputs: [{ name }] });
      assert.equal(refused.statusCode, 400);
      assert.equal(refused.json().code, 'MODE_UNAVAILABLE');
      assert.match(refused.json().error, why);
    }
  });

  test('zero-shot: labels as a BYTES tensor of plain strings; the probabilities over them sum to 1', async () => {
    const png = await testPng(8, 8, 1);
    const labels = ['red circle', 'blue square', 'red square'];
    const res = await infer(ZS, {
      parameters: { mode: 'mean' },
      inputs: [
        { name: 'images', shape: [1], datatype: 'BYTES', data: [png.toString('base64')] },
        { name: 'labels', shape: [3], datatype: 'BYTES', data: labels },
      ],
    });
    assert.equal(res.statusCode, 200);
    const probs = outputNamed(res.json().outputs, 'probabilities');
    assert.deepEqual(probs.shape, [1, 3]);
    close(probs.data.reduce((a, b) => a + b, 0), 1, 1e-5, 'sum');
    const v1 = (await server.app.inject({ method: 'POST', url: `/v1/models/${ZS}/zero-shot`, payload: { images: [png.toString('base64')], labels, mode: 'mean', topK: 3 } })).json();
    for (const c of v1.predictions[0].classes) assert.equal(probs.data[c.index], c.probability);
  });
});

describe('sigmoid heads', () => {
  const SIGMOID_MC_OUTPUTS = [
    'probabilities', 'std', 'std_error', 'max_probability',
    'binary_entropy', 'expected_binary_entropy', 'class_mutual_information',
    'binary_entropy_sum', 'expected_binary_entropy_sum', 'mutual_information_sum',
  ];

  test('metadata and answers have the per-class tensors and the binary statistics (not the softmax ones), equal to /v1 predictive', async () => {
    const meta = (await server.app.inject({ url: `/v2/models/${SIGMOID}` })).json();
    assert.deepEqual(meta.outputs.map((o: Output) => o.name), [...SIGMOID_MC_OUTPUTS, 'samples_used', 'std_error_reached']);
    assert.deepEqual(meta.outputs.find((o: Output) => o.name === 'binary_entropy').shape, [-1, 5]);
    assert.deepEqual(meta.outputs.find((o: Output) => o.name === 'binary_entropy_sum').shape, [-1]);
    const png = await testPng(8, 8, 5);
    const res = await infer(SIGMOID, { inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [png.toString('base64')] }], parameters: { samples: 64, seed: 3 } });
    assert.equal(res.statusCode, 200, res.body);
    const outputs: Output[] = res.json().outputs;
    assert.deepEqual(outputs.map((o) => o.name), SIGMOID_MC_OUTPUTS);
    const v1 = (await server.app.inject({ method: 'POST', url: `/v1/models/${SIGMOID}/predictive?samples=64&seed=3`, payload: JSON.stringify({ image: png.toString('base64') }), headers: { 'content-type': 'application/json' } })).json();
    assert.equal(v1.link, 'sigmoid');
    // FP32 on the wire: the float64 binary statistics to float32 rounding.
    const perClass: [string, string][] = [['probabilities', 'probabilities'], ['binary_entropy', 'binaryEntropy'], ['expected_binary_entropy', 'expectedBinaryEntropy'], ['class_mutual_information', 'mutualInformation']];
    for (const [v2Name, v1Name] of perClass) outputNamed(outputs, v2Name).data.forEach((v, k) => close(v, v1[v1Name][k], 1e-6, `${v2Name} ${k}`));
    const sums: [string, string][] = [['binary_entropy_sum', 'binaryEntropySum'], ['expected_binary_entropy_sum', 'expectedBinaryEntropySum'], ['mutual_information_sum', 'mutualInformationSum'], ['max_probability', 'maxProbability']];
    for (const [v2Name, v1Name] of sums) close(outputNamed(outputs, v2Name).data[0], v1.statistics[v1Name], 1e-6, v2Name);
    const mean = await infer(SIGMOID, { inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [png.toString('base64')] }], parameters: { mode: 'mean' } });
    assert.deepEqual(mean.json().outputs.map((o: Output) => o.name), ['probabilities', 'max_probability', 'binary_entropy', 'binary_entropy_sum']);
    const refused = await infer(SIGMOID, { inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [png.toString('base64')] }], outputs: [{ name: 'margin' }] });
    assert.equal(refused.statusCode, 400);
    assert.equal(refused.json().code, 'MODE_UNAVAILABLE');
    assert.match(refused.json().error, /softmax heads; this model's link is sigmoid/);
  });

  test('a softmax head refuses the sigmoid statistics by name', async () => {
    const png = await testPng(8, 8, 5);
    const refused = await infer(HETXL, { inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [png.toString('base64')] }], outputs: [{ name: 'binary_entropy' }] });
    assert.equal(refused.statusCode, 400);
    assert.match(refused.json().error, /sigmoid heads; this model's link is softmax/);
  });
});

describe('bad requests: a 4xx in the protocol error shape, and the server keeps serving', () => {
  const pixels = (shape: number[], data: unknown[], datatype = 'FP32') => ({ inputs: [{ name: 'pixels', shape, datatype, data }] });
  const zeros = (n: number) => new Array(n).fill(0);
  const image = { name: 'images', shape: [1], datatype: 'BYTES', data: [Buffer.from('not an image').toString('base64')] };
  const cases: [string, string, unknown, number, string][] = [
    // The spec's own example request: its inputs are not this model's.
    ['the spec example', HETXL, { id: '42', inputs: [{ name: 'input0', shape: [2, 2], datatype: 'UINT32', data: [1, 2, 3, 4] }, { name: 'input1', shape: [3], datatype: 'BOOL', data: [true] }], outputs: [{ name: 'output0' }] }, 400, 'UNKNOWN_INPUT'],
    ['a pixel shape not the model input', HETXL, pixels([1, 1, 4, 5], zeros(20)), 400, 'INVALID_TENSOR'],
    ['the other layout', LINEAR, pixels([1, 3, 2, 2], zeros(12)), 400, 'INVALID_TENSOR'],
    ['FP64 pixels', HETXL, pixels([1, 1, 4, 4], zeros(16), 'FP64'), 400, 'INVALID_TENSOR'],
    ['data shorter than the shape', HETXL, pixels([1, 1, 4, 4], zeros(15)), 400, 'INVALID_TENSOR'],
    ['a string among the pixels', HETXL, pixels([1, 1, 4, 4], [...zeros(15), 'x']), 400, 'INVALID_TENSOR'],
    ['an infinite pixel', HETXL, `{"inputs":[{"name":"pixels","shape":[1,1,4,4],"datatype":"FP32","data":[${[...zeros(15), '1e999'].join(',')}]}]}`, 400, 'INVALID_TENSOR'],
    ['a batch over MAX_IMAGES_PER_REQUEST', HETXL, pixels([5, 1, 4, 4], zeros(80)), 400, 'TOO_MANY_IMAGES'],
    ['an empty batch', HETXL, pixels([0, 1, 4, 4], []), 400, 'NO_IMAGES'],
    ['images and pixels together', HETXL, { inputs: [image, pixels([1, 1, 4, 4], zeros(16)).inputs[0]] }, 400, 'CONFLICTING_INPUTS'],
    ['the same input twice', HETXL, { inputs: [image, image] }, 400, 'DUPLICATE_INPUT'],
    ['no inputs', HETXL, { inputs: [] }, 400, 'INVALID_REQUEST'],
    ['an unknown request field', HETXL, { inputs: [image], extra: 1 }, 400, 'INVALID_REQUEST'],
    ['invalid JSON', HETXL, '{"inputs": [', 400, 'INVALID_JSON'],
    ['invalid base64', HETXL, { inputs: [{ ...image, data: ['***'] }] }, 400, 'INVALID_BASE64'],
    ['bytes that are no image', HETXL, { inputs: [image] }, 400, 'INVALID_IMAGE'],
    ['a BYTES tensor of rank 2', HETXL, { inputs: [{ ...image, shape: [1, 1] }] }, 400, 'INVALID_TENSOR'],
    ['an unknown parameter', HETXL, { parameters: { topK: 3 }, inputs: [image] }, 400, 'UNKNOWN_OPTION'],
    ['samples as a string', HETXL, { parameters: { samples: '5' }, inputs: [image] }, 400, 'INVALID_OPTION'],
    ['samples 0', HETXL, { parameters: { samples: 0 }, inputs: [image] }, 400, 'SAMPLES_OUT_OF_RANGE'],
    ['a targetStdError out of range', HETXL, { parameters: { mode: 'mc', targetStdError: 0.7 }, inputs: [image] }, 400, 'TARGET_STD_ERROR_OUT_OF_RANGE'],
    ['a targetStdError with estimator exact', SIGMOID, { parameters: { mode: 'mc', estimator: 'exact', targetStdError: 0.01 }, inputs: [image] }, 400, 'INVALID_OPTION'],
    ['a tolerance out of range', HETXL, { parameters: { mode: 'mc', estimator: 'candidates', tolerance: 0 }, inputs: [image] }, 400, 'TOLERANCE_OUT_OF_RANGE'],
    ['a tolerance without estimator candidates', HETXL, { parameters: { mode: 'mc', tolerance: 0.01 }, inputs: [image] }, 400, 'INVALID_OPTION'],
    ['mode mc on DET', LINEAR, { parameters: { mode: 'mc' }, ...pixels([1, 2, 2, 3], zeros(12)) }, 400, 'MODE_UNAVAILABLE'],
    ['binary input data', HETXL, { inputs: [{ ...image, parameters: { binary_data_size: 10 } }] }, 400, 'UNKNOWN_OPTION'],
    ['binary output data', HETXL, { inputs: [image], outputs: [{ name: 'probabilities', parameters: { binary_data: true } }] }, 400, 'UNKNOWN_OPTION'],
    ['an unknown output', HETXL, { inputs: [image], outputs: [{ name: 'logits' }] }, 400, 'UNKNOWN_OUTPUT'],
    ['pixels for a zero-shot model', ZS, pixels([1, 3, 8, 8], zeros(192)), 400, 'UNKNOWN_INPUT'],
    ['zero-shot without labels', ZS, { inputs: [{ ...image, data: [Buffer.from('x').toString('base64')] }] }, 400, 'NO_LABELS'],
    ['a body over BODY_LIMIT_BYTES', HETXL, pixels([1, 1, 4, 4], zeros(40_000)), 413, 'BODY_TOO_LARGE'],
    ['an unknown model', 'nope', { inputs: [image] }, 404, 'MODEL_NOT_FOUND'],
    ['a model that failed to load', 'broken', { inputs: [image] }, 503, 'MODEL_UNAVAILABLE'],
  ];
  for (const [what, model, body, status, code] of cases) {
    test(`${what}: ${status} ${code}`, async () => {
      const res = await infer(model, body);
      assert.equal(res.statusCode, status, res.body);
      const error = res.json();
      assert.deepEqual(Object.keys(error).sort(), ['code', 'error']);
      assert.equal(error.code, code);
      assert.ok(error.error.length > 0 && error.error.length < 400, error.error);
    });
  }

  test('an unknown /v2 route answers 404 in the protocol shape; /v1 keeps its own', async () => {
    const v2 = await server.app.inject({ url: '/v2/models/x/versions/1/infer', method: 'POST' });
    assert.equal(v2.statusCode, 404);
    assert.deepEqual(Object.keys(v2.json()).sort(), ['code', 'error']);
    assert.equal(v2.json().code, 'NOT_FOUND');
    const v1 = await server.app.inject({ url: '/v1/nope' });
    assert.equal(v1.json().statusCode, 404);
  });

  test('after all of them the server still answers', async () => {
    const res = await infer(HETXL, { parameters: { samples: 10 }, inputs: [{ name: 'pixels', shape: [1, 1, 4, 4], datatype: 'FP32', data: new Array(16).fill(0.1) }] });
    assert.equal(res.statusCode, 200);
  });
});
