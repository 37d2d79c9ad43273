// 8-bit pixel levels -> the backbone's input values: x * scale, then (x - mean[c]) / std[c]
// (docs/checkpoint-format.md, `input`). The one definition, used by serving (after sharp's
// decode and resize) and by training and evaluation (on dataset pixels), so that a model sees
// the same numbers in both. The loader has checked that mean and std have one entry per channel.
import type { InputSpec } from '../format/manifest.ts';

export type Normalisation = Pick<InputSpec, 'channels' | 'scale' | 'mean' | 'std'>;

/**
 * One lookup table of 256 floats per channel: the normalised value of each 8-bit level.
 * Same arithmetic as (v * scale - mean[c]) / std[c] in doubles, rounded once to float32.
 */
export function normalisationTables(spec: Normalisation): Float32Array[] {
  const tables: Float32Array[] = [];
  for (let c = 0; c < spec.channels; c++) {
    const table = new Float32Array(256);
    for (let v = 0; v < 256; v++) table[v] = (v * spec.scale - spec.mean[c]) / spec.std[c];
    tables.push(table);
  }
  return tables;
}

/** Interleaved (HWC, image after image) 8-bit pixels -> normalised floats in the same order. */
export function normalisePixels(pixels: Uint8Array, spec: Normalisation): Float32Array {
  const tables = normalisationTables(spec);
  const out = new Float32Array(pixels.length);
  const C = spec.channels;
  for (let i = 0; i < pixels.length; i++) out[i] = tables[i % C][pixels[i]];
  return out;
}

/** One image's HWC bytes, normalised, written into `out` from `offset` in the spec's layout. */
export function writeNormalised(pixels: Uint8Array, spec: InputSpec, tables: Float32Array[], out: Float32Array, offset: number): void {
  const channels = spec.channels;
  const plane = spec.height * spec.width;
  if (spec.layout === 'NHWC') {
    for (let p = 0; p < plane; p++) {
      for (let c = 0; c < channels; c++) {
        const i = p * channels + c;
        out[offset + i] = tables[c][pixels[i]];
      }
    }
  } else {
    for (let c = 0; c < channels; c++) {
      const table = tables[c];
      const base = offset + c * plane;
      for (let p = 0; p < plane; p++) out[base + p] = table[pixels[p * channels + c]];
    }
  }
}
