// Reading a request's images and options, JSON (base64) or multipart, within the configured limits.
import type { FastifyRequest } from 'fastify';
import type { Config } from '../config.ts';
import { HttpError, badRequest } from './errors.ts';

export interface InputLimits {
  bodyLimitBytes: number;
  maxImages: number;
}

/** The input limits of the configuration. */
export function inputLimitsOf(config: Pick<Config, 'bodyLimitBytes' | 'maxImagesPerRequest'>): InputLimits {
  return { bodyLimitBytes: config.bodyLimitBytes, maxImages: config.maxImagesPerRequest };
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

async function readParts(request: FastifyRequest, limits: InputLimits): Promise<RequestInput> {
  const images: Buffer[] = [];
  const fields: Record<string, unknown> = {};
  let total = 0;
  for await (const part of request.parts()) {
    if (part.type === 'file') {
      if (images.length >= limits.maxImages) {
        part.file.resume();
        throw tooManyImages(images.length + 1, limits.maxImages);
      }
      const data = await part.toBuffer();
      total += data.length;
      if (total > limits.bodyLimitBytes) {
        throw new HttpError(413, 'BODY_TOO_LARGE', `images total over the limit of ${limits.bodyLimitBytes} bytes`);
      }
      images.push(data);
    } else {
      // A repeated field (labels=a, labels=b) becomes a list, in order.
      const previous = fields[part.fieldname];
      fields[part.fieldname] = previous === undefined ? part.value : [...(Array.isArray(previous) ? previous : [previous]), part.value];
    }
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
