// The classification pipeline: images -> backbone (the pre-logits phi) -> the DET / HET / HET-XL
// head (softmax or sigmoid link) -> statistics, over the checkpoint's own K labels.
import type { EngineOptions } from '../engine/session.ts';
import type { Checkpoint } from '../format/checkpoint.ts';
import { createHeadRunner } from '../heads/runner.ts';
import type { HeadRunner } from '../heads/types.ts';
import { ImageTower } from './image-tower.ts';
import { SigmoidQuadrature } from '../uncertainty/sigmoid-quadrature.ts';
import { DEFAULT_TOLERANCE } from '../heads/candidates.ts';
import { candidatePrediction, mcPrediction, meanPrediction, sigmoidExactPrediction, sigmoidMcPrediction, sigmoidMeanPrediction } from './predictions.ts';
import { estimatorsOf, metadataOf, samplingOptions, type InferenceInput, type ModelLimits, type ModelMetadata, type PixelBatch, type Prediction, type PredictOptions, type PreparedInput, type ServedModel } from './served-model.ts';

export class ClassifierPipeline implements ServedModel {
  readonly task = 'classification';
  private headRunCount = 0;

  private constructor(
    readonly metadata: ModelMetadata,
    readonly labels: readonly string[],
    private readonly backbone: ImageTower,
    private readonly head: HeadRunner,
    /** estimator=exact's quadrature: sigmoid HET and HET-XL heads only. */
    private readonly quadrature: SigmoidQuadrature | undefined,
  ) {}

  static async load(checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits): Promise<ClassifierPipeline> {
    const backbone = await ImageTower.create(checkpoint.backbone, checkpoint.manifest.input, engine, limits.maxImagePixels);
    let head: HeadRunner | undefined;
    try {
      head = await createHeadRunner(checkpoint.manifest.head, checkpoint.weights, engine, {
        memoryBudgetBytes: limits.headMemoryBudgetBytes,
      });
      // DET has no noise, so only its mean mode exists.
      const metadata = metadataOf(checkpoint.manifest, backbone.provider, checkpoint.manifest.head.type !== 'det');
      const quadrature = estimatorsOf(metadata).includes('exact') ? await SigmoidQuadrature.create(engine) : undefined;
      return new ClassifierPipeline(metadata, checkpoint.labels, backbone, head, quadrature);
    } catch (error) {
      await Promise.all([backbone.release(), head?.dispose()]);
      throw error;
    }
  }

  get name(): string {
    return this.metadata.name;
  }

  /** Predictions that reached the head since load (warm-up included); a cancelled one that stopped before it adds none. */
  get headRuns(): number {
    return this.headRunCount;
  }

  /** A classifier ranks its own labels; the request brings images (or their tensor) only. */
  prepare(input: InferenceInput): PreparedInput {
    return { images: input.images, ...(input.pixels ? { pixels: input.pixels } : {}), labels: this.labels, warnings: [] };
  }

  async preprocess(input: PreparedInput, signal?: AbortSignal): Promise<PixelBatch> {
    return input.pixels ?? { data: await this.backbone.preprocess(input.images, signal), batch: input.images.length };
  }

  predictTensor(pixels: PixelBatch, _input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    return this.predictPixels(pixels.data, pixels.batch, options);
  }

  /** Encoded images -> one prediction per image. Throws ImageError for bad images. */
  async predict(input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    return this.predictTensor(await this.preprocess(input, options.signal), input, options);
  }

  /** Preprocessed input tensor [batch, ...input shape] -> predictions (evaluation feeds dataset pixels here). */
  async predictPixels(pixels: Float32Array, batch: number, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    const phi = await this.backbone.embed(pixels, batch);
    options.signal?.throwIfAborted();
    this.headRunCount++;
    const predictions = await this.headPredictions(phi, batch, options);
    if (options.includeLogits) {
      const logits = await this.head.logits(phi, batch);
      predictions.forEach((p, b) => (p.logits = logits[b]));
    }
    return predictions;
  }

  private async headPredictions(phi: Float32Array, batch: number, options: PredictOptions): Promise<Prediction[]> {
    const sigmoid = this.head.link === 'sigmoid';
    if (options.mode === 'mean' || !this.metadata.supportsMc) {
      return (await this.head.mean(phi, batch)).map(sigmoid ? sigmoidMeanPrediction : meanPrediction);
    }
    if (sigmoid && options.estimator === 'exact') {
      const marginals = await this.head.marginals(phi, batch, options.signal);
      return (await this.quadrature!.predictive(marginals, options.signal)).map(sigmoidExactPrediction);
    }
    if (sigmoid) return (await this.head.sigmoidMc(phi, batch, samplingOptions(options))).map((r) => sigmoidMcPrediction(r, options.samples));
    if (options.estimator === 'control') {
      return (await this.head.controlMc(phi, batch, samplingOptions({ ...options, estimator: 'plain' }))).map((r) => mcPrediction(r, options.samples));
    }
    if (options.estimator === 'candidates') {
      const results = await this.head.candidatesMc(phi, batch, samplingOptions({ ...options, estimator: 'plain' }), options.tolerance ?? DEFAULT_TOLERANCE);
      return results.map((r) => candidatePrediction(r, options.samples, this.labels.length));
    }
    return (await this.head.mc(phi, batch, samplingOptions(options))).map((r) => mcPrediction(r, options.samples));
  }

  /**
   * Every session once, so the first request does not pay for ORT's lazy initialisation. MC runs
   * at the default S, batch 1: ORT also pays once per new input shape, and that is the chunk
   * shape the most common request uses.
   */
  async warmUp(): Promise<void> {
    const pixels = this.backbone.blankPixels();
    // includeLogits: the noise-free logits have a session of their own (DET, HET-XL).
    await this.predictPixels(pixels, 1, { mode: 'mean', samples: 1, seed: 0, includeLogits: true });
    if (this.metadata.supportsMc) await this.predictPixels(pixels, 1, { mode: 'mc', samples: this.metadata.mc.defaultSamples, seed: 0 });
    // Sigmoid heads answer estimator=exact by default: its session (HET-XL) or feeds too.
    if (estimatorsOf(this.metadata).includes('exact')) await this.predictPixels(pixels, 1, { mode: 'mc', samples: 1, seed: 0, estimator: 'exact' });
  }

  async dispose(): Promise<void> {
    await Promise.all([this.backbone.release(), this.head.dispose(), this.quadrature?.release()]);
  }
}
