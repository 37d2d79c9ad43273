// safetensors reader and writer (F32 only), for head.safetensors of checkpoint format v1.
//
// Written by hand on purpose: the format is tiny (8-byte little-endian header length, a JSON
// header, raw little-endian data), and no maintained pure-JS package fits: the npm packages
// named "safetensors" are either unmaintained, browser/fetch-oriented, or wrap native code, and
// none validates offsets the way a server loading untrusted files needs. This file follows the
// reference implementation's rules (huggingface/safetensors): header at most 100 MB, every
// tensor's offsets inside the data section, no two tensors overlapping, byte size equal to the
// product of the shape times the element size, `__metadata__` a string -> string map.
//
// Only F32 is read: head weights are float32 by contract, and a silent conversion of F16/BF16/F64
// would hide an exporter mistake. Other dtypes are refused with a message that says so.
import { open } from 'node:fs/promises';

export class SafetensorsError extends Error {
  override readonly name = 'SafetensorsError';
}

export interface SafetensorsTensor {
  dtype: 'F32';
  dims: number[];
  data: Float32Array;
}

/** Upper bound on the JSON header, as in the reference implementation. */
export const MAX_HEADER_BYTES = 100_000_000;

/** Element sizes of the dtypes the format defines; used only to word refusals precisely. */
const KNOWN_DTYPES: Record<string, number> = {
  BOOL: 1, U8: 1, I8: 1, F8_E4M3: 1, F8_E5M2: 1,
  U16: 2, I16: 2, F16: 2, BF16: 2,
  U32: 4, I32: 4, F32: 4,
  U64: 8, I64: 8, F64: 8,
};

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

function isDimList(value: unknown): value is number[] {
  return Array.isArray(value) && value.every((d) => Number.isSafeInteger(d) && d >= 0);
}

/**
 * Parses a whole safetensors file. Returns name -> tensor in header order; `__metadata__` is
 * ignored. Tensor data are views on `buf` when 4-byte aligned (files this module writes always
 * are), copies otherwise. Throws SafetensorsError on any malformed input or non-F32 tensor.
 */
export function readSafetensors(buf: Uint8Array): Map<string, SafetensorsTensor> {
  if (!isLittleEndian) throw new SafetensorsError('big-endian hosts are not supported');
  if (buf.byteLength < 8) throw new SafetensorsError(`file is ${buf.byteLength} bytes, shorter than the 8-byte header length`);
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const headerLen = view.getBigUint64(0, true);
  if (headerLen > BigInt(MAX_HEADER_BYTES)) throw new SafetensorsError(`header length ${headerLen} exceeds the ${MAX_HEADER_BYTES}-byte limit`);
  const n = Number(headerLen);
  if (8 + n > buf.byteLength) {
    throw new SafetensorsError(`header length ${n} runs past the end of the file (${buf.byteLength} bytes)`);
  }
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder('utf-8', { fatal: true }).decode(buf.subarray(8, 8 + n)));
  } catch (e) {
    throw new SafetensorsError(`header is not valid UTF-8 JSON: ${(e as Error).message}`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) {
    throw new SafetensorsError('header is not a JSON object');
  }
  const dataStart = 8 + n;
  const dataLen = buf.byteLength - dataStart;
  const entries: { name: string; dims: number[]; begin: number; end: number }[] = [];
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === '__metadata__') continue;
    if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) throw new SafetensorsError(`tensor "${name}": entry is not an object`);
    const { dtype, shape, data_offsets: offsets } = raw as Record<string, unknown>;
    if (typeof dtype !== 'string') throw new SafetensorsError(`tensor "${name}": dtype missing or not a string`);
    if (dtype !== 'F32') {
      const what = dtype in KNOWN_DTYPES ? `dtype ${dtype}` : `unknown dtype "${dtype}"`;
      throw new SafetensorsError(`tensor "${name}" has ${what}; only F32 (float32) is supported, convert the weights to float32 before export`);
    }
    if (!isDimList(shape)) throw new SafetensorsError(`tensor "${name}": shape must be an array of non-negative integers`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && o >= 0)) {
      throw new SafetensorsError(`tensor "${name}": data_offsets must be [begin, end] with non-negative integers`);
    }
    const [begin, end] = offsets as [number, number];
    if (begin > end) throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${end}] have begin after end`);
    if (end > dataLen) throw new SafetensorsError(`tensor "${name}": data_offsets [${begin}, ${end}] run past the data section (${dataLen} bytes)`);
    const expected = product(shape) * 4;
    if (end - begin !== expected) {
      throw new SafetensorsError(`tensor "${name}": ${end - begin} data bytes, but shape [${shape.join(', ')}] of F32 needs ${expected}`);
    }
    entries.push({ name, dims: shape, begin, end });
  }
  // Empty tensors occupy no bytes, so they overlap nothing.
  const sorted = entries.filter((e) => e.end > e.begin).sort((a, b) => a.begin - b.begin || a.end - b.end);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1];
    const cur = sorted[i];
    if (cur.begin < prev.end) {
      throw new SafetensorsError(`tensors "${prev.name}" [${prev.begin}, ${prev.end}] and "${cur.name}" [${cur.begin}, ${cur.end}] overlap`);
    }
  }
  const out = new Map<string, SafetensorsTensor>();
  for (const e of entries) {
    const offset = buf.byteOffset + dataStart + e.begin;
    const count = (e.end - e.begin) / 4;
    let data: Float32Array;
    if (offset % 4 === 0) data = new Float32Array(buf.buffer, offset, count);
    else {
      // Copy through a fresh Uint8Array (Buffer#slice would return a view, not a copy).
      const bytes = new Uint8Array(e.end - e.begin);
      bytes.set(buf.subarray(dataStart + e.begin, dataStart + e.end));
      data = new Float32Array(bytes.buffer);
    }
    out.set(e.name, { dtype: 'F32', dims: e.dims, data });
  }
  return out;
}

export interface TensorSpec {
  name: string;
  dims: number[];
}

/** The JSON header (padded with spaces to a multiple of 8 bytes, as the reference writer does). */
function encodeHeader(specs: TensorSpec[], metadata?: Record<string, string>): { header: Uint8Array; dataBytes: number } {
  const obj: Record<string, unknown> = {};
  if (metadata && Object.keys(metadata).length > 0) obj.__metadata__ = metadata;
  let offset = 0;
  const seen = new Set<string>();
  for (const s of specs) {
    if (s.name === '__metadata__' || s.name === '') throw new SafetensorsError(`invalid tensor name "${s.name}"`);
    if (seen.has(s.name)) throw new SafetensorsError(`duplicate tensor name "${s.name}"`);
    seen.add(s.name);
    if (!isDimList(s.dims)) throw new SafetensorsError(`tensor "${s.name}": dims must be non-negative integers`);
    const bytes = product(s.dims) * 4;
    obj[s.name] = { dtype: 'F32', shape: s.dims, data_offsets: [offset, offset + bytes] };
    offset += bytes;
  }
  let json = JSON.stringify(obj);
  const enc = new TextEncoder();
  let len = enc.encode(json).byteLength;
  if (len % 8 !== 0) {
    json += ' '.repeat(8 - (len % 8));
    len = enc.encode(json).byteLength;
  }
  const header = new Uint8Array(8 + len);
  new DataView(header.buffer).setBigUint64(0, BigInt(len), true);
  header.set(enc.encode(json), 8);
  return { header, dataBytes: offset };
}

/** Serialises F32 tensors (in the given order) into one buffer. */
export function writeSafetensors(
  tensors: Iterable<[string, { dims: number[]; data: Float32Array }]>,
  metadata?: Record<string, string>,
): Buffer {
  const list = [...tensors];
  const { header, dataBytes } = encodeHeader(list.map(([name, t]) => ({ name, dims: t.dims })), metadata);
  const out = Buffer.alloc(header.byteLength + dataBytes);
  out.set(header, 0);
  let pos = header.byteLength;
  for (const [name, t] of list) {
    if (t.data.length !== product(t.dims)) {
      throw new SafetensorsError(`tensor "${name}": ${t.data.length} values for shape [${t.dims.join(', ')}]`);
    }
    out.set(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength), pos);
    pos += t.data.byteLength;
  }
  return out;
}

/**
 * Writes a safetensors file without holding all tensors in memory: the header is computed from
 * `specs`, then `produce(spec)` yields each tensor's values in chunks (any chunk sizes adding up
 * to the tensor's element count), written in order.
 */
export async function writeSafetensorsFile(
  path: string,
  specs: TensorSpec[],
  produce: (spec: TensorSpec) => Iterable<Float32Array>,
  metadata?: Record<string, string>,
): Promise<void> {
  const { header } = encodeHeader(specs, metadata);
  const fh = await open(path, 'w');
  try {
    await fh.write(header);
    for (const spec of specs) {
      let written = 0;
      for (const chunk of produce(spec)) {
        written += chunk.length;
        await fh.write(new Uint8Array(chunk.buffer, chunk.byteOffset, chunk.byteLength));
      }
      const expected = product(spec.dims);
      if (written !== expected) throw new SafetensorsError(`tensor "${spec.name}": produced ${written} values, shape needs ${expected}`);
    }
  } finally {
    await fh.close();
  }
}
