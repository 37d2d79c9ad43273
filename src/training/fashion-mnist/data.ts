// Fashion-MNIST from IDX files (gzipped or not), as Debian's dataset-fashion-mnist installs them.
// IDX is four lines of header arithmetic; no maintained npm package reads it without also
// downloading the data, which this project must not do.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { basename, join, resolve } from 'node:path';
import { gunzipSync } from 'node:zlib';
import type { ImageSet } from '../../evaluate/evaluate.ts';

export const DEFAULT_FASHION_MNIST_DIR = '/usr/share/datasets/fashion-mnist';

export const FASHION_MNIST_FILES = {
  train: { images: 'train-images-idx3-ubyte.gz', labels: 'train-labels-idx1-ubyte.gz' },
  test: { images: 't10k-images-idx3-ubyte.gz', labels: 't10k-labels-idx1-ubyte.gz' },
} as const;

export type Split = keyof typeof FASHION_MNIST_FILES;

export interface DataFileInfo {
  /** The file name only: provenance names no folder of the build host (provenance.ts). */
  file: string;
  bytes: number;
  sha256: string;
}

export class DatasetMissingError extends Error {}

function idxPayload(bytes: Uint8Array, file: string, magic: number): { dims: number[]; data: Uint8Array } {
  const raw = bytes[0] === 0x1f && bytes[1] === 0x8b ? new Uint8Array(gunzipSync(bytes)) : bytes;
  const view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
  if (raw.byteLength < 8 || view.getUint32(0) !== magic) {
    throw new Error(`${file}: not an IDX file of unsigned bytes with ${magic & 0xff} dimensions`);
  }
  const rank = magic & 0xff;
  const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
  const offset = 4 + 4 * rank;
  const size = dims.reduce((a, b) => a * b, 1);
  if (raw.byteLength !== offset + size) throw new Error(`${file}: ${raw.byteLength - offset} data bytes, header says ${size}`);
  return { dims, data: raw.subarray(offset) };
}

function splitPaths(dir: string, split: Split): { images: string; labels: string } {
  const names = FASHION_MNIST_FILES[split];
  return { images: resolve(join(dir, names.images)), labels: resolve(join(dir, names.labels)) };
}

function requireFiles(paths: string[]): void {
  const missing = paths.filter((p) => !existsSync(p));
  if (missing.length > 0) {
    throw new DatasetMissingError(
      `Fashion-MNIST not found: missing ${missing.join(', ')}. ` +
        'Install it with `apt-get install dataset-fashion-mnist` (Debian/Ubuntu), or pass --data <folder with the IDX .gz files>.',
    );
  }
}

/** Reads one split; throws DatasetMissingError (with the install hint) when files are missing. */
export async function loadFashionMnist(dir: string, split: Split): Promise<ImageSet> {
  const paths = splitPaths(dir, split);
  requireFiles([paths.images, paths.labels]);
  const images = idxPayload(await readFile(paths.images), paths.images, 0x00000803);
  const labels = idxPayload(await readFile(paths.labels), paths.labels, 0x00000801);
  const [count, rows, cols] = images.dims;
  if (labels.dims[0] !== count) throw new Error(`${paths.labels}: ${labels.dims[0]} labels for ${count} images`);
  return { pixels: images.data, labels: labels.data, count, rows, cols };
}

/** Size and SHA-256 of each file of the splits, for the manifests' provenance. */
export async function describeDataFiles(dir: string, splits: Split[]): Promise<DataFileInfo[]> {
  const out: DataFileInfo[] = [];
  for (const split of splits) {
    const paths = splitPaths(dir, split);
    requireFiles([paths.images, paths.labels]);
    for (const file of [paths.images, paths.labels]) {
      const bytes = await readFile(file);
      out.push({ file: basename(file), bytes: bytes.byteLength, sha256: createHash('sha256').update(bytes).digest('hex') });
    }
  }
  return out;
}
