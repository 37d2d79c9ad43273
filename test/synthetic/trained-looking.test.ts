// The trained-looking benchmark head (src/synthetic/trained-looking.ts): its loc layer's structure
// (related classes in clusters, log-prior biases), its held-out inputs spanning peaked to flat
// predictives (float64 softmax of W^T phi + b written here), determinism, and the CLI option.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseMakeCheckpointArgs, UsageError } from '../../src/cli/make-checkpoint.ts';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { CLUSTER_SIZE, trainedLookingBias, trainedLookingInputs, trainedLookingKernel } from '../../src/synthetic/trained-looking.ts';

const D = 256;
const K = 2000;
const kernel = (seed: number) => {
  const W = new Float32Array(D * K);
  let row = 0;
  for (const values of trainedLookingKernel(seed, D, K)) W.set(values, K * row++);
  return W;
};
const W = kernel(3);
const column = (k: number) => Array.from({ length: D }, (_, j) => W[j * K + k]);
const cosine = (a: number[], b: number[]) => a.reduce((s, x, j) => s + x * b[j], 0) / Math.hypot(...a) / Math.hypot(...b);

test('loc kernel: classes of one cluster are related (cosine about 0.64), others not', () => {
  const within: number[] = [];
  const across: number[] = [];
  for (let c = 0; c < 40; c++) {
    const k = c * 37;
    const sibling = k - (k % CLUSTER_SIZE) + ((k + 1) % CLUSTER_SIZE);
    within.push(cosine(column(k), column(sibling)));
    across.push(cosine(column(k), column((k + 5 * CLUSTER_SIZE) % K)));
  }
  const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
  // Expected 0.64 / (0.64 + 0.36) = 0.64; 40 pairs at D = 256 give about +-0.01.
  assert.ok(Math.abs(mean(within) - 0.64) < 0.05, `within ${mean(within)}`);
  assert.ok(Math.abs(mean(across)) < 0.05, `across ${mean(across)}`);
  const entryStd = Math.sqrt(W.reduce((a, x) => a + x * x, 0) / W.length);
  assert.ok(Math.abs(entryStd / (2 / Math.sqrt(D)) - 1) < 0.05, `entry std ${entryStd}`);
});

test('loc bias: -0.3 log(1 + rank) over a permutation of the ranks', () => {
  const b = trainedLookingBias(3, K);
  const ranks = Array.from(b, (x) => Math.round(Math.expm1(-x / 0.3))).sort((x, y) => x - y);
  assert.deepEqual(ranks, Array.from({ length: K }, (_, i) => i));
  assert.notDeepEqual(Array.from(b.subarray(0, 5)), Array.from(trainedLookingBias(4, K).subarray(0, 5)));
});

test('inputs span peaked to flat predictives (float64 mean mode), deterministically', () => {
  const n = 8;
  const { phi, strength, classes } = trainedLookingInputs(W, D, K, n, 99);
  const b = trainedLookingBias(3, K);
  const predictive = (i: number) => {
    const u = Array.from({ length: K }, (_, k) => b[k] + phi.subarray(i * D, (i + 1) * D).reduce((a, x, j) => a + x * W[j * K + k], 0));
    const max = Math.max(...u);
    const e = u.map((x) => Math.exp(x - max));
    const z = e.reduce((a, x) => a + x, 0);
    const p = e.map((x) => x / z);
    return { top: p.indexOf(Math.max(...p)), top1: Math.max(...p), entropy: -p.reduce((a, x) => a + (x > 0 ? x * Math.log(x) : 0), 0) };
  };
  const first = predictive(0);
  const last = predictive(n - 1);
  assert.equal(strength[0], 0.5);
  assert.ok(Math.abs(strength[n - 1] - 0.1) < 1e-12);
  assert.equal(first.top, classes[0], 'the strongest input is classified as its class');
  assert.ok(first.top1 > 0.5, `strongest input: top-1 ${first.top1}`);
  assert.ok(last.entropy > 0.7 * Math.log(K), `weakest input: entropy ${last.entropy} of log K ${Math.log(K)}`);
  assert.ok(phi.every((x) => x > -1 && x < 1), 'tanh pre-logits');
  assert.deepEqual(trainedLookingInputs(W, D, K, n, 99).phi, phi);
  assert.throws(() => trainedLookingInputs(W, D, K + 1, n, 99), /expected D \* K/);
});

test('generateCheckpoint with profile trained-looking writes that loc layer; make-checkpoint --profile', async () => {
  const dir = await mkdtemp(path.join(tmpdir(), 'hetxl-trained-looking-'));
  try {
    const { dir: written, manifest } = await generateCheckpoint({ modelsDir: dir, name: 'tl', seed: 3, profile: 'trained-looking', head: { type: 'het-xl', D, K, R: 4 } });
    assert.equal(manifest.provenance?.profile, 'trained-looking');
    assert.match(manifest.description ?? '', /trained-looking/);
    const checkpoint = await loadCheckpoint(written);
    assert.deepEqual(checkpoint.weights.get('loc_layer/kernel')!.data, W);
    assert.deepEqual(checkpoint.weights.get('loc_layer/bias')!.data, trainedLookingBias(3, K));
    assert.ok((await readFile(path.join(written, 'labels.txt'), 'utf8')).startsWith('class_0000\n'));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
  const options = parseMakeCheckpointArgs(['--out', '/tmp/x', '--profile', 'trained-looking']);
  assert.ok(options !== 'help' && options.profile === 'trained-looking' && options.name === 'het-xl-k29593-d1024-r50-trained-looking');
  const plain = parseMakeCheckpointArgs(['--out', '/tmp/x']);
  assert.ok(plain !== 'help' && plain.profile === undefined);
  assert.throws(() => parseMakeCheckpointArgs(['--out', 'm', '--profile', 'trained']), (e: Error) => e instanceof UsageError && /--profile must be one of random, trained-looking/.test(e.message));
});
