// The one interface of a served model, in the spirit of KServe's Model (preprocess -> predict ->
// postprocess) and of transformers.js pipelines: the classifier and the zero-shot pipeline both
// implement it, the batcher (src/pipelines/batching.ts) wraps it, and everything above (HTTP,
// the KServe v2 protocol) talks to a model only through it. Batch-shaped, free of HTTP, plain
// data in and out.
//
//   prepare(input)               checks what the request asks for, before any model work; throws
//                                the domain errors of src/pipelines/errors.ts (a bad prompt, ...).
//   preprocess(prepared)         encoded images -> the backbone's input tensor (per request: a bad
//                                image fails its own request only).
//   predictTensor(pixels, ...)   backbone -> head -> statistics, one Prediction per image, over
//                                the classes the prepared input names. Tensors of requests with
//                                the same options and classes can be concatenated into one call.
//   predict(prepared, opts)      preprocess, then predictTensor.
import type { ExecutionProvider } from '../engine/session.ts';
import { extraParameterCount, linkOf } from '../format/head-params.ts';
import type { HeadSpec, InputSpec, Link, Manifest, McSpec, Task, ZeroShotSpec } from '../format/manifest.ts';
import { ANALYTIC_ESTIMATORS, type AnalyticEstimator } from '../heads/marginals.ts';
import type { McOptions } from '../mc/types.ts';
import { ESTIMATORS, type Estimator } from '../noise/estimator.ts';
import type { PromptLimits } from '../text/prompts.ts';
import type { BinaryClassStatistics, BinaryStatistics } from '../uncertainty/binary.ts';

export { TASKS, type Task } from '../format/manifest.ts';
export { ESTIMATORS, type Estimator } from '../noise/estimator.ts';
export { SOBOL_MAX_DIMENSIONS } from '../noise/sobol.ts';
export { ANALYTIC_ESTIMATORS, type AnalyticEstimator } from '../heads/marginals.ts';
export { DEFAULT_TOLERANCE } from '../heads/candidates.ts';

/** Every estimator a prediction may name: MC's noise estimators, and those computed from the logits' marginals (docs/estimators.md). */
export const PREDICT_ESTIMATORS = [...ESTIMATORS, ...ANALYTIC_ESTIMATORS] as const;
export type PredictEstimator = Estimator | AnalyticEstimator;

/**
 * The estimators a model answers in mode mc, its default first: exact for sigmoid HET / HET-XL
 * classifiers, else plain; softmax HET and HET-XL classifiers also take control, HET-XL candidates.
 */
export function estimatorsOf(metadata: Pick<ModelMetadata, 'task' | 'link' | 'supportsMc' | 'head'>): readonly PredictEstimator[] {
  if (metadata.task !== 'classification' || !metadata.supportsMc) return ESTIMATORS;
  if (metadata.link === 'sigmoid') return ['exact', ...ESTIMATORS];
  return metadata.head.type === 'het-xl' ? [...ESTIMATORS, 'candidates', 'control'] : [...ESTIMATORS, 'control'];
}

/** The options of the MC loop; a prediction that asks for an analytic estimator has none (the pipelines branch before). */
export function samplingOptions(options: PredictOptions): McOptions {
  const { estimator } = options;
  if (estimator !== undefined && !(ESTIMATORS as readonly string[]).includes(estimator)) throw new Error(`estimator ${estimator} draws no samples`);
  return { ...options, estimator: estimator as Estimator | undefined };
}

/** mean: the noise switched off, one product; mc: the Monte-Carlo predictive (docs/method.md). */
export const PREDICT_MODES = ['mean', 'mc'] as const;
export type PredictMode = (typeof PREDICT_MODES)[number];

/**
 * The options of one prediction. `samples`, `seed` and `estimator` matter in mode 'mc' only.
 * Once `signal` is aborted the prediction stops at the next stage boundary with an AbortError:
 * before each image is decoded, before the backbone, before the text tower's batches (zero-shot),
 * before the head, and before each MC chunk. Per stage, not only per chunk: at small K a whole
 * request is one chunk.
 */
export interface PredictOptions extends Omit<McOptions, 'estimator'> {
  mode: PredictMode;
  /** MC's noise estimator (default plain), or an analytic one (estimatorsOf lists those that apply). */
  estimator?: PredictEstimator;
  /** estimator=candidates: the bound on the expected total variation to the full predictive (default DEFAULT_TOLERANCE). */
  tolerance?: number;
  /** Classification: also return each image's noise-free, untempered logits W^T phi + b. */
  includeLogits?: boolean;
}

/** What a client asks: encoded images and, for zero-shot models, the labels and templates. */
export interface InferenceInput {
  images: Buffer[];
  /** Instead of images: the backbone's input tensor, already preprocessed. */
  pixels?: PixelBatch;
  labels?: readonly string[];
  /** Zero-shot: prompt templates with {label}; default the model's own. */
  templates?: readonly string[];
}

/** Preprocessed images: the backbone's input tensor data, row-major [batch, ...input shape]. */
export interface PixelBatch {
  data: Float32Array;
  batch: number;
}

/** An input that passed prepare(): what predict() runs on. */
export interface PreparedInput {
  images: Buffer[];
  /** The backbone's input tensor itself, sent instead of images (KServe v2 FP32 input). */
  pixels?: PixelBatch;
  /** The classes the request ranks: the model's labels, or a zero-shot request's labels (K = length). */
  labels: readonly string[];
  /** Zero-shot: the templates used. */
  templates?: readonly string[];
  /** Things the caller should hear of that do not stop the request (e.g. words the text tower does not know). */
  warnings: string[];
}

export interface PredictionStatistics {
  predictiveEntropy: number;
  maxProbability: number;
  margin: number;
  expectedEntropy?: number;
  mutualInformation?: number;
  variationRatio?: number;
}

/** One image's prediction over the request's K classes. */
export interface Prediction {
  /** Mean-mode probabilities or the MC predictive p_hat, length K (per class, for a sigmoid head). */
  probs: Float32Array;
  /** MC only: per-class std of p_s across samples, and the standard error of p_hat. */
  std?: Float32Array;
  stdError?: Float32Array;
  /** Softmax heads: PredictionStatistics; sigmoid heads: BinaryStatistics (sums over the classes). */
  statistics: PredictionStatistics | BinaryStatistics;
  /** Sigmoid heads only: the per-class binary entropies (and in MC mode their split). */
  binary?: BinaryClassStatistics;
  /** With PredictOptions.includeLogits: W^T phi + b, length K. */
  logits?: Float32Array;
  /**
   * estimator=candidates: how many classes were sampled, the bound on E[TV] to the full predictive
   * (the classes outside have probability, std and stdError 0 here: bounded, not sampled), and
   * whether the set was too large for a gain so that all K were sampled (bound 0).
   */
  candidates?: { count: number; bound: number; fallback: boolean };
  /** MC only: the samples this image took (fewer than `samples` where a targetStdError stopped it). */
  samplesUsed?: number;
}

/** What a model is, for listings and for checking a request's options. */
export interface ModelMetadata {
  name: string;
  task: Task;
  description?: string;
  /** True for generated random-weight models: their predictions mean nothing. */
  untrained: boolean;
  head: HeadSpec;
  /** softmax or sigmoid (head.link with its default). */
  link: Link;
  input: InputSpec;
  mc: McSpec;
  zeroShot?: ZeroShotSpec;
  provenance?: Record<string, unknown>;
  /** Parameters beyond the DET head's W and b, biases included. */
  extraParameters: number;
  provider: ExecutionProvider;
  /** False for DET, which has no noise and so only the mean mode. */
  supportsMc: boolean;
  defaultMode: PredictMode;
}

/** A model's metadata from its manifest, the provider it runs on and whether it has an MC mode. */
export function metadataOf(manifest: Manifest, provider: ExecutionProvider, supportsMc: boolean): ModelMetadata {
  const { name, task, description, head, input, mc, zeroShot, provenance } = manifest;
  return {
    name,
    task,
    description,
    untrained: manifest.untrained ?? false,
    head,
    link: linkOf(head),
    input,
    mc,
    ...(zeroShot ? { zeroShot } : {}),
    provenance,
    // A det zero-shot head has no parameters at all beyond the text tower.
    extraParameters: head.type === 'det' ? 0 : extraParameterCount(head),
    provider,
    supportsMc,
    defaultMode: supportsMc ? 'mc' : 'mean',
  };
}

export interface ServedModel {
  readonly name: string;
  readonly task: Task;
  readonly metadata: ModelMetadata;
  /** Classification models: their K class names; zero-shot models have none of their own. */
  readonly labels?: readonly string[];
  /** Zero-shot models: their text-embedding cache's lookups since load (for the metrics). */
  readonly textCache?: { hits: number; misses: number };
  prepare(input: InferenceInput): PreparedInput;
  /** The prepared input's pixels, or its images decoded and preprocessed. Throws ImageError for bad images. */
  preprocess(input: PreparedInput, signal?: AbortSignal): Promise<PixelBatch>;
  /** One prediction per image of `pixels`, over `input`'s classes. */
  predictTensor(pixels: PixelBatch, input: PreparedInput, options: PredictOptions): Promise<Prediction[]>;
  predict(input: PreparedInput, options: PredictOptions): Promise<Prediction[]>;
  /** Runs every session once so the first request does not pay for ORT's lazy initialisation. */
  warmUp(): Promise<void>;
  dispose(): Promise<void>;
}

/** How the batcher (src/pipelines/batching.ts) merges and bounds one model's requests. */
export interface BatchingOptions {
  /** Most images in one merged run (a single larger request still runs, alone). */
  maxBatchSize: number;
  /** How long the oldest queued request may wait for others to fill its batch (0: never waits). */
  maxQueueDelayMs: number;
  /** Most requests admitted and not yet running (preprocessing or queued); more get QueueFullError. */
  maxQueue: number;
  /**
   * Runs of the model in flight at once. 1: strictly one after the other; 2 lets one run's
   * JavaScript (statistics, the next batch's setup) overlap the other's ONNX Runtime work.
   */
  maxConcurrentRuns: number;
}

/** The limits a model is loaded with (from the server's configuration). */
export interface ModelLimits {
  maxImagePixels: number;
  /** Working memory of one MC head computation; samples are processed in chunks under it. */
  headMemoryBudgetBytes: number;
  /** Zero-shot: prompts whose text embeddings are kept (LRU). */
  textCacheSize: number;
  /** Zero-shot: most rows x padded length of one text-tower run. */
  textBatchTokens: number;
  /** Zero-shot: the bounds of a request's labels and templates (MAX_ZERO_SHOT_LABELS, ...). */
  prompts: PromptLimits;
  /** Dynamic batching and the queue bound (BATCH_MAX_SIZE, BATCH_MAX_DELAY_MS, QUEUE_MAX_REQUESTS); the manifest's batching overrides the first two. */
  batching: BatchingOptions;
}
