// The operations edge of the HTTP layer (issue #13, items 3 and 5): Prometheus metrics at
// /metrics, X-Request-Id taken or generated, echoed and logged, and CORS off unless configured.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { rm } from 'node:fs/promises';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig } from '../../src/config.ts';
import { parseCorsOrigins } from '../../src/http/plugins/cors.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, type TestServer } from '../helpers/app.ts';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** The samples of a Prometheus text exposition: `name{labels}` -> value. */
function samples(text: string): Map<string, number> {
  const map = new Map<string, number>();
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue;
    const at = line.lastIndexOf(' ');
    map.set(line.slice(0, at), Number(line.slice(at + 1)));
  }
  return map;
}

/** A sample's key as prom-client writes it: labels in the order they were declared. */
const key = (name: string, labels: Record<string, string>) =>
  `${name}{${Object.entries(labels).map(([k, v]) => `${k}="${v}"`).join(',')}}`;

let server: TestServer;
before(async () => {
  // One ready model and one that fails to load (its head file removed).
  server = await startTestServer(async (dir) => {
    await makeTinyCheckpoint(dir, { name: 'tiny' });
    const broken = await makeTinyCheckpoint(dir, { name: 'broken' });
    await rm(path.join(broken, 'head.safetensors'));
  });
});
after(() => server.close());

const get = (url: string, headers: Record<string, string> = {}) => server.app.inject({ url, headers });

describe('metrics', () => {
  test('requests by route pattern, known model and status; /metrics itself not counted', async () => {
    const before = samples((await get('/metrics')).body);
    await get('/healthz');
    await get('/healthz');
    await get('/v1/models/tiny');
    await get('/v1/models/no-such-model-7f3a');
    await get('/v1/models/no-such-model-9c2e/labels');
    await get('/nowhere/at/all');
    const res = await get('/metrics');
    assert.equal(res.statusCode, 200);
    assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
    const after = samples(res.body);
    const delta = (name: string, labels: Record<string, string>) => (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0);
    const expected: [Record<string, string>, number][] = [
      [{ method: 'GET', route: '/healthz', model: '', status_code: '200' }, 2],
      [{ method: 'GET', route: '/v1/models/:name', model: 'tiny', status_code: '200' }, 1],
      [{ method: 'GET', route: '/v1/models/:name', model: 'unknown', status_code: '404' }, 1],
      [{ method: 'GET', route: '/v1/models/:name/labels', model: 'unknown', status_code: '404' }, 1],
      [{ method: 'GET', route: 'unmatched', model: '', status_code: '404' }, 1],
    ];
    for (const [labels, count] of expected) {
      assert.equal(delta('http_requests_total', labels), count, JSON.stringify(labels));
      assert.equal(delta('http_request_duration_seconds_count', labels), count, JSON.stringify(labels));
      // Every request falls in the +Inf bucket; the sum of durations is positive.
      assert.equal(delta('http_request_duration_seconds_bucket', { le: '+Inf', ...labels }), count);
      assert.ok(delta('http_request_duration_seconds_sum', labels) > 0);
    }
    // Names a client made up never become label values: the series stay bounded.
    assert.doesNotMatch(res.body, /no-such-model|nowhere/);
    assert.doesNotMatch(res.body, /route="\/metrics"/);
  });

  test("the models' load status, and the count of failed ones", async () => {
    const metrics = samples((await get('/metrics')).body);
    for (const [model, ready] of [['tiny', 'ready'], ['broken', 'failed']]) {
      for (const status of ['loading', 'ready', 'failed']) {
        assert.equal(metrics.get(key('hetxl_model_status', { model, status })), status === ready ? 1 : 0, `${model} ${status}`);
      }
    }
    assert.equal(metrics.get('hetxl_models_failed'), 1);
    // One failed load so far, at start; the counter names the model.
    assert.equal(metrics.get(key('hetxl_model_load_failures_total', { model: 'broken' })), 1);
    assert.equal(metrics.get(key('hetxl_model_load_failures_total', { model: 'tiny' })), undefined);
  });

  test('process defaults and event-loop lag are exported', async () => {
    const names = new Set([...samples((await get('/metrics')).body).keys()].map((k) => k.replace(/\{.*$/, '')));
    for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds', 'nodejs_eventloop_lag_p99_seconds']) {
      assert.ok(names.has(name), name);
    }
  });

  test('each app counts its own requests: two apps in one process do not collide', async () => {
    const other = await startTestServer(async () => {});
    try {
      await other.app.inject({ url: '/healthz' });
      const labels = { method: 'GET', route: '/healthz', model: '', status_code: '200' };
      const count = samples((await other.app.inject({ url: '/metrics' })).body).get(key('http_requests_total', labels));
      assert.equal(count, 1);
      assert.ok((samples((await get('/metrics')).body).get(key('http_requests_total', labels)) ?? 0) >= 2);
    } finally {
      await other.close();
    }
  });
});

describe('X-Request-Id', () => {
  test('generated when absent: a fresh UUID per request, echoed', async () => {
    const [a, b] = [await get('/healthz'), await get('/healthz')];
    assert.match(String(a.headers['x-request-id']), UUID);
    assert.match(String(b.headers['x-request-id']), UUID);
    assert.notEqual(a.headers['x-request-id'], b.headers['x-request-id']);
  });

  test("a client's reasonable id is kept and echoed, on 200s, 404s and other errors alike", async () => {
    const id = 'client-42_retry.1';
    assert.equal((await get('/healthz', { 'x-request-id': id })).headers['x-request-id'], id);
    const notFound = await get('/v1/nothing', { 'x-request-id': id });
    assert.equal(notFound.statusCode, 404);
    assert.equal(notFound.headers['x-request-id'], id);
    const refused = await server.app.inject({ method: 'POST', url: '/v1/models/tiny/classify', payload: 'x', headers: { 'content-type': 'text/plain', 'x-request-id': id } });
    assert.equal(refused.statusCode, 415);
    assert.equal(refused.headers['x-request-id'], id);
    assert.equal((await get('/v1/models/broken', { 'x-request-id': 'x'.repeat(128) })).headers['x-request-id'], 'x'.repeat(128));
  });

  test('an id that is too long or holds other characters is replaced by a generated one', async () => {
    for (const bad of ['x'.repeat(129), 'has space', 'semi;colon', 'quote"', 'new%0Aline', 'ünïcode']) {
      const res = await get('/healthz', { 'x-request-id': bad });
      assert.equal(res.statusCode, 200);
      assert.match(String(res.headers['x-request-id']), UUID, bad);
    }
  });

  test('the id is logged as reqId on the request lines', async () => {
    const lines: { reqId?: string; msg?: string }[] = [];
    const stream = new Writable({
      write(chunk, _encoding, done) {
        for (const line of String(chunk).split('\n')) if (line) lines.push(JSON.parse(line));
        done();
      },
    });
    const app = await buildApp(loadConfig({}, { modelsDir: server.modelsDir, ortThreads: 1 }), { logger: { level: 'info', stream } });
    try {
      await app.inject({ url: '/v1/nothing', headers: { 'x-request-id': 'trace-me-1' } });
      const mine = lines.filter((l) => l.reqId === 'trace-me-1').map((l) => l.msg);
      assert.ok(mine.includes('incoming request') && mine.includes('request completed'), JSON.stringify(mine));
    } finally {
      await app.close();
    }
  });
});

describe('CORS', () => {
  test('off by default: no CORS headers, and a preflight is an unknown route', async () => {
    const res = await get('/healthz', { origin: 'https://a.example' });
    assert.equal(res.headers['access-control-allow-origin'], undefined);
    const preflight = await server.app.inject({ method: 'OPTIONS', url: '/v1/models/tiny/classify', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } });
    assert.equal(preflight.statusCode, 404);
    assert.equal(preflight.json().code, 'NOT_FOUND');
  });

  test('CORS_ORIGINS lists the origins allowed; others get no CORS headers', async () => {
    const cors = await startTestServer(async () => {}, { corsOrigins: 'https://a.example, http://localhost:3000' });
    try {
      const allowed = await cors.app.inject({ url: '/healthz', headers: { origin: 'http://localhost:3000' } });
      assert.equal(allowed.headers['access-control-allow-origin'], 'http://localhost:3000');
      assert.match(String(allowed.headers.vary), /Origin/);
      assert.equal(allowed.headers['access-control-expose-headers'], 'x-request-id');
      const other = await cors.app.inject({ url: '/healthz', headers: { origin: 'https://evil.example' } });
      assert.equal(other.statusCode, 200);
      assert.equal(other.headers['access-control-allow-origin'], undefined);
      const preflight = await cors.app.inject({ method: 'OPTIONS', url: '/v1/models/x/classify', headers: { origin: 'https://a.example', 'access-control-request-method': 'POST' } });
      assert.equal(preflight.statusCode, 204);
      assert.equal(preflight.headers['access-control-allow-origin'], 'https://a.example');
      assert.equal(preflight.headers['access-control-allow-methods'], 'GET, HEAD, POST');
    } finally {
      await cors.close();
    }
  });

  test("CORS_ORIGINS='*' allows any origin", async () => {
    const cors = await startTestServer(async () => {}, { corsOrigins: '*' });
    try {
      assert.equal((await cors.app.inject({ url: '/healthz', headers: { origin: 'https://b.example' } })).headers['access-control-allow-origin'], '*');
    } finally {
      await cors.close();
    }
  });

  test('CORS_ORIGINS is validated at start: origins without a path, or * alone', () => {
    assert.equal(parseCorsOrigins(loadConfig({}).corsOrigins), undefined);
    assert.equal(parseCorsOrigins(loadConfig({ CORS_ORIGINS: '*' }).corsOrigins), '*');
    assert.deepEqual(parseCorsOrigins(loadConfig({ CORS_ORIGINS: 'https://a.example,http://[::1]:8080' }).corsOrigins), ['https://a.example', 'http://[::1]:8080']);
    for (const bad of ['https://a.example/', 'https://a.example/app', 'a.example', 'ftp://a.example', '*,https://a.example', 'https://a.example,,https://b.example']) {
      assert.throws(() => loadConfig({ CORS_ORIGINS: bad }), (e: unknown) => e instanceof ConfigError && e.message.includes(`CORS_ORIGINS=${JSON.stringify(bad)}`), bad);
    }
  });
});
