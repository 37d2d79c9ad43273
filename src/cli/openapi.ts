// Writes openapi/openapi.json from the route schemas (--write), or fails when the committed
// file differs from what the code generates (--check, part of `npm test`).
import { readFile, writeFile, mkdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildApp } from '../app.ts';
import { modelLimitsOf, loadConfig } from '../config.ts';
import { ModelRegistry } from '../pipelines/registry.ts';

const OUTPUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../openapi/openapi.json');

export async function generateOpenApi(): Promise<string> {
  // Schemas do not depend on the environment or on the models: an empty registry will do. The
  // model repository routes exist only with a control token: a placeholder puts them in the document.
  const config = loadConfig({}, { modelControlToken: 'openapi-placeholder-token' });
  const silent = { info() {}, error() {} };
  const registry = new ModelRegistry({ provider: 'cpu', threads: 1 }, modelLimitsOf(config), silent);
  const app = await buildApp(config, { registry, logger: false });
  await app.ready();
  const document = app.swagger();
  await app.close();
  return `${JSON.stringify(document, null, 2)}\n`;
}

async function main(): Promise<void> {
  const mode = process.argv[2];
  const generated = await generateOpenApi();
  if (mode === '--write') {
    await mkdir(path.dirname(OUTPUT), { recursive: true });
    await writeFile(OUTPUT, generated);
    console.log(`wrote ${path.relative(process.cwd(), OUTPUT)}`);
  } else if (mode === '--check') {
    const committed = await readFile(OUTPUT, 'utf8').catch(() => '');
    if (committed !== generated) {
      console.error(`${path.relative(process.cwd(), OUTPUT)} is stale: run \`npm run openapi\` and commit the result`);
      process.exit(1);
    }
    console.log('openapi/openapi.json is up to date');
  } else {
    console.error('usage: openapi.ts --write | --check');
    process.exit(2);
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) await main();
