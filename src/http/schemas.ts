// TypeBox schemas of the HTTP surface. Fastify validates and serialises with them, and
// src/cli/openapi.ts turns them into openapi/openapi.json: one source for both.
import { Type, type Static } from '@sinclair/typebox';
import { HeadSpec, InputSpec, LINKS, ZeroShotSpec } from '../format/manifest.ts';
import { MODEL_STATUSES } from '../pipelines/registry.ts';
import { PREDICT_ESTIMATORS, PREDICT_MODES } from '../pipelines/served-model.ts';
import { ENCODINGS, INCLUDES } from './options.ts';

/** A union of string literals from one of the domain's lists: each enum is defined once, below HTTP. */
const literals = <T extends string>(values: readonly T[], options: { description?: string } = {}) => Type.Union(values.map((v) => Type.Literal(v)), options);

export const ErrorResponse = Type.Object(
  {
    statusCode: Type.Integer(),
    code: Type.String({ description: 'Stable machine-readable error code, e.g. MODEL_NOT_FOUND, INVALID_IMAGE, BODY_TOO_LARGE.' }),
    error: Type.String(),
    message: Type.String(),
  },
  { $id: 'ErrorResponse', description: 'Fastify error shape with a stable code.' },
);

/** The error responses every inference route (classify, predictive, zero-shot) documents. */
export const InferenceErrors = { 400: ErrorResponse, 404: ErrorResponse, 413: ErrorResponse, 415: ErrorResponse, 503: ErrorResponse };

export const ModelParams = Type.Object({ name: Type.String({ description: 'Model name (its folder under MODELS_DIR).' }) });
export type ModelParams = Static<typeof ModelParams>;

export const Mode = literals(PREDICT_MODES, {
  description: 'mean: softmax of the noise-free logits (one product). mc: Monte-Carlo predictive over `samples` noise draws, with uncertainty statistics. Default: mc for het/het-xl models, mean for det.',
});

/** Options shared by classify and predictive; given in the query string, the JSON body or multipart fields. */
export const PredictOptionFields = {
  mode: Type.Optional(Mode),
  samples: Type.Optional(Type.Integer({ minimum: 1, description: "MC samples S (default: the model's mc.defaultSamples; at most min(mc.maxSamples, MAX_SAMPLES))." })),
  seed: Type.Optional(Type.Integer({ minimum: 0, maximum: 4294967295, description: 'Seed of the MC noise (default 0). Same seed and request, same answer.' })),
  estimator: Type.Optional(
    literals(PREDICT_ESTIMATORS, {
      description:
        'MC estimator (default: exact for sigmoid het / het-xl classifiers, else plain; docs/estimators.md). candidates (softmax het-xl classifiers only): MC over the classes that can matter, chosen from the exact logit marginals so that a bound on the expected total variation to the full predictive is at most `tolerance`; the response reports the bound. control (softmax het / het-xl classifiers only): antithetic MC corrected per class by a regression on control variates whose mean 1 is known from the exact logit marginals, exp(t_k - a_k) and (het-xl) exp(t_k - t_top - b_k) (a control whose log has std above 2 is left out); consistent, not unbiased (O(1/S) bias), several times lower error than plain MC at the same S; stdError from the residual variance. exact (sigmoid het / het-xl classifiers only, else 400 INVALID_OPTION): per-class probability, std and expected binary entropy by quadrature on the Gaussian marginals of the logits, no samples (samples and seed are unused), at most 1e-6 absolute error, stdError 0. antithetic: samples come in pairs (eps, -eps); still unbiased, lower variance of p_hat at the same S (docs/performance.md has error against S). stdError is then computed from the pair means (p_2m + p_2m+1) / 2, the error of this estimator itself. sobol: randomised quasi-Monte Carlo, scrambled Sobol points (linear matrix scramble + digital shift) for the R factor coordinates, plain draws for the diagonal part; unbiased, lower error at the same S on smooth heads; the samples are spread over 16 independent scramblings and stdError comes from the spread of their means (at most 64 factors, else 400 INVALID_OPTION).',
    }),
  ),
  targetStdError: Type.Optional(
    Type.Number({
      description:
        "A precision target (mode mc, every estimator but exact; candidates: over the candidate classes; control: the corrected estimate's standard errors): each image stops taking samples at the first of 64, 128, 256, ... samples where the standard error of each reported probability (classify, zero-shot: the topK classes; predictive: all K, or the topN of encoding top-n) is at most this; `samples` is then the cap (default: the largest allowed). A CLT rule with a minimum of 64 samples. The answer reports samplesUsed and stdErrorReached; it equals the answer to samples = samplesUsed. Above 0, at most 0.5, in decimal notation (0.005), else 400 TARGET_STD_ERROR_OUT_OF_RANGE / INVALID_OPTION.",
    }),
  ),
  deadlineMs: Type.Optional(
    Type.Integer({
      minimum: 1,
      description:
        "The request's deadline in ms from its arrival, queueing and computation included (default REQUEST_DEADLINE_MS; at most MAX_REQUEST_DEADLINE_MS). Past it the computation stops and the answer is 504 DEADLINE_EXCEEDED.",
    }),
  ),
};
export const ClassifyOptionFields = {
  ...PredictOptionFields,
  topK: Type.Optional(Type.Integer({ minimum: 1, description: 'Classes returned per image (default min(5, K); at most min(K, MAX_TOP_K)).' })),
};
/** Options of classify and predictive only (not zero-shot). */
const ClassifierOptionFields = {
  threshold: Type.Optional(
    Type.Number({
      description:
        'Sigmoid (multi-label) heads: the labels whose probability is above this are listed in aboveThreshold (default 0.5; 0 to 1, else 400 THRESHOLD_OUT_OF_RANGE). Softmax heads ignore it.',
    }),
  ),
  tolerance: Type.Optional(
    Type.Number({
      description:
        'estimator=candidates only: the bound on the expected total variation between the answer and the full predictive (default 0.001; above 0 and at most 0.5, else 400 TOLERANCE_OUT_OF_RANGE; with another estimator, 400 INVALID_OPTION).',
    }),
  ),
  include: Type.Optional(
    literals(INCLUDES, {
      description:
        'logits: add the K noise-free, untempered logits W^T phi + b (edward2 return_locs) to each result; in mean mode the probabilities are softmax (or per-class sigmoid) of these logits divided by tau.',
    }),
  ),
};
export const Encoding = literals(ENCODINGS, {
  description:
    'json: arrays of K numbers. f32-base64: each array as base64 of its K little-endian float32 values (4K bytes before base64; at K = 29,593 about 158 kB per array instead of about 600 kB of JSON numbers). ' +
    'top-n: only the topN most probable classes, {indices, labels, values, remainingMass} with remainingMass = 1 - sum of the listed values; std and stdError are then arrays aligned with indices.',
});
export const PredictiveOptionFields = {
  ...PredictOptionFields,
  ...ClassifierOptionFields,
  encoding: Type.Optional(Encoding),
  topN: Type.Optional(Type.Integer({ minimum: 1, description: "Classes listed by encoding 'top-n' (default min(100, K); at most K)." })),
};

const ClassifyRequestFields = { ...ClassifyOptionFields, ...ClassifierOptionFields };
export const ClassifyQuery = Type.Object(ClassifyRequestFields, { additionalProperties: false });
export const PredictiveQuery = Type.Object(PredictiveOptionFields, { additionalProperties: false });

const Base64Image = Type.String({ minLength: 1, description: 'Image bytes (JPEG, PNG, WebP, GIF, TIFF, AVIF) as base64, optionally a data: URL.' });

export const ClassifyJsonBody = Type.Object(
  { images: Type.Array(Base64Image, { minItems: 1, description: 'One or more images.' }), ...ClassifyRequestFields },
  { additionalProperties: false },
);
export const PredictiveJsonBody = Type.Object(
  { image: Base64Image, ...PredictiveOptionFields },
  { additionalProperties: false },
);
// No `type: object` on purpose: Fastify validates bodies per content type, and a multipart
// body is consumed as a stream by the handler (request.parts()), so there is no object to check.
const MultipartBody = (description: string) => ({
  description,
  properties: { image: { type: 'string', format: 'binary', description: 'An image file part; repeat for several images.' } },
});

/** Body schemas per content type; multipart bodies are read as streams by the handler, not validated here. */
export const classifyBody = {
  content: {
    'application/json': { schema: ClassifyJsonBody },
    'multipart/form-data': { schema: MultipartBody('One or more file parts (any field name), plus optional option fields (mode, samples, seed, estimator, deadlineMs, topK, threshold, include).') },
  },
};
export const predictiveBody = {
  content: {
    'application/json': { schema: PredictiveJsonBody },
    'multipart/form-data': { schema: MultipartBody('Exactly one file part, plus optional option fields (mode, samples, seed, estimator, deadlineMs, encoding, topN, threshold, include).') },
  },
};

const Labels = Type.Array(Type.String(), {
  description: 'The classes to choose from, 1 to MAX_ZERO_SHOT_LABELS, no duplicates, each at most MAX_LABEL_LENGTH characters with at least one word the text tower knows.',
});
const Templates = Type.Array(Type.String(), {
  description: "Prompt templates containing {label} (default: the model's zeroShot.templates). A label's text embedding is the renormalised mean over its prompts.",
});
export const ZeroShotQuery = Type.Object(ClassifyOptionFields, { additionalProperties: false });
export const ZeroShotJsonBody = Type.Object(
  {
    images: Type.Array(Base64Image, { minItems: 1, description: 'One or more images.' }),
    labels: Type.Optional(Labels),
    candidate_labels: Type.Optional(Type.Array(Type.String(), { description: "Hugging Face's name for labels (zero-shot pipelines); giving both is a 400 CONFLICTING_FIELDS." })),
    templates: Type.Optional(Templates),
    hypothesis_template: Type.Optional(
      Type.String({
        description:
          "Hugging Face's single template, with {} where the label goes (\"This is a photo of {}.\"); the same as templates: [it with {label} for {}]. Without {}: 400 TEMPLATE_WITHOUT_LABEL; with templates: 400 CONFLICTING_FIELDS.",
      }),
    ),
    ...ClassifyOptionFields,
  },
  { additionalProperties: false },
);
export const zeroShotBody = {
  content: {
    'application/json': { schema: ZeroShotJsonBody },
    'multipart/form-data': {
      schema: MultipartBody(
        'One or more file parts, a `labels` (or `candidate_labels`) field per label (or one such field holding a JSON array of strings), optional `templates` fields alike or one `hypothesis_template` field, plus optional option fields (mode, samples, seed, estimator, deadlineMs, topK).',
      ),
    },
  },
};

export const Statistics = Type.Object(
  {
    predictiveEntropy: Type.Number({ description: 'H[p_hat] in nats (total uncertainty). In mean mode, the entropy of the mean-mode softmax.' }),
    maxProbability: Type.Number(),
    margin: Type.Number({ description: 'Top-1 minus top-2 probability.' }),
    expectedEntropy: Type.Optional(Type.Number({ description: 'MC only: (1/S) sum_s H[p_s] (aleatoric part).' })),
    mutualInformation: Type.Optional(Type.Number({ description: 'MC only: predictiveEntropy - expectedEntropy.' })),
    variationRatio: Type.Optional(Type.Number({ description: 'MC only: 1 - share of samples whose argmax is the modal class.' })),
  },
  { additionalProperties: false },
);

export const BinaryStatistics = Type.Object(
  {
    maxProbability: Type.Number({ description: 'Largest per-class probability.' }),
    binaryEntropySum: Type.Number({ description: 'sum_k h(p_hat_k), h(p) = -p ln p - (1-p) ln(1-p): total uncertainty over all labels, in nats.' }),
    expectedBinaryEntropySum: Type.Optional(Type.Number({ description: 'MC only: sum_k (1/S) sum_s h(q_s,k) (aleatoric part).' })),
    mutualInformationSum: Type.Optional(Type.Number({ description: 'MC only: sum_k of the per-class mutual information h(p_hat_k) - (1/S) sum_s h(q_s,k).' })),
  },
  { additionalProperties: false, description: 'Sigmoid (multi-label) heads: summaries over the classes of the per-class binary statistics.' },
);
export type Statistics = Static<typeof Statistics>;
/** Softmax heads report Statistics, sigmoid heads BinaryStatistics. */
const AnyStatistics = Type.Union([Statistics, BinaryStatistics]);

export const ClassScore = Type.Object({
  index: Type.Integer(),
  label: Type.String(),
  probability: Type.Number({ description: 'Mean-mode probability, or the MC predictive p_hat.' }),
  std: Type.Optional(Type.Number({ description: 'MC only: standard deviation of p_s across samples.' })),
  stdError: Type.Optional(Type.Number({ description: 'MC only: standard error of p_hat: std / sqrt(S) for plain, from the pair means for antithetic, from the 16 scramblings for sobol; 0 for estimator=exact (no sampling error).' })),
});
export type ClassScore = Static<typeof ClassScore>;
/** Classify's classes: a sigmoid head adds the class's binary statistics. */
const ClassifierClassScore = Type.Object({
  ...ClassScore.properties,
  binaryEntropy: Type.Optional(Type.Number({ description: 'Sigmoid heads: h(p_hat) of this class, in nats.' })),
  expectedBinaryEntropy: Type.Optional(Type.Number({ description: 'Sigmoid heads, MC only: (1/S) sum_s h(q_s) of this class.' })),
  mutualInformation: Type.Optional(Type.Number({ description: 'Sigmoid heads, MC only: binaryEntropy - expectedBinaryEntropy (>= 0).' })),
});

const AboveThreshold = Type.Array(
  Type.Object({ index: Type.Integer(), label: Type.String(), probability: Type.Number() }),
  { description: 'Sigmoid heads only: every class whose probability is above `threshold`, most probable first (ties by the lower index).' },
);
/** What sigmoid heads add to a prediction (classify) or a response (predictive). */
const SigmoidRunInfo = {
  link: Type.Optional(literals(LINKS, { description: "The head's link; present (sigmoid) for sigmoid heads only: absent means softmax." })),
  threshold: Type.Optional(Type.Number({ description: 'Sigmoid heads only: the threshold used for aboveThreshold.' })),
};

const RunInfo = {
  model: Type.String(),
  mode: Mode,
  samples: Type.Optional(Type.Integer({ description: 'MC only.' })),
  seed: Type.Optional(Type.Integer({ description: 'MC only.' })),
  estimator: Type.Optional(Type.String({ description: 'MC only: the estimator that ran (plain, antithetic, ... or exact, the default of sigmoid heads).' })),
  provider: Type.String({ description: 'ONNX Runtime execution provider that ran the model (cpu or cuda).' }),
};

const Logits = Type.Array(Type.Number(), { description: 'With include=logits: the K noise-free, untempered logits W^T phi + b.' });

/** estimator=candidates: what was sampled and the bound on the rest. */
const CandidateInfo = {
  candidates: Type.Optional(
    Type.Object(
      {
        count: Type.Integer({ description: 'Classes sampled: the candidate set (K on fallback).' }),
        bound: Type.Number({
          description:
            'Upper bound on the expected total variation between this answer and the full-K predictive (at most tolerance; 0 on fallback). Classes outside the candidates are reported with probability, std and stdError 0: bounded by this, not sampled.',
        }),
        fallback: Type.Boolean({ description: 'True when the candidate set was too large for a gain (over half of K): all K classes were sampled, as estimator=plain.' }),
      },
      { additionalProperties: false },
    ),
  ),
};

/** With targetStdError: where the image stopped and the precision it reached. */
const PrecisionInfo = {
  samplesUsed: Type.Optional(Type.Integer({ description: 'With targetStdError: the samples this image took (at most `samples`).' })),
  stdErrorReached: Type.Optional(Type.Number({ description: 'With targetStdError: the largest standard error among the probabilities the target applies to.' })),
};

export const ClassifyResponse = Type.Object({
  ...RunInfo,
  ...SigmoidRunInfo,
  predictions: Type.Array(
    Type.Object({ classes: Type.Array(ClassifierClassScore), statistics: AnyStatistics, aboveThreshold: Type.Optional(AboveThreshold), logits: Type.Optional(Logits), ...PrecisionInfo, ...CandidateInfo }),
    { description: 'One entry per image, in request order.' },
  ),
});
export type ClassifyResponse = Static<typeof ClassifyResponse>;

export const ZeroShotResponse = Type.Object({
  ...RunInfo,
  templates: Type.Array(Type.String(), { description: 'The templates used.' }),
  warnings: Type.Optional(
    Type.Array(Type.String(), { description: 'Words of the labels or templates the text tower does not know (they embed as [UNK]); absent when there are none.' }),
  ),
  predictions: Type.Array(Type.Object({ classes: Type.Array(ClassScore), statistics: Statistics, ...PrecisionInfo }), {
    description: "One entry per image, in request order; index is the label's position in the request's labels.",
  }),
});

const FloatArray = Type.Union([
  Type.Array(Type.Number(), { description: "encoding 'json' (K values) or 'top-n' (aligned with probabilities.indices)" }),
  Type.String({ contentEncoding: 'base64', description: "encoding 'f32-base64': K little-endian float32 values" }),
]);
export const TopNProbabilities = Type.Object(
  {
    indices: Type.Array(Type.Integer(), { description: 'Class indices, most probable first (ties by the lower index).' }),
    labels: Type.Array(Type.String()),
    values: Type.Array(Type.Number(), { description: 'Their probabilities.' }),
    remainingMass: Type.Number({
    description: '1 - sum(values): the probability of all classes not listed (>= 0). Sigmoid heads: the sum of the probabilities not listed (the expected number of other labels present).',
  }),
  },
  { additionalProperties: false, description: "encoding 'top-n'" },
);
export const PredictiveResponse = Type.Object({
  ...RunInfo,
  K: Type.Integer(),
  encoding: Encoding,
  probabilities: Type.Union([FloatArray, TopNProbabilities]),
  std: Type.Optional(FloatArray),
  stdError: Type.Optional(FloatArray),
  ...PrecisionInfo,
  ...CandidateInfo,
  ...SigmoidRunInfo,
  binaryEntropy: Type.Optional(FloatArray),
  expectedBinaryEntropy: Type.Optional(FloatArray),
  mutualInformation: Type.Optional(FloatArray),
  aboveThreshold: Type.Optional(AboveThreshold),
  logits: Type.Optional(FloatArray),
  statistics: AnyStatistics,
});
export type PredictiveResponse = Static<typeof PredictiveResponse>;

export const ModelStatus = literals(MODEL_STATUSES);

export const ModelSummary = Type.Object({
  name: Type.String(),
  status: ModelStatus,
  task: Type.Optional(Type.String()),
  headType: Type.Optional(Type.String()),
  K: Type.Optional(Type.Integer()),
  untrained: Type.Optional(Type.Boolean()),
  error: Type.Optional(Type.Object({ file: Type.String(), problem: Type.String() })),
});
export type ModelSummary = Static<typeof ModelSummary>;

export const ModelList = Type.Object({ models: Type.Array(ModelSummary) });

export const ModelDetails = Type.Object({
  name: Type.String(),
  status: ModelStatus,
  description: Type.Optional(Type.String()),
  task: Type.String(),
  untrained: Type.Boolean(),
  head: HeadSpec,
  extraParameters: Type.Integer({ description: 'Parameters beyond the DET head (W, b), biases included.' }),
  provider: Type.String(),
  input: InputSpec,
  defaults: Type.Object({ mode: Mode, samples: Type.Integer(), maxSamples: Type.Integer(), topK: Type.Integer(), maxTopK: Type.Integer(), seed: Type.Integer() }),
  estimators: Type.Array(literals(PREDICT_ESTIMATORS), { description: 'The estimators this model takes in mode mc, its default first (empty for a model without mc).' }),
  zeroShot: Type.Optional(ZeroShotSpec),
  provenance: Type.Optional(Type.Record(Type.String(), Type.Unknown())),
});
export type ModelDetails = Static<typeof ModelDetails>;

export const LabelsResponse = Type.Object({ model: Type.String(), labels: Type.Array(Type.String()) });

export const Health = Type.Object({ status: Type.String() });
export const Readiness = Type.Object({
  status: Type.Union([Type.Literal('ready'), Type.Literal('loading'), Type.Literal('unavailable')]),
  models: Type.Array(ModelSummary),
});
