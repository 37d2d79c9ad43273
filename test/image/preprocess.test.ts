// Image preprocessing: exact normalisation, layouts, colour conversion, resize rules, EXIF orientation,
// alpha, 16-bit and animated inputs, and refusal of bad input. Every test image is generated here with sharp.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import sharp from 'sharp';
import type { InputSpec } from '../../src/format/manifest.ts';
import { ImageError, preprocessImages, type ImageErrorCode } from '../../src/image/preprocess.ts';

const LIMITS = { maxInputPixels: 10_000_000 };
type Rgb = [number, number, number];

/** A spec; a one-entry mean or std is repeated per channel, as the loader requires one per channel. */
function spec(overrides: Partial<InputSpec>): InputSpec {
  const s: InputSpec = { height: 2, width: 2, channels: 3, layout: 'NCHW', resize: 'stretch', scale: 1, mean: [0], std: [1], ...overrides };
  const perChannel = (v: number[]) => (v.length === 1 ? Array.from({ length: s.channels }, () => v[0]) : v);
  return { ...s, mean: perChannel(s.mean), std: perChannel(s.std) };
}

/** Identity normalisation (scale 1, mean 0, std 1): the tensor holds the 8-bit values themselves. */
const identity = { scale: 1, mean: [0], std: [1] };

/** Raw pixels (row-major, interleaved) -> encoded image. */
async function encode(pixels: number[], width: number, height: number, channels: 1 | 2 | 3 | 4, format: 'png' | 'jpeg' | 'webp' = 'png'): Promise<Buffer> {
  let img = sharp(Buffer.from(pixels), { raw: { width, height, channels } });
  // Without this sharp writes 1-channel raw input as an RGB PNG.
  if (channels === 1) img = img.toColourspace('b-w');
  return img.toFormat(format, format === 'jpeg' ? { quality: 100 } : {}).toBuffer();
}

/** An image made of solid rectangles: fill(x, y) gives the colour of each pixel. */
async function blocks(width: number, height: number, fill: (x: number, y: number) => Rgb, format: 'png' | 'jpeg' = 'png'): Promise<Buffer> {
  const pixels: number[] = [];
  for (let y = 0; y < height; y++) for (let x = 0; x < width; x++) pixels.push(...fill(x, y));
  return encode(pixels, width, height, 3, format);
}

/** Pixel (x, y) of a single-image NCHW identity tensor, as [c0, c1, c2]. */
function pixelAt(t: Float32Array, s: InputSpec, x: number, y: number): number[] {
  const plane = s.height * s.width;
  return Array.from({ length: s.channels }, (_, c) => t[c * plane + y * s.width + x]);
}

function assertClose(actual: number[], expected: number[], tolerance: number, what: string): void {
  assert.equal(actual.length, expected.length, what);
  actual.forEach((a, i) => assert.ok(Math.abs(a - expected[i]) <= tolerance, `${what}: [${actual}] vs [${expected}] (tolerance ${tolerance})`));
}

async function assertRefused(promise: Promise<unknown>, code: ImageErrorCode, index: number, message?: RegExp): Promise<void> {
  await assert.rejects(promise, (err: unknown) => {
    assert.ok(err instanceof ImageError, `expected ImageError, got ${String(err)}`);
    assert.equal(err.code, code, err.message);
    assert.equal(err.index, index);
    assert.match(err.message, new RegExp(`^image ${index}: `));
    if (message) assert.match(err.message, message);
    return true;
  });
}

// 2x2 RGB image with known pixels, used by several tests.
const KNOWN: Rgb[] = [
  [0, 128, 255],
  [10, 20, 30],
  [255, 0, 7],
  [100, 200, 50],
];
const knownPng = () => encode(KNOWN.flat(), 2, 2, 3);

test('exact normalised values, NCHW: (v * scale - mean[c]) / std[c] for every float', async () => {
  const s = spec({ scale: 1 / 255, mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] });
  const t = await preprocessImages([await knownPng()], s, LIMITS);
  assert.equal(t.length, 1 * 3 * 2 * 2);
  for (let c = 0; c < 3; c++) {
    for (let p = 0; p < 4; p++) {
      const expected = (KNOWN[p][c] * s.scale - s.mean[c]) / s.std[c];
      assert.ok(Math.abs(t[c * 4 + p] - expected) <= 1e-6, `c=${c} p=${p}: ${t[c * 4 + p]} vs ${expected}`);
    }
  }
});

test('NHWC is the same values interleaved', async () => {
  const s = spec({ layout: 'NHWC', scale: 1 / 255, mean: [0.5], std: [0.25] });
  const t = await preprocessImages([await knownPng()], s, LIMITS);
  for (let p = 0; p < 4; p++) {
    for (let c = 0; c < 3; c++) {
      const expected = (KNOWN[p][c] / 255 - 0.5) / 0.25;
      assert.ok(Math.abs(t[p * 3 + c] - expected) <= 1e-6, `p=${p} c=${c}: ${t[p * 3 + c]} vs ${expected}`);
    }
  }
});

test('a batch is laid out image after image', async () => {
  const s = spec(identity);
  const other = await blocks(2, 2, () => [9, 8, 7]);
  const batch = await preprocessImages([await knownPng(), other, await knownPng()], s, { ...LIMITS, concurrency: 2 });
  assert.equal(batch.length, 3 * 12);
  const single = await preprocessImages([await knownPng()], s, LIMITS);
  assert.deepEqual(Array.from(batch.subarray(0, 12)), Array.from(single));
  assert.deepEqual(Array.from(batch.subarray(24, 36)), Array.from(single));
  assert.deepEqual(Array.from(batch.subarray(12, 24)), [9, 9, 9, 9, 8, 8, 8, 8, 7, 7, 7, 7]);
  assert.equal((await preprocessImages([], s, LIMITS)).length, 0);
});

test('1 channel: colour input goes to libvips b-w luminance (Rec.709 on linear light), within 1 level', async () => {
  const toLinear = (v: number) => (v / 255 <= 0.04045 ? v / 255 / 12.92 : ((v / 255 + 0.055) / 1.055) ** 2.4);
  const fromLinear = (y: number) => 255 * (y <= 0.0031308 ? 12.92 * y : 1.055 * y ** (1 / 2.4) - 0.055);
  const luminance = ([r, g, b]: Rgb) => fromLinear(0.2126 * toLinear(r) + 0.7152 * toLinear(g) + 0.0722 * toLinear(b));
  const s = spec({ channels: 1, ...identity });
  const t = await preprocessImages([await knownPng()], s, LIMITS);
  assert.equal(t.length, 4);
  assertClose(Array.from(t), KNOWN.map(luminance), 1, 'grey levels');
  // Pure red is much darker than pure green: a plain channel average would not give this.
  const rg = await preprocessImages([await blocks(2, 1, (x) => (x === 0 ? [255, 0, 0] : [0, 255, 0]))], spec({ channels: 1, width: 2, height: 1, ...identity }), LIMITS);
  assertClose(Array.from(rg), [luminance([255, 0, 0]), luminance([0, 255, 0])], 1, 'red, green');
});

test('3 channels: a greyscale input is expanded to three equal channels', async () => {
  const grey = await encode([0, 100, 200, 255], 2, 2, 1);
  assert.equal((await sharp(grey).metadata()).channels, 1, 'test image really is 1-channel');
  const t = await preprocessImages([grey], spec(identity), LIMITS);
  assert.deepEqual(Array.from(t), [0, 100, 200, 255, 0, 100, 200, 255, 0, 100, 200, 255]);
});

test('center-crop takes the centre of a wide image', async () => {
  const third = (x: number): Rgb => (x < 20 ? [255, 0, 0] : x < 40 ? [0, 255, 0] : [0, 0, 255]);
  // 60x20 -> cover 4x4 scales to 12x4 and keeps columns 4..7, i.e. the middle (green) third.
  const wide = await blocks(60, 20, third);
  const s = spec({ height: 4, width: 4, resize: 'center-crop', ...identity });
  const t = await preprocessImages([wide], s, LIMITS);
  // The crop edges touch the colour boundaries, where the resampling kernel mixes colours: check the
  // inner columns tightly and every pixel loosely (mostly green, never mostly red or blue).
  for (let y = 0; y < 4; y++) {
    for (let x = 0; x < 4; x++) {
      const [r, g, b] = pixelAt(t, s, x, y);
      if (x === 1 || x === 2) assertClose([r, g, b], [0, 255, 0], 3, `centre pixel ${x},${y}`);
      assert.ok(g > 200 && r < 60 && b < 60, `pixel ${x},${y} = ${[r, g, b]}`);
    }
  }
  // Same image stretched keeps all three colours, left to right.
  const st = spec({ height: 4, width: 6, resize: 'stretch', ...identity });
  const stretched = await preprocessImages([wide], st, LIMITS);
  assertClose(pixelAt(stretched, st, 0, 2), [255, 0, 0], 3, 'stretch left');
  assertClose(pixelAt(stretched, st, 5, 2), [0, 0, 255], 3, 'stretch right');
});

test('pad keeps the whole image and fills the borders with black', async () => {
  // 8x4 white -> contain 8x8: image in rows 2..5, black rows 0..1 and 6..7.
  const white = await blocks(8, 4, () => [255, 255, 255]);
  const s = spec({ height: 8, width: 8, resize: 'pad', ...identity });
  const t = await preprocessImages([white], s, LIMITS);
  for (let y = 0; y < 8; y++) {
    const expected = y >= 2 && y <= 5 ? [255, 255, 255] : [0, 0, 0];
    for (let x = 0; x < 8; x++) assert.deepEqual(pixelAt(t, s, x, y), expected, `pixel ${x},${y}`);
  }
  // A tall image gets black columns instead.
  const tall = await blocks(2, 8, () => [255, 255, 255]);
  const t2 = await preprocessImages([tall], s, LIMITS);
  assert.deepEqual(pixelAt(t2, s, 0, 4), [0, 0, 0]);
  assert.deepEqual(pixelAt(t2, s, 4, 4), [255, 255, 255]);
  assert.deepEqual(pixelAt(t2, s, 7, 4), [0, 0, 0]);
});

test('EXIF orientation is honoured (orientation 6: rotate 90 degrees clockwise)', async () => {
  // Stored 40x20: left half red, right half blue. Displayed (rotated CW) 20x40: top red, bottom blue.
  const stored = await blocks(40, 20, (x) => (x < 20 ? [255, 0, 0] : [0, 0, 255]), 'jpeg');
  const jpeg = await sharp(stored).withMetadata({ orientation: 6 }).jpeg({ quality: 100 }).toBuffer();
  assert.equal((await sharp(jpeg).metadata()).orientation, 6);
  const s = spec({ height: 8, width: 4, ...identity });
  const t = await preprocessImages([jpeg], s, LIMITS);
  // JPEG is lossy and the kernel blurs the middle rows: check rows well inside each block.
  for (let x = 0; x < 4; x++) {
    for (const y of [0, 1, 2]) assertClose(pixelAt(t, s, x, y), [255, 0, 0], 12, `top ${x},${y}`);
    for (const y of [5, 6, 7]) assertClose(pixelAt(t, s, x, y), [0, 0, 255], 12, `bottom ${x},${y}`);
  }
});

test('alpha is flattened onto black', async () => {
  // transparent white, half-transparent orange, opaque dark
  const rgba = await encode([255, 255, 255, 0, 200, 100, 50, 128, 10, 20, 30, 255], 3, 1, 4);
  const s = spec({ width: 3, height: 1, layout: 'NHWC', ...identity });
  const t = await preprocessImages([rgba], s, LIMITS);
  const a = 128 / 255;
  assertClose(Array.from(t), [0, 0, 0, 200 * a, 100 * a, 50 * a, 10, 20, 30], 1, 'flattened');
  // Also for 1-channel output: a transparent white pixel becomes black, not white.
  const g = await preprocessImages([rgba], spec({ width: 3, height: 1, channels: 1, ...identity }), LIMITS);
  assert.equal(g[0], 0);
});

test('16-bit PNG is read as 8-bit levels (v16 / 257)', async () => {
  const values = [0, 65535, 128 * 257, 10 * 257, 200 * 257, 50 * 257];
  const png16 = await sharp(new Uint16Array(values), { raw: { width: 2, height: 1, channels: 3 } }).toColourspace('rgb16').png().toBuffer();
  const meta = await sharp(png16).metadata();
  assert.equal(meta.depth, 'ushort', 'test image really is 16-bit');
  const t = await preprocessImages([png16], spec({ width: 2, height: 1, layout: 'NHWC', ...identity }), LIMITS);
  assert.deepEqual(Array.from(t), [0, 255, 128, 10, 200, 50]);
});

test('animated GIF and WebP: the first frame is used', async () => {
  const red = await blocks(4, 4, () => [255, 0, 0]);
  const blue = await blocks(4, 4, () => [0, 0, 255]);
  const s = spec({ width: 4, height: 4, ...identity });
  const gif = await sharp([red, blue], { join: { animated: true } }).gif().toBuffer();
  assert.equal((await sharp(gif).metadata()).pages, 2);
  const webp = await sharp([blue, red], { join: { animated: true } }).webp({ lossless: true }).toBuffer();
  assert.equal((await sharp(webp).metadata()).pages, 2);
  const t = await preprocessImages([gif, webp], s, { maxInputPixels: 16 }); // limit applies per frame
  assertClose(pixelAt(t, s, 1, 1), [255, 0, 0], 2, 'gif frame 0');
  assertClose(pixelAt(t.subarray(48), s, 1, 1), [0, 0, 255], 2, 'webp frame 0');
});

test('refused: empty buffer, random bytes, svg', async () => {
  const s = spec(identity);
  const good = await knownPng();
  await assertRefused(preprocessImages([good, Buffer.alloc(0)], s, LIMITS), 'IMAGE_EMPTY', 1, /empty/);
  const random = Buffer.from(Array.from({ length: 500 }, (_, i) => (i * 131 + 17) % 256));
  await assertRefused(
    preprocessImages([good, good, random], s, LIMITS),
    'IMAGE_UNDECODABLE',
    2,
    /not a supported image \(jpeg, png, webp, gif, tiff, avif\)/,
  );
  const svg = Buffer.from('<svg xmlns="http://www.w3.org/2000/svg" width="4" height="4"><rect width="4" height="4" fill="red"/></svg>');
  assert.equal((await sharp(svg).metadata()).format, 'svg', 'sharp itself would render it');
  await assertRefused(preprocessImages([svg], s, LIMITS), 'IMAGE_UNDECODABLE', 0, /svg images are not supported/);
});

test('refused: truncated PNG and truncated JPEG (not half-decoded)', async () => {
  // Noise compresses badly, so the pixel data fills most of the file and a cut lands inside it.
  let seed = 1;
  const noise = Array.from({ length: 64 * 64 * 3 }, () => ((seed = (seed * 1103515245 + 12345) >>> 0) >>> 24));
  const png = await encode(noise, 64, 64, 3, 'png');
  const jpeg = await encode(noise, 64, 64, 3, 'jpeg');
  const s = spec({ height: 8, width: 8, ...identity }); // smaller than the input: JPEG shrink-on-load path
  for (const [name, full] of [['png', png], ['jpeg', jpeg]] as const) {
    // The complete file is fine.
    await preprocessImages([full], s, LIMITS);
    for (const keep of [0.5, 0.9]) {
      const cut = full.subarray(0, Math.floor(full.length * keep));
      // sharp can still read the header of a truncated file: the refusal must come from the decode.
      assert.equal((await sharp(cut).metadata()).width, 64);
      await assertRefused(preprocessImages([full, cut], s, LIMITS), 'IMAGE_UNDECODABLE', 1, new RegExp(`could not decode ${name} data`));
    }
  }
  // A JPEG missing only its final 2-byte end marker is still refused.
  await assertRefused(preprocessImages([jpeg.subarray(0, jpeg.length - 2)], s, LIMITS), 'IMAGE_UNDECODABLE', 0);
});

test('refused: over the pixel limit, with the pixel count in the message', async () => {
  const big = await blocks(20, 20, () => [1, 2, 3]);
  const s = spec(identity);
  await assertRefused(
    preprocessImages([await knownPng(), big], s, { maxInputPixels: 100 }),
    'IMAGE_TOO_LARGE',
    1,
    /400 pixels \(20x20\) is over the limit of 100/,
  );
  // Exactly at the limit is accepted.
  await preprocessImages([big], s, { maxInputPixels: 400 });
});

test('the error reported for a batch is the first bad image, whatever finishes first', async () => {
  const big = await blocks(20, 20, () => [1, 2, 3]);
  const images = [await knownPng(), big, Buffer.alloc(0), Buffer.from('nope')];
  for (const concurrency of [1, 2, 4]) {
    await assertRefused(preprocessImages(images, spec(identity), { maxInputPixels: 100, concurrency }), 'IMAGE_TOO_LARGE', 1);
  }
});

test('bad limits are plain errors, not ImageError (the spec is checked by the checkpoint loader)', async () => {
  const png = await knownPng();
  await assert.rejects(preprocessImages([png], spec({}), { maxInputPixels: 0 }), (err: unknown) => !(err instanceof ImageError) && /maxInputPixels/.test(String(err)));
});
