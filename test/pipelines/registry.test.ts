// The model registry's control of models (issue #13 item 5), with models that a test loader makes
// from real checkpoint folders without ONNX Runtime: a corrupted folder at start and at reload,
// the swap only after warm-up, a failed warm-up freed, load and unload of a name in turn, control
// waiting for the start-up loading, names confined to MODELS_DIR, and models disposed only once
// no request holds them.
import { afterEach, beforeEach, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { isModelName, ModelRegistry, RepositoryError, type ModelLoader } from '../../src/pipelines/registry.ts';
import type { ServedModel } from '../../src/pipelines/served-model.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { testLimits } from '../helpers/app.ts';

/** A promise and the function that resolves it. */
function deferred() {
  let resolve!: () => void;
  const promise = new Promise<void>((r) => (resolve = r));
  return { promise, resolve };
}

interface FakeModel {
  version: number;
  disposed: boolean;
}

/**
 * A loader of fake models (version 1, 2, ... in load order) that logs what happens; `warmUp`
 * lets a test hold or fail the warm-up of the next model.
 */
function fakeLoader() {
  const events: string[] = [];
  const models: (FakeModel & ServedModel)[] = [];
  let nextWarmUp: (() => Promise<void>) | undefined;
  const loader: ModelLoader = async (checkpoint) => {
    const version = models.length + 1;
    const warmUp = nextWarmUp ?? (async () => {});
    nextWarmUp = undefined;
    const model = {
      version,
      disposed: false,
      name: checkpoint.manifest.name,
      task: checkpoint.manifest.task,
      labels: checkpoint.labels,
      metadata: { head: checkpoint.manifest.head, provider: 'cpu' },
      async warmUp() {
        events.push(`warm-up v${version}`);
        await warmUp();
      },
      async dispose() {
        events.push(`dispose v${version}`);
        model.disposed = true;
      },
    } as unknown as FakeModel & ServedModel;
    models.push(model);
    events.push(`load v${version}`);
    return model;
  };
  return { loader, events, models, holdNextWarmUp: (warmUp: () => Promise<void>) => void (nextWarmUp = warmUp) };
}

const silent = { info() {}, error() {} };
let modelsDir: string;
beforeEach(async () => {
  modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-registry-'));
});
afterEach(() => rm(modelsDir, { recursive: true, force: true }));

const registryWith = (loader: ModelLoader) => new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits(), silent, loader);
/** The fake model serving `name`, under whatever wraps it (the batcher). */
function modelOf(registry: ModelRegistry, name: string): (FakeModel & ServedModel) | undefined {
  const model = registry.get(name)?.model as (ServedModel & { inner?: ServedModel }) | undefined;
  return (model?.inner ?? model) as (FakeModel & ServedModel) | undefined;
}

describe('corrupted folders', () => {
  test('at start: a failed entry naming the file and the problem, counted; the others serve', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'good' });
    const bad = await makeTinyCheckpoint(modelsDir, { name: 'bad' });
    await writeFile(path.join(bad, 'head.safetensors'), 'not safetensors');
    const registry = registryWith(fakeLoader().loader);
    await registry.loadAll(modelsDir);
    assert.deepEqual(registry.list().map((e) => [e.name, e.status]), [['bad', 'failed'], ['good', 'ready']]);
    assert.equal(registry.get('bad')!.error!.file, 'bad/head.safetensors');
    assert.ok(registry.get('bad')!.error!.problem.length > 0);
    assert.deepEqual([...registry.loadFailureCounts()], [['bad', 1]]);
    assert.deepEqual(await registry.index(), [
      { name: 'bad', state: 'failed', reason: `bad/head.safetensors: ${registry.get('bad')!.error!.problem}` },
      { name: 'good', state: 'ready', reason: '' },
    ]);
    await registry.dispose();
  });

  test('at reload: refused naming the file, the loaded model keeps serving; a failed entry gets the new problem', async () => {
    const dir = await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const bad = await makeTinyCheckpoint(modelsDir, { name: 'bad' });
    await rm(path.join(bad, 'labels.txt'));
    const fake = fakeLoader();
    const registry = registryWith(fake.loader);
    await registry.loadAll(modelsDir);
    await writeFile(path.join(dir, 'manifest.json'), '{ not json');
    await assert.rejects(registry.load('m'), (e: unknown) => e instanceof RepositoryError && e.reason === 'load-failed' && e.failure?.file === 'm/manifest.json' && /keeps serving$/.test(e.message));
    assert.equal(registry.get('m')!.status, 'ready');
    assert.equal(modelOf(registry, 'm')!.version, 1);
    assert.equal(modelOf(registry, 'm')!.disposed, false);

    await rm(path.join(bad, 'backbone.onnx'));
    await assert.rejects(registry.load('bad'), (e: unknown) => e instanceof RepositoryError && e.failure?.file === 'bad/backbone.onnx' && !/keeps serving/.test(e.message));
    assert.equal(registry.get('bad')!.error!.file, 'bad/backbone.onnx');
    assert.equal(registry.get('bad')!.status, 'failed');
    assert.deepEqual(Object.fromEntries(registry.loadFailureCounts()), { m: 1, bad: 2 });
    await registry.dispose();
  });
});

describe('swap', () => {
  test('the new model replaces the old only once warmed up; the old is disposed after', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const fake = fakeLoader();
    const registry = registryWith(fake.loader);
    await registry.loadAll(modelsDir);
    const warm = deferred();
    fake.holdNextWarmUp(() => warm.promise);
    const reload = registry.load('m');
    while (!fake.events.includes('warm-up v2')) await new Promise((r) => setTimeout(r, 2));
    assert.equal(modelOf(registry, 'm')!.version, 1);
    assert.equal((await registry.index())[0].state, 'ready');
    warm.resolve();
    await reload;
    assert.equal(modelOf(registry, 'm')!.version, 2);
    await registry.dispose();
    assert.deepEqual(fake.events, ['load v1', 'warm-up v1', 'load v2', 'warm-up v2', 'dispose v1', 'dispose v2']);
  });

  test('a model whose warm-up fails is disposed, and the old one keeps serving', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const fake = fakeLoader();
    const registry = registryWith(fake.loader);
    await registry.loadAll(modelsDir);
    fake.holdNextWarmUp(async () => {
      throw new Error('session failed');
    });
    await assert.rejects(registry.load('m'), (e: unknown) => e instanceof RepositoryError && e.failure?.file === 'm' && e.failure.problem === 'session failed');
    assert.equal(fake.models[1].disposed, true);
    assert.equal(modelOf(registry, 'm')!.version, 1);
    await registry.dispose();
  });

  test('a new folder is listed as loading while its load runs, and without an entry until it serves', async () => {
    const fake = fakeLoader();
    const registry = registryWith(fake.loader);
    await registry.loadAll(modelsDir);
    await makeTinyCheckpoint(modelsDir, { name: 'late' });
    assert.deepEqual(await registry.index(), [{ name: 'late', state: 'unloaded', reason: '' }]);
    const warm = deferred();
    fake.holdNextWarmUp(() => warm.promise);
    const load = registry.load('late');
    while (!fake.events.includes('warm-up v1')) await new Promise((r) => setTimeout(r, 2));
    assert.deepEqual(await registry.index(), [{ name: 'late', state: 'loading', reason: '' }]);
    assert.equal(registry.get('late'), undefined);
    warm.resolve();
    assert.equal((await load).status, 'ready');
    assert.equal(registry.get('late')!.status, 'ready');
    await registry.dispose();
  });
});

describe('in turn', () => {
  test('loads and unloads of one name run one after the other, in the order asked', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const fake = fakeLoader();
    const registry = registryWith(fake.loader);
    await registry.loadAll(modelsDir);
    const warm = deferred();
    fake.holdNextWarmUp(() => warm.promise);
    const done: string[] = [];
    const first = registry.load('m').then(() => done.push('load'));
    const second = registry.unload('m').then(() => done.push('unload'));
    const third = registry.load('m').then(() => done.push('load again'));
    while (!fake.events.includes('warm-up v2')) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 20));
    // The unload and the second load wait for the first load's warm-up.
    assert.deepEqual(fake.events, ['load v1', 'warm-up v1', 'load v2', 'warm-up v2']);
    warm.resolve();
    await Promise.all([first, second, third]);
    assert.deepEqual(done, ['load', 'unload', 'load again']);
    assert.deepEqual(fake.events, ['load v1', 'warm-up v1', 'load v2', 'warm-up v2', 'dispose v1', 'dispose v2', 'load v3', 'warm-up v3']);
    assert.equal(modelOf(registry, 'm')!.version, 3);
    await registry.dispose();
  });

  test('a load asked during the start-up loading runs after it', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const fake = fakeLoader();
    const registry = registryWith(fake.loader);
    const warm = deferred();
    fake.holdNextWarmUp(() => warm.promise);
    const startUp = registry.loadAll(modelsDir);
    const load = registry.load('m');
    while (!fake.events.includes('warm-up v1')) await new Promise((r) => setTimeout(r, 2));
    await new Promise((r) => setTimeout(r, 20));
    assert.deepEqual(fake.events, ['load v1', 'warm-up v1']);
    warm.resolve();
    await Promise.all([startUp, load]);
    assert.deepEqual(fake.events, ['load v1', 'warm-up v1', 'load v2', 'warm-up v2', 'dispose v1']);
    await registry.dispose();
  });
});

describe('names', () => {
  test('a model name is a manifest name: no separators, no dot segments, no leading dot', () => {
    for (const name of ['m', 'tiny-het-xl', 'A.b_c-1', 'x'.repeat(128)]) assert.ok(isModelName(name), name);
    for (const name of ['', '.', '..', '.hidden', '-x', '_x', 'a/b', 'a\\b', '../x', 'a b', 'a\0b', 'é', 'x'.repeat(129)]) assert.ok(!isModelName(name), JSON.stringify(name));
  });

  test('refused: not a name, no folder, a symlink outside MODELS_DIR or deeper in it', async () => {
    const registry = registryWith(fakeLoader().loader);
    await registry.loadAll(modelsDir);
    const outside = await mkdtemp(path.join(tmpdir(), 'hetxl-outside-'));
    try {
      await makeTinyCheckpoint(outside, { name: 'out' });
      await symlink(path.join(outside, 'out'), path.join(modelsDir, 'out'));
      await mkdir(path.join(modelsDir, 'nested'));
      await makeTinyCheckpoint(path.join(modelsDir, 'nested'), { name: 'deep' });
      await symlink(path.join(modelsDir, 'nested', 'deep'), path.join(modelsDir, 'deep'));
      const cases: [string, RepositoryError['reason']][] = [['..', 'invalid-name'], ['a/b', 'invalid-name'], ['missing', 'not-found'], ['out', 'invalid-name'], ['deep', 'invalid-name']];
      for (const [name, reason] of cases) {
        await assert.rejects(registry.load(name), (e: unknown) => e instanceof RepositoryError && e.reason === reason, `load ${name}`);
        await assert.rejects(registry.unload(name), (e: unknown) => e instanceof RepositoryError && e.reason === reason, `unload ${name}`);
      }
      assert.deepEqual(registry.list(), []);
    } finally {
      await rm(outside, { recursive: true, force: true });
    }
    await registry.dispose();
  });
});

describe('held models', () => {
  test('an unloaded model is disposed when its last holder lets go; a release counts once', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const registry = registryWith(fakeLoader().loader);
    await registry.loadAll(modelsDir);
    const model = modelOf(registry, 'm')!;
    const served = registry.get('m')!.model!;
    const first = registry.hold(served);
    const second = registry.hold(served);
    assert.equal(registry.holdersOf(served), 2);
    await registry.unload('m');
    assert.equal(registry.get('m'), undefined);
    first();
    first();
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(registry.holdersOf(served), 1);
    assert.equal(model.disposed, false);
    second();
    while (!model.disposed) await new Promise((r) => setTimeout(r, 2));
    assert.equal(registry.holdersOf(served), 0);
    await registry.dispose();
  });

  test('dispose() waits for the holders of every model', async () => {
    await makeTinyCheckpoint(modelsDir, { name: 'm' });
    const registry = registryWith(fakeLoader().loader);
    await registry.loadAll(modelsDir);
    const model = modelOf(registry, 'm')!;
    const release = registry.hold(registry.get('m')!.model!);
    let disposed = false;
    const disposal = registry.dispose().then(() => (disposed = true));
    await new Promise((r) => setTimeout(r, 10));
    assert.equal(disposed, false);
    assert.equal(model.disposed, false);
    release();
    await disposal;
    assert.equal(model.disposed, true);
  });
});
