// Issue #17, item 6: symlinks must not take the loader out of a model's folder, nor a model folder
// out of MODELS_DIR. The rule (docs/checkpoint-format.md): every checkpoint file must resolve
// (realpath) inside its model folder, and a symlinked model folder must resolve inside MODELS_DIR.
// A refused model is a 'failed' entry; the other models keep serving.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, mkdir, mkdtemp, readFile, rename, rm, symlink, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import { ModelRegistry } from '../../src/pipelines/registry.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, testLimits, testPng, type TestServer } from '../helpers/app.ts';

// Five lines, so that as labels.txt of a K = 5 model it would pass every other check.
const SECRET = ['secret-one', 'secret-two', 'secret-three', 'secret-four', 'secret-five'];
let outside: string;
let server: TestServer;

interface Listed {
  name: string;
  status: string;
  error?: { file: string; problem: string };
}

/** A tiny K = 5 checkpoint named `name` under `parent`, whose `file` is replaced by a symlink to `target`. */
async function withLink(parent: string, name: string, file: string, target: string): Promise<string> {
  const dir = await makeTinyCheckpoint(parent, { name });
  await unlink(path.join(dir, file));
  await symlink(target, path.join(dir, file));
  return dir;
}

before(async () => {
  outside = await mkdtemp(path.join(tmpdir(), 'hetxl-outside-'));
  await writeFile(path.join(outside, 'secret.txt'), SECRET.join('\n') + '\n');
  const stray = await makeTinyCheckpoint(outside, { name: 'stray' });
  const strayHead = path.join(outside, 'stray-head.safetensors');
  await copyFile(path.join(stray, 'head.safetensors'), strayHead);
  // Folders linked from MODELS_DIR: one outside it, one inside it (a hidden release folder).
  const elsewhere = await makeTinyCheckpoint(outside, { name: 'linked-outside' });

  server = await startTestServer(async (models) => {
    await makeTinyCheckpoint(models, { name: 'good' });
    await withLink(models, 'leaky-labels', 'labels.txt', path.join(outside, 'secret.txt'));
    await withLink(models, 'leaky-head', 'head.safetensors', strayHead);
    // Relative links count as much as absolute ones: resolved, this one leaves the folder too.
    await withLink(models, 'leaky-relative', 'labels.txt', path.join('..', 'good', 'labels.txt'));
    const inner = await makeTinyCheckpoint(models, { name: 'inner-link' });
    await rename(path.join(inner, 'labels.txt'), path.join(inner, 'labels-v2.txt'));
    await symlink('labels-v2.txt', path.join(inner, 'labels.txt'));
    await symlink(elsewhere, path.join(models, 'linked-outside'));
    await mkdir(path.join(models, '.releases'));
    await makeTinyCheckpoint(path.join(models, '.releases'), { name: 'linked-inside' });
    await symlink(path.join(models, '.releases', 'linked-inside'), path.join(models, 'linked-inside'));
  });
});
after(async () => {
  await server.close();
  await rm(outside, { recursive: true, force: true });
});

async function listed(): Promise<Map<string, Listed>> {
  const res = await server.app.inject({ method: 'GET', url: '/v1/models' });
  assert.equal(res.statusCode, 200);
  const body = res.json() as { models: Listed[] };
  return new Map(body.models.map((m) => [m.name, m]));
}

test('a checkpoint file symlinked outside its folder fails the model, naming the file, not the target', async () => {
  const models = await listed();
  for (const [name, file] of [['leaky-labels', 'labels.txt'], ['leaky-head', 'head.safetensors'], ['leaky-relative', 'labels.txt']]) {
    const entry = models.get(name)!;
    assert.equal(entry.status, 'failed', name);
    assert.equal(entry.error!.file, `${name}/${file}`);
    assert.match(entry.error!.problem, /symlink that resolves outside the model folder/);
    assert.ok(!entry.error!.problem.includes(outside), 'the problem does not show where the link points');
  }
});

test('/labels of a model whose labels.txt leaves the folder is a 503 without the outside file', async () => {
  const res = await server.app.inject({ method: 'GET', url: '/v1/models/leaky-labels/labels' });
  assert.equal(res.statusCode, 503);
  assert.equal(res.json().code, 'MODEL_UNAVAILABLE');
  for (const secret of SECRET) assert.ok(!res.body.includes(secret), `response holds ${secret}`);
});

test('a symlink to a file inside the folder is accepted and read through', async () => {
  const models = await listed();
  assert.equal(models.get('inner-link')!.status, 'ready');
  const res = await server.app.inject({ method: 'GET', url: '/v1/models/inner-link/labels' });
  assert.equal(res.statusCode, 200);
  const expected = (await readFile(path.join(server.modelsDir, 'inner-link', 'labels-v2.txt'), 'utf8')).trim().split('\n');
  assert.deepEqual(res.json().labels, expected);
});

test('a symlinked model folder: refused when it resolves outside MODELS_DIR, served when inside', async () => {
  const models = await listed();
  const out = models.get('linked-outside')!;
  assert.equal(out.status, 'failed');
  assert.equal(out.error!.file, 'linked-outside');
  assert.match(out.error!.problem, /symlink that resolves outside MODELS_DIR/);
  assert.equal(models.get('linked-inside')!.status, 'ready');
  assert.equal(models.has('.releases'), false);
});

test('the other models keep serving', async () => {
  const models = await listed();
  assert.equal(models.get('good')!.status, 'ready');
  const res = await server.app.inject({
    method: 'POST',
    url: '/v1/models/good/classify',
    headers: { 'content-type': 'application/json' },
    payload: { images: [(await testPng(4, 4)).toString('base64')], mode: 'mean' },
  });
  assert.equal(res.statusCode, 200);
  assert.equal(res.json().predictions.length, 1);
});

test('loadCheckpoint alone applies the file rule; the folder rule needs modelsDir', async () => {
  const dir = path.join(server.modelsDir, 'leaky-labels');
  await assert.rejects(loadCheckpoint(dir), (e: unknown) => e instanceof CheckpointError && e.file === path.join(dir, 'labels.txt'));
  const linked = path.join(server.modelsDir, 'linked-outside');
  assert.equal((await loadCheckpoint(linked)).labels.length, 5);
  await assert.rejects(loadCheckpoint(linked, { modelsDir: server.modelsDir }), (e: unknown) => e instanceof CheckpointError && e.file === linked);
  // A dangling link is a missing file, as before.
  const dangling = await withLink(await mkdtemp(path.join(outside, 'p-')), 'dangling', 'labels.txt', 'nowhere.txt');
  await assert.rejects(loadCheckpoint(dangling), (e: unknown) => e instanceof CheckpointError && e.problem === 'missing file');
});

test('the registry logs each refused model exactly once, at load', async () => {
  const errors: { model: string }[] = [];
  const registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits({ maxImagePixels: 1 << 20, headMemoryBudgetMB: 16, textCacheSize: 10 }), {
    info() {},
    error: (obj) => errors.push(obj as { model: string }),
  });
  try {
    await registry.loadAll(server.modelsDir);
    assert.deepEqual(errors.map((e) => e.model).sort(), ['leaky-head', 'leaky-labels', 'leaky-relative', 'linked-outside']);
  } finally {
    await registry.dispose();
  }
});
