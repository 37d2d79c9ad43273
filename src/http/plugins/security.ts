// Security headers on every response (helmet's). The CSP admits Swagger UI at /docs (its scripts
// and styles are files from 'self', its icons data: URLs, downloads blob: URLs, and it fetches
// /docs/json) and a same-origin web page; no upgrade-insecure-requests, which would break /docs
// served over plain HTTP on anything but localhost.
//
// Helmet's headers depend on its options only (no nonces, no per-request directives), so they are
// computed once, by running helmet's own middleware against a recorder, and set by one hook.
// @fastify/helmet, used before, built helmet's middleware again for every request (parsing the
// CSP directives each time) in two onRequest hooks: ~30 us of the HTTP thread per request here.
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

const OPTIONS: HelmetOptions = {
  contentSecurityPolicy: {
    useDefaults: false,
    directives: {
      defaultSrc: ["'self'"],
      baseUri: ["'self'"],
      scriptSrc: ["'self'"],
      scriptSrcAttr: ["'none'"],
      styleSrc: ["'self'"],
      imgSrc: ["'self'", 'data:', 'blob:'],
      fontSrc: ["'self'", 'data:'],
      connectSrc: ["'self'"],
      objectSrc: ["'none'"],
      formAction: ["'self'"],
      frameAncestors: ["'self'"],
    },
  },
};

/** The headers helmet sets with OPTIONS, in its order. */
export function securityHeaders(): [string, string][] {
  const headers: [string, string][] = [];
  const recorder = {
    setHeader: (name: string, value: unknown) => headers.push([name, String(value)]),
    // X-Powered-By, which Node never sets.
    removeHeader: () => {},
  };
  helmet(OPTIONS)({} as IncomingMessage, recorder as unknown as ServerResponse, (error?: unknown) => {
    if (error) throw error;
  });
  return headers;
}

export async function registerSecurityHeaders(app: FastifyInstance): Promise<void> {
  const headers = securityHeaders();
  app.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
}
