// Prometheus metrics at GET /metrics (prom-client): requests and their latency by route, model and
// status; the models' load status and failed loads; event-loop lag and the process defaults. One prom-client
// Registry per app, so that tests building many apps never meet a metric registered twice; the
// process metrics are the process's, collected once however many apps it builds (each collector
// keeps an event-loop monitor and a GC observer for good). Names and an example scrape:
// docs/operations.md.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { MODEL_STATUSES, type ModelRegistry } from '../../pipelines/registry.ts';
import { registerServingMetrics } from './serving-metrics.ts';

export const METRICS_PATH = '/metrics';

/** Request latency buckets, seconds: from a health check (ms) to an MC request at the paper's scale (s). */
const DURATION_BUCKETS = [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

const REQUEST_LABELS = ['method', 'route', 'model', 'status_code'] as const;

let processMetrics: Registry | undefined;

function processRegistry(): Registry {
  if (!processMetrics) {
    processMetrics = new Registry();
    collectDefaultMetrics({ register: processMetrics });
  }
  return processMetrics;
}

/**
 * The labels of one request. `route` is the route's pattern (/v1/models/:name/classify), never
 * the URL, and `model` a name the registry knows ('unknown' for any other, '' on routes without
 * one): a label per URL or per client-chosen name would grow the series without bound.
 */
function requestLabels(request: FastifyRequest, reply: FastifyReply, models: ModelRegistry) {
  const name = (request.params as { name?: unknown } | undefined)?.name;
  const model = typeof name !== 'string' ? '' : models.get(name) ? name : 'unknown';
  return { method: request.method, route: request.routeOptions.url ?? 'unmatched', model, status_code: String(reply.statusCode) };
}

export function registerMetrics(app: FastifyInstance, models: ModelRegistry): void {
  const register = new Registry();
  const requests = new Counter({ name: 'http_requests_total', help: 'HTTP requests answered, by route pattern, model and status', labelNames: REQUEST_LABELS, registers: [register] });
  const duration = new Histogram({
    name: 'http_request_duration_seconds',
    help: 'Time from receiving a request to its response sent, by route pattern, model and status',
    labelNames: REQUEST_LABELS,
    buckets: DURATION_BUCKETS,
    registers: [register],
  });
  new Gauge({
    name: 'hetxl_model_status',
    help: "1 for each model's current load status (loading, ready, failed), 0 for the others",
    labelNames: ['model', 'status'],
    registers: [register],
    collect() {
      this.reset();
      for (const entry of models.list()) {
        for (const status of MODEL_STATUSES) this.set({ model: entry.name, status }, entry.status === status ? 1 : 0);
      }
    },
  });
  new Gauge({
    name: 'hetxl_models_failed',
    help: 'Checkpoint folders under MODELS_DIR whose model failed to load and does not serve (GET /readyz names the file and the problem)',
    registers: [register],
    collect() {
      this.set(models.list().filter((e) => e.status === 'failed').length);
    },
  });
  // The registry counts (a load can fail before this app registers its metrics); the counter
  // mirrors its counts. Its model names are folders under MODELS_DIR that a load reached: bounded.
  new Counter({
    name: 'hetxl_model_load_failures_total',
    help: 'Failed model loads, at start and by POST /v2/repository/models/{name}/load, by model',
    labelNames: ['model'],
    registers: [register],
    collect() {
      this.reset();
      for (const [model, count] of models.loadFailureCounts()) this.inc({ model }, count);
    },
  });

  models.observeBatches(registerServingMetrics(register, models));

  app.addHook('onResponse', async (request, reply) => {
    if (request.routeOptions.url === METRICS_PATH) return;
    const labels = requestLabels(request, reply, models);
    requests.inc(labels);
    duration.observe(labels, reply.elapsedTime / 1000);
  });
  // hide: the scrape endpoint is for Prometheus, not part of the API that /docs describes.
  app.get(METRICS_PATH, { schema: { hide: true } }, async (_request, reply) => {
    const all = Registry.merge([processRegistry(), register]);
    return reply.type(all.contentType).send(await all.metrics());
  });
}
