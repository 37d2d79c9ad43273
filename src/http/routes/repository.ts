// The model repository extension of the Open Inference Protocol (Triton's model_repository,
// docs/kserve-v2.md): the index of MODELS_DIR, and load (or reload) and unload of one model,
// without a restart. Registered under /v2 only when MODEL_CONTROL_TOKEN is set, and every route
// requires it as a bearer token; errors in the protocol's shape, as the other /v2 routes.
import type { FastifyPluginAsync } from 'fastify';
import type { IndexEntry } from '../../pipelines/registry.ts';
import type { App, RouteContext } from '../context.ts';
import { badRequest, clip, installProtocolErrorHandler } from '../errors.ts';
import { RepositoryErrors, RepositoryIndex, RepositoryIndexRequest, RepositoryModelRequest, RepositoryModelResponse } from '../kserve-schemas.ts';
import { requireControlToken } from '../plugins/auth.ts';
import { ModelParams } from '../schemas.ts';

/** The largest control request body: these bodies hold a flag or two. */
const BODY_LIMIT = 64 * 1024;

/** The registry's state of a folder -> the protocol's (Triton's) state and reason. */
function indexEntry({ name, state, reason }: IndexEntry) {
  if (state === 'ready') return { name, state: 'READY' as const, reason: '' };
  if (state === 'loading') return { name, state: 'LOADING' as const, reason: '' };
  return { name, state: 'UNAVAILABLE' as const, reason: state === 'failed' ? reason : 'not loaded' };
}

type ModelRequest = { parameters?: Record<string, unknown> };

/** Refuses parameters other than `allowed` (with the type each must have). */
function checkParameters(body: ModelRequest, allowed: Record<string, 'boolean'>): void {
  for (const [key, value] of Object.entries(body.parameters ?? {})) {
    if (!(key in allowed)) {
      const taken = Object.keys(allowed);
      throw badRequest('UNKNOWN_OPTION', `unknown parameter '${clip(key)}'; ${taken.length > 0 ? `parameters are ${taken.join(', ')}` : 'none are taken'}`);
    }
    if (typeof value !== allowed[key]) throw badRequest('INVALID_REQUEST', `parameter '${key}' must be a ${allowed[key]}`);
  }
}

const repositoryRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;
  installProtocolErrorHandler(app);
  app.addHook('preParsing', requireControlToken(config.modelControlToken));

  // Clients send these bodies as JSON with or without a content type (tritonclient sends none),
  // or send no body at all: every body here is read as JSON, and an empty one is {}.
  const parseJson = app.getDefaultJsonParser('error', 'error');
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (request, body, done) =>
    String(body).trim() === '' ? done(null, {}) : parseJson(request, String(body), done),
  );
  app.addHook('preValidation', async (request) => {
    if (request.body === undefined || request.body === null) request.body = {};
  });

  const tags = ['kserve-v2'];
  const security = 'Requires Authorization: Bearer <MODEL_CONTROL_TOKEN>; registered only when MODEL_CONTROL_TOKEN is set.';

  app.post(
    '/repository/index',
    {
      schema: {
        tags,
        description: `The model repository index: every checkpoint folder under MODELS_DIR with its state and the reason for it. ${security}`,
        body: RepositoryIndexRequest,
        response: { 200: RepositoryIndex, ...RepositoryErrors },
      },
    },
    async (request) => {
      const { ready } = request.body as { ready?: boolean };
      const index = (await registry.index()).map(indexEntry);
      return ready ? index.filter((e) => e.state === 'READY') : index;
    },
  );

  app.post(
    '/repository/models/:name/load',
    {
      schema: {
        tags,
        description:
          'Loads the model folder MODELS_DIR/{name}, or reloads it: the new version replaces the old only once it is loaded and warmed up, and requests under way finish on the old one. ' +
          `A failed load (400 MODEL_LOAD_FAILED, naming the file and the problem) leaves a serving version serving. ${security}`,
        params: ModelParams,
        body: RepositoryModelRequest,
        response: { 200: RepositoryModelResponse, ...RepositoryErrors },
      },
    },
    async (request) => {
      checkParameters(request.body as ModelRequest, {});
      const entry = await registry.load(request.params.name);
      return { name: entry.name, state: 'READY' as const };
    },
  );

  app.post(
    '/repository/models/:name/unload',
    {
      schema: {
        tags,
        description: `Unloads model {name}: it is gone from listings and readiness at once, and its requests under way finish before it is disposed. Unloading a folder that is not loaded does nothing. ${security}`,
        params: ModelParams,
        body: RepositoryModelRequest,
        response: { 200: RepositoryModelResponse, ...RepositoryErrors },
      },
    },
    async (request) => {
      checkParameters(request.body as ModelRequest, { unload_dependents: 'boolean' });
      await registry.unload(request.params.name);
      return { name: request.params.name, state: 'UNAVAILABLE' as const };
    },
  );
};

export default repositoryRoutes;
