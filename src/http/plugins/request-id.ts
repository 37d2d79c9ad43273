// Request ids: a client's X-Request-Id (or a proxy's) is kept when it is a reasonable token,
// else one is generated. Fastify logs it as reqId on every line of the request, and every
// response echoes it, errors and 404s included, so a client's report can be found in the logs.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance } from 'fastify';

export const REQUEST_ID_HEADER = 'x-request-id';

/** What a client may send as its id: short, and nothing that could forge a log line or a header. */
const ACCEPTED_ID = /^[A-Za-z0-9._-]{1,128}$/;

/** Fastify's genReqId: the client's id when acceptable, else a random UUID. */
export function requestIdOf(request: IncomingMessage): string {
  const sent = request.headers[REQUEST_ID_HEADER];
  return typeof sent === 'string' && ACCEPTED_ID.test(sent) ? sent : randomUUID();
}

/**
 * The Fastify options that take ids from requestIdOf (requestIdHeader false: Fastify would
 * otherwise take the header as it is, unchecked); Fastify logs them as reqId.
 */
export const requestIdOptions = { requestIdHeader: false, genReqId: requestIdOf } as const;

/** Echoes the id on every response: set in onRequest, so the error and 404 handlers keep it. */
export function echoRequestId(app: FastifyInstance): void {
  app.addHook('onRequest', async (request, reply) => {
    void reply.header(REQUEST_ID_HEADER, request.id);
  });
}
