// Reading NumPy .npz archives (numpy.savez / numpy.savez_compressed): a zip of one .npy file per
// array, named "<key>.npy". The converter of Flax parameter trees (src/convert/) reads them.
//
// The zip container is fflate's (stored and deflated entries, zip64, which numpy.savez forces on
// every entry). The .npy header is parsed here by hand on purpose: it is a few dozen bytes (magic,
// version, a length, then a Python dict literal with 'descr', 'fortran_order' and 'shape',
// numpy/lib/format.py), and the npm packages that read .npy either pull in a whole array library
// or do not refuse what they cannot read. Only what a parameter tree needs is read: float32 and
// float64, little-endian, C order. Everything else (big-endian, Fortran order, other dtypes,
// object arrays, which are pickles) is refused with a message naming the key.
import { unzipSync } from 'fflate';

export class NpzError extends Error {
  override readonly name = 'NpzError';
}

export interface NpyArray {
  dtype: 'float32' | 'float64';
  /** [] for a 0-d array (one value). */
  shape: number[];
  data: Float32Array | Float64Array;
}

const NPY_MAGIC = [0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]; // \x93NUMPY
const ZIP_LOCAL = [0x50, 0x4b, 0x03, 0x04]; // PK\3\4, the first entry of an archive
const ZIP_EMPTY = [0x50, 0x4b, 0x05, 0x06]; // PK\5\6, the end record of an archive without entries
const SUFFIX = '.npy';

const isLittleEndian = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

function startsWith(bytes: Uint8Array, prefix: number[]): boolean {
  return bytes.length >= prefix.length && prefix.every((b, i) => bytes[i] === b);
}

function product(dims: number[]): number {
  return dims.reduce((a, b) => a * b, 1);
}

/** The archive's entries (zip names), decompressing those `select` accepts (none when absent). */
function unzip(bytes: Uint8Array, select: (name: string) => boolean): { names: string[]; files: Record<string, Uint8Array> } {
  if (startsWith(bytes, NPY_MAGIC)) {
    throw new NpzError('is a single .npy array, not an .npz archive (save the flattened tree with numpy.savez)');
  }
  if (!startsWith(bytes, ZIP_LOCAL) && !startsWith(bytes, ZIP_EMPTY)) {
    throw new NpzError('is not an .npz archive (a zip file written by numpy.savez): it does not start with a zip header');
  }
  const names: string[] = [];
  let files: Record<string, Uint8Array>;
  try {
    files = unzipSync(bytes, {
      filter: (entry) => {
        names.push(entry.name);
        return select(entry.name);
      },
    });
  } catch (e) {
    throw new NpzError(`is not a readable .npz archive (zip): ${(e as Error).message}`);
  }
  return { names, files };
}

/** Zip entry name -> array key; directories give undefined, entries that are not .npy are refused. */
function keyOf(name: string): string | undefined {
  if (name.endsWith('/')) return undefined;
  if (!name.endsWith(SUFFIX)) throw new NpzError(`entry "${name}" is not an .npy array (numpy.savez writes only <key>.npy entries)`);
  return name.slice(0, -SUFFIX.length);
}

/** The keys of the arrays the archive holds, in archive order, without decompressing any. */
export function npzKeys(bytes: Uint8Array): string[] {
  const keys = unzip(bytes, () => false).names.map(keyOf).filter((k): k is string => k !== undefined);
  if (keys.length === 0) throw new NpzError('holds no arrays');
  return keys;
}

/** The arrays of the archive whose key `select` accepts (default: all), key -> array. */
export function readNpz(bytes: Uint8Array, select: (key: string) => boolean = () => true): Map<string, NpyArray> {
  const { names, files } = unzip(bytes, (name) => {
    const key = keyOf(name);
    return key !== undefined && select(key);
  });
  if (names.map(keyOf).every((k) => k === undefined)) throw new NpzError('holds no arrays');
  const arrays = new Map<string, NpyArray>();
  for (const [name, data] of Object.entries(files)) {
    const key = keyOf(name)!;
    arrays.set(key, parseNpy(data, key));
  }
  return arrays;
}

/** The Python literal of `field` in the header dict, or undefined. */
function headerField(header: string, field: string, pattern: RegExp): RegExpExecArray | null {
  return new RegExp(`['"]${field}['"]\\s*:\\s*${pattern.source}`).exec(header);
}

/** A human name for a dtype this reader refuses, to make the message actionable. */
function refusedDtype(descr: string): string {
  const kind = descr.slice(1);
  const names: Record<string, string> = { f2: 'float16', i1: 'int8', i2: 'int16', i4: 'int32', i8: 'int64', u1: 'uint8', b1: 'bool', V2: 'bfloat16 or another 2-byte void type' };
  return names[kind] ? `${descr} (${names[kind]})` : descr;
}

/** One .npy file (format versions 1, 2 and 3) -> its array; `key` names it in every refusal. */
export function parseNpy(bytes: Uint8Array, key: string): NpyArray {
  const fail = (problem: string): never => {
    throw new NpzError(`array "${key}": ${problem}`);
  };
  if (!isLittleEndian) fail('big-endian hosts are not supported');
  if (!startsWith(bytes, NPY_MAGIC)) fail('is not an .npy array (no \\x93NUMPY magic)');
  const major = bytes[6];
  if (major !== 1 && major !== 2 && major !== 3) fail(`unknown .npy format version ${major}.${bytes[7]}`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const lengthBytes = major === 1 ? 2 : 4;
  if (bytes.length < 8 + lengthBytes) fail('is truncated inside its header');
  const headerLength = major === 1 ? view.getUint16(8, true) : view.getUint32(8, true);
  const dataStart = 8 + lengthBytes + headerLength;
  if (dataStart > bytes.length) fail(`header of ${headerLength} bytes runs past the end of the array's ${bytes.length} bytes`);
  const header = new TextDecoder(major === 3 ? 'utf-8' : 'latin1').decode(bytes.subarray(8 + lengthBytes, dataStart));

  if (headerField(header, 'descr', /[[(]/)) fail('has a structured dtype (record fields); save each field as its own array');
  const descr = headerField(header, 'descr', /'([^']*)'/)?.[1] ?? fail(`header has no 'descr' (dtype): ${header.trim()}`);
  const fortran = headerField(header, 'fortran_order', /(True|False)/)?.[1] ?? fail(`header has no 'fortran_order': ${header.trim()}`);
  const shapeText = headerField(header, 'shape', /\(([^)]*)\)/)?.[1] ?? fail(`header has no 'shape': ${header.trim()}`);

  if (/^[|<>=]?O/.test(descr)) fail('is an object array (a pickle), which is not read; save numeric arrays only (numpy.asarray(x, numpy.float32))');
  if (descr.startsWith('>') && (descr === '>f4' || descr === '>f8')) fail(`is big-endian (${descr}); save it little-endian (x.astype('<f4'))`);
  let dtype: NpyArray['dtype'];
  if (descr === '<f4') dtype = 'float32';
  else if (descr === '<f8') dtype = 'float64';
  else return fail(`has dtype ${refusedDtype(descr)}; only float32 and float64 (little-endian) are read: convert with numpy.asarray(x, numpy.float32)`);
  if (fortran === 'True') fail('is stored in Fortran order; save it in C order (numpy.ascontiguousarray(x))');

  const parts = shapeText.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (parts.some((p) => !/^\d+$/.test(p))) fail(`has an unreadable shape (${shapeText})`);
  const shape = parts.map(Number);
  const itemSize = dtype === 'float32' ? 4 : 8;
  const expected = product(shape) * itemSize;
  const actual = bytes.length - dataStart;
  if (actual !== expected) fail(`holds ${actual} data bytes, but shape [${shape.join(', ')}] of ${dtype} needs ${expected}`);
  // A copy: the data inside the zip entry need not be aligned for a typed-array view.
  const copy = bytes.slice(dataStart).buffer;
  return { dtype, shape, data: dtype === 'float32' ? new Float32Array(copy) : new Float64Array(copy) };
}
