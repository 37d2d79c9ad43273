// buildApp(config): the Fastify application with its plugins and routes. Nothing runs at import,
// so tests build apps with `inject` and their own config; src/server.ts adds listen and signals.
import Fastify, { type FastifyServerOptions } from 'fastify';
import multipart from '@fastify/multipart';
import helmet from '@fastify/helmet';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox';
import type { Config } from './config.ts';
import { ModelRegistry } from './pipelines/registry.ts';
import { answerRouterError, installErrorHandlers } from './http/errors.ts';
import { multipartLimits } from './http/input.ts';
import { strictIntegerOptions } from './http/options.ts';
import type { App } from './http/context.ts';
import healthRoutes from './http/routes/health.ts';
import modelRoutes from './http/routes/models.ts';
import predictRoutes from './http/routes/predict.ts';
import zeroShotRoutes from './http/routes/zero-shot.ts';
import { ErrorResponse } from './http/schemas.ts';
import { timeoutOptions } from './http/timeouts.ts';

export interface BuildOptions {
  /** A registry to serve instead of loading config.modelsDir (tests, embedding). */
  registry?: ModelRegistry;
  /** Fastify logger option; defaults to pino at config.logLevel. */
  logger?: FastifyServerOptions['logger'];
}

export const API_INFO = {
  title: 'hetxl-serve',
  description:
    'Inference and predictive-uncertainty API for DET, HET and HET-XL heteroscedastic image classifiers (Collier et al., ICLR 2023), on ONNX Runtime.',
  version: '0.1.0',
};

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
  }).withTypeProvider<TypeBoxTypeProvider>() as unknown as App;

  installErrorHandlers(app);
  // Fastify parses text/plain by default; images come as JSON or multipart only, so anything
  // else must get a 415 rather than reach a handler as a string.
  app.removeContentTypeParser('text/plain');
  app.addHook('preValidation', strictIntegerOptions);

  // Security headers on every response. The CSP admits Swagger UI at /docs (its scripts and styles
  // are files from 'self', its icons data: URLs, downloads blob: URLs, and it fetches /docs/json)
  // and a same-origin web page; no upgrade-insecure-requests, which would break /docs served over
  // plain HTTP on anything but localhost.
  await app.register(helmet, {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'self'"],
        baseUri: ["'self'"],
        scriptSrc: ["'self'"],
        scriptSrcAttr: ["'none'"],
        styleSrc: ["'self'"],
        imgSrc: ["'self'", 'data:', 'blob:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        objectSrc: ["'none'"],
        formAction: ["'self'"],
        frameAncestors: ["'self'"],
      },
    },
  });

  // Counts and per-part sizes; the whole body is counted against BODY_LIMIT_BYTES as it streams (src/http/input.ts).
  await app.register(multipart, { limits: multipartLimits(config) });

  await app.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: API_INFO,
      tags: [
        { name: 'health', description: 'Liveness and readiness' },
        { name: 'models', description: 'Loaded models and their metadata' },
        { name: 'inference', description: 'Classification and predictive distributions' },
        { name: 'zero-shot', description: 'Classification over labels given in the request (zero-shot models)' },
      ],
    },
  });
  app.addSchema(ErrorResponse);
  await app.register(swaggerUi, { routePrefix: '/docs' });

  let registry = options.registry;
  if (!registry) {
    registry = new ModelRegistry(
      { provider: config.ortProvider, threads: config.ortThreads },
      { maxImagePixels: config.maxImagePixels, headMemoryBudgetBytes: config.headMemoryBudgetMB * 1024 * 1024, textCacheSize: config.textCacheSize, textBatchTokens: config.textBatchTokens },
      app.log,
    );
    void registry.loadAll(config.modelsDir);
  }
  const context = { registry, config };
  await app.register(healthRoutes, context);
  await app.register(modelRoutes, context);
  await app.register(predictRoutes, context);
  await app.register(zeroShotRoutes, context);
  const owned = !options.registry;
  app.addHook('onClose', async () => {
    if (owned) await registry.dispose();
  });
  return app;
}
