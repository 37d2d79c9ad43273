// Liveness and readiness, plain and in the KServe v2 (Open Inference Protocol) paths.
import type { FastifyPluginAsync } from 'fastify';
import type { App, RouteContext } from '../context.ts';
import { Health, Readiness } from '../schemas.ts';
import { summarize } from './models.ts';

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
  app.get('/v2/health/ready', ready, readyHandler);
};

export default healthRoutes;
