// Model control without a restart (issue #13 item 5): the model repository extension under /v2
// (index, load, reload, unload) behind MODEL_CONTROL_TOKEN, end to end with `inject`. Names that
// could reach outside MODELS_DIR are refused; a reload swaps the model only once the new one is
// loaded, a failed one keeps the old serving; an unloaded model is gone; and a request under way
// during a reload finishes on the old model, which is disposed only after it.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, symlink, writeFile } from 'node:fs/promises';
import { request as httpRequest } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { loadServedModel, ModelRegistry, type ModelLoader } from '../../src/pipelines/registry.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { startTestServer, testLimits, testPng, type TestServer } from '../helpers/app.ts';

const TOKEN = 'control-token-for-tests-0123456789';
const AUTH = { authorization: `Bearer ${TOKEN}` };
const LABELS = ['ant', 'bee', 'cat', 'dog', 'eel'];
const NEW_LABELS = ['fox', 'gnu', 'hen', 'ibis', 'jay'];

let server: TestServer;
let png: string;
before(async () => {
  png = (await testPng(4, 4, 1)).toString('base64');
  server = await startTestServer(
    async (dir) => {
      await makeTinyCheckpoint(dir, { name: 'tiny', labels: LABELS });
      const broken = await makeTinyCheckpoint(dir, { name: 'broken' });
      await rm(path.join(broken, 'head.safetensors'));
    },
    { modelControlToken: TOKEN },
  );
});
after(() => server.close());

const control = (url: string, payload?: unknown, headers: Record<string, string> = AUTH) =>
  server.app.inject({ method: 'POST', url, headers, ...(payload === undefined ? {} : { payload: JSON.stringify(payload) }) });
const index = async () => (await control('/v2/repository/index')).json() as { name: string; state: string; reason: string }[];
const classify = (name: string) => server.app.inject({ method: 'POST', url: `/v1/models/${name}/classify`, payload: { images: [png], mode: 'mean', topK: 5 } });
/** The labels of a classify answer's first prediction, in the model's own order. */
const labelsOf = (body: { predictions: { classes: { label: string }[] }[] }) => body.predictions[0].classes.map((c) => c.label).sort();

describe('off without MODEL_CONTROL_TOKEN', () => {
  test('the routes are not registered: 404 in the protocol shape; no extension announced', async () => {
    const plain = await startTestServer(async (dir) => void (await makeTinyCheckpoint(dir, { name: 'tiny' })));
    try {
      for (const url of ['/v2/repository/index', '/v2/repository/models/tiny/load', '/v2/repository/models/tiny/unload']) {
        const res = await plain.app.inject({ method: 'POST', url, headers: AUTH, payload: {} });
        assert.equal(res.statusCode, 404, url);
        assert.equal(res.json().code, 'NOT_FOUND');
        assert.match(res.json().error, /no route POST/);
      }
      assert.deepEqual((await plain.app.inject({ url: '/v2' })).json().extensions, []);
    } finally {
      await plain.close();
    }
    assert.deepEqual((await server.app.inject({ url: '/v2' })).json().extensions, ['model_repository']);
  });
});

describe('the bearer token', () => {
  const routes = ['/v2/repository/index', '/v2/repository/models/tiny/load', '/v2/repository/models/tiny/unload'];

  test('missing, of another scheme, or wrong: 401 with WWW-Authenticate, in the protocol shape', async () => {
    const cases: [Record<string, string>, string][] = [
      [{}, 'Bearer realm="model-control"'],
      [{ authorization: `Basic ${Buffer.from(`x:${TOKEN}`).toString('base64')}` }, 'Bearer realm="model-control"'],
      [{ authorization: 'Bearer wrong-token-0123456789abcdef' }, 'Bearer realm="model-control", error="invalid_token"'],
      [{ authorization: `Bearer ${TOKEN}x` }, 'Bearer realm="model-control", error="invalid_token"'],
      [{ authorization: `Bearer ${TOKEN.slice(0, -1)}` }, 'Bearer realm="model-control", error="invalid_token"'],
      [{ 'x-api-key': TOKEN }, 'Bearer realm="model-control"'],
    ];
    for (const url of routes) {
      for (const [headers, challenge] of cases) {
        const res = await control(url, {}, headers);
        assert.equal(res.statusCode, 401, `${url} ${JSON.stringify(headers)}`);
        assert.equal(res.headers['www-authenticate'], challenge);
        assert.deepEqual(Object.keys(res.json()).sort(), ['code', 'error']);
        assert.equal(res.json().code, 'UNAUTHORIZED');
      }
    }
    // Refused before anything was done: the model still serves.
    assert.equal((await classify('tiny')).statusCode, 200);
  });

  test('the right token, its scheme in any case, passes', async () => {
    assert.equal((await control('/v2/repository/index', {}, { authorization: `bearer ${TOKEN}` })).statusCode, 200);
    assert.equal((await control('/v2/repository/models/tiny/load')).statusCode, 200);
    // Passed the check, then refused for what it asks: no such folder.
    const res = await control('/v2/repository/models/no-such-folder/unload');
    assert.equal(res.statusCode, 404);
    assert.equal(res.json().code, 'MODEL_NOT_FOUND');
  });
});

describe('index', () => {
  test('every folder with its state and reason, with or without a body or content type', async () => {
    const expected = [
      { name: 'broken', state: 'UNAVAILABLE', reason: 'broken/head.safetensors: missing file' },
      { name: 'tiny', state: 'READY', reason: '' },
    ];
    assert.deepEqual(await index(), expected);
    // tritonclient and `requests.post(url, json.dumps({}))` send JSON without a content type.
    for (const payload of [undefined, '', '{}']) {
      const res = await server.app.inject({ method: 'POST', url: '/v2/repository/index', headers: AUTH, ...(payload === undefined ? {} : { payload }) });
      assert.equal(res.statusCode, 200, JSON.stringify(payload));
      assert.deepEqual(res.json(), expected);
    }
    const ready = await server.app.inject({ method: 'POST', url: '/v2/repository/index', headers: { ...AUTH, 'content-type': 'application/json' }, payload: '{"ready": true}' });
    assert.deepEqual(ready.json(), [expected[1]]);
  });

  test('bad bodies: 400 in the protocol shape', async () => {
    for (const [payload, code] of [['{"ready": "yes"}', 'INVALID_REQUEST'], ['{"other": 1}', 'INVALID_REQUEST'], ['{"ready":', 'INVALID_JSON']]) {
      const res = await server.app.inject({ method: 'POST', url: '/v2/repository/index', headers: AUTH, payload });
      assert.equal(res.statusCode, 400, payload);
      assert.equal(res.json().code, code, payload);
    }
  });
});

/**
 * A POST over a real socket with the path sent as written: `inject` and fetch resolve dot
 * segments (%2e%2e included) as a browser would, a hostile client need not.
 */
function rawPost(port: number, urlPath: string): Promise<{ status: number; body: { error: string; code: string } }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: urlPath, headers: AUTH }, (res) => {
      let text = '';
      res.on('data', (chunk) => (text += chunk));
      res.on('end', () => resolve({ status: res.statusCode!, body: JSON.parse(text) }));
    });
    req.on('error', reject);
    req.end();
  });
}

describe('names', () => {
  test('names that are not a direct child of MODELS_DIR are refused, naming the name', async () => {
    await server.app.listen({ port: 0, host: '127.0.0.1' });
    const { port } = server.app.server.address() as AddressInfo;
    const outside = await mkdtemp(path.join(tmpdir(), 'hetxl-outside-'));
    try {
      await makeTinyCheckpoint(outside, { name: 'escape' });
      await symlink(path.join(outside, 'escape'), path.join(server.modelsDir, 'escape'));
      const cases: [string, number, string, RegExp][] = [
        ['%2e%2e', 400, 'INVALID_MODEL_NAME', /'\.\.' is not a model name/],
        ['%2E%2E%2Fetc', 400, 'INVALID_MODEL_NAME', /'\.\.\/etc' is not a model name/],
        ['..%2Fx', 400, 'INVALID_MODEL_NAME', /'\.\.\/x' is not a model name/],
        ['a%2Fb', 400, 'INVALID_MODEL_NAME', /'a\/b' is not a model name/],
        ['.hidden', 400, 'INVALID_MODEL_NAME', /'\.hidden' is not a model name/],
        ['-dash', 400, 'INVALID_MODEL_NAME', /'-dash' is not a model name/],
        ['sp%20ace', 400, 'INVALID_MODEL_NAME', /'sp ace' is not a model name/],
        ['escape', 400, 'INVALID_MODEL_NAME', /'escape' is a symlink that resolves outside MODELS_DIR/],
        // Not one path segment: no route takes it.
        ['a/b', 404, 'NOT_FOUND', /no route/],
        ['../x', 404, 'NOT_FOUND', /no route/],
      ];
      for (const action of ['load', 'unload']) {
        for (const [name, status, code, message] of cases) {
          const res = await rawPost(port, `/v2/repository/models/${name}/${action}`);
          assert.equal(res.status, status, `${action} ${name}`);
          assert.equal(res.body.code, code, `${action} ${name}`);
          assert.match(res.body.error, message, `${action} ${name}`);
        }
      }
      assert.equal((await server.app.inject({ url: '/v1/models/escape' })).statusCode, 404);
    } finally {
      await rm(path.join(server.modelsDir, 'escape'));
      await rm(outside, { recursive: true, force: true });
    }
  });

  test('parameters: load takes none, unload takes unload_dependents', async () => {
    const config = await control('/v2/repository/models/tiny/load', { parameters: { config: '{}' } });
    assert.equal(config.statusCode, 400);
    assert.equal(config.json().code, 'UNKNOWN_OPTION');
    assert.match(config.json().error, /unknown parameter 'config'; none are taken/);
    const wrongType = await control('/v2/repository/models/no-such-folder/unload', { parameters: { unload_dependents: 'yes' } });
    assert.equal(wrongType.statusCode, 400);
    assert.match(wrongType.json().error, /unload_dependents' must be a boolean/);
  });
});

describe('load, reload, unload', () => {
  test('a new folder copied into MODELS_DIR loads and serves', async () => {
    await makeTinyCheckpoint(server.modelsDir, { name: 'fresh', labels: LABELS });
    assert.deepEqual((await index()).find((e) => e.name === 'fresh'), { name: 'fresh', state: 'UNAVAILABLE', reason: 'not loaded' });
    assert.equal((await classify('fresh')).statusCode, 404);
    const res = await control('/v2/repository/models/fresh/load');
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { name: 'fresh', state: 'READY' });
    const answer = await classify('fresh');
    assert.equal(answer.statusCode, 200);
    assert.deepEqual(labelsOf(answer.json()), LABELS);
    assert.ok((await server.app.inject({ url: '/v1/models' })).json().models.some((m: { name: string; status: string }) => m.name === 'fresh' && m.status === 'ready'));
  });

  test('a reload after the labels changed serves the new model', async () => {
    await writeFile(path.join(server.modelsDir, 'fresh', 'labels.txt'), `${NEW_LABELS.join('\n')}\n`);
    assert.deepEqual(labelsOf((await classify('fresh')).json()), LABELS);
    assert.equal((await control('/v2/repository/models/fresh/load')).statusCode, 200);
    assert.deepEqual(labelsOf((await classify('fresh')).json()), NEW_LABELS);
    assert.deepEqual((await server.app.inject({ url: '/v1/models/fresh/labels' })).json().labels, NEW_LABELS);
  });

  test('a failed reload answers 400 naming the file and keeps the old model serving; counted', async () => {
    const failures = async () => metric(await scrape(), 'hetxl_model_load_failures_total{model="fresh"}');
    const before = await failures();
    await writeFile(path.join(server.modelsDir, 'fresh', 'head.safetensors'), 'not safetensors');
    const res = await control('/v2/repository/models/fresh/load');
    assert.equal(res.statusCode, 400);
    assert.equal(res.json().code, 'MODEL_LOAD_FAILED');
    assert.match(res.json().error, /^model 'fresh' failed to load: fresh\/head\.safetensors: .+; the loaded version keeps serving$/);
    const answer = await classify('fresh');
    assert.equal(answer.statusCode, 200);
    assert.deepEqual(labelsOf(answer.json()), NEW_LABELS);
    assert.deepEqual((await index()).find((e) => e.name === 'fresh'), { name: 'fresh', state: 'READY', reason: '' });
    assert.equal(await failures(), (before ?? 0) + 1);
    assert.equal(metric(await scrape(), 'hetxl_model_status{model="fresh",status="ready"}'), 1);
  });

  test('unload: gone from the listing and readiness, 404 for its requests; again, a no-op', async () => {
    const res = await control('/v2/repository/models/fresh/unload', { parameters: { unload_dependents: false } });
    assert.equal(res.statusCode, 200);
    assert.deepEqual(res.json(), { name: 'fresh', state: 'UNAVAILABLE' });
    assert.equal((await classify('fresh')).statusCode, 404);
    assert.equal((await server.app.inject({ url: '/v1/models/fresh' })).statusCode, 404);
    assert.equal((await server.app.inject({ url: '/v2/models/fresh/ready' })).statusCode, 404);
    assert.ok(!(await server.app.inject({ url: '/v1/models' })).json().models.some((m: { name: string }) => m.name === 'fresh'));
    assert.ok(!(await server.app.inject({ url: '/readyz' })).json().models.some((m: { name: string }) => m.name === 'fresh'));
    assert.deepEqual((await index()).find((e) => e.name === 'fresh'), { name: 'fresh', state: 'UNAVAILABLE', reason: 'not loaded' });
    assert.doesNotMatch(await scrape(), /hetxl_model_status\{model="fresh"/);
    assert.equal((await control('/v2/repository/models/fresh/unload')).statusCode, 200);
  });

  test('a folder that failed at start serves once repaired and loaded; the server turns ready', async () => {
    assert.equal((await server.app.inject({ url: '/v2/health/ready' })).statusCode, 503);
    await rm(path.join(server.modelsDir, 'broken'), { recursive: true });
    await makeTinyCheckpoint(server.modelsDir, { name: 'broken' });
    assert.equal((await control('/v2/repository/models/broken/load')).statusCode, 200);
    assert.equal((await classify('broken')).statusCode, 200);
    assert.equal(metric(await scrape(), 'hetxl_models_failed'), 0);
    assert.equal((await server.app.inject({ url: '/v2/health/ready' })).statusCode, 200);
  });
});

const scrape = async () => (await server.app.inject({ url: '/metrics' })).body;
function metric(text: string, sample: string): number | undefined {
  const line = text.split('\n').find((l) => l.startsWith(`${sample} `));
  return line === undefined ? undefined : Number(line.slice(sample.length + 1));
}

describe('requests under way during a reload', () => {
  /** Gates every predict of the models it loads until release(); records predicts and disposals. */
  function gatedLoader() {
    const events: string[] = [];
    let release!: () => void;
    let gate = new Promise<void>((resolve) => (release = resolve));
    let loads = 0;
    const loader: ModelLoader = async (checkpoint, engine, limits) => {
      const model = await loadServedModel(checkpoint, engine, limits);
      const version = ++loads;
      return new Proxy(model, {
        get(target, property) {
          // The computation, whichever entry point the route (or a batcher in front) calls.
          if (property === 'predict' || property === 'predictTensor') {
            const compute = (target[property] as (...args: unknown[]) => Promise<unknown>).bind(target);
            return async (...args: unknown[]) => {
              events.push(`predict v${version}`);
              await gate;
              const predictions = await compute(...args);
              events.push(`answered v${version}`);
              return predictions;
            };
          }
          if (property === 'dispose') {
            return async () => {
              events.push(`dispose v${version}`);
              await target.dispose();
            };
          }
          const value = Reflect.get(target, property, target);
          return typeof value === 'function' ? value.bind(target) : value;
        },
      });
    };
    return {
      loader,
      events,
      open() {
        release();
        gate = Promise.resolve();
      },
    };
  }

  test('finish on the old model, which is disposed only after them', async () => {
    const modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-models-'));
    const gated = gatedLoader();
    const registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits(), { info() {}, error() {} }, gated.loader);
    const app = await buildApp(loadConfig({}, { modelsDir, logLevel: 'silent', modelControlToken: TOKEN }), { registry });
    try {
      await makeTinyCheckpoint(modelsDir, { name: 'held', labels: LABELS });
      await registry.loadAll(modelsDir);
      const request = { method: 'POST' as const, url: '/v1/models/held/classify', payload: { images: [png], mode: 'mean', topK: 5 } };
      const underWay = app.inject(request);
      while (!gated.events.includes('predict v1')) await new Promise((r) => setTimeout(r, 5));

      await writeFile(path.join(modelsDir, 'held', 'labels.txt'), `${NEW_LABELS.join('\n')}\n`);
      const reload = await app.inject({ method: 'POST', url: '/v2/repository/models/held/load', headers: AUTH });
      assert.equal(reload.statusCode, 200);
      // Swapped while the first request waits on v1: v1 is not disposed.
      assert.equal(registry.get('held')!.model!.labels!.join(), NEW_LABELS.join());
      assert.ok(!gated.events.includes('dispose v1'));
      assert.equal(registry.holdersOf(registry.get('held')!.model!), 0);

      gated.open();
      const old = await underWay;
      assert.equal(old.statusCode, 200);
      assert.deepEqual(labelsOf(old.json()), LABELS);
      const fresh = await app.inject(request);
      assert.deepEqual(labelsOf(fresh.json()), NEW_LABELS);
      while (!gated.events.includes('dispose v1')) await new Promise((r) => setTimeout(r, 5));
      assert.ok(gated.events.indexOf('dispose v1') > gated.events.indexOf('answered v1'), gated.events.join());
      assert.ok(!gated.events.includes('dispose v2'));
    } finally {
      gated.open();
      await app.close();
      await registry.dispose();
      await rm(modelsDir, { recursive: true, force: true });
    }
  });

  test('a request that fails or whose client leaves lets go of the model, and an unload then disposes it', async () => {
    const modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-models-'));
    const gated = gatedLoader();
    const registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits(), { info() {}, error() {} }, gated.loader);
    const app = await buildApp(loadConfig({}, { modelsDir, logLevel: 'silent', modelControlToken: TOKEN }), { registry });
    try {
      await makeTinyCheckpoint(modelsDir, { name: 'held', labels: LABELS });
      await registry.loadAll(modelsDir);
      const served = registry.get('held')!.model!;
      // A failed request (an undecodable image): released at once.
      const bad = await app.inject({ method: 'POST', url: '/v1/models/held/classify', payload: { images: [Buffer.from('not an image').toString('base64')] } });
      assert.equal(bad.statusCode, 400);
      assert.equal(registry.holdersOf(served), 0);

      // A client that hangs up while its request waits on the model.
      await app.listen({ port: 0, host: '127.0.0.1' });
      const { port } = app.server.address() as AddressInfo;
      const body = JSON.stringify({ images: [png], mode: 'mean' });
      const req = httpRequest({ host: '127.0.0.1', port, method: 'POST', path: '/v1/models/held/classify', headers: { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) } });
      req.on('error', () => undefined);
      req.end(body);
      while (!gated.events.includes('predict v1')) await new Promise((r) => setTimeout(r, 5));
      assert.equal(registry.holdersOf(served), 1);
      req.destroy();
      assert.equal((await app.inject({ method: 'POST', url: '/v2/repository/models/held/unload', headers: AUTH })).statusCode, 200);
      assert.ok(!gated.events.includes('dispose v1'));
      gated.open();
      while (!gated.events.includes('dispose v1')) await new Promise((r) => setTimeout(r, 5));
      assert.equal(registry.holdersOf(served), 0);
    } finally {
      gated.open();
      await app.close();
      await registry.dispose();
      await rm(modelsDir, { recursive: true, force: true });
    }
  });
});
