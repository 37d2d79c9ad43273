// The zero-shot pipeline: images -> image tower -> embedding; the request's labels x templates ->
// the checks of src/text/prompts.ts -> text tower (through the LRU) -> label embeddings; the
// zero-shot head over those labels (mean mode src/heads/zero-shot-mean.ts, MC
// src/heads/zero-shot-mc.ts) -> statistics. It owns its tokenizer and its prompt checks.
import { createSession, type EngineOptions } from '../engine/session.ts';
import type { Checkpoint } from '../format/checkpoint.ts';
import { textTowerSpec, type Manifest, type ZeroShotSpec } from '../format/manifest.ts';
import type { PromptTokenizer } from '../format/tokenizer.ts';
import { zeroShotMean } from '../heads/zero-shot-mean.ts';
import { ZeroShotMcHead } from '../heads/zero-shot-mc.ts';
import { EmbeddingCache } from '../text/embedding-cache.ts';
import { LabelEmbedder } from '../text/label-embedder.ts';
import { checkPrompts, type PromptLimits } from '../text/prompts.ts';
import { ImageTower } from './image-tower.ts';
import { mcPrediction, meanPrediction } from './predictions.ts';
import { metadataOf, samplingOptions, type InferenceInput, type ModelLimits, type ModelMetadata, type PixelBatch, type Prediction, type PredictOptions, type PreparedInput, type ServedModel } from './served-model.ts';

export class ZeroShotPipeline implements ServedModel {
  readonly task = 'zero-shot';
  readonly metadata: ModelMetadata;
  private readonly zeroShot: ZeroShotSpec;

  private constructor(
    manifest: Manifest,
    private readonly tokenizer: PromptTokenizer,
    private readonly promptLimits: PromptLimits,
    private readonly image: ImageTower,
    private readonly text: LabelEmbedder,
    private readonly releaseText: () => Promise<void>,
    /** Absent for det zero-shot models (no noise, mean mode only). */
    private readonly mcHead: ZeroShotMcHead | undefined,
  ) {
    this.zeroShot = manifest.zeroShot!;
    this.metadata = metadataOf(manifest, image.provider, mcHead !== undefined);
  }

  static async load(checkpoint: Checkpoint, engine: EngineOptions, limits: ModelLimits): Promise<ZeroShotPipeline> {
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
      const feed = { ...textTowerSpec(manifest.zeroShot), ...(text.sequenceLength !== undefined ? { sequenceLength: text.sequenceLength } : {}) };
      const embedder = new LabelEmbedder(textSession, tokenizer, new EmbeddingCache(limits.textCacheSize), head.D, limits.textBatchTokens, feed);
      return new ZeroShotPipeline(manifest, tokenizer, limits.prompts, image, embedder, () => textSession.release(), mcHead);
    } catch (error) {
      await Promise.all(opened.map((o) => o.release()));
      throw error;
    }
  }

  get name(): string {
    return this.metadata.name;
  }

  /** The text-embedding cache's lookups since load. */
  get textCache(): { hits: number; misses: number } {
    return this.text.cacheLookups;
  }

  /** Text-tower runs since load (a request whose prompts are all cached adds none). */
  get textTowerRuns(): number {
    return this.text.towerRuns;
  }

  /**
   * The request's labels and templates (default: the manifest's) checked before any image or
   * text work: throws PromptError (NO_LABELS, DUPLICATE_LABEL, TOO_MANY_PROMPT_TOKENS, ...);
   * words the tokenizer does not know come back as warnings.
   */
  prepare(input: InferenceInput): PreparedInput {
    const labels = input.labels ?? [];
    const templates = input.templates ?? this.zeroShot.templates;
    const warnings = checkPrompts(labels, templates, this.tokenizer, this.promptLimits);
    return { images: input.images, ...(input.pixels ? { pixels: input.pixels } : {}), labels, templates, warnings };
  }

  /**
   * Encoded images -> one prediction over the prepared labels per image. Throws ImageError for
   * bad images, and the signal's reason once options.signal is aborted.
   */
  async predict(input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    return this.predictTensor(await this.preprocess(input, options.signal), input, options);
  }

  async preprocess(input: PreparedInput, signal?: AbortSignal): Promise<PixelBatch> {
    return input.pixels ?? { data: await this.image.preprocess(input.images, signal), batch: input.images.length };
  }

  predictTensor(pixels: PixelBatch, input: PreparedInput, options: PredictOptions): Promise<Prediction[]> {
    return this.predictPixels(pixels.data, pixels.batch, input.labels, input.templates ?? this.zeroShot.templates, options);
  }

  /** Preprocessed input [batch, ...input shape] -> one prediction over `labels` per image (evaluation feeds pixels here). */
  async predictPixels(pixels: Float32Array, batch: number, labels: readonly string[], templates: readonly string[], options: PredictOptions): Promise<Prediction[]> {
    options.signal?.throwIfAborted();
    const [embeddings, texts] = await Promise.all([this.image.embed(pixels, batch), this.text.embed(labels, templates, options.signal)]);
    options.signal?.throwIfAborted();
    if (options.mode === 'mc' && this.mcHead) {
      const results = await this.mcHead.mc(embeddings, batch, texts, samplingOptions(options));
      return results.map((r) => mcPrediction(r, options.samples));
    }
    const spec = { dim: this.metadata.head.D, tau: this.metadata.head.tau };
    return Array.from({ length: batch }, (_, b) => meanPrediction(zeroShotMean(embeddings.subarray(b * spec.dim, (b + 1) * spec.dim), texts, spec)));
  }

  /** Every session once: the MC head at the default S, one image and one label, outside the text cache. */
  async warmUp(): Promise<void> {
    const E = this.metadata.head.D;
    const [z] = await Promise.all([this.image.embed(this.image.blankPixels(), 1), this.text.warmUp()]);
    const unitText = new Float32Array(E);
    unitText[0] = 1;
    await this.mcHead?.mc(z, 1, unitText, { samples: this.metadata.mc.defaultSamples, seed: 0 });
  }

  async dispose(): Promise<void> {
    await Promise.all([this.image.release(), this.releaseText(), this.mcHead?.dispose()]);
  }
}
