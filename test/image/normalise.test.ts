// The one normalisation of 8-bit levels, (v * scale - mean[c]) / std[c], against float64
// arithmetic written here, for interleaved pixels of 1 and 3 channels.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { normalisePixels } from '../../src/image/normalise.ts';

test('normalisePixels: (v * scale - mean[c]) / std[c] per interleaved channel, within float32 rounding', () => {
  const rgb = { channels: 3 as const, scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] };
  const pixels = Uint8Array.from([0, 128, 255, 7, 200, 31]);
  const out = normalisePixels(pixels, rgb);
  assert.equal(out.length, 6);
  pixels.forEach((v, i) => {
    const c = i % 3;
    const expected = (v / 255 - rgb.mean[c]) / rgb.std[c];
    assert.ok(Math.abs(out[i] - expected) <= 1e-6 * Math.max(1, Math.abs(expected)), `i=${i}: ${out[i]} vs ${expected}`);
  });
  const grey = normalisePixels(Uint8Array.from([0, 255, 73]), { channels: 1, scale: 1 / 255, mean: [0.286], std: [0.353] });
  assert.deepEqual(Array.from(grey), [0, 1, 73 / 255].map((x) => Math.fround((x - 0.286) / 0.353)));
});
