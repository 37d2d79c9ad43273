// Request options: merged from the query string and the body, converted, and checked against the
// model's and the server's limits. The model's options (mode, samples, seed, estimator, and
// whether to compute the logits) go to predict(); the response's (topK, encoding, topN,
// threshold) stay in HTTP.
import type { FastifyRequest } from 'fastify';
import { DEFAULT_TOLERANCE, estimatorsOf, PREDICT_ESTIMATORS, SOBOL_MAX_DIMENSIONS, PREDICT_MODES, type ModelMetadata, type PredictEstimator, type PredictMode, type PredictOptions } from '../pipelines/served-model.ts';
import { badRequest, clip } from './errors.ts';

export interface OptionLimits {
  maxSamples: number;
  maxTopK: number;
  requestDeadlineMs: number;
  maxRequestDeadlineMs: number;
}

/** How predictive returns its K-length arrays (an HTTP matter: the models return Float32Arrays). */
export const ENCODINGS = ['json', 'f32-base64', 'top-n'] as const;
export type Encoding = (typeof ENCODINGS)[number];

/** What `include` may add to a result: logits, the noise-free untempered W^T phi + b. */
export const INCLUDES = ['logits'] as const;
export type Include = (typeof INCLUDES)[number];

export interface ResolvedOptions {
  /** For the model's predict() (the route adds the request's signal). */
  predict: PredictOptions & { estimator: PredictEstimator };
  topK: number;
  encoding: Encoding;
  /** Classes listed by encoding 'top-n'. */
  topN: number;
  /** Sigmoid heads: the labels with p_hat above this are listed. */
  threshold: number;
  /** The request's deadline from its arrival (src/http/cancellation.ts requestSignal). */
  deadlineMs: number;
}

const DEFAULT_SEED = 0;
/** The largest standard error a probability can have: its std is at most 1/2. */
const MAX_TARGET_STD_ERROR = 0.5;
/** What an estimator that is not for every head applies to, for the 400 naming it. */
const ESTIMATOR_APPLIES: Partial<Record<PredictEstimator, string>> = {
  exact: 'applies to sigmoid-link het and het-xl classifiers only',
  candidates: 'applies to softmax-link het-xl classifiers only',
  control: 'applies to softmax-link het and het-xl classifiers only',
};
/** A bound on a total variation above this says nothing useful. */
const MAX_TOLERANCE = 0.5;
const DEFAULT_TOP_K = 5;
const DEFAULT_TOP_N = 100;
/** The usual decision threshold of a sigmoid output: the label is more likely present than not. */
const DEFAULT_THRESHOLD = 0.5;
const INTEGER_FIELDS = ['samples', 'seed', 'topK', 'topN', 'deadlineMs'];
const FRACTION_FIELDS = ['threshold', 'targetStdError', 'tolerance'];
// Decimal digits only: 010 is ten, while 0x10, 1e3, +5, -0, ' 5' and 5.0 are refused rather than
// read as some number the client may not have meant. Huge values parse, and meet the range checks.
const DECIMAL = /^\d+$/;
// A fraction written as text: digits with an optional decimal part (0, 0.5, 1, 1.0, .25 too).
const FRACTION = /^(\d+(\.\d*)?|\.\d+)$/;

/** An integer option written as text (query string, multipart field). */
function decimal(raw: string, name: string): number {
  if (!DECIMAL.test(raw)) throw badRequest('INVALID_OPTION', `option '${name}' must be a non-negative integer in decimal digits, got '${clip(raw)}'`);
  return Number(raw);
}

/** A fractional option written as text (query string, multipart field). */
function fraction(raw: string, name: string): number {
  if (!FRACTION.test(raw)) throw badRequest('INVALID_OPTION', `option '${name}' must be a number in decimal notation, such as 0.5, got '${clip(raw)}'`);
  return Number(raw);
}

/**
 * preValidation hook: Ajv coerces loosely (query '0x10' -> 16, '1e3' -> 1000, ' 5' -> 5; JSON
 * "16" -> 16, true -> 1), so integer options are checked here as the client sent them, before
 * validation; the schemas stay `integer` for OpenAPI. Routes that take options declare them in
 * their query schema, and take the same ones in the body.
 */
export async function strictIntegerOptions(request: FastifyRequest): Promise<void> {
  const declared = (request.routeOptions.schema?.querystring as { properties?: Record<string, unknown> } | undefined)?.properties;
  if (!declared) return;
  const query = request.query as Record<string, unknown>;
  const body = request.body !== null && typeof request.body === 'object' ? (request.body as Record<string, unknown>) : {};
  for (const name of FRACTION_FIELDS) {
    if (!(name in declared)) continue;
    if (typeof query[name] === 'string') fraction(query[name], name);
    if (name in body && typeof body[name] !== 'number') {
      throw badRequest('INVALID_OPTION', `option '${name}' must be a JSON number, got ${clip(JSON.stringify(body[name]) ?? String(body[name]))}`);
    }
  }
  for (const name of INTEGER_FIELDS) {
    if (!(name in declared)) continue;
    if (typeof query[name] === 'string') decimal(query[name], name);
    // A JSON body's numbers are JSON numbers (1e3 is 1000); a string or a boolean is a type error.
    if (name in body && typeof body[name] !== 'number') {
      throw badRequest('INVALID_OPTION', `option '${name}' must be a JSON number, got ${clip(JSON.stringify(body[name]) ?? String(body[name]))}`);
    }
  }
}

/**
 * Query options and body options (JSON fields, or multipart fields as strings) -> one set.
 * `allowed` lists the option names this endpoint takes.
 */
export function mergeOptions(query: Record<string, unknown>, body: Record<string, unknown>, allowed: readonly string[]): Record<string, unknown> {
  const merged: Record<string, unknown> = { ...query };
  for (const [key, raw] of Object.entries(body)) {
    if (!allowed.includes(key)) throw badRequest('UNKNOWN_OPTION', `unknown field '${clip(key)}'; options are ${allowed.join(', ')}`);
    if (key in merged) throw badRequest('CONFLICTING_OPTION', `option '${key}' given in both the query string and the body`);
    merged[key] = typeof raw !== 'string' ? raw : INTEGER_FIELDS.includes(key) ? decimal(raw, key) : FRACTION_FIELDS.includes(key) ? fraction(raw, key) : raw;
  }
  return merged;
}

function integer(raw: unknown, name: string): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isInteger(raw)) throw badRequest('INVALID_OPTION', `option '${name}' must be an integer`);
  return raw;
}

/** The estimators that draw samples, so that a precision target can stop them: all but exact. */
const SAMPLING_ESTIMATORS: readonly PredictEstimator[] = PREDICT_ESTIMATORS.filter((e) => e !== 'exact');

/**
 * The request's precision target: above 0 and at most 0.5 (no probability has a larger standard
 * error), in MC mode with an estimator that samples; absent, undefined.
 */
function precisionTarget(raw: unknown, mode: PredictMode, estimator: PredictEstimator): number | undefined {
  if (raw === undefined) return undefined;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw badRequest('INVALID_OPTION', `option 'targetStdError' must be a number`);
  if (!(raw > 0 && raw <= MAX_TARGET_STD_ERROR)) {
    throw badRequest('TARGET_STD_ERROR_OUT_OF_RANGE', `targetStdError must be above 0 and at most ${MAX_TARGET_STD_ERROR}, got ${raw}`);
  }
  if (mode !== 'mc') throw badRequest('INVALID_OPTION', `option 'targetStdError' applies to mode 'mc' only`);
  if (!SAMPLING_ESTIMATORS.includes(estimator)) {
    throw badRequest('INVALID_OPTION', `option 'targetStdError' applies to the sampling estimators (${SAMPLING_ESTIMATORS.join(', ')}), not ${estimator}`);
  }
  return raw;
}

/** estimator=candidates' tolerance on the bound of E[TV]: above 0, at most MAX_TOLERANCE; refused with other estimators. */
function candidateTolerance(raw: unknown, estimator: PredictEstimator): number | undefined {
  if (raw === undefined) return estimator === 'candidates' ? DEFAULT_TOLERANCE : undefined;
  if (typeof raw !== 'number' || !Number.isFinite(raw)) throw badRequest('INVALID_OPTION', `option 'tolerance' must be a number`);
  if (!(raw > 0 && raw <= MAX_TOLERANCE)) throw badRequest('TOLERANCE_OUT_OF_RANGE', `tolerance must be above 0 and at most ${MAX_TOLERANCE}, got ${raw}`);
  if (estimator !== 'candidates') throw badRequest('INVALID_OPTION', `option 'tolerance' applies to estimator=candidates only, not ${estimator}`);
  return raw;
}

/** `K` is the number of classes the request ranks: the model's K, or a zero-shot request's labels. */
export function resolveOptions(model: ModelMetadata, raw: Record<string, unknown>, limits: OptionLimits, K: number): ResolvedOptions {
  const mode = (raw.mode ?? model.defaultMode) as PredictMode;
  if (!PREDICT_MODES.includes(mode)) throw badRequest('INVALID_OPTION', `option 'mode' must be 'mean' or 'mc', got '${clip(String(mode))}'`);
  if (mode === 'mc' && !model.supportsMc) {
    throw badRequest('MODE_UNAVAILABLE', `model ${model.name} is deterministic (det): only mode 'mean' is available`);
  }

  const maxSamples = Math.min(model.mc.maxSamples, limits.maxSamples);
  // With a precision target, samples is the cap: without one given, the largest allowed.
  const samples = integer(raw.samples, 'samples') ?? (raw.targetStdError !== undefined ? maxSamples : Math.min(model.mc.defaultSamples, maxSamples));
  if (samples < 1 || samples > maxSamples) {
    throw badRequest('SAMPLES_OUT_OF_RANGE', `samples must be between 1 and ${maxSamples} for model ${model.name}, got ${samples}`);
  }

  const seed = integer(raw.seed, 'seed') ?? DEFAULT_SEED;
  if (seed < 0 || seed > 0xffffffff) throw badRequest('SEED_OUT_OF_RANGE', `seed must be between 0 and 4294967295, got ${seed}`);

  const maxTopK = Math.min(K, limits.maxTopK);
  const topK = integer(raw.topK, 'topK') ?? Math.min(DEFAULT_TOP_K, maxTopK);
  if (topK < 1 || topK > maxTopK) {
    throw badRequest('TOPK_OUT_OF_RANGE', `topK must be between 1 and ${maxTopK} for model ${model.name} (K = ${K}), got ${topK}`);
  }

  const encoding = (raw.encoding ?? 'json') as Encoding;
  if (!ENCODINGS.includes(encoding)) {
    throw badRequest('INVALID_OPTION', `option 'encoding' must be one of ${ENCODINGS.join(', ')}, got '${clip(String(encoding))}'`);
  }

  const applicable = estimatorsOf(model);
  const estimator = (raw.estimator ?? applicable[0]) as PredictEstimator;
  if (!PREDICT_ESTIMATORS.includes(estimator)) {
    throw badRequest('INVALID_OPTION', `option 'estimator' must be one of ${applicable.join(', ')}, got '${clip(String(estimator))}'`);
  }
  if (!applicable.includes(estimator)) {
    throw badRequest('INVALID_OPTION', `option 'estimator' ${estimator} ${ESTIMATOR_APPLIES[estimator]}; model ${model.name} (${model.link}, ${model.head.type}) takes ${applicable.join(', ')}`);
  }

  const factors = model.head.R ?? 0;
  if (estimator === 'sobol' && factors > SOBOL_MAX_DIMENSIONS) {
    throw badRequest('INVALID_OPTION', `option 'estimator' sobol takes at most ${SOBOL_MAX_DIMENSIONS} noise factors; model ${model.name} has R = ${factors}`);
  }

  const topN = integer(raw.topN, 'topN') ?? Math.min(DEFAULT_TOP_N, K);
  if (topN < 1 || topN > K) throw badRequest('TOPN_OUT_OF_RANGE', `topN must be between 1 and K = ${K} for model ${model.name}, got ${topN}`);

  const threshold = raw.threshold ?? DEFAULT_THRESHOLD;
  if (typeof threshold !== 'number' || !Number.isFinite(threshold)) throw badRequest('INVALID_OPTION', `option 'threshold' must be a number`);
  if (threshold < 0 || threshold > 1) throw badRequest('THRESHOLD_OUT_OF_RANGE', `threshold must be between 0 and 1, got ${threshold}`);

  const targetStdError = precisionTarget(raw.targetStdError, mode, estimator);
  const tolerance = candidateTolerance(raw.tolerance, estimator);

  const include = raw.include;
  if (include !== undefined && !INCLUDES.includes(include as Include)) {
    throw badRequest('INVALID_OPTION', `option 'include' must be one of ${INCLUDES.join(', ')}, got '${clip(String(include))}'`);
  }
  const deadlineMs = integer(raw.deadlineMs, 'deadlineMs') ?? limits.requestDeadlineMs;
  if (deadlineMs < 1 || deadlineMs > limits.maxRequestDeadlineMs) {
    throw badRequest('DEADLINE_OUT_OF_RANGE', `deadlineMs must be between 1 and ${limits.maxRequestDeadlineMs} (MAX_REQUEST_DEADLINE_MS), got ${deadlineMs}`);
  }

  const predict = {
    mode,
    samples,
    seed,
    estimator,
    ...(include === 'logits' ? { includeLogits: true } : {}),
    ...(tolerance !== undefined ? { tolerance } : {}),
    // The classes a response reports; predictive sets its own (all K, or topN).
    ...(targetStdError !== undefined ? { targetStdError, stopTopK: topK } : {}),
  };
  return { predict, topK, encoding, topN, threshold, deadlineMs };
}
