// The Dockerfile (issue #13, item 6), parsed rather than built (no Docker engine runs here): a
// build stage that compiles, a runtime stage with production dependencies only that runs the
// compiled server as a non-root user, a HEALTHCHECK with a start period on a route of the app,
// and the CUDA variant by build argument.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../../src/app.ts';
import { loadConfig } from '../../src/config.ts';
import { ModelRegistry } from '../../src/pipelines/registry.ts';
import { testLimits } from '../helpers/app.ts';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  from: string;
  name?: string;
  instructions: Instruction[];
}

/**
 * Dockerfile -> stages of instructions: comments and blank lines dropped, lines continued with a
 * trailing backslash joined, each instruction split into its keyword and the rest.
 */
function parseDockerfile(text: string): { globalArgs: Instruction[]; stages: Stage[] } {
  const lines = text.split('\n').filter((l) => !/^\s*#/.test(l));
  const joined = lines.join('\n').replace(/\\\n/g, ' ');
  const globalArgs: Instruction[] = [];
  const stages: Stage[] = [];
  for (const line of joined.split('\n')) {
    const m = /^\s*([A-Za-z]+)\s+(.*\S)\s*$/.exec(line);
    if (!m) {
      assert.equal(line.trim(), '', `not an instruction: ${line}`);
      continue;
    }
    const instruction = { keyword: m[1].toUpperCase(), args: m[2] };
    if (instruction.keyword === 'FROM') {
      const [from, as, name] = instruction.args.split(/\s+/);
      assert.ok(as === undefined || as.toUpperCase() === 'AS', instruction.args);
      stages.push({ from, name, instructions: [] });
    } else if (stages.length === 0) {
      assert.equal(instruction.keyword, 'ARG', 'only ARG before the first FROM');
      globalArgs.push(instruction);
    } else {
      stages.at(-1)!.instructions.push(instruction);
    }
  }
  return { globalArgs, stages };
}

const { globalArgs, stages } = parseDockerfile(readFileSync(path.join(ROOT, 'Dockerfile'), 'utf8'));
const runtime = stages.at(-1)!;
const build = stages.find((s) => s.name === 'build');
const all = (stage: Stage, keyword: string) => stage.instructions.filter((i) => i.keyword === keyword);
const one = (stage: Stage, keyword: string) => {
  const found = all(stage, keyword);
  assert.equal(found.length, 1, `one ${keyword} in the stage FROM ${stage.from}`);
  return found[0].args;
};
/** ENV KEY=value pairs of a stage (the only form the Dockerfile uses). */
const envOf = (stage: Stage) => Object.fromEntries(all(stage, 'ENV').flatMap((i) => i.args.split(/\s+/).map((kv) => kv.split('=', 2) as [string, string])));

test('multi-stage: a build stage compiles src/ to dist/, the runtime stage takes only the build output', () => {
  assert.ok(stages.length >= 2, 'at least two stages');
  assert.ok(build, 'a stage named build');
  const buildRuns = all(build, 'RUN').map((i) => i.args);
  assert.ok(buildRuns.includes('npm ci'), 'the build stage installs every dependency');
  assert.ok(buildRuns.includes('npm run build'), 'and compiles');
  const copiesFromBuild = all(runtime, 'COPY').filter((i) => i.args.startsWith('--from=build '));
  assert.ok(copiesFromBuild.some((i) => /^--from=build \/app\/dist \.\/dist$/.test(i.args)), 'dist/ comes from the build stage');
  // Not the sources, and not the build stage's node_modules (its devDependencies).
  for (const copy of all(runtime, 'COPY')) assert.doesNotMatch(copy.args, /(^|\s)(src|node_modules|\/app\/node_modules)(\s|$)/, copy.args);
});

test('the runtime stage installs production dependencies only', () => {
  const installs = all(runtime, 'RUN').filter((i) => /\bnpm (ci|install)\b/.test(i.args));
  assert.ok(installs.length >= 1);
  for (const install of installs) assert.match(install.args, /npm ci --omit=dev/, install.args);
  assert.equal(envOf(runtime).NODE_ENV, 'production');
});

test('runs the compiled server as a non-root user', () => {
  const users = all(runtime, 'USER').map((i) => i.args);
  assert.ok(users.length >= 1, 'a USER in the runtime stage');
  assert.ok(!['root', '0', '0:0'].includes(users.at(-1)!), `last USER ${users.at(-1)}`);
  assert.deepEqual(JSON.parse(one(runtime, 'CMD')), ['node', 'dist/server.js']);
  // dist/server.js is src/server.ts compiled (tsconfig.build.json: rootDir src, outDir dist).
  assert.ok(existsSync(path.join(ROOT, 'src/server.ts')));
  assert.equal(all(runtime, 'ENTRYPOINT').length, 0, 'no entrypoint wrapping node (signals go to node itself)');
});

test('HEALTHCHECK with a start period, on a readiness route of the app', async () => {
  const healthcheck = one(runtime, 'HEALTHCHECK');
  const [, options, command] = /^((?:--\S+\s+)*)CMD\s+(.*)$/.exec(healthcheck) ?? [];
  assert.ok(command, healthcheck);
  const flags = Object.fromEntries(options.trim().split(/\s+/).map((f) => f.replace(/^--/, '').split('=', 2) as [string, string]));
  for (const flag of ['interval', 'timeout', 'start-period']) assert.match(flags[flag] ?? '', /^\d+(ms|s|m)$/, `--${flag}`);
  const url = /'http:\/\/127\.0\.0\.1:'\+process\.env\.PORT\+'(\/[^']*)'/.exec(command);
  assert.ok(url, command);
  const registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, testLimits(), { info() {}, error() {} });
  const app = await buildApp(loadConfig({}, { logLevel: 'silent' }), { registry });
  try {
    await app.ready();
    assert.equal(url[1], '/readyz');
    assert.ok(app.hasRoute({ method: 'GET', url: url[1] }));
  } finally {
    await app.close();
  }
});

test('port, listen address and models folder agree with EXPOSE, WORKDIR and the models copied in', () => {
  const env = envOf(runtime);
  const config = loadConfig(env);
  assert.equal(one(runtime, 'EXPOSE'), String(config.port));
  assert.equal(config.host, '0.0.0.0', 'reachable from outside the container');
  const workdir = one(runtime, 'WORKDIR');
  const models = all(runtime, 'COPY').find((i) => /^models\s/.test(i.args));
  assert.ok(models, 'the bundled models are copied in');
  assert.equal(path.posix.resolve(workdir, models.args.split(/\s+/)[1]), config.modelsDir);
});

test('the CUDA variant by build arguments: the base image and the ONNX Runtime CUDA download', () => {
  assert.ok(globalArgs.some((a) => /^BASE=node:20\S*$/.test(a.args)), 'ARG BASE defaults to a Node 20 image');
  assert.equal(runtime.from, '${BASE}');
  assert.ok(all(runtime, 'ARG').some((a) => a.args === 'ORT_INSTALL=skip'), 'ARG ORT_INSTALL, off by default');
  assert.ok(all(runtime, 'RUN').some((r) => /ONNXRUNTIME_NODE_INSTALL=\$ORT_INSTALL node node_modules\/onnxruntime-node\/script\/install/.test(r.args)));
});
