// Error responses: Fastify's JSON error shape { statusCode, code, error, message } with codes of
// our own that clients can rely on. Everything a client can get wrong maps to a 4xx here, the
// domain errors of the served models (src/pipelines/errors.ts) included: the one place where
// they meet HTTP.
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { isImageError, ModelUnloadedError, PromptError, QueueFullError } from '../pipelines/errors.ts';
import { RepositoryError } from '../pipelines/registry.ts';
import { DeadlineExceededError, isAbortError } from './cancellation.ts';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
    /** Response headers that belong to the error: WWW-Authenticate of a 401, Retry-After of a 429. */
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);

/** The 413 of a body over BODY_LIMIT_BYTES, for JSON and multipart alike. */
export const bodyTooLarge = (limit: number) =>
  new HttpError(413, 'BODY_TOO_LARGE', `request body over the limit of ${limit} bytes (BODY_LIMIT_BYTES)`);

const CLIP_LENGTH = 100;

/**
 * Client-supplied text (a URL, a field value) cut to 100 characters for an error message: a
 * message names what was wrong, it does not reflect kilobytes of the request back.
 */
export function clip(text: string, max = CLIP_LENGTH): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}

/** Fastify's and its plugins' own error codes -> ours. */
const FASTIFY_CODES: Record<string, { status: number; code: string }> = {
  FST_ERR_CTP_EMPTY_JSON_BODY: { status: 400, code: 'EMPTY_BODY' },
  FST_ERR_CTP_INVALID_JSON_BODY: { status: 400, code: 'INVALID_JSON' },
  FST_ERR_CTP_BODY_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE' },
  FST_ERR_CTP_INVALID_MEDIA_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: { status: 400, code: 'BAD_CONTENT_LENGTH' },
  FST_REQ_FILE_TOO_LARGE: { status: 413, code: 'BODY_TOO_LARGE' },
  FST_FILES_LIMIT: { status: 400, code: 'TOO_MANY_IMAGES' },
  FST_PARTS_LIMIT: { status: 400, code: 'TOO_MANY_PARTS' },
  FST_FIELDS_LIMIT: { status: 400, code: 'TOO_MANY_FIELDS' },
  FST_PROTO_VIOLATION: { status: 400, code: 'BAD_MULTIPART' },
  FST_INVALID_MULTIPART_CONTENT_TYPE: { status: 415, code: 'UNSUPPORTED_MEDIA_TYPE' },
};

/** A load or unload request the registry refused -> its status and code. */
const REPOSITORY_STATUS: Record<RepositoryError['reason'], { status: number; code: string }> = {
  'invalid-name': { status: 400, code: 'INVALID_MODEL_NAME' },
  'not-found': { status: 404, code: 'MODEL_NOT_FOUND' },
  'load-failed': { status: 400, code: 'MODEL_LOAD_FAILED' },
};

/** nginx's "client closed request": logged, never seen by the client, which has gone. */
const CLIENT_CLOSED = 499;

interface MappedError {
  status: number;
  code: string;
  message: string;
  /** Response headers that go with it (WWW-Authenticate, Retry-After). */
  headers?: Record<string, string>;
}

function mapError(error: FastifyError | HttpError | Error, request: FastifyRequest): MappedError {
  if (error instanceof HttpError) return { status: error.statusCode, code: error.code, message: error.message, headers: error.headers };
  if (error instanceof QueueFullError) return { status: 503, code: 'QUEUE_FULL', message: error.message, headers: { 'retry-after': String(error.retryAfterSeconds) } };
  if (error instanceof DeadlineExceededError) return { status: 504, code: 'DEADLINE_EXCEEDED', message: error.message };
  if (error instanceof ModelUnloadedError) return { status: 503, code: 'MODEL_UNLOADED', message: error.message, headers: { 'retry-after': '1' } };
  if (isAbortError(error)) return { status: CLIENT_CLOSED, code: 'CLIENT_CLOSED', message: 'the client closed the connection; the computation was stopped' };
  if (error instanceof PromptError) return { status: 400, code: error.code, message: error.message };
  if (error instanceof RepositoryError) return { ...REPOSITORY_STATUS[error.reason], message: error.message };
  if (isImageError(error)) {
    if (error.code === 'IMAGE_TOO_LARGE') return { status: 413, code: 'IMAGE_TOO_LARGE', message: error.message };
    return { status: 400, code: error.code === 'IMAGE_EMPTY' ? 'IMAGE_EMPTY' : 'INVALID_IMAGE', message: error.message };
  }
  const fe = error as FastifyError;
  if (fe.validation) return { status: 400, code: 'INVALID_REQUEST', message: fe.message };
  const known = fe.code ? FASTIFY_CODES[fe.code] : undefined;
  if (known?.code === 'UNSUPPORTED_MEDIA_TYPE') {
    return { status: known.status, code: known.code, message: 'unsupported content type: send images as multipart/form-data file parts or as application/json with base64 strings' };
  }
  if (known?.code === 'BODY_TOO_LARGE') {
    const { message } = bodyTooLarge(request.routeOptions.bodyLimit ?? request.server.initialConfig.bodyLimit ?? 0);
    return { status: known.status, code: known.code, message };
  }
  if (known) return { status: known.status, code: known.code, message: fe.message };
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, code: fe.code ?? 'BAD_REQUEST', message: clip(fe.message, 2 * CLIP_LENGTH) };
  return { status: 500, code: 'INTERNAL', message: 'internal server error' };
}

/** Fastify's router errors (frameworkErrors) -> ours; their own messages quote the whole URL. */
const ROUTER_CODES: Record<string, { code: string; message: (maxParamLength: number) => string }> = {
  FST_ERR_MAX_PARAM_LENGTH: { code: 'URL_TOO_LONG', message: (max) => `a path parameter is longer than the limit of ${max} characters` },
  FST_ERR_BAD_URL: { code: 'BAD_URL', message: () => 'the URL is not validly percent-encoded' },
};

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { status, code, message, headers = {} } = mapError(error as FastifyError, request);
    // A refusal we chose (a failed or loading model's 503, a full queue, a deadline's 504) is the
    // client's news, not a server fault: one warning line, no stack. Only unexpected errors (500)
    // are logged as errors.
    if (status === 500) request.log.error({ err: error }, 'request failed');
    else if (status >= 500) request.log.warn({ code, message }, 'request refused');
    else request.log.info({ code, message }, 'request refused');
    // Answered before the body has arrived (a body over the limit, a refusal mid-upload): close the
    // connection instead of letting Node read and discard the rest of it, gigabytes perhaps.
    if (request.raw.complete === false) void reply.header('connection', 'close');
    for (const [name, value] of Object.entries(headers)) void reply.header(name, value);
    void reply.status(status).send({ statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no route ${request.method} ${clip(request.url)}` });
  });
}

/**
 * The project's error handler (above) decides status, code and message and logs; this reply hands
 * it the real reply's status and headers and turns its body into the Open Inference Protocol's
 * error object `{ error, code }`, so that both shapes come from the one mapping.
 */
function protocolReply(reply: FastifyReply): FastifyReply {
  const proxy = {
    status(code: number) {
      void reply.status(code);
      return proxy;
    },
    header(name: string, value: string) {
      void reply.header(name, value);
      return proxy;
    },
    send(body: { code: string; message: string }) {
      return reply.send({ error: body.message, code: body.code });
    },
  };
  return proxy as unknown as FastifyReply;
}

/** Errors of the routes of `app` (a plugin's encapsulated instance under /v2) in the protocol's shape. */
export function installProtocolErrorHandler(app: FastifyInstance): void {
  const projectErrorHandler = app.errorHandler;
  app.setErrorHandler(function (error: FastifyError, request, reply) {
    return projectErrorHandler.call(this, error, request, protocolReply(reply));
  });
}

/**
 * Fastify's `frameworkErrors` option: a bad URL or an over-long path parameter is answered before
 * any route (or helmet's hooks) runs, so this reply sets nosniff itself.
 */
export function answerRouterError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode ?? 400;
  const known = error.code ? ROUTER_CODES[error.code] : undefined;
  const code = known?.code ?? 'BAD_REQUEST';
  const what = known?.message(request.server.initialConfig.maxParamLength ?? 100) ?? 'the URL cannot be routed';
  const message = `${what}: ${clip(request.url)}`;
  request.log.info({ code, message }, 'request refused');
  // The router answers before any hook runs: the headers the hooks would add are set here.
  void reply
    .status(status)
    .header('x-content-type-options', 'nosniff')
    .header('x-request-id', request.id)
    .send({ statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message });
}
