// Liveness and readiness, plain and in the KServe v2 (Open Inference Protocol) paths. The two
// readiness checks differ on purpose: /readyz is ready when at least one model serves (a broken
// checkpoint among several does not take the server out of a load balancer), /v2/health/ready is
// the protocol's "server ready", every model ready for inferencing (docs/kserve-v2.md).
import type { FastifyInstance, FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { ServerReady } from '../kserve-schemas.ts';
import { Health, Readiness } from '../schemas.ts';
import { summarize } from './models.ts';

/**
 * The servers shutting down (src/shutdown.ts): their readiness answers 503 from then on, while
 * they still accept, so that a load balancer stops sending before the listener closes. Keyed by
 * the HTTP server, which the app and every encapsulated plugin of it share.
 */
const draining = new WeakSet<FastifyInstance['server']>();
export function markDraining(app: FastifyInstance): void {
  draining.add(app.server);
}

const healthRoutes: FastifyPluginAsync<RouteContext> = async (fastify, { registry }) => {
  const app = fastify as unknown as App;
  const live = { schema: { tags: ['health'], response: { 200: Health } } };
  const ready = {
    schema: {
      tags: ['health'],
      description: 'Ready when loading has finished and at least one model serves; models that failed to load are listed with their problem.',
      response: { 200: Readiness, 503: Readiness },
    },
  };
  const liveHandler = async () => ({ status: 'ok' });
  const readyHandler = async (_: unknown, reply: { status(code: number): unknown }) => {
    const models = registry.list().map(summarize);
    if (draining.has(app.server)) {
      reply.status(503);
      return { status: 'unavailable' as const, models };
    }
    if (!registry.loadingFinished) {
      reply.status(503);
      return { status: 'loading' as const, models };
    }
    if (!models.some((m) => m.status === 'ready')) {
      reply.status(503);
      return { status: 'unavailable' as const, models };
    }
    return { status: 'ready' as const, models };
  };
  app.get('/healthz', live, liveHandler);
  app.get('/v2/health/live', live, liveHandler);
  app.get('/readyz', ready, readyHandler);

  const v2Ready = {
    schema: {
      tags: ['health', 'kserve-v2'],
      description:
        'Open Inference Protocol server readiness: 200 when loading has finished and every model is ready; 503 while any loads, when any failed to load (as Triton\'s strict readiness), when there is no model at all, or once shutdown has begun. Models are listed with their status.',
      response: { 200: ServerReady, 503: ServerReady },
    },
  };
  app.get('/v2/health/ready', v2Ready, async (_, reply) => {
    const models = registry.list().map(summarize);
    // No models is not ready either: a server that can infer nothing (an empty or unreadable
    // MODELS_DIR) should fail its readiness probe, not pass it vacuously.
    const ready = !draining.has(app.server) && registry.loadingFinished && models.length > 0 && models.every((m) => m.status === 'ready');
    if (!ready) void reply.status(503);
    return { ready, models };
  });
};

export default healthRoutes;
