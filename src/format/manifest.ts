// Checkpoint format v1: manifest.json, validated at load with this TypeBox schema.
// docs/checkpoint-format.md describes every field for people; keep the two in step.
import { Type, type Static } from '@sinclair/typebox';

export const FORMAT_VERSION = 1;

/** The head types of format v1 (docs/method.md): every other layer takes them from here. */
export const HEAD_TYPES = ['det', 'het', 'het-xl'] as const;
export const HeadType = Type.Union(HEAD_TYPES.map((t) => Type.Literal(t)));
export type HeadType = Static<typeof HeadType>;

export const Covariance = Type.Union([Type.Literal('param-efficient'), Type.Literal('full')]);
export type Covariance = Static<typeof Covariance>;

/**
 * How logits become probabilities (docs/method.md): softmax over the K classes (one label per
 * image), or a sigmoid per class (independent labels, edward2's MCSigmoidDenseFA).
 */
export const LINKS = ['softmax', 'sigmoid'] as const;
export type Link = (typeof LINKS)[number];

/**
 * How the diagonal part of the noise is drawn (docs/method.md): independent, one standard normal
 * per noise dimension (the paper's Sigma' and edward2's TF layer); shared, one standard normal per
 * sample broadcast over the dimensions (edward2's JAX layers, which trained every HET-XL).
 */
export const DIAGONAL_NOISE = ['independent', 'shared'] as const;
export type DiagonalNoise = (typeof DIAGONAL_NOISE)[number];

export const HeadSpec = Type.Object(
  {
    type: HeadType,
    /** Required for het and het-xl; ignored for det. */
    covariance: Type.Optional(Covariance),
    /** Pre-logit dimension (backbone output). */
    D: Type.Integer({ minimum: 1 }),
    /** Number of classes. */
    K: Type.Integer({ minimum: 1 }),
    /** Factors of the low-rank covariance (het, het-xl); 0: diagonal noise only, no scale_layer_* tensors. */
    R: Type.Optional(Type.Integer({ minimum: 0 })),
    /** softmax or sigmoid; absent reads as softmax (the loader writes the default in). */
    link: Type.Optional(Type.Union(LINKS.map((l) => Type.Literal(l)), { default: 'softmax' })),
    /** independent or shared (het, het-xl); absent reads as independent. */
    diagonalNoise: Type.Optional(Type.Union(DIAGONAL_NOISE.map((d) => Type.Literal(d)))),
    /** Softmax temperature actually used: the learned value for HET-XL. */
    tau: Type.Number({ exclusiveMinimum: 0 }),
    /** Provenance of a learned tau: tau = min + (max - min) * sigmoid(t). */
    temperature: Type.Optional(
      Type.Object({ t: Type.Number(), min: Type.Number({ exclusiveMinimum: 0 }), max: Type.Number({ exclusiveMinimum: 0 }) }, { additionalProperties: false }),
    ),
    /** Added to the softplus of the diagonal scale (edward2 MIN_SCALE_MONTE_CARLO). */
    minScale: Type.Number({ minimum: 0, default: 1e-3 }),
  },
  { additionalProperties: false },
);
export type HeadSpec = Static<typeof HeadSpec>;

/** Tensor names of backbone.onnx: image in, pre-logits out, unless `input.names` says otherwise. */
export const BACKBONE_INPUT = 'image';
export const BACKBONE_OUTPUT = 'prelogits';

/** The names an exported backbone gives its two tensors (torch.onnx.export's input_names / output_names). */
export const BackboneNames = Type.Object(
  {
    image: Type.String({ minLength: 1, default: BACKBONE_INPUT }),
    prelogits: Type.String({ minLength: 1, default: BACKBONE_OUTPUT }),
  },
  { additionalProperties: false },
);
export type BackboneNames = Static<typeof BackboneNames>;

/**
 * How the resize samples: sharp's kernels under the names of torchvision's InterpolationMode
 * (PIL's filters). lanczos3 is sharp's default, what every checkpoint without `kernel` gets.
 */
export const RESIZE_KERNELS = ['nearest', 'bilinear', 'bicubic', 'lanczos3'] as const;
export type ResizeKernel = (typeof RESIZE_KERNELS)[number];

export const InputSpec = Type.Object(
  {
    height: Type.Integer({ minimum: 1, maximum: 4096 }),
    width: Type.Integer({ minimum: 1, maximum: 4096 }),
    channels: Type.Union([Type.Literal(1), Type.Literal(3)]),
    layout: Type.Union([Type.Literal('NCHW'), Type.Literal('NHWC')], { default: 'NCHW' }),
    /**
     * stretch: resize to height x width ignoring aspect; center-crop: cover then crop the centre; pad: contain, pad with black;
     * shorter-side-then-center-crop: torchvision's Resize(resizeSize) then CenterCrop((height, width)).
     */
    resize: Type.Union(
      [Type.Literal('stretch'), Type.Literal('center-crop'), Type.Literal('pad'), Type.Literal('shorter-side-then-center-crop')],
      { default: 'stretch' },
    ),
    /** The shorter side after the resize, for shorter-side-then-center-crop only (at least height and width). */
    resizeSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 4096 })),
    /** The resize's sampling kernel; absent: lanczos3. */
    kernel: Type.Optional(Type.Union(RESIZE_KERNELS.map((k) => Type.Literal(k)))),
    /** Pixel values are first multiplied by scale (e.g. 1/255), then normalised as (x - mean) / std per channel. */
    scale: Type.Number({ default: 1 / 255 }),
    mean: Type.Array(Type.Number(), { minItems: 1, maxItems: 3 }),
    std: Type.Array(Type.Number({ exclusiveMinimum: 0 }), { minItems: 1, maxItems: 3 }),
    /** The backbone's tensor names; absent: image and prelogits. */
    names: Type.Optional(BackboneNames),
  },
  { additionalProperties: false },
);
export type InputSpec = Static<typeof InputSpec>;

export const McSpec = Type.Object(
  {
    defaultSamples: Type.Integer({ minimum: 1, default: 1000 }),
    maxSamples: Type.Integer({ minimum: 1, default: 10000 }),
  },
  { additionalProperties: false },
);
export type McSpec = Static<typeof McSpec>;

/** Tensor names of text.onnx (zero-shot): token ids in, text embedding out, unless `zeroShot.text` says otherwise. */
export const TEXT_INPUT = 'input_ids';
export const TEXT_OUTPUT = 'text_embedding';

/**
 * The text tower as exported: its tensor names (Hugging Face and optimum: input_ids and
 * attention_mask -> text_embeds), and the context length prompts are cut to (CLIP: 77), which
 * tokenizer_config.json's model_max_length may give instead.
 */
export const TextTowerSpec = Type.Object(
  {
    inputIds: Type.String({ minLength: 1, default: TEXT_INPUT }),
    /** The int64 mask input (1 = token, 0 = pad); absent: the tower takes token ids alone. */
    attentionMask: Type.Optional(Type.String({ minLength: 1 })),
    embedding: Type.String({ minLength: 1, default: TEXT_OUTPUT }),
    /** Most tokens of one prompt, special tokens included; a tower with a static length needs it to equal that length. */
    contextLength: Type.Optional(Type.Integer({ minimum: 2, maximum: 65_536 })),
  },
  { additionalProperties: false },
);
export type TextTowerSpec = Static<typeof TextTowerSpec>;

/** The placeholder a prompt template must contain; replaced by each label. */
export const LABEL_PLACEHOLDER = '{label}';

/** Zero-shot models only: how labels become prompts and how embeddings are compared. */
export const ZeroShotSpec = Type.Object(
  {
    /** Default prompt templates, each containing {label}; a label's embedding is their renormalised mean. */
    templates: Type.Array(Type.String({ pattern: '\\{label\\}', minLength: 1 }), { minItems: 1, maxItems: 64 }),
    /**
     * after-noise: the noisy image embedding z_s is L2-normalised before the cosine (the paper's
     * contrastive setup); before-noise: z is normalised, the noise is added, no renormalisation.
     * Text embeddings are always L2-normalised.
     */
    imageNormalisation: Type.Union([Type.Literal('after-noise'), Type.Literal('before-noise')], { default: 'after-noise' }),
    /**
     * CLIP's learned temperature as trained: logits = exp(logitScale) cos, so tau = 1 / exp(logitScale).
     * head.tau may then be left out (the loader writes it in); given both, they must agree.
     */
    logitScale: Type.Optional(Type.Number({ minimum: -20, maximum: 20 })),
    /** text.onnx's contract; absent: input_ids -> text_embedding, no attention mask, no context length. */
    text: Type.Optional(TextTowerSpec),
  },
  { additionalProperties: false },
);
export type ZeroShotSpec = Static<typeof ZeroShotSpec>;

/**
 * Per-model dynamic batching (src/pipelines/batching.ts), overriding the server's BATCH_MAX_SIZE
 * and BATCH_MAX_DELAY_MS: a large head may want smaller batches, a small one a short wait.
 */
export const BatchingSpec = Type.Object(
  {
    maxBatchSize: Type.Optional(Type.Integer({ minimum: 1, maximum: 1024 })),
    maxQueueDelayMs: Type.Optional(Type.Integer({ minimum: 0, maximum: 10_000 })),
  },
  { additionalProperties: false },
);
export type BatchingSpec = Static<typeof BatchingSpec>;

/** What a checkpoint is for: a fixed label set, or labels given with each request. */
export const TASKS = ['classification', 'zero-shot'] as const;
export type Task = (typeof TASKS)[number];

export const Manifest = Type.Object(
  {
    formatVersion: Type.Literal(FORMAT_VERSION),
    name: Type.String({ pattern: '^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$' }),
    description: Type.Optional(Type.String()),
    task: Type.Union(TASKS.map((t) => Type.Literal(t))),
    /** True for generated random-weight models: their predictions mean nothing. */
    untrained: Type.Optional(Type.Boolean()),
    head: HeadSpec,
    input: InputSpec,
    mc: McSpec,
    /** Required for task zero-shot, refused for classification. */
    zeroShot: Type.Optional(ZeroShotSpec),
    batching: Type.Optional(BatchingSpec),
    /** Free-form: dataset, training command, seed, label noise, evaluation metrics. */
    provenance: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
  },
  { additionalProperties: false },
);
export type Manifest = Static<typeof Manifest>;

/** The backbone's tensor names of a checkpoint: `input.names`, or image and prelogits. */
export function backboneNames(input: InputSpec): BackboneNames {
  return input.names ?? { image: BACKBONE_INPUT, prelogits: BACKBONE_OUTPUT };
}

/** The text tower's contract of a zero-shot manifest: `zeroShot.text`, or input_ids -> text_embedding. */
export function textTowerSpec(zeroShot: ZeroShotSpec): TextTowerSpec {
  return zeroShot.text ?? { inputIds: TEXT_INPUT, embedding: TEXT_OUTPUT };
}
