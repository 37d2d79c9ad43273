// Cross-origin requests from browsers (@fastify/cors), off unless CORS_ORIGINS names origins.
// Off means not registered at all: no CORS headers, and an OPTIONS preflight gets the JSON 404
// of any unknown route, so a browser page of another origin cannot read the API's answers.
import cors from '@fastify/cors';
import type { FastifyInstance } from 'fastify';
import { REQUEST_ID_HEADER } from './request-id.ts';

/** CORS_ORIGINS (validated by src/config.ts) -> '*', the list of origins, or undefined when off. */
export function parseCorsOrigins(value: string): '*' | string[] | undefined {
  const origins = value.split(',').map((o) => o.trim()).filter((o) => o !== '');
  if (origins.length === 0) return undefined;
  return origins.includes('*') ? '*' : origins;
}

export async function registerCors(app: FastifyInstance, corsOrigins: string): Promise<void> {
  const origin = parseCorsOrigins(corsOrigins);
  if (origin === undefined) return;
  await app.register(cors, {
    // A listed origin is echoed back (with Vary: Origin); any other gets no CORS headers.
    origin,
    // The API's methods; images go as multipart or JSON bodies, both preflighted.
    methods: ['GET', 'HEAD', 'POST'],
    // Lets a page read the id to quote when it reports a failed request.
    exposedHeaders: [REQUEST_ID_HEADER],
    // Browsers may cache a preflight for 10 minutes instead of repeating it per request.
    maxAge: 600,
  });
}
