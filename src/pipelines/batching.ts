// Dynamic batching with backpressure, per model: a ServedModel that wraps another. Requests are
// admitted into a bounded queue (over capacity: QueueFullError, which HTTP answers 503 with
// Retry-After), preprocessed on their own (a bad image fails its own request only), and run at
// most maxConcurrentRuns at a time (the models' ORT sessions already use every core: running every
// request side by side only interleaves them; two runs let one's JavaScript overlap the other's
// ORT work). While the runs go on the next requests wait, and those that can
// share a run (same options, same classes) are concatenated into one backbone and head call, up to
// maxBatchSize images: batching costs no latency at low load (maxQueueDelayMs 0) and turns queueing
// into throughput under load. The MC noise is drawn per chunk for the whole batch from the seed
// (src/mc/loop.ts), so a request's answer is the same whether it ran alone or merged.
//
// Deadlines and disconnects come as the request's AbortSignal: a request whose signal aborts is
// answered at once with the signal's reason, removed from the queue if it is still there, and its
// result discarded if its batch is running; the batch's own signal aborts (stopping the work at the
// next stage boundary) only when every request in it has gone. Each request settles exactly once.
import type { BatchingSpec } from '../format/manifest.ts';
import { ModelUnloadedError, QueueFullError } from './errors.ts';
import type { BatchingOptions, InferenceInput, ModelMetadata, PixelBatch, Prediction, PredictOptions, PreparedInput, ServedModel } from './served-model.ts';

/** What one merged run did, for metrics. */
export interface BatchRun {
  model: string;
  mode: PredictOptions['mode'];
  estimator: string;
  /** MC samples per image (0 in mean mode). */
  samples: number;
  requests: number;
  images: number;
  /** Per request, seconds from admission to the start of its run. */
  queueSeconds: number[];
  runSeconds: number;
}

export interface BatchObserver {
  onBatch(run: BatchRun): void;
}

/** The server's batching options with a manifest's `batching` over them. */
export function batchingOptionsFor(server: BatchingOptions, manifest: BatchingSpec | undefined): BatchingOptions {
  return { ...server, ...manifest };
}

interface Job {
  pixels: PixelBatch;
  input: PreparedInput;
  options: PredictOptions;
  admittedAt: number;
  settled: boolean;
  resolve(predictions: Prediction[]): void;
  reject(error: unknown): void;
}

export class BatchingModel implements ServedModel {
  private readonly queue: Job[] = [];
  /** Admitted requests not yet running: preprocessing, or in the queue. */
  private waiting = 0;
  /** Runs in flight (at most options.maxConcurrentRuns). */
  private readonly running = new Set<Promise<void>>();
  private delayTimer: NodeJS.Timeout | undefined;
  /** Exponential average of a run's duration, ms: the Retry-After estimate. */
  private averageRunMs = 0;
  private closed = false;

  constructor(
    readonly inner: ServedModel,
    readonly options: BatchingOptions,
    private readonly observer?: BatchObserver,
  ) {
    if (!(Number.isInteger(options.maxBatchSize) && options.maxBatchSize >= 1)) throw new RangeError(`maxBatchSize must be a positive integer, got ${options.maxBatchSize}`);
    if (!(Number.isInteger(options.maxQueue) && options.maxQueue >= 1)) throw new RangeError(`maxQueue must be a positive integer, got ${options.maxQueue}`);
    if (!(options.maxQueueDelayMs >= 0)) throw new RangeError(`maxQueueDelayMs must be >= 0, got ${options.maxQueueDelayMs}`);
    if (!(Number.isInteger(options.maxConcurrentRuns) && options.maxConcurrentRuns >= 1)) throw new RangeError(`maxConcurrentRuns must be a positive integer, got ${options.maxConcurrentRuns}`);
  }

  get name(): string {
    return this.inner.name;
  }
  get task() {
    return this.inner.task;
  }
  get metadata(): ModelMetadata {
    return this.inner.metadata;
  }
  get labels(): readonly string[] | undefined {
    return this.inner.labels;
  }
  get textCache(): { hits: number; misses: number } | undefined {
    return this.inner.textCache;
  }

  /** Requests admitted and not yet running. */
  get queueDepth(): number {
    return this.waiting;
  }

  prepare(input: InferenceInput): PreparedInput {
    return this.inner.prepare(input);
  }

  preprocess(input: PreparedInput, signal?: AbortSignal): Promise<PixelBatch> {
    return this.inner.preprocess(input, signal);
  }

  /** Admits the request, preprocesses it, and queues it for a (possibly merged) run. */
  async predict(input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    this.admit();
    let pixels: PixelBatch;
    try {
      pixels = await this.inner.preprocess(input, options.signal);
    } catch (error) {
      this.waiting--;
      throw error;
    }
    return this.enqueue(pixels, input, options);
  }

  /** Queues already preprocessed pixels (admission included). */
  predictTensor(pixels: PixelBatch, input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    this.admit();
    return this.enqueue(pixels, input, options);
  }

  warmUp(): Promise<void> {
    return this.inner.warmUp();
  }

  /** Refuses what is queued, lets the running batch finish, then disposes the model. */
  async dispose(): Promise<void> {
    this.closed = true;
    clearTimeout(this.delayTimer);
    for (const job of this.queue.splice(0)) this.settle(job, () => job.reject(new ModelUnloadedError(this.name)));
    await Promise.all(this.running);
    await this.inner.dispose();
  }

  private admit(): void {
    if (this.closed) throw new ModelUnloadedError(this.name);
    if (this.waiting >= this.options.maxQueue) {
      const runsAhead = Math.ceil(this.waiting / this.options.maxBatchSize) + 1;
      throw new QueueFullError(this.name, this.options.maxQueue, Math.max(1, Math.ceil((runsAhead * this.averageRunMs) / 1000)));
    }
    this.waiting++;
  }

  private enqueue(pixels: PixelBatch, input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    return new Promise<Prediction[]>((resolve, reject) => {
      if (this.closed) {
        // Unloaded while this request was being preprocessed.
        this.waiting--;
        return reject(new ModelUnloadedError(this.name));
      }
      const job: Job = { pixels, input, options, admittedAt: performance.now(), settled: false, resolve, reject };
      const { signal } = options;
      if (signal) {
        // Answered at once: out of the queue if still there, its result dropped if running.
        const onAbort = () => {
          const at = this.queue.indexOf(job);
          if (at >= 0) {
            this.queue.splice(at, 1);
            this.waiting--;
          }
          this.settle(job, () => reject(signal.reason));
        };
        if (signal.aborted) {
          this.waiting--;
          return reject(signal.reason);
        }
        signal.addEventListener('abort', onAbort, { once: true });
        const remove = () => signal.removeEventListener('abort', onAbort);
        job.resolve = (p) => (remove(), resolve(p));
        job.reject = (e) => (remove(), reject(e));
      }
      this.queue.push(job);
      this.pump();
    });
  }

  private settle(job: Job, answer: () => void): void {
    if (job.settled) return;
    job.settled = true;
    answer();
  }

  /** Starts the next run when a run slot is free: now, or when the oldest job's delay is up. */
  private pump(): void {
    if (this.running.size >= this.options.maxConcurrentRuns || this.queue.length === 0) return;
    clearTimeout(this.delayTimer);
    this.delayTimer = undefined;
    const batch = this.nextBatch();
    const images = batch.reduce((n, j) => n + j.pixels.batch, 0);
    const waited = performance.now() - this.queue[0].admittedAt;
    if (images < this.options.maxBatchSize && waited < this.options.maxQueueDelayMs) {
      this.delayTimer = setTimeout(() => {
        this.delayTimer = undefined;
        this.pump();
      }, this.options.maxQueueDelayMs - waited);
      return;
    }
    for (const job of batch) this.queue.splice(this.queue.indexOf(job), 1);
    this.waiting -= batch.length;
    const run: Promise<void> = this.run(batch).finally(() => {
      this.running.delete(run);
      this.pump();
    });
    this.running.add(run);
    // Another slot may be free for the next compatible group.
    this.pump();
  }

  /** The oldest job and, in queue order, the later ones that can share its run, within maxBatchSize images. */
  private nextBatch(): Job[] {
    const [first, ...rest] = this.queue;
    const batch = [first];
    let images = first.pixels.batch;
    for (const job of rest) {
      if (images + job.pixels.batch > this.options.maxBatchSize) continue;
      if (!canShareRun(first, job)) continue;
      batch.push(job);
      images += job.pixels.batch;
    }
    return batch;
  }

  private async run(batch: Job[]): Promise<void> {
    const started = performance.now();
    const live = () => batch.filter((j) => !j.settled);
    // The run stops only when nobody is left to answer: a lone request's own signal says so (and
    // saves an AbortController and two listeners per request at low load); a merged run's is
    // aborted when the last of its requests goes.
    const controller = batch.length > 1 ? new AbortController() : undefined;
    const onGone = () => {
      if (live().length === 0) controller?.abort(batch[batch.length - 1].options.signal?.reason);
    };
    if (controller) for (const job of batch) job.options.signal?.addEventListener('abort', onGone, { once: true });
    const [first] = batch;
    try {
      if (live().length === 0) return;
      const pixels = batch.length === 1 ? first.pixels : concatenate(batch.map((j) => j.pixels));
      const signal = controller ? controller.signal : first.options.signal;
      const predictions = await this.inner.predictTensor(pixels, first.input, { ...first.options, signal });
      let offset = 0;
      for (const job of batch) {
        const mine = predictions.slice(offset, offset + job.pixels.batch);
        offset += job.pixels.batch;
        this.settle(job, () => job.resolve(mine));
      }
    } catch (error) {
      for (const job of batch) this.settle(job, () => job.reject(error));
    } finally {
      if (controller) for (const job of batch) job.options.signal?.removeEventListener('abort', onGone);
      const runMs = performance.now() - started;
      this.averageRunMs = this.averageRunMs === 0 ? runMs : 0.8 * this.averageRunMs + 0.2 * runMs;
      // DET has no MC mode: its 'mc' requests run as mean ones.
      const mc = this.metadata.supportsMc && first.options.mode === 'mc';
      this.observer?.onBatch({
        model: this.name,
        mode: mc ? 'mc' : 'mean',
        estimator: mc ? (first.options.estimator ?? 'plain') : 'none',
        samples: mc && first.options.estimator !== 'exact' ? first.options.samples : 0, // exact draws none
        requests: batch.length,
        images: batch.reduce((n, j) => n + j.pixels.batch, 0),
        queueSeconds: batch.map((j) => (started - j.admittedAt) / 1000),
        runSeconds: runMs / 1000,
      });
    }
  }
}

/**
 * Two requests can share one run when the run computes for each what it would alone: the same
 * mode and logits choice, in MC mode the same samples, seed, estimator and precision target (the
 * noise is shared by the batch), and the same classes and templates (zero-shot requests bring their own).
 */
function canShareRun(a: Job, b: Job): boolean {
  const [x, y] = [a.options, b.options];
  if (x.mode !== y.mode || Boolean(x.includeLogits) !== Boolean(y.includeLogits)) return false;
  if (x.mode === 'mc' && (x.samples !== y.samples || x.seed !== y.seed || (x.estimator ?? 'plain') !== (y.estimator ?? 'plain'))) return false;
  // Each image stops on its own (src/mc/loop.ts), so only the rule itself must be the same.
  if (x.mode === 'mc' && (x.targetStdError !== y.targetStdError || x.stopTopK !== y.stopTopK)) return false;
  if (x.mode === 'mc' && x.tolerance !== y.tolerance) return false; // estimator=candidates
  return sameStrings(a.input.labels, b.input.labels) && sameStrings(a.input.templates, b.input.templates);
}

function sameStrings(a: readonly string[] | undefined, b: readonly string[] | undefined): boolean {
  if (a === b) return true;
  if (a === undefined || b === undefined || a.length !== b.length) return false;
  return a.every((s, i) => s === b[i]);
}

function concatenate(parts: PixelBatch[]): PixelBatch {
  const data = new Float32Array(parts.reduce((n, p) => n + p.data.length, 0));
  let offset = 0;
  for (const part of parts) {
    data.set(part.data, offset);
    offset += part.data.length;
  }
  return { data, batch: parts.reduce((n, p) => n + p.batch, 0) };
}
