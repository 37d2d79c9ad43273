// The KServe Open Inference Protocol v2, REST (docs/kserve-v2.md): server metadata, model
// metadata and readiness, and infer, on the one served-model interface as /v1 classify is
// (prepare, then predict). Server liveness and readiness are in health.ts. Registered under the
// prefix /v2, so that this plugin's error and not-found handlers answer in the protocol's shape.
import type { FastifyPluginAsync } from 'fastify';
import { estimatorsOf, type ModelMetadata, type Prediction, type PredictOptions, type ServedModel } from '../../pipelines/served-model.ts';
import type { App, RouteContext } from '../context.ts';
import { acquireModel, requireModel } from '../context.ts';
import { requestSignal } from '../cancellation.ts';
import { HttpError, badRequest, clip, installProtocolErrorHandler } from '../errors.ts';
import { decodeBase64Image } from '../input.ts';
import { resolveOptions } from '../options.ts';
import { precisionInfo, runInfo } from '../results.ts';
import { API_INFO } from '../plugins/docs.ts';
import { ModelParams } from '../schemas.ts';
import { InferenceRequest, InferenceResponse, ModelMetadataV2, ModelReady, ServerMetadata, V2Error, V2Errors } from '../kserve-schemas.ts';

type Tensor = { name: string; datatype: string; shape: number[] };
type RequestInput = Tensor & { parameters?: Record<string, unknown>; data: unknown[] };
type InferBody = { id?: string; parameters?: Record<string, unknown>; inputs: RequestInput[]; outputs?: { name: string; parameters?: Record<string, unknown> }[] };

/**
 * The request parameters taken: the MC options of /v1 (topK and the encodings are /v1 response
 * matters). A targetStdError applies to every probability the response holds (all K, as /v1
 * predictive with encoding json).
 */
const PARAMETERS = ['mode', 'samples', 'seed', 'estimator', 'targetStdError', 'tolerance', 'deadlineMs'];

/** A statistic by its name in Prediction.statistics (softmax or sigmoid; see docs/method.md). */
const statistic = (key: string) => (p: Prediction) => (p.statistics as unknown as Record<string, number | undefined>)[key];

/** Which heads an output is for: every head, softmax heads, or sigmoid (multi-label) heads. */
type OutputLink = 'any' | ModelMetadata['link'];

/**
 * What else an output needs: a request with a targetStdError (what the stopping rule did), or
 * estimator=candidates (the candidate set); outputs of the request's run rather than of the head.
 */
type OutputRequirement = 'target' | 'candidates';

interface Output {
  name: string;
  link: OutputLink;
  mcOnly: boolean;
  /** [B, K] when true, else one value per image ([B]). */
  perClass: boolean;
  datatype?: 'FP32' | 'INT32' | 'BOOL';
  requires?: OutputRequirement;
  of: (p: Prediction, options: PredictOptions) => ArrayLike<number> | number | boolean | undefined;
}

/** The outputs, in their default order (docs/kserve-v2.md). */
const OUTPUTS: Output[] = [
  { name: 'probabilities', link: 'any', mcOnly: false, perClass: true, of: (p) => p.probs },
  { name: 'std', link: 'any', mcOnly: true, perClass: true, of: (p) => p.std },
  { name: 'std_error', link: 'any', mcOnly: true, perClass: true, of: (p) => p.stdError },
  { name: 'predictive_entropy', link: 'softmax', mcOnly: false, perClass: false, of: statistic('predictiveEntropy') },
  { name: 'max_probability', link: 'any', mcOnly: false, perClass: false, of: statistic('maxProbability') },
  { name: 'margin', link: 'softmax', mcOnly: false, perClass: false, of: statistic('margin') },
  { name: 'expected_entropy', link: 'softmax', mcOnly: true, perClass: false, of: statistic('expectedEntropy') },
  { name: 'mutual_information', link: 'softmax', mcOnly: true, perClass: false, of: statistic('mutualInformation') },
  { name: 'variation_ratio', link: 'softmax', mcOnly: true, perClass: false, of: statistic('variationRatio') },
  // Sigmoid heads: each class its own binary distribution (docs/method.md, "Sigmoid heads").
  { name: 'binary_entropy', link: 'sigmoid', mcOnly: false, perClass: true, of: (p) => p.binary?.binaryEntropy },
  { name: 'expected_binary_entropy', link: 'sigmoid', mcOnly: true, perClass: true, of: (p) => p.binary?.expectedBinaryEntropy },
  { name: 'class_mutual_information', link: 'sigmoid', mcOnly: true, perClass: true, of: (p) => p.binary?.mutualInformation },
  { name: 'binary_entropy_sum', link: 'sigmoid', mcOnly: false, perClass: false, of: statistic('binaryEntropySum') },
  { name: 'expected_binary_entropy_sum', link: 'sigmoid', mcOnly: true, perClass: false, of: statistic('expectedBinaryEntropySum') },
  { name: 'mutual_information_sum', link: 'sigmoid', mcOnly: true, perClass: false, of: statistic('mutualInformationSum') },
  // The run's own figures, as /v1 reports them (samplesUsed, stdErrorReached, candidates).
  { name: 'samples_used', link: 'any', mcOnly: true, perClass: false, datatype: 'INT32', requires: 'target', of: (p) => p.samplesUsed },
  { name: 'std_error_reached', link: 'any', mcOnly: true, perClass: false, requires: 'target', of: (p, o) => precisionInfo(p, o).stdErrorReached },
  { name: 'candidate_count', link: 'softmax', mcOnly: true, perClass: false, datatype: 'INT32', requires: 'candidates', of: (p) => p.candidates?.count },
  { name: 'candidate_bound', link: 'softmax', mcOnly: true, perClass: false, requires: 'candidates', of: (p) => p.candidates?.bound },
  { name: 'candidate_fallback', link: 'softmax', mcOnly: true, perClass: false, datatype: 'BOOL', requires: 'candidates', of: (p) => p.candidates?.fallback },
];

/** Why a request's run does not have an output of its requirement, or undefined when it does. */
function unmet(requirement: OutputRequirement | undefined, options: PredictOptions): string | undefined {
  if (requirement === 'target' && options.targetStdError === undefined) return 'exists with the parameter targetStdError only';
  if (requirement === 'candidates' && options.estimator !== 'candidates') return 'exists with estimator candidates only';
  return undefined;
}

/** The outputs a model has in `mode`: the per-class tensors, and the statistics of its link. */
function outputsFor(model: ServedModel, mode: PredictOptions['mode']) {
  const link = model.metadata.link;
  const mayHave = (requirement: OutputRequirement | undefined) =>
    requirement === undefined || (requirement === 'target' ? model.metadata.supportsMc : estimatorsOf(model.metadata).includes('candidates'));
  return OUTPUTS.filter((o) => (mode === 'mc' || !o.mcOnly) && (o.link === 'any' || o.link === link) && mayHave(o.requires));
}

/** The pixel tensor's dimensions after the batch, in the manifest's layout. */
function pixelDims(model: ServedModel): number[] {
  const { channels, height, width, layout } = model.metadata.input;
  return layout === 'NCHW' ? [channels, height, width] : [height, width, channels];
}

function inputsOf(model: ServedModel): Tensor[] {
  const images = { name: 'images', datatype: 'BYTES', shape: [-1] };
  if (model.task === 'zero-shot') {
    return [images, { name: 'labels', datatype: 'BYTES', shape: [-1] }, { name: 'templates', datatype: 'BYTES', shape: [-1] }];
  }
  // The backbone's input tensor itself: classification models (zero-shot ones take images with their labels).
  return [images, { name: 'pixels', datatype: 'FP32', shape: [-1, ...pixelDims(model)] }];
}

function outputsOf(model: ServedModel): Tensor[] {
  // A zero-shot request's K is its number of labels.
  const K = model.task === 'zero-shot' ? -1 : model.metadata.head.K;
  return outputsFor(model, model.metadata.supportsMc ? 'mc' : 'mean').map((o) => ({
    name: o.name,
    datatype: o.datatype ?? 'FP32',
    shape: o.perClass ? [-1, K] : [-1],
  }));
}

/** What the request's input tensors hold, checked against the model's inputs and the limits. */
interface Inputs {
  images?: Buffer[];
  pixels?: { data: Float32Array; batch: number };
  labels?: string[];
  templates?: string[];
}

const product = (dims: number[]) => dims.reduce((a, b) => a * b, 1);
const invalidTensor = (name: string, problem: string) => badRequest('INVALID_TENSOR', `input '${clip(name)}': ${problem}`);

/** The tensor's elements in row-major order: the protocol allows the nested form as well as the flat one. */
function elements(input: RequestInput): unknown[] {
  const flat = input.data.some(Array.isArray) ? input.data.flat(Infinity) : input.data;
  const expected = product(input.shape);
  if (flat.length !== expected) throw invalidTensor(input.name, `shape [${input.shape.join(', ')}] holds ${expected} elements, data has ${flat.length}`);
  return flat;
}

function strings(input: RequestInput, maxCount: number): string[] {
  if (input.shape.length !== 1) throw invalidTensor(input.name, `a BYTES tensor of shape [n], got [${input.shape.join(', ')}]`);
  const values = elements(input);
  if (values.length > maxCount) throw badRequest('TOO_MANY_IMAGES', `input '${input.name}': ${values.length} elements, at most ${maxCount} (MAX_IMAGES_PER_REQUEST)`);
  if (values.some((v) => typeof v !== 'string')) throw invalidTensor(input.name, 'BYTES elements must be JSON strings');
  return values as string[];
}

function pixels(input: RequestInput, model: ServedModel, maxImages: number): Inputs['pixels'] {
  const dims = pixelDims(model);
  const [batch, ...rest] = input.shape;
  if (input.shape.length !== dims.length + 1 || rest.some((d, i) => d !== dims[i])) {
    throw invalidTensor(input.name, `shape must be [B, ${dims.join(', ')}] (layout ${model.metadata.input.layout}), got [${input.shape.join(', ')}]`);
  }
  if (batch < 1 || batch > maxImages) throw badRequest(batch < 1 ? 'NO_IMAGES' : 'TOO_MANY_IMAGES', `input 'pixels': batch ${batch}, must be 1 to ${maxImages} (MAX_IMAGES_PER_REQUEST)`);
  const values = elements(input);
  // JSON has no NaN, but 1e999 parses as Infinity.
  if (values.some((v) => typeof v !== 'number' || !Number.isFinite(v))) throw invalidTensor(input.name, 'FP32 elements must be finite JSON numbers');
  return { data: Float32Array.from(values as number[]), batch };
}

function readInputs(body: InferBody, model: ServedModel, maxImages: number): Inputs {
  const declared = new Map(inputsOf(model).map((t) => [t.name, t]));
  const seen = new Set<string>();
  const inputs: Inputs = {};
  for (const input of body.inputs) {
    const spec = declared.get(input.name);
    if (!spec) throw badRequest('UNKNOWN_INPUT', `model '${model.name}' has no input '${clip(input.name)}'; inputs: ${[...declared.keys()].join(', ')}`);
    if (seen.has(input.name)) throw badRequest('DUPLICATE_INPUT', `input '${input.name}' given twice`);
    seen.add(input.name);
    if (input.datatype !== spec.datatype) throw invalidTensor(input.name, `datatype must be ${spec.datatype}, got '${clip(input.datatype)}'`);
    if (input.parameters && Object.keys(input.parameters).length > 0) {
      throw badRequest('UNKNOWN_OPTION', `input '${input.name}': input parameters are not taken (the binary tensor extension is not supported: send data as JSON)`);
    }
    if (input.name === 'images') inputs.images = strings(input, maxImages).map((s, i) => decodeBase64Image(s, i));
    else if (input.name === 'pixels') inputs.pixels = pixels(input, model, maxImages);
    // Zero-shot labels and templates: their own limits are checked by the model's prepare().
    else if (input.name === 'labels') inputs.labels = strings(input, Infinity);
    else inputs.templates = strings(input, Infinity);
  }
  if (inputs.images && inputs.pixels) throw badRequest('CONFLICTING_INPUTS', "give either 'images' or 'pixels', not both");
  if (!inputs.pixels && !inputs.images?.length) throw badRequest('NO_IMAGES', `an input 'images'${model.task === 'classification' ? " or 'pixels'" : ''} with at least one image is needed`);
  return inputs;
}

function parametersOf(body: InferBody): Record<string, unknown> {
  const parameters = body.parameters ?? {};
  for (const key of Object.keys(parameters)) {
    if (!PARAMETERS.includes(key)) throw badRequest('UNKNOWN_OPTION', `unknown parameter '${clip(key)}'; parameters are ${PARAMETERS.join(', ')}`);
  }
  return parameters;
}

/** The outputs to return: the request's, in its order, or every output of the mode and the run. */
function selectOutputs(body: InferBody, model: ServedModel, options: PredictOptions) {
  const { mode } = options;
  const available = outputsFor(model, mode);
  if (!body.outputs) return available.filter((o) => unmet(o.requires, options) === undefined);
  const names = body.outputs.map((o) => o.name);
  for (const [i, requested] of body.outputs.entries()) {
    const output = OUTPUTS.find((o) => o.name === requested.name);
    if (!output) throw badRequest('UNKNOWN_OUTPUT', `no output '${clip(requested.name)}'; outputs: ${OUTPUTS.map((o) => o.name).join(', ')}`);
    if (!available.includes(output)) {
      const why = output.mcOnly && mode !== 'mc' ? "exists in mode 'mc' only" : `is a statistic of ${output.link} heads; this model's link is ${model.metadata.link}`;
      throw badRequest('MODE_UNAVAILABLE', `output '${output.name}' ${why}`);
    }
    const missing = unmet(output.requires, options);
    if (missing) throw badRequest('MODE_UNAVAILABLE', `output '${output.name}' ${missing}`);
    if (names.indexOf(requested.name) !== i) throw badRequest('DUPLICATE_OUTPUT', `output '${requested.name}' requested twice`);
    const { binary_data: binary, ...others } = requested.parameters ?? {};
    if (binary === true) throw badRequest('UNKNOWN_OPTION', `output '${output.name}': binary_data is not supported (the binary tensor extension is not implemented)`);
    const other = Object.keys(others)[0];
    if (other !== undefined) throw badRequest('UNKNOWN_OPTION', `output '${output.name}': unknown parameter '${clip(other)}'`);
  }
  return names.map((name) => OUTPUTS.find((o) => o.name === name)!);
}

/** One output over the batch: [B, K] from per-class arrays, [B] from per-image values, row-major. */
function tensorOf(output: Output, predictions: Prediction[], options: PredictOptions) {
  const values = predictions.map((p) => output.of(p, options));
  const datatype = output.datatype ?? 'FP32';
  if (output.perClass) {
    // Float32Array or (binary statistics) Float64Array rows; FP32 on the wire either way.
    const rows = values as ArrayLike<number>[];
    return { name: output.name, datatype, shape: [rows.length, rows[0].length], data: rows.flatMap((r) => Array.from(Float32Array.from(r))) };
  }
  return { name: output.name, datatype, shape: [values.length], data: values as (number | boolean)[] };
}

const kserveV2Routes: FastifyPluginAsync<RouteContext> = async (fastify, { registry, config }) => {
  const app = fastify as unknown as App;
  installProtocolErrorHandler(app);
  app.setNotFoundHandler((request, reply) => {
    void reply.status(404).send({ error: `no route ${request.method} ${clip(request.url)}`, code: 'NOT_FOUND' });
  });

  const tags = ['kserve-v2'];
  // model_repository: the repository routes (repository.ts), registered when MODEL_CONTROL_TOKEN is set.
  const extensions = config.modelControlToken ? ['model_repository'] : [];
  const serverMetadata = async () => ({ name: API_INFO.title, version: API_INFO.version, extensions });
  app.get('', { schema: { tags, description: 'Server metadata.', response: { 200: ServerMetadata } } }, serverMetadata);
  // The protocol's own OpenAPI file writes this path with a trailing slash: answer that too.
  app.get('/', { prefixTrailingSlash: 'slash', schema: { hide: true, response: { 200: ServerMetadata } } }, serverMetadata);

  app.get(
    '/models/:name',
    { schema: { tags, description: 'Model metadata: its inputs and outputs with datatypes and shapes.', params: ModelParams, response: { 200: ModelMetadataV2, ...V2Errors } } },
    async (request) => {
      const model = requireModel(registry, request.params.name);
      return { name: model.name, platform: 'onnxruntime_onnx', inputs: inputsOf(model), outputs: outputsOf(model) };
    },
  );

  app.get(
    '/models/:name/ready',
    { schema: { tags, description: 'Model readiness: 200 when the model serves, 503 while it loads or when it failed to load.', params: ModelParams, response: { 200: ModelReady, 404: V2Error, 503: ModelReady } } },
    async (request, reply) => {
      const { name } = request.params;
      const entry = registry.get(name);
      if (!entry) throw new HttpError(404, 'MODEL_NOT_FOUND', `no model '${clip(name)}'`);
      const ready = entry.status === 'ready';
      if (!ready) void reply.status(503);
      return { name, ready };
    },
  );

  app.post(
    '/models/:name/infer',
    {
      schema: {
        tags,
        description:
          "Inference: encoded images as the BYTES input 'images' (base64 per element) or, for classification models, the preprocessed FP32 input 'pixels'; zero-shot models take 'labels' (and 'templates'). " +
          'The MC options are request parameters; the probabilities, std, std_error and the statistics come back as named FP32 tensors.',
        params: ModelParams,
        body: InferenceRequest,
        response: { 200: InferenceResponse, ...V2Errors },
      },
    },
    async (request, reply) => {
      const body = request.body as InferBody;
      using lease = acquireModel(registry, request.params.name);
      const { model } = lease;
      const parameters = parametersOf(body);
      const inputs = readInputs(body, model, config.maxImagesPerRequest);
      const prepared = model.prepare({ images: inputs.images ?? [], pixels: inputs.pixels, labels: inputs.labels, templates: inputs.templates });
      const resolved = resolveOptions(model.metadata, parameters, config, prepared.labels.length);
      const options = resolved.predict;
      // A precision target applies to every probability the response holds.
      if (options.targetStdError !== undefined) options.stopTopK = prepared.labels.length;
      const outputs = selectOutputs(body, model, options);
      const predictions = await model.predict(prepared, { ...options, signal: requestSignal(reply, resolved.deadlineMs) });
      const { model: modelName, ...run } = runInfo(model, options);
      // An output no prediction has is left out rather than sent empty.
      return {
        model_name: modelName,
        ...(body.id !== undefined ? { id: body.id } : {}),
        parameters: { ...run, ...(prepared.warnings.length > 0 ? { warnings: prepared.warnings.join('; ') } : {}) },
        outputs: outputs.filter((o) => predictions.every((p) => o.of(p, options) !== undefined)).map((o) => tensorOf(o, predictions, options)),
      };
    },
  );
};

export default kserveV2Routes;
