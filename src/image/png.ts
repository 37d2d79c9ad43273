// A decode path for the small PNGs most requests to a small model bring (issue #18): an 8-bit,
// non-interlaced PNG already at the model's input size, which sharp would only decode (its
// colourspace conversion and resize are then identities). Decoding it here (inflate, unfilter)
// costs tens of microseconds on the calling thread where sharp's two calls (header, then the
// pipeline on libuv's pool) cost ~0.65 ms of CPU per image on this machine.
//
// Bit-identical to sharp by construction: the fast path takes only the images whose pixels sharp
// leaves as they are, and returns null for everything else, which then goes through sharp
// unchanged. Taken only when
//   - the chunks are IHDR, IDAT..., IEND and ancillary chunks that do not change pixels (pHYs,
//     tEXt, zTXt, iTXt, tIME), every CRC is right and nothing follows IEND (no gAMA, sRGB, iCCP,
//     eXIf: a colour profile or an EXIF orientation is sharp's to apply);
//   - 8 bits per sample, grey, grey + alpha, RGB or RGBA, no interlacing; every alpha is 255
//     (flattening onto black is then an identity);
//   - the image is width x height of the input and the resize is one that leaves such an image
//     as it is (stretch, center-crop, pad; not shorter-side-then-center-crop, which resizes to
//     resizeSize first);
//   - for a 1-channel input every RGB pixel is grey (R = G = B): libvips' b-w of such a pixel is
//     its value, and of any other pixel a conversion through linear light that is sharp's alone;
//   - it is within the pixel limit and at most FAST_PATH_MAX_PIXELS (the work is synchronous).
// test/image/png.test.ts checks the equality against sharp for every such case.
import { inflateSync } from 'node:zlib';
import type { InputSpec } from '../format/manifest.ts';

/** Larger images go to sharp, whose work runs on libuv's pool instead of the calling thread. */
export const FAST_PATH_MAX_PIXELS = 256 * 256;

const SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
/** Ancillary chunks that carry no pixel transformation. */
const INERT_CHUNKS = new Set(['pHYs', 'tEXt', 'zTXt', 'iTXt', 'tIME']);
/** Samples per pixel of PNG colour types 0 (grey), 2 (RGB), 4 (grey + alpha), 6 (RGBA). */
const SAMPLES: Record<number, number> = { 0: 1, 2: 3, 4: 2, 6: 4 };

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

/** CRC-32 of a chunk's type and data (PNG's, ISO 3309). */
function crc32(bytes: Uint8Array): number {
  let c = 0xffffffff;
  for (let i = 0; i < bytes.length; i++) c = CRC_TABLE[(c ^ bytes[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

interface Header {
  width: number;
  height: number;
  samples: number;
}

/** The IHDR and the concatenated IDAT data of a PNG the fast path may take, else null. */
function readChunks(png: Buffer): { header: Header; idat: Buffer } | null {
  if (png.length < SIGNATURE.length + 25 || !png.subarray(0, 8).equals(SIGNATURE)) return null;
  let header: Header | undefined;
  const idat: Buffer[] = [];
  let idatEnded = false;
  for (let at = 8; at + 12 <= png.length; ) {
    const length = png.readUInt32BE(at);
    const end = at + 12 + length;
    if (end > png.length) return null;
    const type = png.toString('latin1', at + 4, at + 8);
    if (crc32(png.subarray(at + 4, at + 8 + length)) !== png.readUInt32BE(at + 8 + length)) return null;
    const data = png.subarray(at + 8, at + 8 + length);
    if (header === undefined) {
      if (type !== 'IHDR' || length !== 13) return null;
      const [depth, colourType, compression, filter, interlace] = data.subarray(8, 13);
      if (depth !== 8 || SAMPLES[colourType] === undefined || compression !== 0 || filter !== 0 || interlace !== 0) return null;
      header = { width: data.readUInt32BE(0), height: data.readUInt32BE(4), samples: SAMPLES[colourType] };
    } else if (type === 'IDAT') {
      if (idatEnded) return null;
      idat.push(data);
    } else if (type === 'IEND') {
      return end === png.length && idat.length > 0 ? { header, idat: Buffer.concat(idat) } : null;
    } else if (INERT_CHUNKS.has(type)) {
      if (idat.length > 0) idatEnded = true;
    } else {
      return null;
    }
    at = end;
  }
  return null;
}

/** Undoes PNG's per-row filters (types 0-4) in place of a fresh buffer; null on an unknown filter. */
function unfilter(raw: Buffer, header: Header): Uint8Array | null {
  const { width, height, samples: bpp } = header;
  const stride = width * bpp;
  const out = new Uint8Array(height * stride);
  for (let y = 0; y < height; y++) {
    const filter = raw[y * (stride + 1)];
    const src = y * (stride + 1) + 1;
    const row = y * stride;
    const up = row - stride;
    for (let x = 0; x < stride; x++) {
      const a = x >= bpp ? out[row + x - bpp] : 0;
      const b = y > 0 ? out[up + x] : 0;
      let predictor: number;
      switch (filter) {
        case 0:
          predictor = 0;
          break;
        case 1:
          predictor = a;
          break;
        case 2:
          predictor = b;
          break;
        case 3:
          predictor = (a + b) >> 1;
          break;
        case 4: {
          const c = x >= bpp && y > 0 ? out[up + x - bpp] : 0;
          const p = a + b - c;
          const pa = Math.abs(p - a);
          const pb = Math.abs(p - b);
          const pc = Math.abs(p - c);
          predictor = pa <= pb && pa <= pc ? a : pb <= pc ? b : c;
          break;
        }
        default:
          return null;
      }
      out[row + x] = (raw[src + x] + predictor) & 0xff;
    }
  }
  return out;
}

/** Decoded samples -> `channels` per pixel (grey expanded, alpha dropped), or null when sharp must convert. */
function toChannels(samples: Uint8Array, header: Header, channels: number): Buffer | null {
  const pixels = header.width * header.height;
  const bpp = header.samples;
  const colour = bpp >= 3;
  const out = Buffer.allocUnsafe(pixels * channels);
  for (let p = 0; p < pixels; p++) {
    const i = p * bpp;
    if ((bpp === 2 || bpp === 4) && samples[i + bpp - 1] !== 255) return null;
    if (channels === 3) {
      out[p * 3] = samples[i];
      out[p * 3 + 1] = samples[colour ? i + 1 : i];
      out[p * 3 + 2] = samples[colour ? i + 2 : i];
    } else {
      if (colour && (samples[i] !== samples[i + 1] || samples[i] !== samples[i + 2])) return null;
      out[p] = samples[i];
    }
  }
  return out;
}

/**
 * The H x W x C 8-bit pixels (interleaved) sharp would produce for `png` under `spec`, when the
 * image is one the fast path takes (see the top of this file); null otherwise.
 */
export function decodeSmallPng(png: Buffer, spec: InputSpec, maxInputPixels: number): Buffer | null {
  if (spec.resize === 'shorter-side-then-center-crop' || (spec.channels !== 1 && spec.channels !== 3)) return null;
  const chunks = readChunks(png);
  if (!chunks) return null;
  const { header, idat } = chunks;
  const pixels = header.width * header.height;
  if (header.width !== spec.width || header.height !== spec.height || pixels > maxInputPixels || pixels > FAST_PATH_MAX_PIXELS) return null;
  const expected = header.height * (1 + header.width * header.samples);
  let raw: Buffer;
  try {
    // Bounded: a compressed stream that inflates beyond the image's size throws here.
    raw = inflateSync(idat, { maxOutputLength: expected });
  } catch {
    return null;
  }
  if (raw.length !== expected) return null;
  const samples = unfilter(raw, header);
  return samples && toChannels(samples, header, spec.channels);
}
