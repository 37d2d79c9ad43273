// Optional rate limiting (@fastify/rate-limit): RATE_LIMIT_MAX requests per RATE_LIMIT_WINDOW_MS
// per client, off when RATE_LIMIT_MAX is 0 (the default). A client is its API key when it sends a
// valid one (API_KEYS), else its address as the socket sees it (behind a proxy, the proxy's: set
// the limit there). Over the limit: 429 RATE_LIMITED with Retry-After, in the error shape of the
// route (/v1 or /v2), from src/http/errors.ts. Health checks and /metrics are never limited: a
// probe or a scrape must not fail because clients are busy.
import rateLimit from '@fastify/rate-limit';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { Config } from '../../config.ts';
import { HttpError } from '../errors.ts';
import type { ApiKeys } from './auth.ts';
import { METRICS_PATH } from './metrics.ts';

/** Health routes (tagged 'health': /healthz, /readyz, /v2/health/*) and the metrics scrape. */
function isExempt(request: FastifyRequest): boolean {
  const { url, schema } = request.routeOptions;
  return url === METRICS_PATH || (schema?.tags ?? []).includes('health');
}

/** Registers the limit for the routes registered after it; nothing when RATE_LIMIT_MAX is 0. */
export async function registerRateLimit(app: FastifyInstance, config: Pick<Config, 'rateLimitMax' | 'rateLimitWindowMs'>, apiKeys: ApiKeys | undefined): Promise<void> {
  if (config.rateLimitMax === 0) return;
  await app.register(rateLimit, {
    max: config.rateLimitMax,
    timeWindow: config.rateLimitWindowMs,
    // onRequest: before the API-key check (preParsing), so that guessing keys is limited too.
    hook: 'onRequest',
    keyGenerator: (request) => apiKeys?.idOf(request) ?? `address-${request.ip}`,
    allowList: (request) => isExempt(request),
    // The plugin has set Retry-After and the X-RateLimit-* headers; it throws what this returns.
    errorResponseBuilder: (_request, context) =>
      new HttpError(429, 'RATE_LIMITED', `more than ${context.max} requests in ${config.rateLimitWindowMs} ms (RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_MS): retry in ${context.after}`),
  });
}
