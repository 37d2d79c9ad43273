// Issue #17, item 8: a 40,000,000 x 1 PNG is within the default pixel limit, but libvips cannot
// resize it (its text, "reduceh: parameter hshrink not set", reached clients). Such images are
// refused from the header with our own message (dimensions and the limit); up to 1000:1 they serve.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import { ImageError, MAX_ASPECT_RATIO, preprocessImages } from '../../src/image/preprocess.ts';
import type { InputSpec } from '../../src/format/manifest.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

const CRC_TABLE = Array.from({ length: 256 }, (_, n) => {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  return c >>> 0;
});

function crc32(bytes: Buffer): number {
  let c = 0xffffffff;
  for (const b of bytes) c = CRC_TABLE[(c ^ b) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

function pngChunk(type: string, data: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'ascii'), data]);
  const frame = Buffer.alloc(8);
  frame.writeUInt32BE(data.length, 0);
  frame.writeUInt32BE(crc32(body), 4);
  return Buffer.concat([frame.subarray(0, 4), body, frame.subarray(4)]);
}

/**
 * An 8-bit greyscale PNG of one level, written by hand: sharp would take ~45 s and ~4 GB to
 * encode 40,000,000 x 1, whereas its rows of zero filter bytes and equal levels deflate to a few
 * tens of KB in well under a second.
 */
function flatPng(width: number, height: number, level: number): Buffer {
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr[8] = 8; // bit depth; colour type 0 (greyscale), deflate, no filter method, no interlace
  const raw = Buffer.alloc((width + 1) * height, level);
  for (let row = 0; row < height; row++) raw[row * (width + 1)] = 0; // filter type None
  const signature = Buffer.from([137, 80, 78, 71, 13, 10, 26, 10]);
  return Buffer.concat([signature, pngChunk('IHDR', ihdr), pngChunk('IDAT', deflateSync(raw)), pngChunk('IEND', Buffer.alloc(0))]);
}

const RESIZES = ['stretch', 'center-crop', 'pad'] as const;
const LIMITS = { maxInputPixels: 40_000_000 };
const spec = (resize: InputSpec['resize'], channels: 1 | 3): InputSpec => ({
  height: 28,
  width: 28,
  channels,
  layout: 'NCHW',
  mean: Array.from({ length: channels }, () => 0),
  std: Array.from({ length: channels }, () => 1),
  scale: 1,
  resize,
});

let wide: Buffer;
let tall: Buffer;
let server: TestServer;

before(async () => {
  wide = flatPng(40_000_000, 1, 0);
  tall = flatPng(1, 40_000_000, 0);
  server = await startTestServer(async (models) => {
    await makeTinyCheckpoint(models, { name: 'tiny' });
  });
});
after(() => server.close());

test('the generated PNGs are what they claim, and small', async () => {
  for (const [png, width, height] of [[wide, 40_000_000, 1], [tall, 1, 40_000_000]] as const) {
    const meta = await sharp(png, { limitInputPixels: false }).metadata();
    assert.deepEqual([meta.format, meta.width, meta.height], ['png', width, height]);
    assert.ok(png.length < 200_000, `${png.length} bytes`);
  }
});

test('40,000,000 x 1 and 1 x 40,000,000: IMAGE_ASPECT_RATIO with the dimensions and the limit, in every resize mode', async () => {
  for (const [png, dims] of [[wide, '40000000x1'], [tall, '1x40000000']] as const) {
    for (const resize of RESIZES) {
      for (const channels of [1, 3] as const) {
        await assert.rejects(preprocessImages([png], spec(resize, channels), LIMITS), (e: unknown) => {
          assert.ok(e instanceof ImageError);
          assert.equal(e.code, 'IMAGE_ASPECT_RATIO');
          assert.equal(e.message, `image 0: ${dims} has an aspect ratio of 40000000:1, over the limit of ${MAX_ASPECT_RATIO}:1 (longest side over shortest side)`);
          return true;
        }, `${dims} ${resize} ${channels}`);
      }
    }
  }
});

test('over HTTP: 400 INVALID_IMAGE with our message, never libvips text; the server keeps serving', async () => {
  for (const png of [wide, tall]) {
    const res = await server.app.inject({
      method: 'POST',
      url: '/v1/models/tiny/classify',
      headers: { 'content-type': 'application/json' },
      payload: { images: [png.toString('base64')], mode: 'mean' },
    });
    assert.equal(res.statusCode, 400);
    const body = res.json() as { code: string; message: string };
    assert.equal(body.code, 'INVALID_IMAGE');
    assert.match(body.message, /^image 0: (40000000x1|1x40000000) has an aspect ratio of 40000000:1, over the limit of 1000:1/);
    assert.doesNotMatch(body.message, /reduce|shrink|affine|vips/i);
  }
  const ok = await server.app.inject({
    method: 'POST',
    url: '/v1/models/tiny/classify',
    headers: { 'content-type': 'application/json' },
    payload: { images: [flatPng(1000, 1, 128).toString('base64')], mode: 'mean' },
  });
  assert.equal(ok.statusCode, 200);
});

test('at the limit (1000 x 1, 1 x 1000) every resize mode serves the right pixels; just over it is refused', async () => {
  for (const [width, height] of [[1000, 1], [1, 1000]]) {
    const png = flatPng(width, height, 128);
    for (const channels of [1, 3] as const) {
      for (const resize of ['stretch', 'center-crop'] as const) {
        const out = await preprocessImages([png], spec(resize, channels), LIMITS);
        assert.equal(out.length, 28 * 28 * channels);
        assert.ok(out.every((v) => v === 128), `${width}x${height} ${resize}: every pixel is the image's level`);
      }
      // pad: the whole image shrunk to a one-pixel line through the middle, black around it.
      const padded = await preprocessImages([png], spec('pad', channels), LIMITS);
      const levels = new Set(padded);
      assert.ok(levels.has(0) && [...levels].every((v) => v === 0 || Math.abs(v - 128) <= 2), `${width}x${height} pad: ${[...levels]}`);
    }
  }
  await assert.rejects(preprocessImages([flatPng(1001, 1, 128)], spec('stretch', 1), LIMITS), { code: 'IMAGE_ASPECT_RATIO' });
});
