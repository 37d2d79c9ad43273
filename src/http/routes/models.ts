// Model metadata: the listing, one model's details, its labels.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { requireModel } from '../context.ts';
import { HttpError } from '../errors.ts';
import type { ModelEntry } from '../../pipelines/registry.ts';
import { ErrorResponse, LabelsResponse, ModelDetails, ModelList, ModelParams, type ModelSummary } from '../schemas.ts';

export function summarize(entry: ModelEntry): ModelSummary {
  const m = entry.model;
  return {
    name: entry.name,
    status: entry.status,
    ...(m ? { task: m.manifest.task, headType: m.manifest.head.type, K: m.K, untrained: m.manifest.untrained ?? false } : {}),
    ...(entry.error ? { error: entry.error } : {}),
  };
}

const modelRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;

  app.get('/v1/models', { schema: { tags: ['models'], response: { 200: ModelList } } }, async () => ({
    models: registry.list().map(summarize),
  }));

  app.get(
    '/v1/models/:name',
    { schema: { tags: ['models'], params: ModelParams, response: { 200: ModelDetails, 404: ErrorResponse, 503: ErrorResponse } } },
    async (request) => {
      const model = requireModel(registry, request.params.name);
      const { manifest } = model;
      const maxSamples = Math.min(manifest.mc.maxSamples, config.maxSamples);
      // A zero-shot request ranks its own labels: K there is informational.
      const maxTopK = Math.min(model.task === 'zero-shot' ? config.maxZeroShotLabels : model.K, config.maxTopK);
      return {
        name: model.name,
        status: 'ready' as const,
        description: manifest.description,
        task: manifest.task,
        untrained: manifest.untrained ?? false,
        head: manifest.head,
        extraParameters: model.extraParameters,
        provider: model.provider,
        input: manifest.input,
        defaults: {
          mode: model.defaultMode,
          samples: Math.min(manifest.mc.defaultSamples, maxSamples),
          maxSamples,
          topK: Math.min(5, maxTopK),
          maxTopK,
          seed: 0,
        },
        ...(manifest.zeroShot ? { zeroShot: manifest.zeroShot } : {}),
        provenance: manifest.provenance,
      };
    },
  );

  app.get(
    '/v1/models/:name/labels',
    { schema: { tags: ['models'], params: ModelParams, response: { 200: LabelsResponse, 404: ErrorResponse, 503: ErrorResponse } } },
    async (request) => {
      const model = requireModel(registry, request.params.name);
      if (model.task !== 'classification') throw new HttpError(404, 'NO_LABELS', `model '${model.name}' has no fixed label set`);
      return { model: model.name, labels: [...model.labels] };
    },
  );
};

export default modelRoutes;
