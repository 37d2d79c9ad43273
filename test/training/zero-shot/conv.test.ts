// conv3x3 (src/training/zero-shot/conv.ts): the forward and both gradients against float64
// references written here from the definition of a 'same' 3x3 convolution (zeros outside).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { tfWasm, type tf as tfTypes } from '../../../src/training/common/tf.ts';
import { conv3x3 } from '../../../src/training/zero-shot/conv.ts';
import { mulberry32 } from '../../reference/heads.ts';

const tf = await tfWasm();
const [B, H, W, C, F] = [2, 5, 4, 3, 2];
const u = mulberry32(17);
const rnd = (n: number) => Float32Array.from({ length: n }, () => 2 * u() - 1);
const x = rnd(B * H * W * C);
const k = rnd(9 * C * F);
const g = rnd(B * H * W * F); // dL/dy: L = sum(g * conv(x, k))

const xAt = (b: number, y: number, xx: number, c: number) => (y < 0 || y >= H || xx < 0 || xx >= W ? 0 : x[((b * H + y) * W + xx) * C + c]);
const kAt = (i: number, j: number, c: number, f: number) => k[((i * 3 + j) * C + c) * F + f];
const gAt = (b: number, y: number, xx: number, f: number) => g[((b * H + y) * W + xx) * F + f];

function close(got: ArrayLike<number>, ref: number[], what: string): void {
  assert.equal(got.length, ref.length);
  ref.forEach((r, i) => assert.ok(Math.abs(got[i] - r) <= 1e-5 * Math.max(1, Math.abs(r)), `${what}[${i}]: ${got[i]} vs ${r}`));
}

test('conv3x3 forward: y[b, y, x, f] = sum_{i, j, c} x[b, y + i - 1, x + j - 1, c] k[i, j, c, f] (float64, rel 1e-5)', () => {
  const got = tf.tidy(() => conv3x3(tf.tensor4d(x, [B, H, W, C]), tf.tensor4d(k, [3, 3, C, F])).dataSync());
  const ref: number[] = [];
  for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) for (let f = 0; f < F; f++) {
    let s = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < C; c++) s += xAt(b, y + i - 1, xx + j - 1, c) * kAt(i, j, c, f);
    ref.push(s);
  }
  close(got, ref, 'y');
});

test('conv3x3 gradients: dL/dk and dL/dx from the definition (float64, rel 1e-5)', () => {
  const [dx, dk] = tf.tidy(() => {
    const grads = tf.grads((a: tfTypes.Tensor, b: tfTypes.Tensor) => tf.sum(tf.mul(conv3x3(a as tfTypes.Tensor4D, b as tfTypes.Tensor4D), tf.tensor4d(g, [B, H, W, F]))));
    return grads([tf.tensor4d(x, [B, H, W, C]), tf.tensor4d(k, [3, 3, C, F])]).map((t) => t.dataSync());
  });
  const refK: number[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) for (let c = 0; c < C; c++) for (let f = 0; f < F; f++) {
    let s = 0;
    for (let b = 0; b < B; b++) for (let y = 0; y < H; y++) for (let xx = 0; xx < W; xx++) s += xAt(b, y + i - 1, xx + j - 1, c) * gAt(b, y, xx, f);
    refK.push(s);
  }
  close(dk, refK, 'dk');
  // x[b, p, q, c] feeds y[b, p - i + 1, q - j + 1, f] through k[i, j, c, f].
  const refX: number[] = [];
  for (let b = 0; b < B; b++) for (let p = 0; p < H; p++) for (let q = 0; q < W; q++) for (let c = 0; c < C; c++) {
    let s = 0;
    for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) {
      const [y, xx] = [p - i + 1, q - j + 1];
      if (y < 0 || y >= H || xx < 0 || xx >= W) continue;
      for (let f = 0; f < F; f++) s += kAt(i, j, c, f) * gAt(b, y, xx, f);
    }
    refX.push(s);
  }
  close(dx, refX, 'dx');
});
