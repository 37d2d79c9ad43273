// Error responses: Fastify's JSON error shape { statusCode, code, error, message } with codes of
// our own that clients can rely on. Everything a client can get wrong maps to a 4xx here.
import type { FastifyError, FastifyInstance } from 'fastify';
import { STATUS_CODES } from 'node:http';
import { isImageError } from '../image/preprocess.ts';
import { isAbortError } from './cancellation.ts';

export class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

export const badRequest = (code: string, message: string) => new HttpError(400, code, message);

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

/** nginx's "client closed request": logged, never seen by the client, which has gone. */
const CLIENT_CLOSED = 499;

function mapError(error: FastifyError | HttpError | Error): { status: number; code: string; message: string } {
  if (error instanceof HttpError) return { status: error.statusCode, code: error.code, message: error.message };
  if (isAbortError(error)) return { status: CLIENT_CLOSED, code: 'CLIENT_CLOSED', message: 'the client closed the connection; the computation was stopped' };
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
  if (known) return { status: known.status, code: known.code, message: fe.message };
  const status = fe.statusCode ?? 500;
  if (status >= 400 && status < 500) return { status, code: fe.code ?? 'BAD_REQUEST', message: fe.message };
  return { status: 500, code: 'INTERNAL', message: 'internal server error' };
}

export function installErrorHandlers(app: FastifyInstance): void {
  app.setErrorHandler((error, request, reply) => {
    const { status, code, message } = mapError(error as FastifyError);
    if (status >= 500) request.log.error({ err: error }, 'request failed');
    else request.log.info({ code, message }, 'request refused');
    void reply.status(status).send({ statusCode: status, code, error: STATUS_CODES[status] ?? 'Error', message });
  });
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ statusCode: 404, code: 'NOT_FOUND', error: 'Not Found', message: `no route ${request.method} ${request.url}` });
  });
}
