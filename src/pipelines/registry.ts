// The models the server knows: one entry per checkpoint folder under MODELS_DIR, loaded at start.
// A checkpoint that fails to load is kept as a 'failed' entry (named file and problem) so that
// the listing and readiness show it, while the other models keep serving.
import { listCheckpointDirs, loadCheckpoint } from '../format/checkpoint.ts';
import { CheckpointError } from '../format/errors.ts';
import type { Checkpoint } from '../format/checkpoint.ts';
import type { Task } from '../format/manifest.ts';
import type { EngineOptions } from '../engine/session.ts';
import { ClassifierPipeline } from './classifier.ts';
import type { ModelLimits, ServedModel } from './served-model.ts';
import { ZeroShotPipeline } from './zero-shot.ts';
import path from 'node:path';

/** An entry's state: loading, ready (its model serves), or failed (file and problem). */
export const MODEL_STATUSES = ['loading', 'ready', 'failed'] as const;
export type ModelStatus = (typeof MODEL_STATUSES)[number];

/** The pipeline each task's checkpoints load into. */
const PIPELINES: Record<Task, (checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits) => Promise<ServedModel>> = {
  classification: (checkpoint, engine, limits) => ClassifierPipeline.load(checkpoint, engine, limits),
  'zero-shot': (checkpoint, engine, limits) => ZeroShotPipeline.load(checkpoint, engine, limits),
};

export interface ModelEntry {
  name: string;
  dir: string;
  status: ModelStatus;
  model?: ServedModel;
  error?: { file: string; problem: string };
}

/** The part of a pino logger the registry uses. */
export interface RegistryLogger {
  info(obj: object, msg: string): void;
  error(obj: object, msg: string): void;
}

export class ModelRegistry {
  private readonly entries = new Map<string, ModelEntry>();
  private loading: Promise<void> = Promise.resolve();
  private finished = false;

  constructor(
    private readonly engine: EngineOptions,
    private readonly limits: ModelLimits,
    private readonly log: RegistryLogger,
  ) {}

  /** Loads every checkpoint folder of `modelsDir`, one after the other; resolves when all are done. */
  loadAll(modelsDir: string): Promise<void> {
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

  async dispose(): Promise<void> {
    await this.loading.catch(() => undefined);
    await Promise.all(this.list().map((e) => e.model?.dispose()));
    this.entries.clear();
  }

  private modelsDir = '.';

  private async loadDirs(modelsDir: string): Promise<void> {
    this.modelsDir = modelsDir;
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
    for (const dir of dirs) await this.loadOne(path.basename(dir), dir);
  }

  private async loadOne(name: string, dir: string): Promise<void> {
    const started = performance.now();
    try {
      const checkpoint = await loadCheckpoint(dir, { modelsDir: this.modelsDir });
      const model = await PIPELINES[checkpoint.manifest.task](checkpoint, this.engine, this.limits);
      await model.warmUp();
      this.entries.set(name, { name, dir, status: 'ready', model });
      this.log.info(
        { model: name, task: model.task, head: model.metadata.head.type, K: model.metadata.head.K, provider: model.metadata.provider, ms: Math.round(performance.now() - started) },
        `model ${name} loaded`,
      );
    } catch (error) {
      // Relative to MODELS_DIR ("broken/head.safetensors"): what an operator needs, without host paths.
      const file = path.relative(path.resolve(this.modelsDir), error instanceof CheckpointError ? error.file : dir) || '.';
      const problem = error instanceof CheckpointError ? error.problem : error instanceof Error ? error.message : String(error);
      this.entries.set(name, { name, dir, status: 'failed', error: { file, problem } });
      this.log.error({ model: name, file, problem }, `model ${name} refused: ${file}: ${problem}`);
    }
  }
}
