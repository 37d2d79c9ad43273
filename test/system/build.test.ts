// The production build (issue #10, item 6): tsconfig.build.json compiles src/ to JavaScript that
// plain `node` runs, without tsx, as the Docker image does (`node dist/server.js`). The build goes
// to a temporary folder rather than dist/, so that it neither disturbs nor relies on a local build.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { cp, mkdtemp, readdir, readFile, rm, symlink } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEADLINE_MS = 60_000;

/** A free port of 127.0.0.1. */
function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** Runs `node args` in `cwd` to its end: exit code and output, stdout and stderr together. */
function runNode(args: string[], cwd: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    child.stdout.on('data', (chunk) => (output += chunk));
    child.stderr.on('data', (chunk) => (output += chunk));
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

/** `env` less NODE_OPTIONS, which could hand the server tsx (`--import tsx`) behind the test's back. */
function withoutNodeOptions(env: NodeJS.ProcessEnv): NodeJS.ProcessEnv {
  const { NODE_OPTIONS: _, ...rest } = env;
  return rest;
}

/** The .js files under `dir`, recursively. */
async function jsFiles(dir: string): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await jsFiles(full)));
    else if (entry.name.endsWith('.js')) files.push(full);
  }
  return files;
}

test('the build compiles src/ to JavaScript that node serves a model from, without tsx', { timeout: 180_000 }, async () => {
  const work = await mkdtemp(path.join(tmpdir(), 'hetxl-build-'));
  let server: ReturnType<typeof spawn> | undefined;
  try {
    const outDir = path.join(work, 'dist');
    const tsc = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');
    const build = await runNode([tsc, '-p', 'tsconfig.build.json', '--outDir', outDir], ROOT);
    assert.equal(build.code, 0, `the build failed:\n${build.output}`);

    // Every relative import was rewritten from .ts to .js: plain node resolves no .ts file.
    const files = await jsFiles(outDir);
    assert.ok(files.some((f) => f === path.join(outDir, 'server.js')), 'dist/server.js exists');
    for (const file of files) {
      const tsImport = /(?:from|import)\s*\(?\s*["'](\.{1,2}\/[^"']*\.ts)["']/.exec(await readFile(file, 'utf8'));
      assert.equal(tsImport, null, `${path.relative(outDir, file)} still imports ${tsImport?.[1]}`);
    }

    // The layout of the image: package.json beside dist/ ("type": "module" makes the .js files
    // ES modules) and the installed packages; one small bundled model, copied so that the
    // server's realpath confinement of MODELS_DIR sees a plain folder.
    await cp(path.join(ROOT, 'package.json'), path.join(work, 'package.json'));
    await symlink(path.join(ROOT, 'node_modules'), path.join(work, 'node_modules'), 'dir');
    const modelsDir = path.join(work, 'models');
    await cp(path.join(ROOT, 'models', 'det-fashion-mnist'), path.join(modelsDir, 'det-fashion-mnist'), { recursive: true });

    const port = await freePort();
    server = spawn(process.execPath, [path.join(outDir, 'server.js')], {
      cwd: work,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...withoutNodeOptions(process.env), PORT: String(port), HOST: '127.0.0.1', MODELS_DIR: modelsDir, LOG_LEVEL: 'warn' },
    });
    let output = '';
    server.stdout!.on('data', (chunk) => (output += chunk));
    server.stderr!.on('data', (chunk) => (output += chunk));
    const exited = new Promise<number | null>((resolve) => server!.once('exit', (code) => resolve(code)));
    const base = `http://127.0.0.1:${port}`;

    let ready = false;
    for (let waited = 0; !ready && waited < DEADLINE_MS; waited += 200) {
      ready = await fetch(`${base}/readyz`).then((r) => r.ok, () => false);
      if (!ready) await sleep(200);
    }
    assert.ok(ready, `node dist/server.js was not ready within ${DEADLINE_MS} ms:\n${output}`);
    assert.deepEqual(await (await fetch(`${base}/healthz`)).json(), { status: 'ok' });

    // One prediction through the compiled pipeline: sharp decodes, ONNX Runtime runs the backbone.
    const form = new FormData();
    form.append('image', new Blob([await readFile(path.join(ROOT, 'docs', 'examples', 'sneaker.png'))], { type: 'image/png' }), 'sneaker.png');
    const response = await fetch(`${base}/v1/models/det-fashion-mnist/classify?topK=1`, { method: 'POST', body: form });
    const body = (await response.json()) as { predictions: { classes: { label: string; probability: number }[] }[] };
    assert.equal(response.status, 200, JSON.stringify(body));
    assert.equal(body.predictions.length, 1);
    assert.equal(body.predictions[0].classes[0].label, 'Sneaker');
    assert.ok(body.predictions[0].classes[0].probability > 0.5, JSON.stringify(body));

    server.kill('SIGTERM');
    const code = await Promise.race([exited, sleep(DEADLINE_MS, 'timeout' as const, { ref: false })]);
    assert.equal(code, 0, `exit after SIGTERM:\n${output}`);
  } finally {
    if (server && server.exitCode === null && server.signalCode === null) server.kill('SIGKILL');
    await rm(work, { recursive: true, force: true });
  }
});
