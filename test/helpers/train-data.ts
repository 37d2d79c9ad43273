// Generated image sets for the training tests: tiny 6 x 6 grayscale images whose class is
// carried by which quadrant is bright, plus noise, so a few training steps learn something.
import type { ImageSet } from '../../src/evaluate/evaluate.ts';
import type { InputSpec } from '../../src/format/manifest.ts';
import { mulberry32 } from '../reference/heads.ts';

export const TINY_INPUT: InputSpec = { height: 6, width: 6, channels: 1, layout: 'NCHW', resize: 'stretch', scale: 1 / 255, mean: [0.3], std: [0.3] };

export function syntheticImages(count: number, K: number, seed: number): ImageSet {
  const rows = 6;
  const cols = 6;
  const next = mulberry32(seed);
  const pixels = new Uint8Array(count * rows * cols);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const y = Math.floor(next() * K);
    labels[i] = y;
    for (let r = 0; r < rows; r++) {
      for (let c = 0; c < cols; c++) {
        const quadrant = (r < rows / 2 ? 0 : 2) + (c < cols / 2 ? 0 : 1);
        const base = quadrant === y % 4 ? 180 : 40;
        pixels[(i * rows + r) * cols + c] = Math.max(0, Math.min(255, Math.round(base + 60 * (next() - 0.5))));
      }
    }
  }
  return { pixels, labels, count, rows, cols };
}
