// One loaded model: preprocess -> backbone session -> head runner -> statistics.
// Batch-shaped (several images in, one result each out) and free of HTTP, so that a batcher,
// the KServe v2 protocol or a CLI can sit in front of it unchanged.
import type { Checkpoint } from '../format/checkpoint.ts';
import type { Manifest } from '../format/manifest.ts';
import type { EngineOptions, ExecutionProvider } from '../engine/session.ts';
import { ImageTower } from './image-tower.ts';
import { createHeadRunner } from '../heads/runner.ts';
import type { HeadRunner } from '../heads/types.ts';
import type { McResult } from '../mc/types.ts';
import { extraParameterCount } from '../format/head-params.ts';
import { meanStatistics, mcStatistics } from '../uncertainty/statistics.ts';
import type { Estimator } from '../noise/estimator.ts';

export type PredictMode = 'mean' | 'mc';

export interface PredictOptions {
  mode: PredictMode;
  /** MC samples S (ignored in mean mode). */
  samples: number;
  /** Seed of the MC noise (ignored in mean mode). */
  seed: number;
  /** MC estimator (src/noise/estimator.ts); default 'plain'. */
  estimator?: Estimator;
  /**
   * Once aborted, the prediction stops at the next stage boundary with an AbortError: before
   * each image is decoded, before the backbone, before the head, and before each MC chunk
   * (McOptions.signal). Per stage, not only per chunk: at small K a whole request is one chunk.
   */
  signal?: AbortSignal;
}

export interface PredictionStatistics {
  predictiveEntropy: number;
  maxProbability: number;
  margin: number;
  expectedEntropy?: number;
  mutualInformation?: number;
  variationRatio?: number;
}

export interface Prediction {
  /** Mean-mode probabilities or the MC predictive p_hat, length K. */
  probs: Float32Array;
  /** MC only: per-class std of p_s across samples, and the standard error of p_hat. */
  std?: Float32Array;
  stdError?: Float32Array;
  statistics: PredictionStatistics;
}

export interface ModelLimits {
  maxImagePixels: number;
  headMemoryBudgetBytes: number;
}

/** A mean-mode prediction from its probabilities. */
export function meanPrediction(probs: Float32Array): Prediction {
  return { probs, statistics: meanStatistics(probs) };
}

/** An MC prediction from the head's result over S samples. */
export function mcPrediction(result: McResult, samples: number): Prediction {
  const { stdError, ...statistics } = mcStatistics(result, samples);
  return { probs: result.probs, std: result.std, stdError, statistics };
}

export class Model {
  readonly task = 'classification';
  private headRunCount = 0;

  private constructor(
    readonly manifest: Manifest,
    readonly labels: readonly string[],
    private readonly backbone: ImageTower,
    private readonly head: HeadRunner,
  ) {}

  static async load(checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits): Promise<Model> {
    const backbone = await ImageTower.create(checkpoint.backbone, checkpoint.manifest.input, engine, limits.maxImagePixels);
    try {
      const head = await createHeadRunner(checkpoint.manifest.head, checkpoint.weights, engine, {
        memoryBudgetBytes: limits.headMemoryBudgetBytes,
      });
      return new Model(checkpoint.manifest, checkpoint.labels, backbone, head);
    } catch (error) {
      await backbone.release();
      throw error;
    }
  }

  get provider(): ExecutionProvider {
    return this.backbone.provider;
  }

  get name(): string {
    return this.manifest.name;
  }

  get K(): number {
    return this.manifest.head.K;
  }

  /** DET has no noise, so only its mean mode exists. */
  get supportsMc(): boolean {
    return this.manifest.head.type !== 'det';
  }

  get defaultMode(): PredictMode {
    return this.supportsMc ? 'mc' : 'mean';
  }

  get extraParameters(): number {
    return extraParameterCount(this.manifest.head);
  }

  /** Predictions that reached the head since load (warm-up included); a cancelled one that stopped before it adds none. */
  get headRuns(): number {
    return this.headRunCount;
  }

  /** Decoded-and-preprocessed images -> predictions. Throws ImageError for bad images. */
  async predict(images: Buffer[], options: PredictOptions): Promise<Prediction[]> {
    return this.predictPixels(await this.backbone.preprocess(images, options.signal), images.length, options);
  }

  /** Preprocessed input tensor [batch, ...input shape] -> predictions. */
  async predictPixels(pixels: Float32Array, batch: number, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    const phi = await this.backbone.embed(pixels, batch);
    options.signal?.throwIfAborted();
    this.headRunCount++;
    if (options.mode === 'mean' || !this.supportsMc) {
      return (await this.head.mean(phi, batch)).map(meanPrediction);
    }
    const results = await this.head.mc(phi, batch, options);
    return results.map((r) => mcPrediction(r, options.samples));
  }

  /**
   * Runs every session once so the first request does not pay for ORT's lazy initialisation.
   * MC runs at the default S, batch 1: ORT also pays once per new input shape, and that is the
   * chunk shape the most common request uses.
   */
  async warmUp(): Promise<void> {
    const pixels = this.backbone.blankPixels();
    await this.predictPixels(pixels, 1, { mode: 'mean', samples: 1, seed: 0 });
    if (this.supportsMc) await this.predictPixels(pixels, 1, { mode: 'mc', samples: this.manifest.mc.defaultSamples, seed: 0 });
  }

  async dispose(): Promise<void> {
    await Promise.all([this.backbone.release(), this.head.dispose()]);
  }
}
