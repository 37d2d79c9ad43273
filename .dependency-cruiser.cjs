// The layer order of src/ (issue #10), checked by `npm run lint:layers`:
//   format -> engine, noise -> image, text -> mc -> heads, uncertainty -> pipelines -> http -> app, server
// Each layer imports only the layers listed for it in `below` (and itself). Training, evaluation,
// synthetic checkpoints, converters, CLIs and benchmarks are a wing that may import the core; the core never
// imports the wing. No import cycles, between files or between folders. Type-only imports count
// (tsPreCompilationDeps): a layer that needs another's types depends on it as much as on its code.
const CORE = '^src/(format|engine|noise|image|text|mc|heads|uncertainty|pipelines|http)/|^src/(app|server|config|shutdown)[.]ts$';
const WING = '^(src/(training|evaluate|synthetic|convert|cli)/|bench/)';

/** Folders a layer may import besides itself (and node built-ins and packages). */
const below = {
  format: [],
  engine: ['format'],
  noise: [],
  image: ['format'],
  text: ['format', 'engine'],
  mc: ['format', 'engine', 'noise'],
  heads: ['format', 'engine', 'noise', 'text', 'mc'],
  uncertainty: ['engine', 'mc'],
  pipelines: ['format', 'engine', 'noise', 'image', 'text', 'mc', 'heads', 'uncertainty'],
  http: ['format', 'pipelines'],
};
/** Layers that may read src/config.ts (the environment) besides app.ts and server.ts. */
const readsConfig = ['http'];

const layerRules = Object.entries(below).map(([layer, allowed]) => {
  const config = readsConfig.includes(layer) ? ['src/config.ts'] : [];
  const may = [...allowed.map((l) => `src/${l}/`), ...config];
  return {
    name: `layer-${layer}`,
    comment: `src/${layer}/ may import only ${may.length ? may.join(', ') : 'nothing else in src/'}`,
    severity: 'error',
    from: { path: `^src/${layer}/` },
    to: {
      path: '^src/',
      pathNot: [`^src/${layer}/`, ...allowed.map((l) => `^src/${l}/`), ...config.map((f) => `^${f.replace('.', '[.]')}$`)],
    },
  };
});

module.exports = {
  forbidden: [
    { name: 'no-circular', severity: 'error', comment: 'no import cycles between files', from: {}, to: { circular: true } },
    // Folder cycles (a/x.ts -> b/y.ts -> a/z.ts) have no file cycle; the layer rules rule them out
    // in the core, this rule in the wing and test/ too.
    { name: 'no-circular-folders', severity: 'error', scope: 'folder', comment: 'no import cycles between folders', from: {}, to: { circular: true } },
    { name: 'core-not-wing', severity: 'error', comment: 'the core never imports training, evaluation, synthetic checkpoints, CLIs or benchmarks', from: { path: CORE }, to: { path: WING } },
    { name: 'core-not-tests', severity: 'error', comment: 'production code never imports tests', from: { path: '^(src|bench)/' }, to: { path: '^test/' } },
    // The image installs production dependencies only (npm ci --omit=dev): what the server runs
    // must not need a devDependency. Types vanish in the build, so type-only imports may.
    { name: 'core-not-dev-deps', severity: 'error', comment: 'the core imports production dependencies only', from: { path: CORE }, to: { dependencyTypes: ['npm-dev'], dependencyTypesNot: ['type-only'] } },
    { name: 'no-undeclared-packages', severity: 'error', comment: 'every package imported is in package.json', from: {}, to: { dependencyTypes: ['npm-no-pkg', 'npm-unknown'] } },
    { name: 'config-bottom', severity: 'error', comment: 'src/config.ts reads the environment and imports nothing of src/', from: { path: '^src/config[.]ts$' }, to: { path: '^src/' } },
    // Nothing below src/http/ knows about Fastify: the pipelines must serve a batcher, the KServe
    // protocol or a CLI unchanged.
    { name: 'fastify-only-in-http', severity: 'error', comment: 'only src/http/ and the app import fastify and its plugins', from: { path: '^src/', pathNot: '^src/(http/|app[.]ts$|server[.]ts$|shutdown[.]ts$)' }, to: { path: 'node_modules/(fastify|@fastify)/' } },
    ...layerRules,
    // An import that does not resolve would be left out of every rule above.
    { name: 'not-to-unresolvable', severity: 'error', comment: 'every import resolves', from: {}, to: { couldNotResolve: true } },
  ],
  options: {
    doNotFollow: { path: 'node_modules' },
    tsConfig: { fileName: 'tsconfig.json' },
    tsPreCompilationDeps: true,
    // The code imports with `.ts` suffixes (allowImportingTsExtensions), which resolve as they are;
    // the extensions only serve imports written without one.
    enhancedResolveOptions: { extensions: ['.ts', '.js', '.json'] },
  },
};
