// Model metadata: the listing, one model's details, its labels.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { requireModel } from '../context.ts';
import { HttpError } from '../errors.ts';
import type { ModelEntry } from '../../pipelines/registry.ts';
import { estimatorsOf } from '../../pipelines/served-model.ts';
import { ErrorResponse, LabelsResponse, ModelDetails, ModelList, ModelParams, type ModelSummary } from '../schemas.ts';

export function summarize(entry: ModelEntry): ModelSummary {
  const m = entry.model;
  return {
    name: entry.name,
    status: entry.status,
    ...(m ? { task: m.task, headType: m.metadata.head.type, K: m.metadata.head.K, untrained: m.metadata.untrained } : {}),
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
      const m = model.metadata;
      const maxSamples = Math.min(m.mc.maxSamples, config.maxSamples);
      // A zero-shot request ranks its own labels: K there is informational.
      const maxTopK = Math.min(model.task === 'zero-shot' ? config.maxZeroShotLabels : m.head.K, config.maxTopK);
      return {
        name: model.name,
        status: 'ready' as const,
        description: m.description,
        task: m.task,
        untrained: m.untrained,
        head: m.head,
        extraParameters: m.extraParameters,
        provider: m.provider,
        input: m.input,
        defaults: {
          mode: m.defaultMode,
          samples: Math.min(m.mc.defaultSamples, maxSamples),
          maxSamples,
          topK: Math.min(5, maxTopK),
          maxTopK,
          seed: 0,
        },
        estimators: m.supportsMc ? [...estimatorsOf(m)] : [],
        ...(m.zeroShot ? { zeroShot: m.zeroShot } : {}),
        provenance: m.provenance,
      };
    },
  );

  app.get(
    '/v1/models/:name/labels',
    { schema: { tags: ['models'], params: ModelParams, response: { 200: LabelsResponse, 404: ErrorResponse, 503: ErrorResponse } } },
    async (request) => {
      const model = requireModel(registry, request.params.name);
      if (!model.labels) throw new HttpError(404, 'NO_LABELS', `model '${model.name}' has no fixed label set`);
      return { model: model.name, labels: [...model.labels] };
    },
  );
};

export default modelRoutes;
