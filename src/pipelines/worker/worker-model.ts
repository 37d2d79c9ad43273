// A served model whose ONNX Runtime sessions run in a worker thread of its own (model-worker.ts),
// so that the MC loop's JavaScript and every session.run stay off the event-loop thread that
// answers HTTP: /healthz, /metrics and other clients are served while a long MC request runs.
//
// The main thread keeps what needs no model: prepare (the zero-shot prompt checks, with the
// checkpoint's tokenizer), preprocess (sharp decodes on libuv's pool already), the batcher and
// HTTP. predictTensor, warmUp and dispose are messages to the worker; the pixels and the results'
// typed arrays are transferred, not copied. One dedicated worker per model, not a pool (and no
// pool library such as piscina): a model's sessions live in one thread, its batcher already runs
// at most BATCH_CONCURRENCY calls at a time, and the sessions use ORT's own intra-op threads underneath.
//
// Aborts: the request's signal -> an 'abort' message -> that call's controller in the worker (the
// MC loop checks it between chunks); the call then rejects with the signal's reason, as the
// in-process pipelines do, once the worker has stopped (so the batcher's next run does not overlap).
//
// A worker that stops without being asked (an uncaught error, out of memory) fails the calls in
// flight with WorkerExitedError, is logged, and is restarted once from the checkpoint folder (then
// warmed up); calls made meanwhile wait for it. When the restart fails too, it is logged and the
// model's calls fail with that error until the model is reloaded (the repository's load route) or
// the server restarts.
import { extname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker, type WorkerOptions } from 'node:worker_threads';
import type { EngineOptions } from '../../engine/session.ts';
import type { Checkpoint } from '../../format/checkpoint.ts';
import type { Task, ZeroShotSpec } from '../../format/manifest.ts';
import type { PromptTokenizer } from '../../format/tokenizer.ts';
import { preprocessImages } from '../../image/preprocess.ts';
import { checkPrompts, type PromptLimits } from '../../text/prompts.ts';
import { ModelUnloadedError } from '../errors.ts';
import { loadServedModel, type ModelLoader } from '../registry.ts';
import type { InferenceInput, ModelLimits, ModelMetadata, PixelBatch, Prediction, PredictOptions, PreparedInput, ServedModel } from '../served-model.ts';
import { keepsLocalPipeline, LocalFirstModel } from './placement.ts';
import { deserializeError, transferablesOf, type TextCacheCounts, type WorkerInit, type WorkerReply, type WorkerRequest } from './protocol.ts';

/** The worker script beside this file: model-worker.ts under tsx, model-worker.js in the compiled build. */
const EXTENSION = extname(fileURLToPath(import.meta.url));
const WORKER_SCRIPT = new URL(`./model-worker${EXTENSION}`, import.meta.url);

function startWorker(options: WorkerOptions): Worker {
  if (EXTENSION === '.js') return new Worker(WORKER_SCRIPT, options);
  // Under tsx (development, tests): on Node 20 a worker inherits `--import tsx` in its execArgv
  // but its entry script is resolved without tsx's hooks ("Unknown file extension .ts"), so the
  // worker registers tsx's loader itself, then imports the .ts script.
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((tsx) => { tsx.register(); return import(${JSON.stringify(WORKER_SCRIPT.href)}); });`;
  return new Worker(boot, { ...options, eval: true });
}

/** The part of a pino logger a worker model uses. */
export interface WorkerLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export interface WorkerModelOptions {
  log: WorkerLogger;
  /** Sees each worker thread as it starts (its threadId for logs; tests stop one to play a crash). */
  onWorker?: (worker: Worker) => void;
  /**
   * INFERENCE_WORKERS=auto: a small classifier (placement.ts keepsLocalPipeline) also gets a
   * pipeline on this thread, and only its runs too long for the event loop go to the worker.
   */
  shortRunsLocal?: boolean;
}

/** A model's worker thread stopped without being asked. */
export class WorkerExitedError extends Error {
  override readonly name = 'WorkerExitedError';
  constructor(
    readonly model: string,
    readonly detail: string,
  ) {
    super(`model '${model}': its inference worker stopped (${detail}); the call failed and the worker is being restarted`);
  }
}

type Call = Exclude<WorkerRequest, { type: 'abort' }>;
type Done = Extract<WorkerReply, { type: 'done' }>;
type Request = Call extends infer C ? (C extends Call ? Omit<C, 'id'> : never) : never;

/** One worker thread: its load, its calls in flight by id, and what happens when it exits. */
class ModelThread {
  readonly ready: Promise<ModelMetadata>;
  private readonly pending = new Map<number, { resolve(reply: Done): void; reject(error: Error): void }>();
  /** The same calls as promises, for settled(). */
  private readonly inFlight = new Map<number, Promise<Done>>();
  private nextId = 0;
  private exited: Error | undefined;
  private lastError: Error | undefined;
  /** Set before a requested stop (dispose), so that the exit is not taken for a crash. */
  stopping = false;

  constructor(
    private readonly worker: Worker,
    private readonly name: string,
    onTextCache: (counts: TextCacheCounts) => void,
    onCrash: (error: WorkerExitedError) => void,
  ) {
    this.ready = new Promise<ModelMetadata>((resolveReady, rejectReady) => {
      worker.on('message', (reply: WorkerReply) => {
        if ('textCache' in reply && reply.textCache) onTextCache(reply.textCache);
        if (reply.type === 'ready') return resolveReady(reply.metadata);
        if (reply.type === 'failed') return rejectReady(deserializeError(reply.error));
        const call = this.pending.get(reply.id);
        this.pending.delete(reply.id);
        if (reply.type === 'done') call?.resolve(reply);
        else call?.reject(deserializeError(reply.error));
      });
      worker.on('error', (error) => (this.lastError = error));
      worker.on('exit', (code) => {
        const detail = this.lastError ? `${this.lastError.name}: ${this.lastError.message}` : `exit code ${code}`;
        const error = new WorkerExitedError(this.name, detail);
        this.exited = error;
        rejectReady(this.lastError ?? error);
        for (const call of this.pending.values()) call.reject(error);
        this.pending.clear();
        if (!this.stopping) onCrash(error);
      });
    });
  }

  /** Sends one request; its reply resolves (or rejects) the promise. `signal` sends an abort for it. */
  call(request: Request, transfer: ArrayBuffer[] = [], signal?: AbortSignal): Promise<Done> {
    if (this.exited) return Promise.reject(this.exited);
    const id = ++this.nextId;
    const message = { ...request, id } as Call;
    const reply = new Promise<Done>((resolve, reject) => {
      const onAbort = () => this.worker.postMessage({ type: 'abort', id } satisfies WorkerRequest);
      signal?.addEventListener('abort', onAbort, { once: true });
      const done = () => signal?.removeEventListener('abort', onAbort);
      this.pending.set(id, { resolve: (r) => (done(), resolve(r)), reject: (e) => (done(), reject(e)) });
      try {
        this.worker.postMessage(message, transfer);
      } catch {
        // A buffer that cannot be detached: send a copy instead (and fail the call if even that cannot be sent).
        try {
          this.worker.postMessage(message);
        } catch (error) {
          this.pending.delete(id);
          done();
          reject(error as Error);
        }
      }
    });
    this.inFlight.set(id, reply);
    void reply.catch(() => undefined).finally(() => this.inFlight.delete(id));
    return reply;
  }

  /** Resolves once no call is in flight. */
  async settled(): Promise<void> {
    await Promise.allSettled(this.inFlight.values());
  }

  /**
   * Ends the thread: only once it runs nothing (after dispose released its sessions, or when its
   * load failed). onnxruntime-node aborts the whole process when a worker is terminated inside a
   * session run.
   */
  async stop(): Promise<void> {
    this.stopping = true;
    await this.worker.terminate();
  }
}

/** What prepare and preprocess need on the main thread, kept from the checkpoint the registry loaded. */
interface MainSide {
  task: Task;
  labels?: readonly string[];
  input: Checkpoint['manifest']['input'];
  maxImagePixels: number;
  zeroShot?: { spec: ZeroShotSpec; tokenizer: PromptTokenizer; prompts: PromptLimits };
}

export class WorkerModel implements ServedModel {
  private thread: Promise<ModelThread>;
  private closed = false;
  private disposal: Promise<void> | undefined;
  /** A restart under way: a crash of the new thread before it is warm fails the restart, not another. */
  private restarting = false;
  /** Text-cache lookups of earlier (crashed) threads, and of the current one. */
  private cacheBefore: TextCacheCounts = { hits: 0, misses: 0 };
  private cacheNow: TextCacheCounts = { hits: 0, misses: 0 };

  private constructor(
    private readonly init: WorkerInit,
    private readonly main: MainSide,
    readonly metadata: ModelMetadata,
    first: ModelThread,
    private readonly options: WorkerModelOptions,
  ) {
    this.thread = Promise.resolve(first);
  }

  /** Starts the worker, which loads `checkpoint.dir` itself; resolves once its sessions are built. */
  static async start(checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits, options: WorkerModelOptions): Promise<WorkerModel> {
    const { manifest, labels, text } = checkpoint;
    const init: WorkerInit = { dir: checkpoint.dir, engine, limits, manifest, labels };
    const main: MainSide = {
      task: manifest.task,
      ...(manifest.task === 'classification' ? { labels } : {}),
      input: manifest.input,
      maxImagePixels: limits.maxImagePixels,
      ...(manifest.zeroShot && text ? { zeroShot: { spec: manifest.zeroShot, tokenizer: text.tokenizer, prompts: limits.prompts } } : {}),
    };
    // The thread reports to the model, which exists once the thread is ready.
    const owner: { model?: WorkerModel } = {};
    const thread = WorkerModel.spawn(init, manifest.name, options, (counts) => owner.model?.countTextCache(counts), (error) => owner.model?.restart(error));
    const metadata = await thread.ready.catch(async (error: unknown) => {
      await thread.stop();
      throw error;
    });
    owner.model = new WorkerModel(init, main, metadata, thread, options);
    return owner.model;
  }

  private static spawn(init: WorkerInit, name: string, options: WorkerModelOptions, onTextCache: (c: TextCacheCounts) => void, onCrash: (e: WorkerExitedError) => void): ModelThread {
    const worker = startWorker({ workerData: init, name: `model ${name}` });
    options.onWorker?.(worker);
    return new ModelThread(worker, name, onTextCache, onCrash);
  }

  get name(): string {
    return this.metadata.name;
  }
  get task(): Task {
    return this.main.task;
  }
  get labels(): readonly string[] | undefined {
    return this.main.labels;
  }
  get textCache(): TextCacheCounts | undefined {
    if (!this.main.zeroShot) return undefined;
    return { hits: this.cacheBefore.hits + this.cacheNow.hits, misses: this.cacheBefore.misses + this.cacheNow.misses };
  }

  /** As the in-process pipelines do: a classifier's own labels, or a zero-shot request's checked prompts. */
  prepare(input: InferenceInput): PreparedInput {
    const pixels = input.pixels ? { pixels: input.pixels } : {};
    const { zeroShot } = this.main;
    if (!zeroShot) return { images: input.images, ...pixels, labels: this.main.labels ?? [], warnings: [] };
    const labels = input.labels ?? [];
    const templates = input.templates ?? zeroShot.spec.templates;
    const warnings = checkPrompts(labels, templates, zeroShot.tokenizer, zeroShot.prompts);
    return { images: input.images, ...pixels, labels, templates, warnings };
  }

  async preprocess(input: PreparedInput, signal?: AbortSignal): Promise<PixelBatch> {
    if (input.pixels) return input.pixels;
    const data = await preprocessImages(input.images, this.main.input, { maxInputPixels: this.main.maxImagePixels, signal });
    return { data, batch: input.images.length };
  }

  /** Runs in the worker. `pixels.data` is moved there when it owns its whole buffer: the caller must not read it afterwards. */
  async predictTensor(pixels: PixelBatch, input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    const { signal, ...rest } = options;
    signal?.throwIfAborted();
    const thread = await this.current();
    // A classifier's worker ranks its own K labels: only zero-shot requests send theirs.
    const classes = this.main.zeroShot ? { labels: input.labels, templates: input.templates } : {};
    try {
      const reply = await thread.call({ type: 'predict', pixels, ...classes, options: rest }, transferablesOf([pixels.data]), signal);
      return reply.predictions ?? [];
    } catch (error) {
      // Stopped by the signal: its reason, as in process (a deadline's 504, a hang-up's 499).
      if (signal?.aborted) throw signal.reason;
      throw error;
    }
  }

  async predict(input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    return this.predictTensor(await this.preprocess(input, options.signal), input, options);
  }

  async warmUp(): Promise<void> {
    await (await this.current()).call({ type: 'warmUp' });
  }

  /** Releases the worker's sessions, then terminates the thread (once: later calls wait for the same). */
  dispose(): Promise<void> {
    this.disposal ??= this.close();
    return this.disposal;
  }

  private async close(): Promise<void> {
    this.closed = true;
    const thread = await this.thread.catch(() => undefined);
    if (!thread) return;
    thread.stopping = true;
    // Calls made directly (the batcher has none running by now) finish first: see stop().
    await thread.settled();
    try {
      await thread.call({ type: 'dispose' });
    } finally {
      await thread.stop();
    }
  }

  private current(): Promise<ModelThread> {
    if (this.closed) return Promise.reject(new ModelUnloadedError(this.name));
    return this.thread;
  }

  private countTextCache(counts: TextCacheCounts): void {
    this.cacheNow = counts;
  }

  private restart(error: WorkerExitedError): void {
    const { log } = this.options;
    log.error({ model: this.name, err: error }, `model ${this.name}: ${error.message}`);
    if (this.closed || this.restarting) return;
    this.restarting = true;
    this.cacheBefore = { hits: this.cacheBefore.hits + this.cacheNow.hits, misses: this.cacheBefore.misses + this.cacheNow.misses };
    this.cacheNow = { hits: 0, misses: 0 };
    const thread = WorkerModel.spawn(this.init, this.name, this.options, (c) => this.countTextCache(c), (e) => this.restart(e));
    this.thread = thread.ready
      .then(() => thread.call({ type: 'warmUp' }))
      .then(() => {
        log.info({ model: this.name }, `model ${this.name}: inference worker restarted`);
        return thread;
      })
      .finally(() => (this.restarting = false));
    this.thread.catch(async (failure: unknown) => {
      log.error({ model: this.name, err: failure }, `model ${this.name}: its inference worker could not restart; reload the model`);
      await thread.stop();
    });
  }
}

/**
 * The registry's loader with inference workers on: each checkpoint's model in a worker of its own;
 * with `shortRunsLocal` a small classifier's short runs on this thread (placement.ts).
 */
export function workerModelLoader(options: WorkerModelOptions): ModelLoader {
  return async (checkpoint, engine, limits) => {
    const worker = await WorkerModel.start(checkpoint, engine, limits, options);
    if (!options.shortRunsLocal || !keepsLocalPipeline(checkpoint)) return worker;
    try {
      return new LocalFirstModel(await loadServedModel(checkpoint, engine, limits), worker);
    } catch (error) {
      await worker.dispose();
      throw error;
    }
  };
}
