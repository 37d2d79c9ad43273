// TypeBox schemas of the KServe Open Inference Protocol v2 (REST) routes, in the protocol's own
// JSON shapes (snake_case, tensors as {name, datatype, shape, data}); docs/kserve-v2.md.
import { Type } from '@sinclair/typebox';
import { ModelSummary } from './schemas.ts';

/** The protocol's error object; `code` is this server's stable code (the same codes as /v1). */
export const V2Error = Type.Object(
  {
    error: Type.String({ description: 'What was wrong.' }),
    code: Type.String({ description: 'Stable machine-readable code (not part of the protocol), e.g. MODEL_NOT_FOUND, INVALID_TENSOR.' }),
  },
  { description: 'Open Inference Protocol error object, plus the stable code.' },
);

export const V2Errors = { 400: V2Error, 404: V2Error, 413: V2Error, 415: V2Error, 503: V2Error };

export const ServerMetadata = Type.Object({
  name: Type.String(),
  version: Type.String(),
  extensions: Type.Array(Type.String(), {
    description: "Protocol extensions supported: model_repository when MODEL_CONTROL_TOKEN is set (the binary tensor extension is not implemented).",
  }),
});

const Shape = Type.Array(Type.Integer(), { description: 'Dimensions; -1 marks a variable one (the batch).' });

export const MetadataTensor = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Shape });

export const ModelMetadataV2 = Type.Object({
  name: Type.String(),
  platform: Type.String({ description: 'onnxruntime_onnx: the backbone and head run on ONNX Runtime.' }),
  inputs: Type.Array(MetadataTensor, {
    description:
      'images (BYTES [-1]: each element the base64 of one encoded image) or, classification models, pixels (FP32, the preprocessed backbone input [-1, C, H, W] or [-1, H, W, C] per the manifest layout); zero-shot models add labels and templates (BYTES [-1], plain strings). Exactly one of images and pixels per request.',
  }),
  outputs: Type.Array(MetadataTensor, {
    description:
      'probabilities FP32 [-1, K]; std and std_error FP32 [-1, K] (mode mc only); the statistics as FP32 [-1] tensors: predictive_entropy, max_probability, margin, and in mode mc expected_entropy, mutual_information, variation_ratio (softmax heads) or the binary ones (sigmoid heads). ' +
      'Per request in mode mc: samples_used (INT32 [-1]) and std_error_reached (FP32 [-1]) with a targetStdError; candidate_count (INT32 [-1]), candidate_bound (FP32 [-1]) and candidate_fallback (BOOL [-1]) with estimator candidates. K is -1 for zero-shot models (the number of labels).',
  }),
});

export const ModelReady = Type.Object({ name: Type.String(), ready: Type.Boolean() });

export const ServerReady = Type.Object({
  ready: Type.Boolean({ description: 'True when loading has finished and every model folder is ready (none loading, none failed).' }),
  models: Type.Array(ModelSummary),
});

const ParameterValue = Type.Union([Type.String(), Type.Number(), Type.Boolean()]);
const Parameters = (description: string) => Type.Record(Type.String(), ParameterValue, { description });
// Request parameters are checked by the route, not here: Ajv coerces the first type of a union
// (samples: 5 would become '5', true would become 'true').
const RequestParameters = (description: string) => Type.Record(Type.String(), Type.Unknown(), { description: `${description} Values are strings, numbers or booleans.` });

const RequestInput = Type.Object(
  {
    name: Type.String(),
    shape: Type.Array(Type.Integer({ minimum: 0 })),
    datatype: Type.String(),
    parameters: Type.Optional(RequestParameters('None are taken (binary_data_size, the binary tensor extension, is refused).')),
    data: Type.Array(Type.Unknown(), { description: 'Row-major, flat or nested as the shape.' }),
  },
  { additionalProperties: false },
);

const RequestOutput = Type.Object(
  { name: Type.String(), parameters: Type.Optional(RequestParameters('Only binary_data: false is taken.')) },
  { additionalProperties: false },
);

export const InferenceRequest = Type.Object(
  {
    id: Type.Optional(Type.String({ description: 'Echoed in the response.' })),
    parameters: Type.Optional(
      RequestParameters(
        "The MC options of /v1: mode ('mean' or 'mc'), samples, seed, estimator (the model's, as in /v1), targetStdError (applies to all K probabilities), tolerance (estimator candidates) and deadlineMs, with the defaults and limits of /v1.",
      ),
    ),
    inputs: Type.Array(RequestInput, { minItems: 1 }),
    outputs: Type.Optional(Type.Array(RequestOutput, { description: 'The outputs to return, in this order; default all of the mode.' })),
  },
  { additionalProperties: false },
);

// A type list rather than anyOf: the serialiser checks each element of an anyOf against every
// branch (a third slower on a [1, 29593] tensor), and a type list by typeof.
const TensorValue = Type.Unsafe<number | boolean>({ type: ['number', 'boolean'], description: 'Numbers; booleans for a BOOL tensor.' });
const ResponseOutput = Type.Object({ name: Type.String(), datatype: Type.String(), shape: Type.Array(Type.Integer()), data: Type.Array(TensorValue) });

export const InferenceResponse = Type.Object({
  model_name: Type.String(),
  id: Type.Optional(Type.String()),
  parameters: Parameters('mode, samples, seed and estimator (mode mc), provider; zero-shot: warnings when words are unknown to the text tower.'),
  outputs: Type.Array(ResponseOutput),
});

// --- the model repository extension (Triton's, docs/kserve-v2.md) --------------------------------

export const REPOSITORY_STATES = ['READY', 'LOADING', 'UNAVAILABLE'] as const;

export const RepositoryIndexRequest = Type.Object(
  { ready: Type.Optional(Type.Boolean({ description: 'Only the models ready for inferencing; default false.' })) },
  { additionalProperties: false, description: 'May be empty or absent.' },
);

export const RepositoryIndex = Type.Array(
  Type.Object({
    name: Type.String({ description: 'The model folder under MODELS_DIR.' }),
    state: Type.Union(REPOSITORY_STATES.map((s) => Type.Literal(s)), {
      description: 'READY (serving), LOADING (at start, or a load of a new folder under way), UNAVAILABLE (failed to load, unloaded, or never loaded).',
    }),
    reason: Type.String({ description: "Why UNAVAILABLE: the failed load's file and problem, or 'not loaded' (unloaded, or never loaded); empty otherwise." }),
  }),
  { description: 'Every checkpoint folder under MODELS_DIR, and every loaded model.' },
);

export const RepositoryModelRequest = Type.Object(
  {
    parameters: Type.Optional(
      Type.Record(Type.String(), Type.Unknown(), { description: "Load: none are taken (Triton's 'config' is refused). Unload: unload_dependents (a boolean; no model has dependents)." }),
    ),
  },
  { additionalProperties: false, description: 'May be empty or absent.' },
);

export const RepositoryModelResponse = Type.Object({
  name: Type.String(),
  state: Type.Union(REPOSITORY_STATES.map((s) => Type.Literal(s)), { description: 'READY after a load, UNAVAILABLE after an unload.' }),
});

export const RepositoryErrors = { 400: V2Error, 401: V2Error, 404: V2Error, 429: V2Error };
