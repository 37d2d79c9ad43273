// One loaded zero-shot model: image tower -> embedding; labels x templates -> text tower (through
// the LRU) -> label embeddings; the zero-shot head over the request's labels (mean mode
// src/heads/zero-shot-mean.ts, MC src/heads/zero-shot-mc.ts).
// Batch-shaped and free of HTTP, like Model; the route checks the prompts before calling it.
import type { Checkpoint } from '../format/checkpoint.ts';
import type { Manifest } from '../format/manifest.ts';
import { ImageTower } from './image-tower.ts';
import { mcPrediction, meanPrediction, type ModelLimits, type PredictMode, type Prediction, type PredictOptions } from './classifier.ts';
import { createSession, type EngineOptions, type ExecutionProvider } from '../engine/session.ts';
import { extraParameterCount } from '../format/head-params.ts';
import { zeroShotMean } from '../heads/zero-shot-mean.ts';
import { ZeroShotMcHead } from '../heads/zero-shot-mc.ts';
import { EmbeddingCache } from '../text/embedding-cache.ts';
import { LabelEmbedder } from '../text/label-embedder.ts';
import type { PromptTokenizer } from '../format/tokenizer.ts';
import { ConfigSchema } from '../config.ts';

export interface ZeroShotLimits extends ModelLimits {
  /** Prompts whose text embeddings are kept (LRU). */
  textCacheSize: number;
  /** Most rows x padded length of one text-tower run (TEXT_BATCH_TOKENS); when absent (src/cli/openapi.ts serves no model), that variable's default. */
  textBatchTokens?: number;
}

export class ZeroShotModel {
  readonly task = 'zero-shot';

  private constructor(
    readonly manifest: Manifest,
    readonly tokenizer: PromptTokenizer,
    private readonly image: ImageTower,
    private readonly text: LabelEmbedder,
    private readonly releaseText: () => Promise<void>,
    /** Absent for det zero-shot models (no noise, mean mode only). */
    private readonly mcHead: ZeroShotMcHead | undefined,
  ) {}

  static async load(checkpoint: Checkpoint, engine: EngineOptions, limits: ZeroShotLimits): Promise<ZeroShotModel> {
    const { manifest, text } = checkpoint;
    if (!text || !manifest.zeroShot) throw new Error(`checkpoint ${manifest.name} is not a zero-shot checkpoint`);
    const { tokenizer } = text;
    const opened: { release(): Promise<void> }[] = [];
    try {
      const image = await ImageTower.create(checkpoint.backbone, manifest.input, engine, limits.maxImagePixels);
      opened.push(image);
      const textSession = await createSession(text.tower, engine);
      opened.push(textSession);
      const { head } = manifest;
      // The loader has checked that het-xl zero-shot heads are parameter-efficient with R.
      const mcHead =
        head.type === 'het-xl'
          ? await ZeroShotMcHead.create(
              { dim: head.D, factors: head.R!, tau: head.tau, minScale: head.minScale, imageNormalisation: manifest.zeroShot.imageNormalisation, memoryBudgetBytes: limits.headMemoryBudgetBytes },
              checkpoint.weights,
              engine,
            )
          : undefined;
      const batchTokens = limits.textBatchTokens ?? ConfigSchema.properties.textBatchTokens.default;
      const embedder = new LabelEmbedder(textSession, tokenizer, new EmbeddingCache(limits.textCacheSize), head.D, batchTokens);
      return new ZeroShotModel(manifest, tokenizer, image, embedder, () => textSession.release(), mcHead);
    } catch (error) {
      await Promise.all(opened.map((o) => o.release()));
      throw error;
    }
  }

  get name(): string {
    return this.manifest.name;
  }

  /** Informational for zero-shot models (the manifest's K); a request's labels set the real K. */
  get K(): number {
    return this.manifest.head.K;
  }

  get provider(): ExecutionProvider {
    return this.image.provider;
  }

  get supportsMc(): boolean {
    return this.mcHead !== undefined;
  }

  get defaultMode(): PredictMode {
    return this.supportsMc ? 'mc' : 'mean';
  }

  get extraParameters(): number {
    return this.manifest.head.type === 'det' ? 0 : extraParameterCount(this.manifest.head);
  }

  /** The manifest's prompt templates, used when a request gives none. */
  get defaultTemplates(): readonly string[] {
    return this.manifest.zeroShot!.templates;
  }

  /** Text-tower runs since load (a request whose prompts are all cached adds none). */
  get textTowerRuns(): number {
    return this.text.towerRuns;
  }

  /**
   * Encoded images -> one prediction over `labels` per image. Throws ImageError for bad images,
   * and the signal's reason once options.signal is aborted: it is checked before each stage
   * (preprocessing, the towers, the head), between text-tower batches and between MC chunks.
   */
  async predict(images: Buffer[], labels: readonly string[], templates: readonly string[], options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    return this.predictPixels(await this.image.preprocess(images), images.length, labels, templates, options);
  }

  /** Preprocessed input [batch, ...input shape] -> one prediction over `labels` per image. */
  async predictPixels(pixels: Float32Array, batch: number, labels: readonly string[], templates: readonly string[], options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    const [embeddings, texts] = await Promise.all([this.image.embed(pixels, batch), this.text.embed(labels, templates, options.signal)]);
    options.signal?.throwIfAborted();
    if (options.mode === 'mc' && this.mcHead) {
      const results = await this.mcHead.mc(embeddings, batch, texts, options);
      return results.map((r) => mcPrediction(r, options.samples));
    }
    const spec = { dim: this.manifest.head.D, tau: this.manifest.head.tau };
    return Array.from({ length: batch }, (_, b) => meanPrediction(zeroShotMean(embeddings.subarray(b * spec.dim, (b + 1) * spec.dim), texts, spec)));
  }

  /**
   * Runs every session once so the first request does not pay for ORT's lazy initialisation;
   * the MC head at the default S, one image and one label, outside the text cache.
   */
  async warmUp(): Promise<void> {
    const E = this.manifest.head.D;
    const [z] = await Promise.all([this.image.embed(this.image.blankPixels(), 1), this.text.warmUp()]);
    const unitText = new Float32Array(E);
    unitText[0] = 1;
    await this.mcHead?.mc(z, 1, unitText, { samples: this.manifest.mc.defaultSamples, seed: 0 });
  }

  async dispose(): Promise<void> {
    await Promise.all([this.image.release(), this.releaseText(), this.mcHead?.dispose()]);
  }
}
