// buildApp(config): the Fastify application with its plugins and routes. Nothing runs at import,
// so tests build apps with `inject` and their own config; src/server.ts adds listen and signals.
import Fastify, { type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import { modelLimitsOf, type Config } from './config.ts';
import { loadServedModel, ModelRegistry } from './pipelines/registry.ts';
import { workerModelLoader } from './pipelines/worker/worker-model.ts';
import type { App } from './http/context.ts';
import { answerRouterError, installErrorHandlers } from './http/errors.ts';
import { multipartLimits } from './http/input.ts';
import { strictIntegerOptions } from './http/options.ts';
import { registerApiKeys } from './http/plugins/auth.ts';
import { registerCors } from './http/plugins/cors.ts';
import { registerDocs } from './http/plugins/docs.ts';
import { registerMetrics } from './http/plugins/metrics.ts';
import { registerRateLimit } from './http/plugins/rate-limit.ts';
import { echoRequestId, requestIdOptions } from './http/plugins/request-id.ts';
import { registerSecurityHeaders } from './http/plugins/security.ts';
import { registerWebPage } from './http/plugins/web.ts';
import { timeoutOptions } from './http/timeouts.ts';
import classifyRoutes from './http/routes/classify.ts';
import healthRoutes from './http/routes/health.ts';
import modelRoutes from './http/routes/models.ts';
import predictiveRoutes from './http/routes/predictive.ts';
import zeroShotRoutes from './http/routes/zero-shot.ts';
import kserveV2Routes from './http/routes/kserve-v2.ts';
import repositoryRoutes from './http/routes/repository.ts';

export interface BuildOptions {
  /** A registry to serve instead of loading config.modelsDir (tests, embedding). */
  registry?: ModelRegistry;
  /** Fastify logger option; defaults to pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
}

export async function buildApp(config: Config, options: BuildOptions = {}): Promise<App> {
  const app = Fastify({
    logger: options.logger ?? { level: config.logLevel },
    bodyLimit: config.bodyLimitBytes,
    // The multipart body schema documents file parts for OpenAPI but has no `type` (a multipart
    // body is read as a stream, so there is no object to validate); Ajv would warn about it.
    // removeAdditional off: Fastify's default silently drops unknown fields, so a misspelt option
    // would be ignored instead of refused.
    ajv: { customOptions: { strictTypes: false, removeAdditional: false } },
    // Request, headers and keep-alive timeouts, and the 408 of a stalled upload (src/http/timeouts.ts).
    ...timeoutOptions(config),
    // A bad URL or an over-long path parameter: our error shape, without the URL quoted whole.
    frameworkErrors: answerRouterError,
    // X-Request-Id: the client's when it is a reasonable token, else generated; logged as reqId.
    ...requestIdOptions,
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  installErrorHandlers(app);
  echoRequestId(app);
  // Fastify parses text/plain by default; images come as JSON or multipart only, so anything
  // else must get a 415 rather than reach a handler as a string.
  app.removeContentTypeParser('text/plain');
  app.addHook('preValidation', strictIntegerOptions);
  await registerSecurityHeaders(app);
  await registerCors(app, config.corsOrigins);
  // Both apply to the routes registered after them; the limit's hook runs before the key check.
  const apiKeys = registerApiKeys(app, config.apiKeys);
  await registerRateLimit(app, config, apiKeys);
  // Counts and per-part sizes; the whole body is counted against BODY_LIMIT_BYTES as it streams (src/http/input.ts).
  await app.register(multipart, { limits: multipartLimits(config) });
  await registerDocs(app);
  await registerWebPage(app);

  let registry = options.registry;
  if (!registry) {
    // INFERENCE_WORKERS: each model's sessions in a worker thread of its own, or in this thread;
    // 'auto' keeps a small classifier's short runs in this thread too.
    const loader = config.inferenceWorkers ? workerModelLoader({ log: app.log, shortRunsLocal: config.inferenceWorkers === 'auto' }) : loadServedModel;
    registry = new ModelRegistry({ provider: config.ortProvider, threads: config.ortThreads }, modelLimitsOf(config), app.log, loader);
    void registry.loadAll(config.modelsDir);
  }
  registerMetrics(app, registry);
  const context = { registry, config };
  await app.register(healthRoutes, context);
  await app.register(modelRoutes, context);
  await app.register(classifyRoutes, context);
  await app.register(predictiveRoutes, context);
  await app.register(zeroShotRoutes, context);
  // Under a prefix: its own error and not-found handlers answer /v2 in the protocol's shape.
  await app.register(kserveV2Routes, { ...context, prefix: '/v2' });
  // The model repository extension: not registered at all (404) without MODEL_CONTROL_TOKEN.
  if (config.modelControlToken) await app.register(repositoryRoutes, { ...context, prefix: '/v2' });
  const owned = !options.registry;
  app.addHook('onClose', async () => {
    if (owned) await registry.dispose();
  });
  return app;
}
