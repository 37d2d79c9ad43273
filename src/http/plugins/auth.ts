// Credentials: the API keys of the inference routes (API_KEYS, optional) and the bearer token of
// the model repository routes (MODEL_CONTROL_TOKEN). Written by hand rather than with
// @fastify/bearer-auth: that plugin sends its 401 itself, in its own body shape and outside
// src/http/errors.ts (so /v1 and /v2 would not keep their error shapes), and reads the
// Authorization header only, where API keys may also come as X-API-Key.
//
// The checks run as preParsing hooks: after every onRequest hook (the rate limit counts a request
// with a wrong key too, by its address) and before any body is read.
import { createHash, timingSafeEqual } from 'node:crypto';
import type { FastifyInstance, FastifyRequest, preParsingAsyncHookHandler } from 'fastify';
import { HttpError } from '../errors.ts';

export const API_KEY_HEADER = 'x-api-key';

/** SHA-256: digests of equal length for timingSafeEqual, whatever the lengths of the secrets. */
const digest = (secret: string) => createHash('sha256').update(secret, 'utf8').digest();

/** Secrets compared in constant time. */
export class SecretSet {
  private readonly digests: Buffer[];

  constructor(secrets: readonly string[]) {
    this.digests = secrets.map(digest);
  }

  /** The index of the secret equal to `candidate`, or -1; every secret is compared, matched or not. */
  indexOf(candidate: string): number {
    const presented = digest(candidate);
    let found = -1;
    for (const [i, known] of this.digests.entries()) {
      if (timingSafeEqual(known, presented) && found < 0) found = i;
    }
    return found;
  }
}

/** A comma-separated list (API_KEYS, validated by src/config.ts) -> its entries. */
export function parseSecrets(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter((s) => s !== '');
}

/** The token of `Authorization: Bearer <token>` (the scheme in any case, RFC 7235), or undefined. */
export function bearerToken(request: FastifyRequest): string | undefined {
  return /^Bearer +(\S+) *$/i.exec(request.headers.authorization ?? '')?.[1];
}

/** The 401, with the challenge RFC 6750 asks for; error="invalid_token" when a credential was sent. */
function unauthorized(realm: string, message: string, sent: boolean): HttpError {
  return new HttpError(401, 'UNAUTHORIZED', message, { 'www-authenticate': `Bearer realm="${realm}"${sent ? ', error="invalid_token"' : ''}` });
}

/** The hook of the model repository routes: `Authorization: Bearer <MODEL_CONTROL_TOKEN>`. */
export function requireControlToken(token: string): preParsingAsyncHookHandler {
  const tokens = new SecretSet([token]);
  return async (request, _reply, payload) => {
    const presented = bearerToken(request);
    if (presented === undefined) throw unauthorized('model-control', 'model control needs Authorization: Bearer <token> (MODEL_CONTROL_TOKEN)', false);
    if (tokens.indexOf(presented) < 0) throw unauthorized('model-control', 'the model control token is not valid', true);
    return payload;
  };
}

/** The API keys, and which one each request presents (looked up once per request). */
export class ApiKeys {
  private readonly keys: SecretSet;
  private readonly matched = new WeakMap<FastifyRequest, number>();

  constructor(keys: readonly string[]) {
    this.keys = new SecretSet(keys);
  }

  /** The credential sent: the bearer token, else X-API-Key. */
  static presented(request: FastifyRequest): string | undefined {
    const header = request.headers[API_KEY_HEADER];
    return bearerToken(request) ?? (typeof header === 'string' ? header : undefined);
  }

  /** 'key-<n>' (its place in API_KEYS) of the valid key the request presents, else undefined. */
  idOf(request: FastifyRequest): string | undefined {
    let index = this.matched.get(request);
    if (index === undefined) {
      const presented = ApiKeys.presented(request);
      index = presented === undefined ? -1 : this.keys.indexOf(presented);
      this.matched.set(request, index);
    }
    return index < 0 ? undefined : `key-${index}`;
  }
}

/**
 * The inference routes: every POST on a model, /v1/models/:name/... (classify, predictive,
 * zero-shot) and /v2/models/:name/... (infer). Metadata, health, metrics and docs stay open.
 */
export function isInferenceRoute(method: string | string[], url: string): boolean {
  const methods = Array.isArray(method) ? method : [method];
  return methods.includes('POST') && /^\/v[12]\/models\/:name\//.test(url);
}

/**
 * With API_KEYS set, the inference routes registered after this call require one of the keys;
 * returns the keys (the rate limit counts per key), or undefined when API_KEYS is empty.
 */
export function registerApiKeys(app: FastifyInstance, apiKeys: string): ApiKeys | undefined {
  const list = parseSecrets(apiKeys);
  if (list.length === 0) return undefined;
  const keys = new ApiKeys(list);
  const check: preParsingAsyncHookHandler = async (request, _reply, payload) => {
    if (keys.idOf(request) !== undefined) return payload;
    const sent = ApiKeys.presented(request) !== undefined;
    throw unauthorized('inference', sent ? 'the API key is not valid' : 'this route needs an API key: Authorization: Bearer <key> or X-API-Key: <key>', sent);
  };
  app.addHook('onRoute', (route) => {
    if (!isInferenceRoute(route.method, route.url)) return;
    // First of the route's own preParsing hooks, should it have any.
    const own = route.preParsing === undefined ? [] : Array.isArray(route.preParsing) ? route.preParsing : [route.preParsing];
    route.preParsing = [check, ...own];
  });
  return keys;
}
