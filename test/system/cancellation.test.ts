// A client that goes away during a long MC request stops the computation instead of leaving it
// to run for nobody; the server logs it (CLIENT_CLOSED) and keeps serving. Over a real socket:
// `inject` has no client that can hang up.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testPng } from '../helpers/app.ts';

const NAME = 'het-xl-k29593';
const LONG_SAMPLES = 50_000;
const logs: { msg?: string; code?: string; req?: { url?: string } }[] = [];
let app: App;
let base: string;
let modelsDir: string;

/** Waits for a log line (bounded: a missing line fails the test instead of hanging it). */
async function logLine(match: (line: (typeof logs)[number]) => boolean, what: string): Promise<void> {
  for (let i = 0; i < 1500; i++) {
    if (logs.some(match)) return;
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail(`no log line: ${what}`);
}

before(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-cancel-'));
  // K = 29,593 and a 16 MB head budget: chunks of ~17 samples, so S = 50,000 is ~2,900 chunks
  // and seconds of work, far longer than the client waits below.
  await makeTinyCheckpoint(modelsDir, { name: NAME, K: 29593, D: 64, R: 8, mc: { defaultSamples: 20, maxSamples: LONG_SAMPLES } });
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const config = loadConfig({}, { modelsDir, ortThreads: 1, maxSamples: LONG_SAMPLES, headMemoryBudgetMB: 16 });
  app = await buildApp(config, { logger: { level: 'info', stream } });
  await logLine((l) => l.msg === `model ${NAME} loaded`, 'model loaded');
  base = await app.listen({ port: 0, host: '127.0.0.1' });
});
after(async () => {
  await app.close();
  await rm(modelsDir, { recursive: true, force: true });
});

test('a client that hangs up stops its MC computation; the server keeps serving', async () => {
  const image = (await testPng(4, 4, 3)).toString('base64');
  const client = new AbortController();
  const request = fetch(`${base}/v1/models/${NAME}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [image], mode: 'mc', samples: LONG_SAMPLES }),
    signal: client.signal,
  });
  await logLine((l) => l.msg === 'incoming request' && !!l.req?.url?.includes('/classify'), 'the classify request arrived');
  setTimeout(() => client.abort(), 200);
  await assert.rejects(request, { name: 'AbortError' });

  await logLine((l) => l.code === 'CLIENT_CLOSED', 'the computation was stopped (CLIENT_CLOSED)');
  const health = await fetch(`${base}/healthz`);
  assert.equal(health.status, 200);
  // A request that completes is not affected by its connection closing afterwards.
  const short = await fetch(`${base}/v1/models/${NAME}/classify`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ images: [image], mode: 'mc', samples: 40 }),
  });
  assert.equal(short.status, 200);
  assert.equal(logs.filter((l) => l.code === 'CLIENT_CLOSED').length, 1);
});
