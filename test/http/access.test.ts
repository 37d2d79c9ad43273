// Access to the inference routes (issue #13 item 5): optional API keys (API_KEYS), as a bearer
// token or X-API-Key, and optional rate limiting (RATE_LIMIT_MAX per RATE_LIMIT_WINDOW_MS, per
// key or per address), with health, metrics and docs left open, and every refusal in the error
// shape of its route (/v1 or the protocol's under /v2).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { isInferenceRoute, SecretSet } from '../../src/http/plugins/auth.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, testPng, type TestServer } from '../helpers/app.ts';

const KEY_ONE = 'key-one-0123456789abcdef';
const KEY_TWO = 'key-two-0123456789abcdef';

const withTiny = async (dir: string) => void (await makeTinyCheckpoint(dir, { name: 'tiny' }));

let png: string;
before(async () => {
  png = (await testPng(4, 4, 2)).toString('base64');
});

/** The four inference requests, each valid for the model 'tiny' (zero-shot: the right refusal of a classifier). */
const inferenceRequests = () => [
  { url: '/v1/models/tiny/classify', payload: { images: [png], mode: 'mean' }, ok: 200 },
  { url: '/v1/models/tiny/predictive', payload: { image: png, mode: 'mean' }, ok: 200 },
  { url: '/v1/models/tiny/zero-shot', payload: { images: [png], labels: ['a'] }, ok: 400 },
  { url: '/v2/models/tiny/infer', payload: { inputs: [{ name: 'images', datatype: 'BYTES', shape: [1], data: [png] }], parameters: { mode: 'mean' } }, ok: 200 },
];

describe('API keys', () => {
  let server: TestServer;
  before(async () => {
    server = await startTestServer(withTiny, { apiKeys: ` ${KEY_ONE} ,${KEY_TWO}` });
  });
  after(() => server.close());

  test('an inference request without a key, or with a wrong one, gets 401 and a challenge, in its route shape', async () => {
    const wrong = [{ authorization: 'Bearer key-three-0123456789abcdef' }, { 'x-api-key': `${KEY_ONE}x` }, { authorization: `Basic ${KEY_ONE}` }];
    for (const { url, payload } of inferenceRequests()) {
      const v2 = url.startsWith('/v2');
      const missing = await server.app.inject({ method: 'POST', url, payload });
      assert.equal(missing.statusCode, 401, url);
      assert.equal(missing.headers['www-authenticate'], 'Bearer realm="inference"');
      assert.equal(missing.json().code, 'UNAUTHORIZED');
      assert.match(v2 ? missing.json().error : missing.json().message, /needs an API key: Authorization: Bearer <key> or X-API-Key: <key>/);
      if (!v2) assert.equal(missing.json().statusCode, 401);
      else assert.deepEqual(Object.keys(missing.json()).sort(), ['code', 'error']);
      for (const headers of wrong) {
        const res = await server.app.inject({ method: 'POST', url, payload, headers });
        assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers)}`);
        // 'Basic ...' is no bearer token: it counts as no key sent.
        const sent = !headers.authorization?.startsWith('Basic');
        assert.equal(res.headers['www-authenticate'], `Bearer realm="inference"${sent ? ', error="invalid_token"' : ''}`);
      }
    }
  });

  test('either key, as a bearer token or as X-API-Key, is taken', async () => {
    for (const { url, payload, ok } of inferenceRequests()) {
      for (const headers of [{ authorization: `Bearer ${KEY_ONE}` }, { authorization: `bearer ${KEY_TWO}` }, { 'x-api-key': KEY_TWO }]) {
        const res = await server.app.inject({ method: 'POST', url, payload, headers });
        assert.equal(res.statusCode, ok, `${url} ${JSON.stringify(headers)}: ${res.body}`);
      }
    }
  });

  test('refused before the body is read: a body of the wrong type gets 401, not 415', async () => {
    const res = await server.app.inject({ method: 'POST', url: '/v1/models/tiny/classify', payload: 'x', headers: { 'content-type': 'text/plain' } });
    assert.equal(res.statusCode, 401);
  });

  test('health, metrics, docs and model metadata stay open', async () => {
    for (const url of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/metrics', '/docs/json', '/v1/models', '/v1/models/tiny', '/v1/models/tiny/labels', '/v2', '/v2/models/tiny', '/v2/models/tiny/ready']) {
      assert.equal((await server.app.inject({ url })).statusCode, 200, url);
    }
  });

  test('which routes are inference routes: every POST on a model', () => {
    for (const url of ['/v1/models/:name/classify', '/v1/models/:name/predictive', '/v1/models/:name/zero-shot', '/v2/models/:name/infer']) {
      assert.ok(isInferenceRoute('POST', url), url);
      assert.ok(isInferenceRoute(['POST', 'PUT'], url), url);
      assert.ok(!isInferenceRoute('GET', url), url);
    }
    for (const url of ['/v1/models/:name', '/v2/models/:name', '/v2/repository/models/:name/load', '/v2/repository/index', '/healthz', '/']) {
      assert.ok(!isInferenceRoute('POST', url), url);
    }
  });

  test('keys compare by value only, whatever their lengths', () => {
    const keys = new SecretSet([KEY_ONE, KEY_TWO]);
    assert.equal(keys.indexOf(KEY_ONE), 0);
    assert.equal(keys.indexOf(KEY_TWO), 1);
    for (const other of ['', 'k', KEY_ONE.slice(0, -1), `${KEY_ONE}${KEY_ONE}`, KEY_ONE.toUpperCase()]) assert.equal(keys.indexOf(other), -1, other);
  });
});

describe('without API keys', () => {
  test('inference routes are open; no rate limit by default (no 429, no rate-limit headers)', async () => {
    const server = await startTestServer(withTiny);
    try {
      const [classify] = inferenceRequests();
      for (let i = 0; i < 5; i++) {
        const res = await server.app.inject({ method: 'POST', url: classify.url, payload: classify.payload });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-ratelimit-limit'], undefined);
      }
    } finally {
      await server.close();
    }
  });
});

describe('rate limit', () => {
  const MAX = 3;

  test('per address: over RATE_LIMIT_MAX, 429 with Retry-After in the route shape; health and metrics exempt', async () => {
    const server = await startTestServer(withTiny, { rateLimitMax: MAX, rateLimitWindowMs: 60_000 });
    try {
      for (let i = 0; i < MAX; i++) {
        const res = await server.app.inject({ url: '/v1/models/tiny' });
        assert.equal(res.statusCode, 200);
        assert.equal(res.headers['x-ratelimit-limit'], String(MAX));
        assert.equal(res.headers['x-ratelimit-remaining'], String(MAX - 1 - i));
      }
      const v1 = await server.app.inject({ url: '/v1/models/tiny' });
      assert.equal(v1.statusCode, 429);
      const retryAfter = Number(v1.headers['retry-after']);
      assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, String(v1.headers['retry-after']));
      assert.equal(v1.json().statusCode, 429);
      assert.equal(v1.json().code, 'RATE_LIMITED');
      assert.match(v1.json().message, /^more than 3 requests in 60000 ms \(RATE_LIMIT_MAX, RATE_LIMIT_WINDOW_MS\): retry in /);
      const v2 = await server.app.inject({ url: '/v2/models/tiny' });
      assert.equal(v2.statusCode, 429);
      assert.ok(v2.headers['retry-after']);
      assert.deepEqual(Object.keys(v2.json()).sort(), ['code', 'error']);
      assert.equal(v2.json().code, 'RATE_LIMITED');
      for (const url of ['/healthz', '/readyz', '/v2/health/live', '/v2/health/ready', '/metrics']) {
        for (let i = 0; i < MAX + 2; i++) assert.equal((await server.app.inject({ url })).statusCode, 200, url);
      }
      // Another address has its own budget.
      assert.equal((await server.app.inject({ url: '/v1/models/tiny', remoteAddress: '10.0.0.7' })).statusCode, 200);
    } finally {
      await server.close();
    }
  });

  test('with API keys: per key; requests with a wrong key count against their address', async () => {
    const server = await startTestServer(withTiny, { rateLimitMax: MAX, apiKeys: `${KEY_ONE},${KEY_TWO}` });
    try {
      const [classify] = inferenceRequests();
      const send = (headers: Record<string, string>) => server.app.inject({ method: 'POST', url: classify.url, payload: classify.payload, headers });
      for (let i = 0; i < MAX; i++) assert.equal((await send({ authorization: `Bearer ${KEY_ONE}` })).statusCode, 200);
      assert.equal((await send({ 'x-api-key': KEY_ONE })).statusCode, 429);
      // The same address, another key: its own budget.
      assert.equal((await send({ authorization: `Bearer ${KEY_TWO}` })).statusCode, 200);
      // Guessing keys: 401s until the address's budget is spent, then 429s.
      const guesses = [];
      for (let i = 0; i < MAX + 2; i++) guesses.push((await send({ authorization: `Bearer guess-${i}-0123456789abcdef` })).statusCode);
      assert.deepEqual(guesses, [401, 401, 401, 429, 429]);
    } finally {
      await server.close();
    }
  });
});
