// One loaded model: preprocess -> backbone session -> head runner -> statistics.
// Batch-shaped (several images in, one result each out) and free of HTTP, so that a batcher,
// the KServe v2 protocol or a CLI can sit in front of it unchanged.
import type { Checkpoint } from './checkpoint.ts';
import type { Manifest } from './manifest.ts';
import { BACKBONE_INPUT, BACKBONE_OUTPUT } from './manifest.ts';
import { createSession, floatTensor, type EngineOptions, type ExecutionProvider, type Session } from '../onnx/session.ts';
import { createHeadRunner } from '../heads/runner.ts';
import type { HeadRunner } from '../heads/types.ts';
import { extraParameterCount } from '../heads/params.ts';
import { meanStatistics, mcStatistics } from '../heads/statistics.ts';
import { preprocessImages } from '../image/preprocess.ts';
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

export class Model {
  private constructor(
    readonly manifest: Manifest,
    readonly labels: readonly string[],
    readonly provider: ExecutionProvider,
    private readonly backbone: Session,
    private readonly head: HeadRunner,
    private readonly limits: ModelLimits,
  ) {}

  static async load(checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits): Promise<Model> {
    const backbone = await createSession(checkpoint.backbone, engine);
    try {
      const head = await createHeadRunner(checkpoint.manifest.head, checkpoint.weights, engine, {
        memoryBudgetBytes: limits.headMemoryBudgetBytes,
      });
      return new Model(checkpoint.manifest, checkpoint.labels, backbone.provider, backbone, head, limits);
    } catch (error) {
      await backbone.release();
      throw error;
    }
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

  /** Decoded-and-preprocessed images -> predictions. Throws ImageError for bad images. */
  async predict(images: Buffer[], options: PredictOptions): Promise<Prediction[]> {
    const pixels = await preprocessImages(images, this.manifest.input, { maxInputPixels: this.limits.maxImagePixels });
    return this.predictPixels(pixels, images.length, options);
  }

  /** Preprocessed input tensor [batch, ...input shape] -> predictions. */
  async predictPixels(pixels: Float32Array, batch: number, options: PredictOptions): Promise<Prediction[]> {
    const phi = await this.prelogits(pixels, batch);
    if (options.mode === 'mean' || !this.supportsMc) {
      const probs = await this.head.mean(phi, batch);
      return probs.map((p) => ({ probs: p, statistics: meanStatistics(p) }));
    }
    const results = await this.head.mc(phi, batch, { samples: options.samples, seed: options.seed, estimator: options.estimator });
    return results.map((r) => {
      const stats = mcStatistics(r, options.samples);
      const { stdError, ...statistics } = stats;
      return { probs: r.probs, std: r.std, stdError, statistics };
    });
  }

  /**
   * Runs every session once so the first request does not pay for ORT's lazy initialisation.
   * MC runs at the default S, batch 1: ORT also pays once per new input shape, and that is the
   * chunk shape the most common request uses.
   */
  async warmUp(): Promise<void> {
    const { height, width, channels } = this.manifest.input;
    const pixels = new Float32Array(height * width * channels);
    await this.predictPixels(pixels, 1, { mode: 'mean', samples: 1, seed: 0 });
    if (this.supportsMc) await this.predictPixels(pixels, 1, { mode: 'mc', samples: this.manifest.mc.defaultSamples, seed: 0 });
  }

  async dispose(): Promise<void> {
    await Promise.all([this.backbone.release(), this.head.dispose()]);
  }

  private async prelogits(pixels: Float32Array, batch: number): Promise<Float32Array> {
    const { height, width, channels, layout } = this.manifest.input;
    const dims = layout === 'NCHW' ? [batch, channels, height, width] : [batch, height, width, channels];
    const out = await this.backbone.run({ [BACKBONE_INPUT]: floatTensor(pixels, dims) });
    const phi = out[BACKBONE_OUTPUT];
    if (!phi) throw new Error(`backbone of ${this.name} produced no '${BACKBONE_OUTPUT}' output`);
    return phi.data as Float32Array;
  }
}
