// The small-PNG decode path (src/image/png.ts): for every PNG it takes, the same pixels as sharp's
// pipeline (the reference, run here with the options src/image/preprocess.ts gives it), over every
// colour type, row filter, input channel count, resize mode and kernel; and null (sharp's turn) for
// every PNG it must not take. The PNGs are encoded by hand here (own filters, own CRC-32, zlib), so
// each of PNG's five row filters is exercised whatever sharp's encoder would choose.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { deflateSync } from 'node:zlib';
import sharp from 'sharp';
import type { InputSpec } from '../../src/format/manifest.ts';
import { decodeSmallPng, FAST_PATH_MAX_PIXELS } from '../../src/image/png.ts';
import { preprocessImages } from '../../src/image/preprocess.ts';

const BIG = 10_000_000;

function crc32(bytes: Buffer): number {
  let crc = ~0;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = (crc >>> 1) ^ (0xedb88320 & -(crc & 1));
  }
  return ~crc >>> 0;
}

function chunk(type: string, data: Buffer, badCrc = false): Buffer {
  const body = Buffer.concat([Buffer.from(type, 'latin1'), data]);
  const out = Buffer.alloc(12 + data.length);
  out.writeUInt32BE(data.length, 0);
  body.copy(out, 4);
  out.writeUInt32BE((crc32(body) + (badCrc ? 1 : 0)) >>> 0, 8 + data.length);
  return out;
}

/** Samples per pixel by colour type; 3 is a palette (one index per pixel). */
const SAMPLES_OF: Record<number, number> = { 0: 1, 2: 3, 3: 1, 4: 2, 6: 4 };

interface PngOptions {
  /** Row filter of row y (0-4). */
  filterOf?: (y: number) => number;
  depth?: number;
  interlace?: number;
  /** Chunks between IHDR and IDAT. */
  extra?: Buffer[];
  /** Split the IDAT data into this many chunks. */
  idatParts?: number;
  trailing?: Buffer;
  /** Row filter bytes replaced by this one after filtering (an unknown filter). */
  filterByte?: number;
}

/** samples: row-major, interleaved, SAMPLES_OF[colourType] per pixel. */
function encodePng(samples: number[], width: number, height: number, colourType: number, o: PngOptions = {}): Buffer {
  const bpp = SAMPLES_OF[colourType];
  const stride = width * bpp;
  const raw = Buffer.alloc(height * (stride + 1));
  const at = (x: number, y: number) => (x < 0 || y < 0 ? 0 : samples[y * stride + x]);
  for (let y = 0; y < height; y++) {
    const filter = o.filterOf?.(y) ?? 0;
    raw[y * (stride + 1)] = o.filterByte ?? filter;
    for (let x = 0; x < stride; x++) {
      const a = at(x - bpp, y);
      const b = at(x, y - 1);
      const c = at(x - bpp, y - 1);
      const p = a + b - c;
      const paeth = Math.abs(p - a) <= Math.abs(p - b) && Math.abs(p - a) <= Math.abs(p - c) ? a : Math.abs(p - b) <= Math.abs(p - c) ? b : c;
      const predictor = [0, a, b, (a + b) >> 1, paeth][filter];
      raw[y * (stride + 1) + 1 + x] = (at(x, y) - predictor + 256) & 0xff;
    }
  }
  const ihdr = Buffer.alloc(13);
  ihdr.writeUInt32BE(width, 0);
  ihdr.writeUInt32BE(height, 4);
  ihdr.set([o.depth ?? 8, colourType, 0, 0, o.interlace ?? 0], 8);
  const compressed = deflateSync(raw);
  const parts = o.idatParts ?? 1;
  const size = Math.ceil(compressed.length / parts);
  const idat = Array.from({ length: parts }, (_, i) => chunk('IDAT', compressed.subarray(i * size, (i + 1) * size)));
  const signature = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
  return Buffer.concat([signature, chunk('IHDR', ihdr), ...(o.extra ?? []), ...idat, chunk('IEND', Buffer.alloc(0)), o.trailing ?? Buffer.alloc(0)]);
}

/** Pseudo-random samples; grey-valued colour pixels (R = G = B) when `grey`, alpha 255. */
function samplesFor(width: number, height: number, colourType: number, grey: boolean, seed = 1): number[] {
  const bpp = SAMPLES_OF[colourType];
  const out: number[] = [];
  let state = seed;
  const next = () => (state = (state * 1103515245 + 12345) % 2147483648) % 256;
  for (let p = 0; p < width * height; p++) {
    const v = next();
    const colours = bpp >= 3 ? [v, grey ? v : next(), grey ? v : next()] : [v];
    out.push(...colours, ...(bpp === 2 || bpp === 4 ? [255] : []));
  }
  return out;
}

function spec(o: Partial<InputSpec>): InputSpec {
  const channels = o.channels ?? 1;
  return { height: 5, width: 7, channels, layout: 'NHWC', resize: 'stretch', scale: 1, mean: Array(channels).fill(0), std: Array(channels).fill(1), ...o };
}

/** What sharp makes of the PNG, with the options of src/image/preprocess.ts. */
async function sharpPixels(png: Buffer, s: InputSpec): Promise<Buffer> {
  const kernel = s.kernel ? { kernel: ({ nearest: 'nearest', bilinear: 'linear', bicubic: 'cubic', lanczos3: 'lanczos3' } as const)[s.kernel] } : {};
  const fit = ({ stretch: 'fill', 'center-crop': 'cover', pad: 'contain' } as const)[s.resize as 'stretch' | 'center-crop' | 'pad'];
  return sharp(png, { failOn: 'error', pages: 1, page: 0 })
    .autoOrient()
    .flatten({ background: { r: 0, g: 0, b: 0, alpha: 1 } })
    .toColourspace(s.channels === 1 ? 'b-w' : 'srgb')
    .resize({ width: s.width, height: s.height, fit, position: 'centre', background: { r: 0, g: 0, b: 0, alpha: 1 }, ...kernel })
    .raw({ depth: 'uchar' })
    .toBuffer();
}

test('every PNG the fast path takes decodes to the pixels sharp gives it: colour types, filters, channels, resize modes, kernels', async () => {
  let compared = 0;
  for (const colourType of [0, 2, 4, 6]) {
    for (const channels of [1, 3] as const) {
      // A 1-channel input takes colour PNGs only when every pixel is grey.
      const grey = channels === 1;
      for (const [width, height] of [[7, 5], [28, 28], [1, 1]]) {
        for (const filter of [0, 1, 2, 3, 4, -1]) {
          const filterOf = filter >= 0 ? () => filter : (y: number) => y % 5;
          const png = encodePng(samplesFor(width, height, colourType, grey, width + filter + 7), width, height, colourType, { filterOf, idatParts: filter === 4 ? 3 : 1 });
          for (const resize of ['stretch', 'center-crop', 'pad'] as const) {
            for (const kernel of [undefined, 'nearest', 'bilinear', 'bicubic', 'lanczos3'] as const) {
              const s = spec({ width, height, channels, resize, ...(kernel ? { kernel } : {}) });
              const fast = decodeSmallPng(png, s, BIG);
              assert.ok(fast, `colour type ${colourType}, ${channels} channel(s), ${width}x${height}, filter ${filter}: taken`);
              assert.deepEqual([...fast], [...(await sharpPixels(png, s))], `colour type ${colourType}, ${channels} ch, ${width}x${height}, filter ${filter}, ${resize}, ${kernel}`);
              compared++;
            }
          }
        }
      }
    }
  }
  assert.equal(compared, 4 * 2 * 3 * 6 * 3 * 5);
});

test('the bundled example PNGs: preprocessImages gives the tensor of sharp\'s pixels, whichever path decodes them', async () => {
  const { readFileSync, readdirSync } = await import('node:fs');
  const fashion = JSON.parse(readFileSync('models/hetxl-fashion-mnist/manifest.json', 'utf8')).input as InputSpec;
  for (const file of readdirSync('docs/examples').filter((f) => f.endsWith('.png'))) {
    const png = readFileSync(`docs/examples/${file}`);
    const s = { ...fashion, layout: 'NHWC' as const, scale: 1, mean: [0], std: [1] };
    const tensor = await preprocessImages([png], s, { maxInputPixels: BIG });
    const reference = await sharp(png).toColourspace('b-w').resize({ width: s.width, height: s.height, fit: 'fill' }).raw().toBuffer();
    assert.deepEqual([...tensor], [...reference], file);
  }
  // The sneaker the HTTP benchmarks send is one the fast path takes.
  assert.ok(decodeSmallPng(readFileSync('docs/examples/sneaker.png'), fashion, BIG));
});

test('null, so that sharp decodes (or refuses) them, for every PNG the fast path must not take', () => {
  const s = spec({});
  const ok = (o: PngOptions = {}, colourType = 0, samples = samplesFor(7, 5, colourType, true)) => encodePng(samples, 7, 5, colourType, o);
  assert.ok(decodeSmallPng(ok(), s, BIG), 'the baseline is taken');
  const inert = chunk('tEXt', Buffer.from('Comment\0hello', 'latin1'));
  assert.ok(decodeSmallPng(ok({ extra: [inert, chunk('pHYs', Buffer.alloc(9))] }), s, BIG), 'tEXt and pHYs change no pixel');
  const notTaken: [string, Buffer, InputSpec?, number?][] = [
    ['not a PNG', Buffer.from('GIF89a'.padEnd(64, '\0'))],
    ['16 bits per sample', ok({ depth: 16 })],
    ['interlaced', ok({ interlace: 1 })],
    ['a palette', ok({ extra: [chunk('PLTE', Buffer.alloc(3 * 256, 9))] }, 3)],
    ['a gAMA chunk', ok({ extra: [chunk('gAMA', Buffer.from([0, 0, 0xb1, 0x8f]))] })],
    ['an iCCP chunk', ok({ extra: [chunk('iCCP', Buffer.from('p\0\0x', 'latin1'))] })],
    ['an eXIf chunk (orientation)', ok({ extra: [chunk('eXIf', Buffer.from('MM\0*', 'latin1'))] })],
    ['an sRGB chunk', ok({ extra: [chunk('sRGB', Buffer.from([0]))] })],
    ['a bad CRC', ok({ extra: [chunk('tEXt', Buffer.from('a\0b', 'latin1'), true)] })],
    ['bytes after IEND', ok({ trailing: Buffer.from([0]) })],
    ['a truncated file', ok().subarray(0, 60)],
    ['another size than the input', ok(), spec({ width: 8 })],
    ['a resize to resizeSize first', ok(), spec({ resize: 'shorter-side-then-center-crop', resizeSize: 6 })],
    ['over the pixel limit', ok(), s, 34],
    ['a colour pixel for a 1-channel input', ok({}, 2, samplesFor(7, 5, 2, false))],
    ['alpha below 255', ok({}, 6, samplesFor(7, 5, 6, true).map((v, i) => (i === 3 ? 254 : v)))],
    ['an unknown row filter', ok({ filterByte: 5 })],
  ];
  for (const [what, png, inputSpec, limit] of notTaken) assert.equal(decodeSmallPng(png, inputSpec ?? s, limit ?? BIG), null, what);
  // Too large for synchronous work: sharp's, on libuv's pool.
  const side = Math.ceil(Math.sqrt(FAST_PATH_MAX_PIXELS)) + 1;
  const large = encodePng(new Array(side * side).fill(7), side, side, 0);
  assert.equal(decodeSmallPng(large, spec({ width: side, height: side }), BIG), null, 'over FAST_PATH_MAX_PIXELS');
});

test('an IDAT stream that inflates beyond the image is not inflated past it (null: sharp refuses it)', () => {
  // A 7 x 5 header over a thousand times its rows of data.
  const png = encodePng(new Array(7 * 5 * 1000).fill(0), 7, 5 * 1000, 0);
  png.writeUInt32BE(5, 20); // IHDR's height...
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29); // ...with its CRC made right again
  assert.ok(png.subarray(12, 16).toString('latin1') === 'IHDR');
  assert.equal(decodeSmallPng(png, spec({}), BIG), null);
});
