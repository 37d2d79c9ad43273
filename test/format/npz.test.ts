// The .npz reader (src/format/npz.ts): archives written by numpy itself (committed fixtures, made
// by test/convert/fixtures/make-numpy-npz.py) and by the test's own writer (test/helpers/npz.ts),
// and the refusals, each naming the key: not an npz, a lone .npy, other dtypes, big-endian,
// Fortran order, object arrays, structured dtypes, truncated data, entries that are not .npy.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { zipSync } from 'fflate';
import { NpzError, npzKeys, readNpz } from '../../src/format/npz.ts';
import { npyBytes, npzBytes } from '../helpers/npz.ts';

const fixture = (name: string) => readFile(new URL(`../convert/fixtures/${name}`, import.meta.url));

function refused(bytes: Uint8Array, message: RegExp): void {
  assert.throws(() => readNpz(bytes), (e: unknown) => {
    assert.ok(e instanceof NpzError, String(e));
    assert.match(e.message, message);
    return true;
  });
}

for (const name of ['numpy-savez.npz', 'numpy-savez-compressed.npz']) {
  test(`reads numpy's own ${name}: keys with '/', float32 and float64, 0-d and empty arrays`, async () => {
    const bytes = await fixture(name);
    assert.deepEqual(npzKeys(bytes), ['multilabel_head/loc_layer/kernel', 'multilabel_head/pre_sigmoid_temperature', 'float64/vector', 'scalar', 'empty']);
    const arrays = readNpz(bytes);
    const kernel = arrays.get('multilabel_head/loc_layer/kernel')!;
    assert.equal(kernel.dtype, 'float32');
    assert.deepEqual(kernel.shape, [2, 3]);
    assert.deepEqual(Array.from(kernel.data), [0, 0.25, 0.5, 0.75, 1, 1.25]);
    assert.deepEqual(Array.from(arrays.get('multilabel_head/pre_sigmoid_temperature')!.data), [-0.25]);
    const f64 = arrays.get('float64/vector')!;
    assert.equal(f64.dtype, 'float64');
    assert.ok(f64.data instanceof Float64Array);
    assert.deepEqual(Array.from(f64.data), [1 / 3, -2.5e-300]);
    const scalar = arrays.get('scalar')!;
    assert.deepEqual(scalar.shape, []);
    assert.deepEqual(Array.from(scalar.data), [7.5]);
    assert.deepEqual(arrays.get('empty')!.shape, [0, 4]);
    assert.equal(arrays.get('empty')!.data.length, 0);
  });
}

test('select reads only the chosen keys', async () => {
  const arrays = readNpz(await fixture('numpy-savez.npz'), (key) => key.startsWith('multilabel_head/'));
  assert.deepEqual([...arrays.keys()].sort(), ['multilabel_head/loc_layer/kernel', 'multilabel_head/pre_sigmoid_temperature']);
});

test("the test's writer and the reader agree, stored and deflated", () => {
  const data = Float32Array.from([1.5, -2, 3.25, 4, 0, -0.125]);
  for (const compressed of [false, true]) {
    const arrays = readNpz(npzBytes({ 'a/b/kernel': { data, shape: [3, 2] }, t: { data: Float64Array.from([0.1]), shape: [1] } }, compressed));
    assert.deepEqual(arrays.get('a/b/kernel'), { dtype: 'float32', shape: [3, 2], data });
    assert.deepEqual(arrays.get('t'), { dtype: 'float64', shape: [1], data: Float64Array.from([0.1]) });
  }
});

test('refuses a file that is not an npz, a lone .npy, a broken zip, an empty archive', () => {
  refused(new TextEncoder().encode('{"loc_layer/kernel": [1, 2]}'), /is not an \.npz archive .*does not start with a zip header/);
  refused(npyBytes(Float32Array.from([1]), [1]), /is a single \.npy array, not an \.npz archive/);
  const broken = npzBytes({ a: { data: Float32Array.from([1, 2]), shape: [2] } }).slice(0, 40);
  refused(broken, /is not a readable \.npz archive/);
  refused(npzBytes({}), /holds no arrays/);
  assert.throws(() => npzKeys(npzBytes({})), /holds no arrays/);
});

test('refuses other dtypes, big-endian, Fortran order, object and structured arrays, naming the key', () => {
  const one = Float32Array.from([1, 2]);
  const cases: [string, Uint8Array, RegExp][] = [
    ['<f2', npyBytes(one, [2], { descr: '<f2', raw: new Uint8Array(4) }), /array "head\/x": has dtype <f2 \(float16\); only float32 and float64/],
    ['<i8', npyBytes(one, [2], { descr: '<i8', raw: new Uint8Array(16) }), /array "head\/x": has dtype <i8 \(int64\)/],
    ['>f4', npyBytes(one, [2], { descr: '>f4' }), /array "head\/x": is big-endian \(>f4\)/],
    ['>f8', npyBytes(Float64Array.from([1, 2]), [2], { descr: '>f8' }), /array "head\/x": is big-endian \(>f8\)/],
    ['fortran', npyBytes(Float32Array.from([1, 2, 3, 4]), [2, 2], { fortranOrder: true }), /array "head\/x": is stored in Fortran order/],
    ['object', npyBytes(one, [2], { descr: '|O', raw: new Uint8Array(16) }), /array "head\/x": is an object array \(a pickle\)/],
    ['truncated', npyBytes(one, [3]), /array "head\/x": holds 8 data bytes, but shape \[3\] of float32 needs 12/],
  ];
  for (const [what, npy, message] of cases) {
    assert.throws(() => readNpz(npzBytes({ 'head/x': npy })), message, what);
  }
  // A structured dtype: the descr is a list of fields.
  const text = "\x93NUMPY\x01\x00  {'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (1,), }\n";
  const structured = Uint8Array.from(text, (c) => c.charCodeAt(0));
  structured[8] = structured.length - 10;
  structured[9] = 0;
  assert.throws(() => readNpz(npzBytes({ 'head/x': structured })), /array "head\/x": has a structured dtype/);
});

test('refuses an entry that is not an .npy array', () => {
  refused(zipSync({ 'notes.txt': new TextEncoder().encode('hello') }), /entry "notes\.txt" is not an \.npy array/);
});
