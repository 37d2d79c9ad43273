// Reading a request's images and options, JSON (base64) or multipart, within the configured limits.
import type { IncomingMessage } from 'node:http';
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { HttpError, badRequest, bodyTooLarge, clip } from './errors.ts';

type LimitConfig = Pick<Config, 'bodyLimitBytes' | 'maxImagesPerRequest' | 'maxZeroShotLabels' | 'maxZeroShotTemplates' | 'maxLabelLength'>;

export interface InputLimits {
  /** The whole request body, multipart framing and fields included. */
  bodyLimitBytes: number;
  maxImages: number;
  /** One multipart field (the largest is a JSON array of every label in one `labels` field). */
  maxFieldBytes: number;
}

/** The input limits of the configuration. */
export function inputLimitsOf(config: LimitConfig): InputLimits {
  return {
    bodyLimitBytes: config.bodyLimitBytes,
    maxImages: config.maxImagesPerRequest,
    // 8 bytes a character covers UTF-8 and JSON's \uXXXX escapes of a label list in one field.
    maxFieldBytes: Math.max(1024, 8 * config.maxLabelLength * Math.max(config.maxZeroShotLabels, config.maxZeroShotTemplates)),
  };
}

/** @fastify/multipart's (busboy's) counts and sizes; the body as a whole is counted by readParts. */
export function multipartLimits(config: LimitConfig) {
  // Zero-shot labels and templates may come as one field each (repeated fields).
  const fields = 16 + config.maxZeroShotLabels + config.maxZeroShotTemplates;
  return {
    fileSize: config.bodyLimitBytes,
    files: config.maxImagesPerRequest,
    fields,
    fieldSize: inputLimitsOf(config).maxFieldBytes,
    parts: config.maxImagesPerRequest + fields,
  };
}

export interface RequestInput {
  images: Buffer[];
  /** Option fields from the JSON body or multipart fields (strings for multipart, lists of strings when repeated). */
  fields: Record<string, unknown>;
}

// Buffer.from(s, 'base64') silently skips invalid characters, so a typo would reach the decoder
// as a different image; check the alphabet and padding first.
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=|[A-Za-z0-9+/]{2,3})?$/;
const BASE64URL = /^[A-Za-z0-9_-]*$/;
const DATA_URL = /^data:[\w.+-]+\/[\w.+-]+(?:;[\w=.+-]+)*;base64,/;

export function decodeBase64Image(text: string, index: number): Buffer {
  const payload = text.replace(DATA_URL, '').replace(/\s+/g, '');
  if (payload.length === 0) throw badRequest('INVALID_BASE64', `image ${index}: empty base64 string`);
  if (BASE64.test(payload)) return Buffer.from(payload, 'base64');
  if (BASE64URL.test(payload)) return Buffer.from(payload, 'base64url');
  throw badRequest('INVALID_BASE64', `image ${index}: not valid base64`);
}

/** Images from `body[key]` (a string or an array of strings) of a JSON request. */
function fromJson(body: unknown, key: 'images' | 'image', limits: InputLimits): RequestInput {
  if (body === null || typeof body !== 'object') throw badRequest('EMPTY_BODY', 'request body must be a JSON object');
  const { [key]: raw, ...fields } = body as Record<string, unknown>;
  const list = typeof raw === 'string' ? [raw] : raw;
  if (!Array.isArray(list) || list.length === 0) throw badRequest('NO_IMAGES', `JSON body needs '${key}' with at least one base64 image`);
  if (list.length > limits.maxImages) throw tooManyImages(list.length, limits.maxImages);
  return { images: list.map((s, i) => decodeBase64Image(String(s), i)), fields };
}

async function fromMultipart(request: FastifyRequest, limits: InputLimits): Promise<RequestInput> {
  try {
    return await readParts(request, limits);
  } catch (error) {
    // Our own refusals and @fastify/multipart's limit errors (FST_*) carry their meaning; anything
    // else busboy or the stream throws ("Unexpected end of form", "Premature close") means the
    // body itself is broken.
    const code = (error as { code?: unknown }).code;
    if (error instanceof HttpError || (typeof code === 'string' && code.startsWith('FST_'))) throw error;
    throw badRequest('BAD_MULTIPART', `malformed multipart body: ${(error as Error).message}`);
  }
}

/**
 * Counts the body's bytes as they arrive; `race(p)` is p, or the 413 as soon as the count passes
 * `limit`. busboy only limits each part, so without this a body of many fields, each under the
 * field limit, would be read in full (hundreds of MB) before anything answered.
 */
function watchBodySize(raw: IncomingMessage, limit: number) {
  let received = 0;
  let onData: (chunk: Buffer) => void = () => {};
  const exceeded = new Promise<never>((_, reject) => {
    onData = (chunk) => {
      received += chunk.length;
      if (received <= limit) return;
      raw.off('data', onData);
      // Stop feeding busboy: the rest of the body is not read (the 413 closes the connection).
      raw.unpipe();
      reject(bodyTooLarge(limit));
    };
  });
  // Every await of readParts races this promise; the no-op handler only keeps a rejection that
  // lands between two of them from being reported as unhandled.
  exceeded.catch(() => {});
  raw.on('data', onData);
  return {
    race: <T>(pending: Promise<T>) => Promise.race([pending, exceeded]),
    stop: () => raw.off('data', onData),
  };
}

async function readParts(request: FastifyRequest, limits: InputLimits): Promise<RequestInput> {
  const contentLength = Number(request.headers['content-length']);
  if (contentLength > limits.bodyLimitBytes) throw bodyTooLarge(limits.bodyLimitBytes);
  const images: Buffer[] = [];
  const fields: Record<string, unknown> = {};
  // The first next() runs the plugin's handler, which pipes the request into busboy; the counter
  // is attached in the same tick, before any data flows, so it sees every byte.
  const parts = request.parts();
  const first = parts.next();
  const body = watchBodySize(request.raw, limits.bodyLimitBytes);
  try {
    for (let next = await body.race(first); !next.done; next = await body.race(parts.next())) {
      const part = next.value;
      if (part.type === 'file') {
        if (images.length >= limits.maxImages) throw tooManyImages(images.length + 1, limits.maxImages);
        images.push(await body.race(part.toBuffer()));
      } else {
        // busboy cuts a field at fieldSize and carries on; a cut label list must not pass as a shorter one.
        if (part.valueTruncated) {
          throw new HttpError(
            413,
            'FIELD_TOO_LARGE',
            `multipart field '${clip(part.fieldname)}' is over the limit of ${limits.maxFieldBytes} bytes (8 x MAX_LABEL_LENGTH x the larger of MAX_ZERO_SHOT_LABELS and MAX_ZERO_SHOT_TEMPLATES)`,
          );
        }
        // A repeated field (labels=a, labels=b) becomes a list, in order.
        const previous = fields[part.fieldname];
        fields[part.fieldname] = previous === undefined ? part.value : [...(Array.isArray(previous) ? previous : [previous]), part.value];
      }
    }
  } catch (error) {
    // Refused mid-body: stop parsing what is left (the error handler closes the connection).
    request.raw.unpipe();
    throw error;
  } finally {
    body.stop();
  }
  if (images.length === 0) throw badRequest('NO_IMAGES', 'multipart body has no file part');
  return { images, fields };
}

function tooManyImages(count: number, max: number): HttpError {
  return badRequest('TOO_MANY_IMAGES', `${count > max ? 'more than ' + max : count} images in one request; the limit is ${max} (MAX_IMAGES_PER_REQUEST)`);
}

export async function readInput(request: FastifyRequest, key: 'images' | 'image', limits: InputLimits): Promise<RequestInput> {
  if (request.isMultipart()) return fromMultipart(request, limits);
  if (request.body === undefined || request.body === null) throw badRequest('EMPTY_BODY', 'request body is empty');
  return fromJson(request.body, key, limits);
}
