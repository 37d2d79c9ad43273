// What every route plugin gets: the registry and the config. Routes take it as plugin options
// instead of reaching for globals, so a test can build an app around any registry.
import type { FastifyInstance, FastifyBaseLogger, RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression } from 'fastify';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from '../config.ts';
import type { ModelRegistry } from '../pipelines/registry.ts';
import type { ServedModel, Task } from '../pipelines/served-model.ts';
import { HttpError } from './errors.ts';

export type App = FastifyInstance<RawServerDefault, RawRequestDefaultExpression, RawReplyDefaultExpression, FastifyBaseLogger, TypeBoxTypeProvider>;

export interface RouteContext {
  registry: ModelRegistry;
  config: Config;
}

/** The endpoints of each task, for the 400 that sends a client to the right one. */
const WRONG_TASK: Record<Task, (name: string, model: ServedModel) => string> = {
  classification: (name) => `model '${name}' is a zero-shot model: POST /v1/models/${name}/zero-shot with labels`,
  'zero-shot': (name, model) => `model '${name}' classifies into its own ${model.metadata.head.K} labels: use /v1/models/${name}/classify or /predictive`,
};

/**
 * The ready model called `name`, or the 404 / 503 that explains why there is none; with `task`,
 * also a 400 WRONG_TASK naming the right endpoint when the model is of the other task.
 */
export function requireModel(registry: ModelRegistry, name: string, task?: Task): ServedModel {
  const entry = registry.get(name);
  if (!entry) {
    const known = registry.list().map((e) => e.name);
    throw new HttpError(404, 'MODEL_NOT_FOUND', `no model '${name}'; models: ${known.join(', ') || '(none)'}`);
  }
  if (entry.status === 'loading') throw new HttpError(503, 'MODEL_LOADING', `model '${name}' is still loading`);
  if (entry.status === 'failed' || !entry.model) {
    throw new HttpError(503, 'MODEL_UNAVAILABLE', `model '${name}' failed to load: ${entry.error?.file}: ${entry.error?.problem}`);
  }
  if (task !== undefined && entry.model.task !== task) throw new HttpError(400, 'WRONG_TASK', WRONG_TASK[task](name, entry.model));
  return entry.model;
}

/** A model held by one request: a reload or unload disposes it only once every lease is released. */
export interface ModelLease extends Disposable {
  readonly model: ServedModel;
}

/**
 * requireModel, holding the model for the request: a route takes it with
 * `using lease = acquireModel(...)`, which releases it when the handler's scope ends, whether it
 * returns or throws (a failed request, a client gone and its computation aborted), and never
 * before: the model's sessions stay alive while its computation runs. A hook (onResponse) would
 * not do: Fastify runs none when the client has gone before the response was sent.
 */
export function acquireModel(registry: ModelRegistry, name: string, task?: Task): ModelLease {
  const model = requireModel(registry, name, task);
  return { model, [Symbol.dispose]: registry.hold(model) };
}
