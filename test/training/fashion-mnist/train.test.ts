// Training pieces without Fashion-MNIST: IDX reading, the install hint, structured label noise,
// the MC NLL against a float64 reference, and determinism for a seed.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { DatasetMissingError, FASHION_MNIST_FILES, loadFashionMnist } from '../../../src/training/fashion-mnist/data.ts';
import { applyLabelNoise, parseNoiseGroups } from '../../../src/training/fashion-mnist/label-noise.ts';
import { Network } from '../../../src/training/fashion-mnist/network.ts';
import { trainNetwork } from '../../../src/training/fashion-mnist/trainer.ts';
import { tfWasm } from '../../../src/training/common/tf.ts';

const tf = await tfWasm();

function idx(magic: number, dims: number[], data: Uint8Array): Buffer {
  const header = Buffer.alloc(4 + 4 * dims.length);
  header.writeUInt32BE(magic, 0);
  dims.forEach((d, i) => header.writeUInt32BE(d, 4 + 4 * i));
  return gzipSync(Buffer.concat([header, data]));
}

test('IDX .gz files are read; missing files name the Debian package', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'idx-'));
  await assert.rejects(loadFashionMnist(dir, 'test'), (e: unknown) => e instanceof DatasetMissingError && /apt-get install dataset-fashion-mnist/.test(e.message));
  const pixels = Uint8Array.from({ length: 3 * 2 * 2 }, (_, i) => i * 10);
  await writeFile(join(dir, FASHION_MNIST_FILES.test.images), idx(0x803, [3, 2, 2], pixels));
  await writeFile(join(dir, FASHION_MNIST_FILES.test.labels), idx(0x801, [3], Uint8Array.from([7, 0, 9])));
  const set = await loadFashionMnist(dir, 'test');
  assert.deepEqual([set.count, set.rows, set.cols], [3, 2, 2]);
  assert.deepEqual([...set.pixels], [...pixels]);
  assert.deepEqual([...set.labels], [7, 0, 9]);
});

test('label noise flips only within groups, at about the stated rate, uniformly among the others', () => {
  const groups = parseNoiseGroups('0,2,4,6;5,7,9', 10);
  const clean = Uint8Array.from({ length: 20000 }, (_, i) => i % 10);
  const { labels, flipped } = applyLabelNoise(clean, { rate: 0.4, groups, seed: 1 });
  const counts = new Map<string, number>();
  let inGroup = 0;
  for (let i = 0; i < clean.length; i++) {
    const g = groups.find((gr) => gr.includes(clean[i]));
    if (!g) assert.equal(labels[i], clean[i], 'classes outside the groups are never flipped');
    else {
      inGroup++;
      assert.ok(g.includes(labels[i]), 'a flip stays in its group');
    }
    if (labels[i] !== clean[i]) counts.set(`${clean[i]}->${labels[i]}`, (counts.get(`${clean[i]}->${labels[i]}`) ?? 0) + 1);
  }
  // Binomial(14000, 0.4): sd 58; 5 sd bounds.
  assert.ok(Math.abs(flipped - 0.4 * inGroup) < 5 * Math.sqrt(inGroup * 0.24), `flipped ${flipped} of ${inGroup}`);
  // 0 -> 2, 4, 6 each about 2000 * 0.4 / 3 = 267.
  for (const to of [2, 4, 6]) assert.ok(Math.abs((counts.get(`0->${to}`) ?? 0) - 266.7) < 5 * Math.sqrt(266.7), `0->${to}`);
  assert.deepEqual(applyLabelNoise(clean, { rate: 0.4, groups, seed: 1 }).labels, labels, 'deterministic for a seed');
  assert.throws(() => parseNoiseGroups('0,2;2,4', 10), /more than one group/);
});

test('the MC NLL equals -log mean_s softmax(u_s / tau)[y] computed in float64 from the same samples', () => {
  const net = new Network({ inputSize: 6, hidden: 5, D: 4, K: 3, head: 'het-xl', R: 2, minScale: 1e-3, temperature: { kind: 'learned', min: 0.3, max: 3, init: 0.4 } }, 7);
  const x = tf.tensor2d(Float32Array.from({ length: 12 }, (_, i) => Math.sin(i)), [2, 6]);
  const y = [2, 0];
  const seeds = { factor: 3, diagonal: 4 };
  const S = 5;
  const loss = tf.tidy(() => net.loss(x, tf.oneHot(tf.tensor1d(y, 'int32'), 3) as never, S, seeds).dataSync()[0]);
  const u = tf.tidy(() => net.sampledLogits(net.prelogits(x), S, seeds).dataSync());
  const tau = 0.3 + 2.7 / (1 + Math.exp(-0.4));
  let reference = 0;
  for (let b = 0; b < 2; b++) {
    let p = 0;
    for (let s = 0; s < S; s++) {
      const row = Array.from(u.subarray((b * S + s) * 3, (b * S + s + 1) * 3), (v) => v / tau);
      const z = row.reduce((a, v) => a + Math.exp(v), 0);
      p += Math.exp(row[y[b]]) / z / S;
    }
    reference -= Math.log(p) / 2;
  }
  assert.ok(Math.abs(loss - reference) < 1e-5, `${loss} vs ${reference}`);
  x.dispose();
  net.dispose();
});

test('training is deterministic for a seed', async () => {
  const run = async () => {
    const net = new Network({ inputSize: 4, hidden: 6, D: 3, K: 2, head: 'het-xl', R: 2, minScale: 1e-3, temperature: { kind: 'learned', min: 0.3, max: 3, init: 0 } }, 2);
    const inputs = Float32Array.from({ length: 40 * 4 }, (_, i) => Math.cos(i * 0.7));
    const labels = Uint8Array.from({ length: 40 }, (_, i) => (inputs[i * 4] > 0 ? 1 : 0));
    await trainNetwork(net, { inputs, labels, count: 40, features: 4 }, { epochs: 2, batchSize: 8, learningRate: 0.01, temperatureLearningRate: 0.05, trainSamples: 3, seed: 9 });
    const snapshot = net.snapshot();
    net.dispose();
    return snapshot;
  };
  const a = await run();
  const b = await run();
  for (const [name, v] of a) assert.deepEqual(b.get(name)!.data, v.data, name);
});
