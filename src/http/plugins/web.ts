// The web page (issue #14) at / and the bundled sample images of docs/examples/ at /examples/.
// The page is a client of the public HTTP API only; `npm run build:web` (run by `npm start` and
// `npm run build`) bundles web/src/ into web/dist/. Paths are taken from this file's URL, so
// they hold in src/ and in the compiled dist/ alike.
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const PAGE_DIR = fileURLToPath(new URL('../../../web/dist/', import.meta.url));
const EXAMPLES_DIR = fileURLToPath(new URL('../../../docs/examples/', import.meta.url));

export async function registerWebPage(app: FastifyInstance): Promise<void> {
  // wildcard: false routes exactly the files present at start (and / for index.html), so every
  // other path still reaches the JSON 404 handler; @fastify/static never leaves its root.
  // decorateReply: false, as Swagger UI registers @fastify/static too.
  const common = { wildcard: false, decorateReply: false, index: ['index.html'] };
  if (existsSync(PAGE_DIR)) await app.register(fastifyStatic, { ...common, root: PAGE_DIR, prefix: '/' });
  else app.log.warn(`no web page: ${PAGE_DIR} is missing (npm run build:web builds it)`);
  if (existsSync(EXAMPLES_DIR)) {
    await app.register(fastifyStatic, {
      ...common,
      root: EXAMPLES_DIR,
      prefix: '/examples/',
      index: false,
      // The sample images only, not the folder's README.
      allowedPath: (pathName) => pathName.endsWith('.png'),
    });
  }
}
