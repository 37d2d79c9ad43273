// Writes .npy and .npz files for tests, independently of src/format/npz.ts: the .npy layout of
// numpy/lib/format.py (magic, version 1.0, uint16 header length, a Python dict literal padded with
// spaces to a multiple of 64 bytes and ended by '\n', then the raw data) and fflate's zipSync for
// the archive, as numpy.savez writes "<key>.npy" entries.
import { zipSync } from 'fflate';

export interface NpyOptions {
  /** Default '<f4' for a Float32Array, '<f8' for a Float64Array. */
  descr?: string;
  fortranOrder?: boolean;
  /** Raw bytes instead of the data's (for wrong-length and other-dtype arrays). */
  raw?: Uint8Array;
}

/** One .npy file (format 1.0). */
export function npyBytes(data: Float32Array | Float64Array, shape: number[], options: NpyOptions = {}): Uint8Array {
  const descr = options.descr ?? (data instanceof Float64Array ? '<f8' : '<f4');
  const shapeText = shape.length === 1 ? `(${shape[0]},)` : `(${shape.join(', ')})`;
  let dict = `{'descr': '${descr}', 'fortran_order': ${options.fortranOrder ? 'True' : 'False'}, 'shape': ${shapeText}, }`;
  const unpadded = 10 + dict.length + 1;
  dict += ' '.repeat((64 - (unpadded % 64)) % 64) + '\n';
  const body = options.raw ?? new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
  const out = new Uint8Array(10 + dict.length + body.length);
  out.set([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59, 1, 0]);
  new DataView(out.buffer).setUint16(8, dict.length, true);
  for (let i = 0; i < dict.length; i++) out[10 + i] = dict.charCodeAt(i);
  out.set(body, 10 + dict.length);
  return out;
}

/** An array for npzBytes: data and shape, or ready .npy bytes. */
export type NpzEntry = { data: Float32Array | Float64Array; shape: number[]; options?: NpyOptions } | Uint8Array;

/** An .npz archive of `arrays` (key -> array), stored or deflated like numpy.savez / savez_compressed. */
export function npzBytes(arrays: Record<string, NpzEntry>, compressed = false): Uint8Array {
  const files: Record<string, Uint8Array> = {};
  for (const [key, entry] of Object.entries(arrays)) {
    files[`${key}.npy`] = entry instanceof Uint8Array ? entry : npyBytes(entry.data, entry.shape, entry.options);
  }
  return zipSync(files, { level: compressed ? 6 : 0 });
}
