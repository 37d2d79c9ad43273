// What every route plugin gets: the registry and the config. Routes take it as plugin options
// instead of reaching for globals, so a test can build an app around any registry.
import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config.ts';
import type { ModelRegistry, ServedModel } from '../pipelines/registry.ts';
import type { Model } from '../pipelines/classifier.ts';
import type { ZeroShotModel } from '../pipelines/zero-shot.ts';
import { HttpError } from './errors.ts';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface RouteContext {
  registry: ModelRegistry;
  config: Config;
}

/** The ready model called `name`, or the 404 / 503 that explains why there is none. */
export function requireModel(registry: ModelRegistry, name: string): ServedModel {
  const entry = registry.get(name);
  if (!entry) {
    const known = registry.list().map((e) => e.name);
    throw new HttpError(404, 'MODEL_NOT_FOUND', `no model '${name}'; models: ${known.join(', ') || '(none)'}`);
  }
  if (entry.status === 'loading') throw new HttpError(503, 'MODEL_LOADING', `model '${name}' is still loading`);
  if (entry.status === 'failed' || !entry.model) {
    throw new HttpError(503, 'MODEL_UNAVAILABLE', `model '${name}' failed to load: ${entry.error?.file}: ${entry.error?.problem}`);
  }
  return entry.model;
}

/** requireModel, and a 400 naming the right endpoint when the model is a zero-shot one. */
export function requireClassifier(registry: ModelRegistry, name: string): Model {
  const model = requireModel(registry, name);
  if (model.task !== 'classification') {
    throw new HttpError(400, 'WRONG_TASK', `model '${name}' is a zero-shot model: POST /v1/models/${name}/zero-shot with labels`);
  }
  return model;
}

/** requireModel, and a 400 naming the right endpoints when the model is a classifier. */
export function requireZeroShot(registry: ModelRegistry, name: string): ZeroShotModel {
  const model = requireModel(registry, name);
  if (model.task !== 'zero-shot') {
    throw new HttpError(400, 'WRONG_TASK', `model '${name}' classifies into its own ${model.K} labels: use /v1/models/${name}/classify or /predictive`);
  }
  return model;
}
