// The models' own metrics, beside the HTTP ones of metrics.ts: what the batcher does (queue depth
// and time, batch sizes, inference time per mode and estimator, MC samples drawn) and the
// zero-shot text-embedding cache's hits and misses. The batcher reports each run to the observer
// made here; depth and cache counts are read from the models at scrape time.
import { Counter, Gauge, Histogram, type Registry } from 'prom-client';
import { BatchingModel, type BatchObserver } from '../../pipelines/batching.ts';
import type { ModelRegistry } from '../../pipelines/registry.ts';

/** Seconds: from a small model's run (ms) to an MC request at the paper's scale (s). */
const SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
const BATCH_SIZE_BUCKETS = [1, 2, 4, 8, 16, 32, 64, 128, 256, 1024];

export function registerServingMetrics(register: Registry, models: ModelRegistry): BatchObserver {
  const registers = [register];
  new Gauge({
    name: 'hetxl_queue_depth',
    help: 'Requests admitted per model and not yet running (preprocessing or queued); QUEUE_MAX_REQUESTS bounds it',
    labelNames: ['model'],
    registers,
    collect() {
      this.reset();
      for (const { name, model } of models.list()) if (model instanceof BatchingModel) this.set({ model: name }, model.queueDepth);
    },
  });
  const queueTime = new Histogram({ name: 'hetxl_queue_seconds', help: 'Time from admission to the start of the run, per request', labelNames: ['model'], buckets: SECONDS_BUCKETS, registers });
  const batchSize = new Histogram({ name: 'hetxl_batch_size', help: 'Images per model run (requests merged by the batcher)', labelNames: ['model'], buckets: BATCH_SIZE_BUCKETS, registers });
  const batchRequests = new Histogram({ name: 'hetxl_batch_requests', help: 'Requests per model run', labelNames: ['model'], buckets: BATCH_SIZE_BUCKETS, registers });
  const inference = new Histogram({
    name: 'hetxl_inference_seconds',
    help: 'Duration of one model run (backbone, head, statistics), by mode and estimator',
    labelNames: ['model', 'mode', 'estimator'],
    buckets: SECONDS_BUCKETS,
    registers,
  });
  const samples = new Counter({ name: 'hetxl_mc_samples_total', help: 'MC samples drawn, summed over images', labelNames: ['model'], registers });
  // Cumulative counts kept by each model since its load: set at scrape time (a reload starts them again, a counter reset to Prometheus).
  const cacheCounter = (name: string, help: string, of: (c: { hits: number; misses: number }) => number) =>
    new Counter({
      name,
      help,
      labelNames: ['model'],
      registers,
      collect() {
        this.reset();
        for (const { name: model, model: served } of models.list()) if (served?.textCache) this.inc({ model }, of(served.textCache));
      },
    });
  cacheCounter('hetxl_text_cache_hits_total', 'Zero-shot prompt lookups answered by the text-embedding cache', (c) => c.hits);
  cacheCounter('hetxl_text_cache_misses_total', 'Zero-shot prompt lookups that ran the text tower', (c) => c.misses);

  return {
    onBatch(run) {
      const model = { model: run.model };
      for (const seconds of run.queueSeconds) queueTime.observe(model, seconds);
      batchSize.observe(model, run.images);
      batchRequests.observe(model, run.requests);
      inference.observe({ ...model, mode: run.mode, estimator: run.estimator }, run.runSeconds);
      if (run.samples > 0) samples.inc(model, run.samples * run.images);
    },
  };
}
