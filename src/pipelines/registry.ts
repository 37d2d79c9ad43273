// The models the server knows: one entry per checkpoint folder under MODELS_DIR, loaded at start,
// and loaded, reloaded or unloaded later on request (the model repository routes).
// A checkpoint that fails to load at start is kept as a 'failed' entry (named file and problem) so
// that the listing and readiness show it, while the other models keep serving.
//
// Swapping a model while requests use it: a request holds the model it took (hold(), released
// when the request is done), and a model that is replaced or unloaded is disposed only once the
// last request holding it has let go. Load and unload of one name run one after the other.
import { realpath } from 'node:fs/promises';
import path from 'node:path';
import { listCheckpointDirs, loadCheckpoint } from '../format/checkpoint.ts';
import { CheckpointError } from '../format/errors.ts';
import type { Checkpoint } from '../format/checkpoint.ts';
import { Manifest, type Task } from '../format/manifest.ts';
import type { EngineOptions } from '../engine/session.ts';
import { BatchingModel, batchingOptionsFor, type BatchObserver } from './batching.ts';
import { ClassifierPipeline } from './classifier.ts';
import type { ModelLimits, ServedModel } from './served-model.ts';
import { ZeroShotPipeline } from './zero-shot.ts';

/** An entry's state: loading, ready (its model serves), or failed (file and problem). */
export const MODEL_STATUSES = ['loading', 'ready', 'failed'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

/** Builds the served model of a checkpoint (not yet warmed up). */
export type ModelLoader = (checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits) => Promise<ServedModel>;

/** The pipeline each task's checkpoints load into. */
const PIPELINES: Record<Task, ModelLoader> = {
  classification: (checkpoint, engine, limits) => ClassifierPipeline.load(checkpoint, engine, limits),
  'zero-shot': (checkpoint, engine, limits) => ZeroShotPipeline.load(checkpoint, engine, limits),
};

/** The default loader: the pipeline of the checkpoint's task. */
export const loadServedModel: ModelLoader = (checkpoint, engine, limits) => PIPELINES[checkpoint.manifest.task](checkpoint, engine, limits);

export interface LoadFailure {
  file: string;
  problem: string;
}

export interface ModelEntry {
  name: string;
  dir: string;
  status: ModelStatus;
  model?: ServedModel;
  error?: LoadFailure;
}

/** A folder of the repository index: an entry's status, or 'unloaded' for a folder without one. */
export interface IndexEntry {
  name: string;
  state: ModelStatus | 'unloaded';
  /** Why it is in that state: a failed load's file and problem; empty when ready. */
  reason: string;
}

/** The part of a pino logger the registry uses. */
export interface RegistryLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

/**
 * Why a load or unload request cannot be done: a name that is not a model name, a folder that
 * does not exist, or a checkpoint that failed to load (its file and problem).
 */
export class RepositoryError extends Error {
  override readonly name = 'RepositoryError';
  constructor(
    readonly reason: 'invalid-name' | 'not-found' | 'load-failed',
    message: string,
    readonly failure?: LoadFailure,
  ) {
    super(message);
  }
}

/**
 * A model name: a checkpoint folder's name, which must equal its manifest's name (the same
 * pattern: a letter or digit, then letters, digits, '.', '_', '-'; at most 128). No '/', no '..',
 * no leading dot: a name can only ever be a direct child of MODELS_DIR.
 */
const MODEL_NAME = new RegExp(Manifest.properties.name.pattern!);

export function isModelName(name: string): boolean {
  return MODEL_NAME.test(name);
}

export class ModelRegistry {
  private readonly entries = new Map<string, ModelEntry>();
  private loading: Promise<void> = Promise.resolve();
  private finished = false;
  private modelsDir = '.';
  /** Per name, the last load or unload queued: the next one waits for it. */
  private readonly operations = new Map<string, Promise<unknown>>();
  /** Names with a load request running whose model is not (yet) in an entry. */
  private readonly pendingLoads = new Set<string>();
  /** Requests holding each model now. */
  private readonly holders = new Map<ServedModel, number>();
  /** Replaced or unloaded models, disposed once their holders are gone: the wake-up of each. */
  private readonly retiring = new Map<ServedModel, () => void>();
  private readonly disposals = new Set<Promise<void>>();
  private readonly failures = new Map<string, number>();

  constructor(
    private readonly engine: EngineOptions,
    private readonly limits: ModelLimits,
    private readonly log: RegistryLogger,
    private readonly loadModel: ModelLoader = loadServedModel,
  ) {}

  /** Where every model's batcher reports its runs (the metrics); models loaded before it is set report too. */
  private batchObserver: BatchObserver | undefined;

  observeBatches(observer: BatchObserver): void {
    this.batchObserver = observer;
  }

  /** Loads every checkpoint folder of `modelsDir`, one after the other; resolves when all are done. */
  loadAll(modelsDir: string): Promise<void> {
    this.modelsDir = modelsDir;
    this.loading = this.loadDirs(modelsDir).finally(() => {
      this.finished = true;
    });
    return this.loading;
  }

  get loadingFinished(): boolean {
    return this.finished;
  }

  list(): ModelEntry[] {
    return [...this.entries.values()].sort((a, b) => a.name.localeCompare(b.name));
  }

  get(name: string): ModelEntry | undefined {
    return this.entries.get(name);
  }

  /** Failed loads so far, at start and on request, per model name. */
  loadFailureCounts(): ReadonlyMap<string, number> {
    return this.failures;
  }

  /**
   * Marks `model` as used by one more request; the function returned releases it (once; later
   * calls do nothing). Call it in the same turn as get(), so that a swap cannot come between.
   */
  hold(model: ServedModel): () => void {
    this.holders.set(model, (this.holders.get(model) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.holders.get(model) ?? 1) - 1;
      if (left > 0) return void this.holders.set(model, left);
      this.holders.delete(model);
      this.retiring.get(model)?.();
    };
  }

  /** Requests holding `model` now. */
  holdersOf(model: ServedModel): number {
    return this.holders.get(model) ?? 0;
  }

  /**
   * Every checkpoint folder under MODELS_DIR and every entry (a loaded model whose folder has
   * since gone keeps serving and is listed), sorted by name.
   */
  async index(): Promise<IndexEntry[]> {
    const folders = await listCheckpointDirs(this.modelsDir).catch(() => [] as string[]);
    const names = new Set([...folders.map((dir) => path.basename(dir)), ...this.entries.keys()]);
    return [...names].sort().map((name) => {
      const entry = this.entries.get(name);
      if (!entry) return { name, state: this.pendingLoads.has(name) ? 'loading' : 'unloaded', reason: '' };
      return { name, state: entry.status, reason: entry.error ? `${entry.error.file}: ${entry.error.problem}` : '' };
    });
  }

  /**
   * Loads the folder `name` of MODELS_DIR, or reloads it: the new model replaces the entry only
   * once it is loaded and warmed up; until then, and when it fails, the old one keeps serving.
   * Throws RepositoryError (invalid name, no such folder, load failed).
   */
  load(name: string): Promise<ModelEntry> {
    return this.inTurn(name, async () => {
      const dir = await this.folderOf(name);
      const previous = this.entries.get(name);
      if (!previous) this.pendingLoads.add(name);
      let loaded: ModelEntry;
      try {
        loaded = await this.loadOne(name, dir);
      } finally {
        this.pendingLoads.delete(name);
      }
      if (loaded.status === 'ready') {
        this.entries.set(name, loaded);
        if (previous?.model) this.retire(previous.model);
        return loaded;
      }
      // A failed entry stays failed with the new problem; a serving one keeps serving.
      if (previous && previous.status !== 'ready') this.entries.set(name, loaded);
      const { file, problem } = loaded.error!;
      const kept = previous?.status === 'ready' ? '; the loaded version keeps serving' : '';
      throw new RepositoryError('load-failed', `model '${name}' failed to load: ${file}: ${problem}${kept}`, loaded.error);
    });
  }

  /**
   * Removes the entry `name` at once (new requests get 404); its model is disposed once the
   * requests holding it are done. Unloading a folder that is not loaded does nothing.
   */
  unload(name: string): Promise<void> {
    return this.inTurn(name, async () => {
      const entry = this.entries.get(name);
      if (!entry) {
        await this.folderOf(name);
        return;
      }
      this.entries.delete(name);
      if (entry.model) this.retire(entry.model);
      this.log.info({ model: name }, `model ${name} unloaded`);
    });
  }

  /** Waits for loads and unloads under way, then disposes every model once its requests are done. */
  async dispose(): Promise<void> {
    await this.loading.catch(() => undefined);
    await Promise.all([...this.operations.values()].map((op) => op.catch(() => undefined)));
    for (const entry of this.entries.values()) if (entry.model) this.retire(entry.model);
    this.entries.clear();
    await Promise.all(this.disposals);
  }

  private async loadDirs(modelsDir: string): Promise<void> {
    let dirs: string[];
    try {
      dirs = await listCheckpointDirs(modelsDir);
    } catch (error) {
      this.log.error({ modelsDir, err: error }, `cannot read MODELS_DIR ${modelsDir}`);
      return;
    }
    for (const dir of dirs) {
      const name = path.basename(dir);
      this.entries.set(name, { name, dir, status: 'loading' });
    }
    // One at a time: loading builds ORT sessions that already use every core.
    for (const dir of dirs) {
      const name = path.basename(dir);
      this.entries.set(name, await this.loadOne(name, dir));
    }
  }

  /** Loads and warms up one folder: a ready entry, or a failed one naming the file and problem. */
  private async loadOne(name: string, dir: string): Promise<ModelEntry> {
    const started = performance.now();
    let model: ServedModel | undefined;
    try {
      const checkpoint = await loadCheckpoint(dir, { modelsDir: this.modelsDir });
      const options = batchingOptionsFor(this.limits.batching, checkpoint.manifest.batching);
      model = new BatchingModel(await this.loadModel(checkpoint, this.engine, this.limits), options, { onBatch: (run) => this.batchObserver?.onBatch(run) });
      await model.warmUp();
      this.log.info(
        { model: name, task: model.task, head: model.metadata.head.type, K: model.metadata.head.K, provider: model.metadata.provider, ms: Math.round(performance.now() - started) },
        `model ${name} loaded`,
      );
      return { name, dir, status: 'ready', model };
    } catch (error) {
      // A model built but failing its warm-up holds ORT sessions: free them.
      await model?.dispose().catch(() => undefined);
      // Relative to MODELS_DIR ("broken/head.safetensors"): what an operator needs, without host paths.
      const file = path.relative(path.resolve(this.modelsDir), error instanceof CheckpointError ? error.file : dir) || '.';
      const problem = error instanceof CheckpointError ? error.problem : error instanceof Error ? error.message : String(error);
      this.failures.set(name, (this.failures.get(name) ?? 0) + 1);
      this.log.error({ model: name, file, problem }, `model ${name} refused: ${file}: ${problem}`);
      return { name, dir, status: 'failed', error: { file, problem } };
    }
  }

  /**
   * The folder of model `name`: a direct child of MODELS_DIR, also once symlinks are resolved. A
   * link to a folder outside is refused (as at start), and so is one to a folder deeper inside:
   * what a client names can only ever be a folder an operator put directly under MODELS_DIR.
   */
  private async folderOf(name: string): Promise<string> {
    if (!isModelName(name)) {
      throw new RepositoryError('invalid-name', `'${name}' is not a model name: a letter or digit, then letters, digits, '.', '_' or '-', at most 128 characters`);
    }
    const root = path.resolve(this.modelsDir);
    const dir = path.join(root, name);
    let real: string;
    try {
      real = await realpath(dir);
    } catch {
      throw new RepositoryError('not-found', `no folder '${name}' in MODELS_DIR`);
    }
    if (path.dirname(real) !== (await realpath(root))) {
      throw new RepositoryError('invalid-name', `'${name}' is a symlink that resolves outside MODELS_DIR (a model folder must be a direct child of MODELS_DIR)`);
    }
    return dir;
  }

  /** Runs `operation` after the start-up loading and after the operations queued on `name`. */
  private inTurn<T>(name: string, operation: () => Promise<T>): Promise<T> {
    const previous = this.operations.get(name) ?? this.loading;
    const result = previous.catch(() => undefined).then(operation);
    const settled = result.catch(() => undefined);
    this.operations.set(name, settled);
    void settled.then(() => {
      if (this.operations.get(name) === settled) this.operations.delete(name);
    });
    return result;
  }

  /** Disposes `model` once no request holds it; errors are logged. */
  private retire(model: ServedModel): void {
    if (this.retiring.has(model)) return;
    const idle = new Promise<void>((resolve) => {
      this.retiring.set(model, resolve);
      if (this.holdersOf(model) === 0) resolve();
    });
    const disposal = idle
      .then(() => model.dispose())
      .catch((error: unknown) => this.log.error({ model: model.name, err: error }, `model ${model.name}: dispose failed`))
      .finally(() => {
        this.retiring.delete(model);
        this.disposals.delete(disposal);
      });
    this.disposals.add(disposal);
  }
}
