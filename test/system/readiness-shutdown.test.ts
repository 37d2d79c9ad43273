// Shutdown from the load balancer's side (issue #13, item 7), over real sockets: readiness turns
// 503 first while the server still accepts (SHUTDOWN_READINESS_DELAY_MS), then the listener
// closes, requests already accepted finish with 200, and the process exits 0. Every wait is
// bounded by a deadline that is a failure, never a measured duration.
import { after, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { closeGracefully } from '../../src/shutdown.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testPng } from '../helpers/app.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEADLINE_MS = 30_000;
const dirs: string[] = [];
after(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

async function modelsDir(): Promise<string> {
  const dir = await mkdtemp(path.join(tmpdir(), 'hetxl-shutdown-'));
  dirs.push(dir);
  await makeTinyCheckpoint(dir, { name: 'tiny' });
  return dir;
}

/** Polls `check` every 50 ms until it returns true; fails past the deadline. */
async function until(check: () => Promise<boolean> | boolean, what: string): Promise<void> {
  for (let waited = 0; waited < DEADLINE_MS; waited += 50) {
    if (await check()) return;
    await sleep(50);
  }
  assert.fail(`${what}: not within ${DEADLINE_MS} ms`);
}

const status = (url: string) => fetch(url).then((r) => r.status, () => 'refused' as const);

/** An app over a tiny model on 127.0.0.1:0, and the URLs of the requests that have reached it. */
async function listening() {
  const app = await buildApp(loadConfig({}, { modelsDir: await modelsDir(), logLevel: 'silent', ortThreads: 1 }));
  const seen: string[] = [];
  app.addHook('onRequest', async (request) => {
    seen.push(request.url);
  });
  await app.listen({ port: 0, host: '127.0.0.1' });
  return { app, seen };
}

/** A raw connection: what the server sent, and a promise of its close. */
function connect(port: number) {
  const socket = net.connect(port, '127.0.0.1');
  let received = '';
  socket.setEncoding('utf8');
  socket.on('data', (chunk: string) => (received += chunk));
  const closed = new Promise<void>((resolve) => socket.once('close', () => resolve()));
  socket.on('error', () => undefined);
  return { socket, received: () => received, closed };
}

/** A classify request for the tiny model, cut in two: its head and the rest of its body. */
async function classifyInTwo(): Promise<[string, string]> {
  const body = JSON.stringify({ images: [(await testPng(4, 4)).toString('base64')], mode: 'mean' });
  const head = `POST /v1/models/tiny/classify HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`;
  const half = Math.floor(body.length / 2);
  return [head + body.slice(0, half), body.slice(half)];
}

test('closeGracefully: readiness 503 while still serving, then no new connections, the accepted request answers 200', async () => {
  const { app, seen } = await listening();
  try {
    const base = `http://127.0.0.1:${(app.server.address() as net.AddressInfo).port}`;
    await until(async () => (await status(`${base}/readyz`)) === 200, 'ready before the shutdown');
    assert.equal(await status(`${base}/v2/health/ready`), 200);

    const [start, rest] = await classifyInTwo();
    const client = connect((app.server.address() as net.AddressInfo).port);
    client.socket.write(start);
    // Closing before the request has reached the server would close its connection as idle.
    await until(() => seen.includes('/v1/models/tiny/classify'), 'the request to reach the server');
    // Long enough for the checks below to run inside it; nothing is timed against it.
    const closing = closeGracefully(app, DEADLINE_MS, 3000);

    // Readiness first: 503 on both paths, on new connections, while liveness and the API still serve.
    const readyz = await fetch(`${base}/readyz`);
    assert.equal(readyz.status, 503);
    assert.equal(((await readyz.json()) as { status: string }).status, 'unavailable');
    const v2 = await fetch(`${base}/v2/health/ready`);
    assert.equal(v2.status, 503);
    assert.equal(((await v2.json()) as { ready: boolean }).ready, false);
    assert.equal(await status(`${base}/healthz`), 200);
    assert.equal(await status(`${base}/v1/models/tiny`), 200);
    assert.equal(app.server.listening, true, 'still accepting during the readiness delay');

    // Then the listener closes: a new connection is refused, the accepted request goes on.
    await until(async () => (await status(`${base}/healthz`)) === 'refused', 'the listener to close');
    client.socket.write(rest);
    await client.closed;
    assert.match(client.received(), /^HTTP\/1\.1 200 /);
    assert.match(client.received(), /"predictions":\[\{"classes":/);
    assert.equal(await closing, 'drained');
  } finally {
    await app.close();
  }
});

test('during the close, readiness asked on a connection still open gets 503 too', async () => {
  const { app, seen } = await listening();
  try {
    const port = (app.server.address() as net.AddressInfo).port;
    await until(async () => (await status(`http://127.0.0.1:${port}/readyz`)) === 200, 'ready before the shutdown');
    const [start, rest] = await classifyInTwo();
    const client = connect(port);
    client.socket.write(start);
    await until(() => seen.includes('/v1/models/tiny/classify'), 'the request to reach the server');
    const closing = closeGracefully(app, DEADLINE_MS);
    await until(async () => (await status(`http://127.0.0.1:${port}/healthz`)) === 'refused', 'the listener to close');
    // The rest of the body, and a readiness request pipelined behind it on the same connection.
    client.socket.write(`${rest}GET /readyz HTTP/1.1\r\nHost: x\r\n\r\n`);
    await client.closed;
    const statuses = [...client.received().matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((m) => Number(m[1]));
    assert.deepEqual(statuses, [200, 503], client.received());
    assert.equal(await closing, 'drained');
  } finally {
    await app.close();
  }
});

test('SIGTERM to the server process: readiness 503 while it serves, the request in flight answers 200, exit 0', async () => {
  const port = await new Promise<number>((resolve) => {
    const probe = net.createServer().listen(0, '127.0.0.1', () => {
      const got = (probe.address() as net.AddressInfo).port;
      probe.close(() => resolve(got));
    });
  });
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      PORT: String(port),
      HOST: '127.0.0.1',
      MODELS_DIR: await modelsDir(),
      ORT_THREADS: '1',
      LOG_LEVEL: 'info',
      SHUTDOWN_READINESS_DELAY_MS: '3000',
      SHUTDOWN_DRAIN_TIMEOUT_MS: String(DEADLINE_MS),
    },
  });
  let output = '';
  child.stdout.on('data', (chunk) => (output += chunk));
  child.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })));
  const base = `http://127.0.0.1:${port}`;
  try {
    await until(async () => (await status(`${base}/readyz`)) === 200, `the server to be ready:\n${output}`);
    const [start, rest] = await classifyInTwo();
    const client = connect(port);
    client.socket.write(start);
    await until(() => output.includes('"url":"/v1/models/tiny/classify"'), 'the request to reach the server');

    child.kill('SIGTERM');
    await until(async () => (await status(`${base}/readyz`)) === 503, 'readiness to turn 503');
    assert.equal(await status(`${base}/healthz`), 200, 'still serving while readiness is off');
    await until(async () => (await status(`${base}/healthz`)) === 'refused', 'the listener to close');
    client.socket.write(rest);
    await client.closed;
    assert.match(client.received(), /^HTTP\/1\.1 200 /, output);

    const exit = await Promise.race([exited, sleep(DEADLINE_MS, null, { ref: false })]);
    assert.deepEqual(exit, { code: 0, signal: null }, output);
    assert.match(output, /"signal":"SIGTERM"[^\n]*"msg":"shutting down"/);
    assert.match(output, /"outcome":"drained"[^\n]*"msg":"closed"/);
  } finally {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  }
});
