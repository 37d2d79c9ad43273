// Encoded image bytes -> float32 tensor for the backbone, as described by the manifest's InputSpec.
//
// Per image, with sharp (libvips), unless src/image/png.ts decodes it to the same pixels itself:
//   1. refuse empty buffers; read the header only (cheap) to learn the format and the pixel count,
//      so formats we do not accept, oversized images and extreme aspect ratios are refused before
//      any pixel is decoded;
//   2. decode with failOn 'error' (truncated or corrupt pixel data throws instead of being half-decoded)
//      and limitInputPixels (a second guard, in case the header and the decoder disagree);
//      only the first frame/page of animated or multi-page images is used;
//   3. orient by EXIF, flatten alpha onto black, convert to sRGB (3 channels; greyscale inputs are
//      expanded) or to b-w (1 channel: libvips luminance, Rec.709 weights on linear light),
//      resize per spec.resize and spec.kernel (src/image/resize.ts), output 8-bit interleaved (HWC) pixels;
//   4. x * scale, then (x - mean[c]) / std[c], written in the spec's layout into the batch tensor.
//
// Alpha goes onto black because 'pad' also fills with black: a transparent region and a padded border
// then look the same to the model. 16-bit inputs (PNG, TIFF) are reduced to 8 bits by libvips during the
// colourspace conversion, so every input ends up on the same 0..255 scale that `scale` expects.
import sharp from 'sharp';
import type { InputSpec } from '../format/manifest.ts';
import { ImageError } from './errors.ts';
import { normalisationTables, writeNormalised } from './normalise.ts';
import { decodeSmallPng } from './png.ts';
import { BLACK, resizeSteps } from './resize.ts';

export { ImageError, IMAGE_ERROR_CODES, isImageError, type ImageErrorCode } from './errors.ts';

export interface ImageLimits {
  /** Largest width x height accepted (of the first frame), checked before decoding. */
  maxInputPixels: number;
  /** Checked before each image is decoded: once aborted, no further image is started. */
  signal?: AbortSignal;
  /** How many images of a batch are decoded at once (default 4, the size of libuv's default thread pool,
   *  which is where sharp runs its work: more would only queue there while holding memory). */
  concurrency?: number;
}

/** Formats we accept, in the words used in error messages. */
export const SUPPORTED_FORMATS_TEXT = 'jpeg, png, webp, gif, tiff, avif';

const DEFAULT_CONCURRENCY = 4;

/**
 * Longest side over shortest side. Beyond some ratio libvips cannot resize at all (a 40,000,000 x 1
 * image to 28 x 28 needs a 1.4 million-fold shrink, over reduceh's range; center-crop would first
 * scale it to 1.1 billion pixels wide, over libvips' coordinate range) and fails with its internal
 * text. At 1000:1 every resize mode stays far inside those ranges (1000 x 1, 1 x 1000 and
 * 200,000 x 200 resize in every mode to 28 x 28 and to 1024 x 1024), and no photograph is anywhere
 * near it. Fixed, not an environment variable: it protects libvips, it is not a policy.
 */
export const MAX_ASPECT_RATIO = 1000;

function assertLimits(limits: ImageLimits): void {
  // sharp treats 0 as "no limit"; we never want that by accident.
  if (!Number.isSafeInteger(limits.maxInputPixels) || limits.maxInputPixels < 1) {
    throw new Error(`image limits: maxInputPixels must be a positive integer, got ${limits.maxInputPixels}`);
  }
  if (limits.concurrency !== undefined && (!Number.isSafeInteger(limits.concurrency) || limits.concurrency < 1)) {
    throw new Error(`image limits: concurrency must be a positive integer, got ${limits.concurrency}`);
  }
}

/** sharp messages can be multi-line and long; clients get one short line. */
function sharpDetail(err: unknown): string {
  const message = err instanceof Error ? err.message : String(err);
  const line = message.replace(/\s+/g, ' ').trim();
  return line.length > 200 ? `${line.slice(0, 200)}...` : line;
}

function isPixelLimitError(err: unknown): boolean {
  return err instanceof Error && /exceeds pixel limit/i.test(err.message);
}

/** Name the format the way clients know it, or null when we do not accept it. */
function acceptedFormat(meta: sharp.Metadata): string | null {
  switch (meta.format) {
    case 'jpeg':
    case 'png':
    case 'webp':
    case 'gif':
    case 'tiff':
      return meta.format;
    case 'heif':
      // The HEIF container holds both AVIF (AV1) and HEIC (HEVC); only AVIF is decodable by sharp's
      // prebuilt libvips, so HEIC is refused here with a clear message rather than a decoder error.
      return meta.compression === 'av1' ? 'avif' : null;
    default:
      // Notably svg (rendered, not decoded: a different risk surface) and anything a system libvips adds.
      return null;
  }
}

function formatName(meta: sharp.Metadata): string {
  return meta.format === 'heif' ? (meta.compression === 'hevc' ? 'heic' : 'heif') : String(meta.format);
}

/**
 * Decode one image to H x W x C 8-bit pixels (interleaved), already oriented, flattened, converted
 * and resized. Every failure caused by the image bytes becomes an ImageError.
 */
async function decodeToPixels(image: Buffer, spec: InputSpec, limits: ImageLimits, index: number): Promise<Buffer> {
  if (image.length === 0) throw new ImageError('IMAGE_EMPTY', index, 'empty (0 bytes)');
  // A small PNG already at the input size: the same pixels as below, without sharp (src/image/png.ts).
  const small = decodeSmallPng(image, spec, limits.maxInputPixels);
  if (small) return small;

  // Header only: no pixel is decoded here, so no limit is needed; we check the limit ourselves to be able
  // to say how many pixels the image has (sharp's own error does not). Note that sharp reads the header
  // of a truncated file happily: truncation is only detected by the decode below.
  let meta: sharp.Metadata;
  try {
    meta = await sharp(image, { limitInputPixels: false, failOn: 'error' }).metadata();
  } catch (err) {
    const detail = /unsupported image format/i.test(sharpDetail(err))
      ? `not a supported image (${SUPPORTED_FORMATS_TEXT})`
      : `could not read the image header (${sharpDetail(err)})`;
    throw new ImageError('IMAGE_UNDECODABLE', index, detail, { cause: err });
  }

  const format = acceptedFormat(meta);
  if (format === null) {
    throw new ImageError('IMAGE_UNDECODABLE', index, `${formatName(meta)} images are not supported (${SUPPORTED_FORMATS_TEXT})`);
  }
  if (!(meta.width > 0 && meta.height > 0)) {
    throw new ImageError('IMAGE_UNDECODABLE', index, `${format} header has no valid size`);
  }
  // For animated/multi-page images sharp reports the size of one frame, which is what we decode.
  const pixels = meta.width * meta.height;
  if (pixels > limits.maxInputPixels) {
    throw new ImageError(
      'IMAGE_TOO_LARGE',
      index,
      `${pixels} pixels (${meta.width}x${meta.height}) is over the limit of ${limits.maxInputPixels}`,
    );
  }
  const ratio = Math.max(meta.width, meta.height) / Math.min(meta.width, meta.height);
  if (ratio > MAX_ASPECT_RATIO) {
    throw new ImageError(
      'IMAGE_ASPECT_RATIO',
      index,
      `${meta.width}x${meta.height} has an aspect ratio of ${Math.round(ratio)}:1, over the limit of ${MAX_ASPECT_RATIO}:1 (longest side over shortest side)`,
    );
  }

  // The size after EXIF orientation: autoOrient() runs before the resize.
  const steps = resizeSteps(spec, meta.autoOrient.width, meta.autoOrient.height);
  let decoded: { data: Buffer; info: sharp.OutputInfo };
  try {
    const resized = sharp(image, {
      // 'error' refuses truncated/corrupt pixel data. ('warning', sharp's default, also refuses
      // harmless warnings such as extraneous bytes in a JPEG, which real cameras produce.)
      failOn: 'error',
      limitInputPixels: limits.maxInputPixels,
      pages: 1, // first frame of animated GIF/WebP, first page of multi-page TIFF
      page: 0,
    })
      .autoOrient() // EXIF orientation (same as .rotate() with no angle)
      .flatten({ background: BLACK }) // no-op without alpha
      .toColourspace(spec.channels === 1 ? 'b-w' : 'srgb')
      .resize(steps.resize);
    // extract after resize crops the resized image (sharp orders the two by call order).
    decoded = await (steps.extract ? resized.extract(steps.extract) : resized).raw({ depth: 'uchar' }).toBuffer({ resolveWithObject: true });
  } catch (err) {
    if (isPixelLimitError(err)) {
      throw new ImageError('IMAGE_TOO_LARGE', index, `over the limit of ${limits.maxInputPixels} pixels`, { cause: err });
    }
    throw new ImageError('IMAGE_UNDECODABLE', index, `could not decode ${format} data (${sharpDetail(err)})`, { cause: err });
  }

  const { data, info } = decoded;
  const expected = spec.height * spec.width * spec.channels;
  if (info.width !== spec.width || info.height !== spec.height || info.channels !== spec.channels || data.length !== expected) {
    // Would be a bug in this pipeline, not in the image: a plain Error, so the client is not blamed.
    throw new Error(
      `image preprocessing produced ${info.width}x${info.height}x${info.channels} (${data.length} bytes), ` +
        `expected ${spec.width}x${spec.height}x${spec.channels}`,
    );
  }
  return data;
}

/**
 * Run fn(0..count-1) with at most `limit` in flight, in index order. After the first failure no new
 * index is started; those in flight finish, then the failure with the lowest index is thrown. Since
 * indices start in order, that is the lowest failing index of the whole batch: the error is deterministic.
 */
async function forEachBounded(count: number, limit: number, fn: (index: number) => Promise<void>): Promise<void> {
  let next = 0;
  const failures: { index: number; err: unknown }[] = [];
  const worker = async (): Promise<void> => {
    while (failures.length === 0 && next < count) {
      const index = next++;
      try {
        await fn(index);
      } catch (err) {
        failures.push({ index, err });
      }
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, count) }, worker));
  if (failures.length > 0) {
    failures.sort((a, b) => a.index - b.index);
    throw failures[0].err;
  }
}

/**
 * Preprocess a batch: the float32 tensor [B, C, H, W] (NCHW) or [B, H, W, C] (NHWC). Throws
 * ImageError (with the index of the first bad image) for bad input, a plain Error for bad limits
 * (the spec is the checkpoint loader's to check). An empty batch gives an empty tensor.
 * Memory: the output tensor plus, per image in flight, its decoded pixels (bounded by maxInputPixels).
 */
export async function preprocessImages(images: Buffer[], spec: InputSpec, limits: ImageLimits): Promise<Float32Array> {
  assertLimits(limits);
  const perImage = spec.channels * spec.height * spec.width;
  const out = new Float32Array(images.length * perImage);
  const tables = normalisationTables(spec);
  await forEachBounded(images.length, limits.concurrency ?? DEFAULT_CONCURRENCY, async (index) => {
    // A client that has gone away needs none of its images: stop before decoding the next one.
    limits.signal?.throwIfAborted();
    const pixels = await decodeToPixels(images[index], spec, limits, index);
    writeNormalised(pixels, spec, tables, out, index * perImage);
  });
  return out;
}
