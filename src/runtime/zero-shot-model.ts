// One loaded zero-shot model: image tower -> embedding; labels x templates -> text tower (through
// the LRU) -> label embeddings; the zero-shot head (src/zeroshot/head.ts) over the request's labels.
// Batch-shaped and free of HTTP, like Model; the route checks the prompts before calling it.
import type { Checkpoint } from './checkpoint.ts';
import type { Manifest } from './manifest.ts';
import { ImageTower } from './image-tower.ts';
import { mcPrediction, meanPrediction, type ModelLimits, type PredictMode, type Prediction, type PredictOptions } from './model.ts';
import { createSession, type EngineOptions, type ExecutionProvider } from '../onnx/session.ts';
import { extraParameterCount } from '../heads/params.ts';
import type { HeadWeights } from '../heads/types.ts';
import { zeroShotMc, zeroShotMean, type ZeroShotHeadSpec } from '../zeroshot/head.ts';
import { EmbeddingCache } from '../zeroshot/lru.ts';
import { LabelEmbedder } from '../zeroshot/text-embeddings.ts';
import { PromptTokenizer } from '../zeroshot/tokenizer.ts';

export interface ZeroShotLimits extends ModelLimits {
  /** Prompts whose text embeddings are kept (LRU). */
  textCacheSize: number;
}

/** The head spec of a zero-shot manifest and weights (noise layers only for het-xl). */
export function zeroShotHeadSpec(manifest: Manifest, weights: HeadWeights): ZeroShotHeadSpec {
  const { head, zeroShot } = manifest;
  if (!zeroShot) throw new Error(`model ${manifest.name} is not a zero-shot model`);
  const tensor = (name: string) => {
    const t = weights.get(name);
    if (!t) throw new Error(`missing head tensor ${name}`);
    return t.data;
  };
  const spec: ZeroShotHeadSpec = { dim: head.D, tau: head.tau, imageNormalisation: zeroShot.imageNormalisation };
  if (head.type === 'det') return spec;
  if (head.type !== 'het-xl' || head.covariance !== 'param-efficient' || head.R === undefined) {
    throw new Error(`zero-shot heads are det or het-xl param-efficient, got ${head.type} ${head.covariance ?? ''}`);
  }
  return {
    ...spec,
    noise: {
      factors: head.R,
      hetKernel: tensor('scale_layer_heteroscedastic/kernel'),
      hetBias: tensor('scale_layer_heteroscedastic/bias'),
      homKernel: tensor('scale_layer_homoscedastic/kernel'),
      homBias: tensor('scale_layer_homoscedastic/bias'),
      diagKernel: tensor('diag_layer/kernel'),
      diagBias: tensor('diag_layer/bias'),
      minScale: head.minScale,
    },
  };
}

export class ZeroShotModel {
  readonly task = 'zero-shot';
  /** Zero-shot models have no fixed label set. */
  readonly labels: readonly string[] = [];

  private constructor(
    readonly manifest: Manifest,
    readonly tokenizer: PromptTokenizer,
    private readonly image: ImageTower,
    private readonly text: LabelEmbedder,
    private readonly releaseText: () => Promise<void>,
    private readonly head: ZeroShotHeadSpec,
  ) {}

  static async load(checkpoint: Checkpoint, engine: EngineOptions, limits: ZeroShotLimits): Promise<ZeroShotModel> {
    const { manifest, text } = checkpoint;
    if (!text) throw new Error(`checkpoint ${manifest.name} has no text tower`);
    const head = zeroShotHeadSpec(manifest, checkpoint.weights);
    const tokenizer = new PromptTokenizer(text.tokenizer);
    const image = await ImageTower.create(checkpoint.backbone, manifest.input, engine, limits.maxImagePixels);
    try {
      const textSession = await createSession(text.tower, engine);
      const embedder = new LabelEmbedder(textSession, tokenizer, new EmbeddingCache(limits.textCacheSize), manifest.head.D);
      return new ZeroShotModel(manifest, tokenizer, image, embedder, () => textSession.release(), head);
    } catch (error) {
      await image.release();
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
    return this.head.noise !== undefined;
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

  /** Encoded images -> one prediction over `labels` per image. Throws ImageError for bad images. */
  async predict(images: Buffer[], labels: readonly string[], templates: readonly string[], options: PredictOptions): Promise<Prediction[]> {
    return this.predictPixels(await this.image.preprocess(images), images.length, labels, templates, options);
  }

  /** Preprocessed input [batch, ...input shape] -> one prediction over `labels` per image. */
  async predictPixels(pixels: Float32Array, batch: number, labels: readonly string[], templates: readonly string[], options: PredictOptions): Promise<Prediction[]> {
    const [embeddings, texts] = await Promise.all([this.image.embed(pixels, batch), this.text.embed(labels, templates)]);
    const E = this.head.dim;
    return Array.from({ length: batch }, (_, b) => {
      const z = embeddings.subarray(b * E, (b + 1) * E);
      if (options.mode === 'mean' || !this.supportsMc) return meanPrediction(zeroShotMean(z, texts, this.head));
      const result = zeroShotMc(z, texts, this.head, { samples: options.samples, seed: options.seed, estimator: options.estimator });
      return mcPrediction(result, options.samples);
    });
  }

  /** Runs both towers once so the first request does not pay for ORT's lazy initialisation. */
  async warmUp(): Promise<void> {
    await Promise.all([this.image.embed(this.image.blankPixels(), 1), this.text.warmUp()]);
  }

  async dispose(): Promise<void> {
    await Promise.all([this.image.release(), this.releaseText()]);
  }
}
