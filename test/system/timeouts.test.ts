// Connection timeouts and the bounded shutdown drain (issue #17, item 4), over real sockets:
// `inject` has no connection to stall or to keep alive. Timeouts are set to a few hundred ms;
// each wait is bounded by a generous deadline that is a failure, never a measured duration.
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { buildApp } from '../../src/app.ts';
import { ConfigError, loadConfig, type Config } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import { closeGracefully } from '../../src/shutdown.ts';
import { effectiveHeadersTimeout } from '../../src/http/timeouts.ts';

const DEADLINE_MS = 15_000;
const SHORT_MS = 300;
const dirs: string[] = [];
const apps: App[] = [];

after(async () => {
  for (const app of apps) await app.close();
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

interface Started {
  app: App;
  port: number;
  /** Requests that have reached Fastify (its onRequest hook), by URL. */
  seen: string[];
}

/** An app over an empty MODELS_DIR on 127.0.0.1:0, with a /test/slow route that answers after ?ms. */
async function start(overrides: Partial<Config>): Promise<Started> {
  const modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-timeouts-'));
  dirs.push(modelsDir);
  const app = await buildApp(loadConfig({}, { modelsDir, logLevel: 'silent', ...overrides }));
  apps.push(app);
  const seen: string[] = [];
  app.addHook('onRequest', async (request) => {
    seen.push(request.url);
  });
  app.get('/test/slow', async (request) => {
    await sleep(Number((request.query as { ms: string }).ms));
    return { slept: true };
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, port: (app.server.address() as net.AddressInfo).port, seen };
}

/** A raw connection: what the server sent, and a promise of its end (rejected past the deadline). */
function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  const closed = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`the server did not close the connection within ${DEADLINE_MS} ms`)), DEADLINE_MS);
    // A reset after the server's answer is a close too.
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve();
    });
  });
  return { socket, closed, received: () => received };
}

async function until(condition: () => boolean, what: string): Promise<void> {
  for (let waited = 0; !condition(); waited += 10) {
    if (waited > DEADLINE_MS) assert.fail(`timed out waiting for ${what}`);
    await sleep(10);
  }
}

/** Headers of a JSON POST announcing 1000 bytes, and half of that body: then nothing. */
function stalledUpload(socket: net.Socket): void {
  socket.write('POST /v1/models/none/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
  socket.write(`{"images": ["${'A'.repeat(485)}`);
}

test('stalled uploads get a 408 REQUEST_TIMEOUT and are closed; the server keeps serving', async () => {
  const { app, port, seen } = await start({ requestTimeoutMs: SHORT_MS, headersTimeoutMs: SHORT_MS });
  const STALLED = 50;
  const clients = Array.from({ length: STALLED }, () => connect(port));
  for (const client of clients) stalledUpload(client.socket);
  await Promise.all(clients.map((client) => client.closed));
  assert.equal(seen.filter((url) => url === '/v1/models/none/classify').length, STALLED, 'the requests had reached Fastify');
  for (const client of clients) {
    const [head, body] = client.received().split('\r\n\r\n');
    assert.match(head, /^HTTP\/1\.1 408 /);
    const error = JSON.parse(body);
    assert.equal(error.statusCode, 408);
    assert.equal(error.code, 'REQUEST_TIMEOUT');
    assert.match(error.message, new RegExp(`${SHORT_MS} ms \\(REQUEST_TIMEOUT_MS\\)`));
  }
  const health = await fetch(`http://127.0.0.1:${port}/healthz`);
  assert.equal(health.status, 200);
  // Only the fetch above may still be connected (keep-alive): none of the stalled ones is.
  const open = await new Promise<number>((resolve, reject) => app.server.getConnections((e, n) => (e ? reject(e) : resolve(n))));
  assert.ok(open <= 1, `${open} connections still open`);
});

test('headers that never end are cut off by the headers timeout, long before the request timeout', async () => {
  const { port } = await start({ requestTimeoutMs: 600_000, headersTimeoutMs: SHORT_MS });
  const client = connect(port);
  client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ');
  await client.closed;
  assert.match(client.received(), /^HTTP\/1\.1 408 [^]*"code":"REQUEST_TIMEOUT"[^]*HEADERS_TIMEOUT_MS/);
});

test('the request timeout does not cut a handler that works longer than it (an MC computation)', async () => {
  const { port } = await start({ requestTimeoutMs: SHORT_MS, headersTimeoutMs: SHORT_MS });
  // Five request timeouts of silence after a complete request: an inactivity timeout would kill it.
  const response = await fetch(`http://127.0.0.1:${port}/test/slow?ms=${5 * SHORT_MS}`);
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { slept: true });
});

test('an idle keep-alive connection is closed after the keep-alive timeout', async () => {
  const { port } = await start({ keepAliveTimeoutMs: SHORT_MS });
  const client = connect(port);
  client.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: keep-alive\r\n\r\n');
  await until(() => client.received().includes('"status":"ok"'), 'the /healthz answer');
  assert.match(client.received(), /^HTTP\/1\.1 200 [^]*keep-alive: timeout=0/i);
  // The client now sends nothing and never closes: the close comes from the server.
  await client.closed;
  assert.equal(client.received().match(/HTTP\/1\.1/g)?.length, 1, 'one response, nothing after it');
});

test('shutdown with a stalled upload open finishes once the drain time has passed', async () => {
  // The request timeout is 10 minutes: only the drain can end this upload within the deadline.
  const { app, port, seen } = await start({ requestTimeoutMs: 600_000, headersTimeoutMs: 600_000 });
  const client = connect(port);
  stalledUpload(client.socket);
  await until(() => seen.length === 1, 'the stalled request to reach Fastify');
  const outcome = await Promise.race([
    closeGracefully(app, SHORT_MS),
    // Unreferenced, so the pending deadline does not hold the test process open.
    sleep(DEADLINE_MS, 'still closing', { ref: false }),
  ]);
  assert.equal(outcome, 'forced');
  await client.closed;
  assert.equal(app.server.listening, false);
});

test('shutdown lets an in-flight request finish within the drain time, and accepts no new ones', async () => {
  const { app, port, seen } = await start({});
  const inFlight = fetch(`http://127.0.0.1:${port}/test/slow?ms=${2 * SHORT_MS}`);
  await until(() => seen.length === 1, 'the slow request to reach Fastify');
  const closing = closeGracefully(app, DEADLINE_MS);
  const response = await inFlight;
  assert.equal(response.status, 200);
  assert.deepEqual(await response.json(), { slept: true });
  assert.equal(await closing, 'drained');
  await assert.rejects(fetch(`http://127.0.0.1:${port}/healthz`), /fetch failed/);
});

test('timeout variables are validated, and the headers timeout never exceeds the request timeout', () => {
  assert.throws(() => loadConfig({ REQUEST_TIMEOUT_MS: 'soon' }), (e: unknown) => e instanceof ConfigError && /REQUEST_TIMEOUT_MS="soon"/.test(e.message));
  assert.throws(() => loadConfig({ KEEP_ALIVE_TIMEOUT_MS: '0' }), (e: unknown) => e instanceof ConfigError && /KEEP_ALIVE_TIMEOUT_MS/.test(e.message));
  const config = loadConfig({ SHUTDOWN_DRAIN_TIMEOUT_MS: '0', REQUEST_TIMEOUT_MS: '5000', HEADERS_TIMEOUT_MS: '9000' });
  assert.equal(config.shutdownDrainTimeoutMs, 0);
  assert.equal(effectiveHeadersTimeout(config), 5000);
  assert.equal(effectiveHeadersTimeout(loadConfig({})), 10_000);
});
