// Builds a test app around a temporary MODELS_DIR, and small request helpers for `inject`.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { buildApp } from '../../src/app.ts';
import { modelLimitsOf, loadConfig, type Config } from '../../src/config.ts';
import type { App } from '../../src/http/context.ts';
import type { ModelLimits } from '../../src/pipelines/served-model.ts';

/** The model limits of a test configuration (the defaults, with `overrides`). */
export function testLimits(overrides: Partial<Config> = {}): ModelLimits {
  return modelLimitsOf(loadConfig({}, overrides));
}

export interface TestServer {
  app: App;
  modelsDir: string;
  close(): Promise<void>;
}

/**
 * An app over a fresh temp MODELS_DIR that `populate` fills; resolves once loading has finished.
 * Its models run in process unless `config.inferenceWorkers` says otherwise: a worker thread costs
 * 2-3 s to start under tsx on this machine (against ~20 ms for the pipeline), and these apps load
 * up to a handful of models per file. test/pipelines/worker-model.test.ts and
 * test/system/worker-server.test.ts cover the workers, and the apps built straight from
 * loadConfig (test/system/) run with them on, the default.
 */
export async function startTestServer(populate: (modelsDir: string) => Promise<void>, config: Partial<Config> = {}): Promise<TestServer> {
  const modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-models-'));
  await populate(modelsDir);
  const app = await buildApp(loadConfig({}, { modelsDir, logLevel: 'silent', ortThreads: 1, inferenceWorkers: false, ...config }));
  for (let i = 0; i < 600; i++) {
    const res = await app.inject({ method: 'GET', url: '/readyz' });
    if (res.json().status !== 'loading') break;
    await new Promise((r) => setTimeout(r, 20));
  }
  return {
    app,
    modelsDir,
    async close() {
      await app.close();
      await rm(modelsDir, { recursive: true, force: true });
    },
  };
}

/** A PNG of `width` x `height` with a deterministic pattern that depends on `seed`. */
export async function testPng(width = 8, height = 8, seed = 0): Promise<Buffer> {
  const pixels = Buffer.alloc(width * height * 3);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + seed * 101 + ((i * i) % 13)) % 256;
  return sharp(pixels, { raw: { width, height, channels: 3 } }).png().toBuffer();
}

/** A multipart/form-data body from file parts and fields, encoded by undici's FormData. */
export async function multipart(files: { name?: string; data: Buffer }[], fields: Record<string, string> = {}) {
  const form = new FormData();
  for (const [i, f] of files.entries()) form.append(f.name ?? 'image', new Blob([new Uint8Array(f.data)]), `image${i}.png`);
  for (const [k, v] of Object.entries(fields)) form.append(k, v);
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { payload: Buffer.from(await request.arrayBuffer()), headers: { 'content-type': request.headers.get('content-type')! } };
}
