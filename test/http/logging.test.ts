// What the log says about models that cannot serve: a checkpoint that fails to load is one error
// line, at load; each request to it (or to a model still loading) is a short warning with its code
// and message, never an error with a stack trace.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Writable } from 'node:stream';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import type { ModelEntry, ModelRegistry } from '../../src/pipelines/registry.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';

interface LogLine {
  level: number;
  msg: string;
  code?: string;
  err?: unknown;
  stack?: unknown;
}
const WARN = 40;
const ERROR = 50;

/** An app whose log lines land in the returned array. */
async function appWithLog(modelsDir: string, registry?: ModelRegistry): Promise<{ app: App; logs: LogLine[] }> {
  const logs: LogLine[] = [];
  const stream = new Writable({
    write(chunk, _encoding, done) {
      for (const line of String(chunk).split('\n')) if (line) logs.push(JSON.parse(line));
      done();
    },
  });
  const app = await buildApp(loadConfig({}, { modelsDir, ortThreads: 1 }), { logger: { level: 'info', stream }, registry });
  return { app, logs };
}

let modelsDir: string;
before(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-logging-'));
  const broken = await makeTinyCheckpoint(modelsDir, { name: 'broken', type: 'het', covariance: 'full' });
  await rm(path.join(broken, 'head.safetensors'));
});
after(() => rm(modelsDir, { recursive: true, force: true }));

const classify = (app: App, name: string) =>
  app.inject({ method: 'POST', url: `/v1/models/${name}/classify`, payload: JSON.stringify({ images: ['iVBORw0KGgo='] }), headers: { 'content-type': 'application/json' } });

test('a failed model: one error line at load, one warning without a stack per request', async () => {
  const { app, logs } = await appWithLog(modelsDir);
  try {
    for (let i = 0; i < 600 && (await app.inject({ url: '/readyz' })).json().status === 'loading'; i++) await new Promise((r) => setTimeout(r, 20));
    for (let i = 0; i < 3; i++) assert.equal((await classify(app, 'broken')).statusCode, 503);
    assert.equal((await app.inject({ url: '/v1/models/broken/labels' })).statusCode, 503);

    const errors = logs.filter((l) => l.level >= ERROR);
    assert.equal(errors.length, 1, JSON.stringify(errors));
    assert.match(errors[0].msg, /model broken refused: broken\/head\.safetensors/);
    // The requests' warnings, not the app's own at start (e.g. a web page not built yet).
    const warnings = logs.filter((l) => l.level === WARN && 'reqId' in l);
    assert.equal(warnings.length, 4, JSON.stringify(warnings));
    for (const w of warnings) {
      assert.equal(w.code, 'MODEL_UNAVAILABLE');
      assert.match(String((w as { message?: string }).message), /failed to load/);
      assert.equal(w.err, undefined);
      assert.equal(w.stack, undefined);
      assert.doesNotMatch(JSON.stringify(w), /\n\s+at /);
    }
  } finally {
    await app.close();
  }
});

test('a model still loading: a warning per request, no error', async () => {
  const loading: ModelEntry = { name: 'slow', dir: modelsDir, status: 'loading' };
  // Only what the classify route asks of the registry; a real one cannot be held in 'loading'.
  const registry = { get: (name: string) => (name === 'slow' ? loading : undefined), list: () => [loading], observeBatches: () => undefined } as unknown as ModelRegistry;
  const { app, logs } = await appWithLog(modelsDir, registry);
  try {
    const res = await classify(app, 'slow');
    assert.equal(res.statusCode, 503);
    assert.equal(res.json().code, 'MODEL_LOADING');
    assert.deepEqual(
      logs.filter((l) => l.level >= WARN && 'reqId' in l).map((l) => [l.level, l.code]),
      [[WARN, 'MODEL_LOADING']],
    );
  } finally {
    await app.close();
  }
});
