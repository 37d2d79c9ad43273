import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import {
  MAX_HEADER_BYTES,
  SafetensorsError,
  readSafetensors,
  writeSafetensors,
  writeSafetensorsFile,
} from '../../src/format/safetensors.ts';

/** A safetensors file from a header object and raw data, byte by byte (no padding). */
function craft(header: unknown, data: Uint8Array = new Uint8Array(0), headerText = JSON.stringify(header)): Buffer {
  const json = Buffer.from(headerText, 'utf8');
  const out = Buffer.alloc(8 + json.length + data.length);
  out.writeBigUInt64LE(BigInt(json.length), 0);
  json.copy(out, 8);
  out.set(data, 8 + json.length);
  return out;
}

function f32bytes(values: number[]): Uint8Array {
  return new Uint8Array(new Float32Array(values).buffer);
}

function refuses(buf: Uint8Array, pattern: RegExp): void {
  assert.throws(() => readSafetensors(buf), (e: unknown) => {
    assert.ok(e instanceof SafetensorsError, `expected SafetensorsError, got ${String(e)}`);
    assert.match(e.message, pattern);
    return true;
  });
}

test('round trip keeps names, order, shapes and values; header padded to 8 bytes; aligned views', () => {
  const tensors = new Map([
    ['loc_layer/kernel', { dims: [2, 3], data: new Float32Array([1, -2, 3.5, 0, 1e-8, -1e8]) }],
    ['loc_layer/bias', { dims: [3], data: new Float32Array([0.25, Math.PI, -0]) }],
    ['scalar', { dims: [], data: new Float32Array([7]) }],
    ['empty', { dims: [0, 4], data: new Float32Array(0) }],
  ]);
  const buf = writeSafetensors(tensors, { producer: 'test' });
  const headerLen = Number(buf.readBigUInt64LE(0));
  assert.equal(headerLen % 8, 0);
  const header = JSON.parse(buf.subarray(8, 8 + headerLen).toString('utf8'));
  assert.deepEqual(header.__metadata__, { producer: 'test' });
  assert.deepEqual(header['loc_layer/kernel'], { dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
  assert.deepEqual(header['loc_layer/bias'].data_offsets, [24, 36]);
  assert.equal(buf.length, 8 + headerLen + 40);

  const back = readSafetensors(buf);
  assert.deepEqual([...back.keys()], [...tensors.keys()]);
  for (const [name, t] of tensors) {
    const r = back.get(name)!;
    assert.equal(r.dtype, 'F32');
    assert.deepEqual(r.dims, t.dims);
    assert.deepEqual(Array.from(r.data), Array.from(t.data));
    assert.equal(r.data.buffer, buf.buffer, 'aligned data are views, not copies');
  }
  assert.ok(Object.is(back.get('loc_layer/bias')!.data[2], -0));
});

test('reads unaligned data (unpadded header from another writer) and ignores __metadata__', () => {
  const header = { __metadata__: { format: 'pt' }, b: { dtype: 'F32', shape: [1], data_offsets: [8, 12] }, a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] } };
  let text = JSON.stringify(header);
  if (text.length % 4 === 0) text += ' ';
  if ((8 + text.length) % 4 === 0) text += ' ';
  const buf = craft(undefined, f32bytes([1.5, -2.5, 42]), text);
  const t = readSafetensors(buf);
  assert.deepEqual([...t.keys()], ['b', 'a']);
  assert.deepEqual(Array.from(t.get('a')!.data), [1.5, -2.5]);
  assert.deepEqual(Array.from(t.get('b')!.data), [42]);
  // Also from a Buffer that sits at an odd offset inside a larger ArrayBuffer.
  const big = new Uint8Array(buf.length + 1);
  big.set(buf, 1);
  assert.deepEqual(Array.from(readSafetensors(big.subarray(1)).get('a')!.data), [1.5, -2.5]);
});

test('streaming writer writes the same bytes as the in-memory writer, from any chunking', async () => {
  const dir = await mkdtemp(join(tmpdir(), 'st-'));
  try {
    const a = Float32Array.from({ length: 10 }, (_, i) => i / 3);
    const b = Float32Array.from({ length: 3 }, (_, i) => -i);
    const expected = writeSafetensors([['a', { dims: [2, 5], data: a }], ['b', { dims: [3], data: b }]], { k: 'v' });
    const file = join(dir, 'x.safetensors');
    await writeSafetensorsFile(
      file,
      [{ name: 'a', dims: [2, 5] }, { name: 'b', dims: [3] }],
      (spec) => (spec.name === 'a' ? [a.subarray(0, 3), a.subarray(3, 3), a.subarray(3)] : [b]),
      { k: 'v' },
    );
    assert.deepEqual(await readFile(file), expected);
    await assert.rejects(
      writeSafetensorsFile(join(dir, 'bad.safetensors'), [{ name: 'a', dims: [4] }], () => [new Float32Array(3)]),
      (e: unknown) => e instanceof SafetensorsError && /produced 3 values, shape needs 4/.test(e.message),
    );
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});

test('writer refuses duplicate or reserved names and data that do not fit the shape', () => {
  assert.throws(() => writeSafetensors([['x', { dims: [2], data: new Float32Array(3) }]]), /3 values for shape \[2\]/);
  assert.throws(
    () => writeSafetensors([['x', { dims: [1], data: new Float32Array(1) }], ['x', { dims: [1], data: new Float32Array(1) }]]),
    /duplicate tensor name "x"/,
  );
  assert.throws(() => writeSafetensors([['__metadata__', { dims: [1], data: new Float32Array(1) }]]), /invalid tensor name/);
  assert.throws(() => writeSafetensors([['x', { dims: [-1], data: new Float32Array(0) }]]), /dims must be non-negative integers/);
});

test('refuses files too short for the header length', () => {
  refuses(new Uint8Array(5), /shorter than the 8-byte header length/);
});

test('refuses a header length past the end of the file or over the limit', () => {
  const buf = craft({}, new Uint8Array(0));
  buf.writeBigUInt64LE(BigInt(buf.length), 0);
  refuses(buf, /runs past the end of the file/);
  buf.writeBigUInt64LE(BigInt(MAX_HEADER_BYTES) + 1n, 0);
  refuses(buf, /exceeds the 100000000-byte limit/);
  buf.writeBigUInt64LE(0xffffffffffffffffn, 0);
  refuses(buf, /exceeds/);
});

test('refuses headers that are not a UTF-8 JSON object', () => {
  refuses(craft(undefined, undefined, '{"a": '), /not valid UTF-8 JSON/);
  const bad = craft(undefined, undefined, '{"a":1}');
  bad[9] = 0xff;
  refuses(bad, /not valid UTF-8 JSON/);
  refuses(craft([1, 2]), /not a JSON object/);
  refuses(craft(null), /not a JSON object/);
  refuses(craft({ a: 3 }), /tensor "a": entry is not an object/);
});

test('refuses every dtype but F32 with a clear message', () => {
  for (const dtype of ['F16', 'BF16', 'F64', 'I64', 'U8']) {
    refuses(craft({ w: { dtype, shape: [1], data_offsets: [0, 8] } }, new Uint8Array(8)), new RegExp(`tensor "w" has dtype ${dtype}; only F32`));
  }
  refuses(craft({ w: { dtype: 'F31', shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /unknown dtype "F31"; only F32/);
  refuses(craft({ w: { shape: [1], data_offsets: [0, 4] } }, new Uint8Array(4)), /dtype missing/);
});

test('refuses malformed shapes and offsets', () => {
  const data = new Uint8Array(16);
  refuses(craft({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, data), /shape must be an array of non-negative integers/);
  refuses(craft({ w: { dtype: 'F32', shape: [1.5], data_offsets: [0, 4] } }, data), /shape must be/);
  refuses(craft({ w: { dtype: 'F32', shape: 2, data_offsets: [0, 8] } }, data), /shape must be/);
  refuses(craft({ w: { dtype: 'F32', shape: [1], data_offsets: [0] } }, data), /data_offsets must be \[begin, end\]/);
  refuses(craft({ w: { dtype: 'F32', shape: [1], data_offsets: [-4, 0] } }, data), /data_offsets must be/);
  refuses(craft({ w: { dtype: 'F32', shape: [1], data_offsets: [8, 4] } }, data), /begin after end/);
  refuses(craft({ w: { dtype: 'F32', shape: [2], data_offsets: [12, 20] } }, data), /run past the data section \(16 bytes\)/);
  refuses(craft({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, data), /8 data bytes, but shape \[3\] of F32 needs 12/);
});

test('refuses overlapping tensors', () => {
  const data = new Uint8Array(16);
  refuses(
    craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, b: { dtype: 'F32', shape: [2], data_offsets: [4, 12] } }, data),
    /tensors "a" \[0, 8\] and "b" \[4, 12\] overlap/,
  );
  refuses(
    craft({ a: { dtype: 'F32', shape: [2], data_offsets: [8, 16] }, b: { dtype: 'F32', shape: [4], data_offsets: [0, 16] } }, data),
    /overlap/,
  );
  // Zero-size tensors occupy no bytes and overlap nothing.
  const ok = readSafetensors(
    craft({ a: { dtype: 'F32', shape: [2], data_offsets: [0, 8] }, z: { dtype: 'F32', shape: [0], data_offsets: [4, 4] } }, data),
  );
  assert.equal(ok.get('z')!.data.length, 0);
});
