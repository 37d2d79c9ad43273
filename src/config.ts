// Configuration: environment variables -> a typed, validated config with defaults.
// Every variable is documented in README.md (Configuration); keep the two in step.
import { Type, type Static } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';

const ORIGIN = String.raw`https?://([A-Za-z0-9-]+(\.[A-Za-z0-9-]+)*|\[[0-9A-Fa-f:.]+\])(:\d{1,5})?`;
const CORS_ORIGINS_PATTERN = String.raw`^(\*|${ORIGIN}(\s*,\s*${ORIGIN})*)?$`;
/** A bearer token or API key: 16-256 characters of RFC 6750's token68 alphabet (openssl rand -hex 32 makes one). */
const SECRET = '[A-Za-z0-9._~+/=-]{16,256}';
const SECRET_LIST_PATTERN = String.raw`^\s*(${SECRET}(\s*,\s*${SECRET})*)?\s*$`;

export const ConfigSchema = Type.Object({
  port: Type.Integer({ minimum: 0, maximum: 65535, default: 8080 }),
  host: Type.String({ minLength: 1, default: '0.0.0.0' }),
  modelsDir: Type.String({ minLength: 1, default: './models' }),
  logLevel: Type.Union(
    ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'].map((l) => Type.Literal(l)),
    { default: 'info' },
  ),
  /** Largest request body, JSON (base64 images) or multipart, in bytes. */
  bodyLimitBytes: Type.Integer({ minimum: 1024, default: 32 * 1024 * 1024 }),
  /** Largest decoded image, width x height, guarding against decompression bombs. */
  maxImagePixels: Type.Integer({ minimum: 1, default: 40_000_000 }),
  maxImagesPerRequest: Type.Integer({ minimum: 1, maximum: 1024, default: 16 }),
  /** Upper bound on MC samples per request, on top of each model's own mc.maxSamples. */
  maxSamples: Type.Integer({ minimum: 1, default: 10_000 }),
  maxTopK: Type.Integer({ minimum: 1, default: 100 }),
  /** Working-memory budget of one head's MC computation; samples are processed in chunks to stay under it. */
  headMemoryBudgetMB: Type.Integer({ minimum: 16, default: 512 }),
  /** Zero-shot: most labels in one request. */
  maxZeroShotLabels: Type.Integer({ minimum: 1, maximum: 100_000, default: 1000 }),
  /** Zero-shot: most templates in one request. */
  maxZeroShotTemplates: Type.Integer({ minimum: 1, maximum: 1000, default: 32 }),
  /** Zero-shot: longest label or template, in characters. */
  maxLabelLength: Type.Integer({ minimum: 1, maximum: 10_000, default: 200 }),
  /** Zero-shot: prompt embeddings kept per model (LRU). */
  textCacheSize: Type.Integer({ minimum: 1, default: 10_000 }),
  /**
   * Zero-shot: most prompt tokens (labels x templates x tokens, bounded from per-label and
   * per-template counts) in one request. 400k admits the label and template maxima at ~12 tokens
   * a prompt (CLIP-style "a photo of a {label}." with 1-3-word labels is 6-10).
   */
  maxZeroShotPromptTokens: Type.Integer({ minimum: 1, default: 400_000 }),
  /** Zero-shot: most rows x padded length of one text-tower run; bounds how long one run holds the event loop and its memory. */
  textBatchTokens: Type.Integer({ minimum: 1, default: 8192 }),
  ortProvider: Type.Union([Type.Literal('auto'), Type.Literal('cpu'), Type.Literal('cuda')], { default: 'auto' }),
  /** ORT intra-op threads; 0 lets ORT pick one per physical core. */
  ortThreads: Type.Integer({ minimum: 0, maximum: 256, default: 0 }),
  /**
   * Run each model's ONNX Runtime sessions in a worker thread of its own (src/pipelines/worker/),
   * off the HTTP event loop; 'auto': a small classifier's short runs stay on the HTTP thread
   * (src/pipelines/worker/placement.ts), everything else as with true.
   */
  inferenceWorkers: Type.Union([Type.Boolean(), Type.Literal('auto')], { default: 'auto' }),
  /** Time to receive a whole request, headers and body; a stalled upload gets a 408 and is closed. */
  requestTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
  /** Time to receive the request headers (capped at requestTimeoutMs). */
  headersTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 10_000 }),
  /** An idle keep-alive connection is closed after this; above a load balancer's usual 60 s idle timeout. */
  keepAliveTimeoutMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 72_000 }),
  /** On SIGTERM/SIGINT, how long in-flight requests may finish before every connection is closed. */
  shutdownDrainTimeoutMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 8_000 }),
  /**
   * On SIGTERM/SIGINT, how long readiness answers 503 while the server still accepts and serves,
   * before the drain: the time a load balancer (a Kubernetes Service) needs to stop sending.
   */
  shutdownReadinessDelayMs: Type.Integer({ minimum: 0, maximum: 3_600_000, default: 0 }),
  /**
   * Origins allowed to call the API from a browser (CORS): '' (off), '*', or a comma-separated
   * list of origins, scheme://host[:port] without a path.
   */
  corsOrigins: Type.String({ pattern: CORS_ORIGINS_PATTERN, default: '' }),
  /** Bearer token of the model repository routes (load, unload, index); '' leaves them unregistered. */
  modelControlToken: Type.String({ pattern: `^(${SECRET})?$`, default: '' }),
  /** Comma-separated API keys the inference routes require; '' (default) leaves them open. */
  apiKeys: Type.String({ pattern: SECRET_LIST_PATTERN, default: '' }),
  /** Requests a client may make per rateLimitWindowMs; 0 (default) turns rate limiting off. */
  rateLimitMax: Type.Integer({ minimum: 0, maximum: 1_000_000_000, default: 0 }),
  /** The window rateLimitMax counts in, ms. */
  rateLimitWindowMs: Type.Integer({ minimum: 100, maximum: 86_400_000, default: 60_000 }),
  /** Dynamic batching: most images in one merged backbone and head run, per model (manifest batching.maxBatchSize overrides). */
  batchMaxSize: Type.Integer({ minimum: 1, maximum: 1024, default: 32 }),
  /** Dynamic batching: how long a queued request may wait for others to join its run (manifest batching.maxQueueDelayMs overrides). */
  batchMaxDelayMs: Type.Integer({ minimum: 0, maximum: 10_000, default: 0 }),
  /** Runs of one model in flight at once (each a merged batch). */
  batchConcurrency: Type.Integer({ minimum: 1, maximum: 64, default: 2 }),
  /** Requests admitted per model and not yet running; more get 503 with Retry-After. */
  queueMaxRequests: Type.Integer({ minimum: 1, maximum: 100_000, default: 64 }),
  /** An inference request's deadline from its arrival, queue and computation included; then 504. */
  requestDeadlineMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 60_000 }),
  /** The largest deadline a request may ask for with `deadlineMs`. */
  maxRequestDeadlineMs: Type.Integer({ minimum: 100, maximum: 3_600_000, default: 300_000 }),
});
export type Config = Static<typeof ConfigSchema>;

/** Environment variable name for each config key. */
export const ENV_NAMES: Record<keyof Config, string> = {
  port: 'PORT',
  host: 'HOST',
  modelsDir: 'MODELS_DIR',
  logLevel: 'LOG_LEVEL',
  bodyLimitBytes: 'BODY_LIMIT_BYTES',
  maxImagePixels: 'MAX_IMAGE_PIXELS',
  maxImagesPerRequest: 'MAX_IMAGES_PER_REQUEST',
  maxSamples: 'MAX_SAMPLES',
  maxTopK: 'MAX_TOP_K',
  headMemoryBudgetMB: 'HEAD_MEMORY_BUDGET_MB',
  maxZeroShotLabels: 'MAX_ZERO_SHOT_LABELS',
  maxZeroShotTemplates: 'MAX_ZERO_SHOT_TEMPLATES',
  maxLabelLength: 'MAX_LABEL_LENGTH',
  textCacheSize: 'TEXT_CACHE_SIZE',
  maxZeroShotPromptTokens: 'MAX_ZERO_SHOT_PROMPT_TOKENS',
  textBatchTokens: 'TEXT_BATCH_TOKENS',
  ortProvider: 'ORT_PROVIDER',
  ortThreads: 'ORT_THREADS',
  inferenceWorkers: 'INFERENCE_WORKERS',
  requestTimeoutMs: 'REQUEST_TIMEOUT_MS',
  headersTimeoutMs: 'HEADERS_TIMEOUT_MS',
  keepAliveTimeoutMs: 'KEEP_ALIVE_TIMEOUT_MS',
  shutdownDrainTimeoutMs: 'SHUTDOWN_DRAIN_TIMEOUT_MS',
  shutdownReadinessDelayMs: 'SHUTDOWN_READINESS_DELAY_MS',
  corsOrigins: 'CORS_ORIGINS',
  modelControlToken: 'MODEL_CONTROL_TOKEN',
  apiKeys: 'API_KEYS',
  rateLimitMax: 'RATE_LIMIT_MAX',
  rateLimitWindowMs: 'RATE_LIMIT_WINDOW_MS',
  batchMaxSize: 'BATCH_MAX_SIZE',
  batchMaxDelayMs: 'BATCH_MAX_DELAY_MS',
  queueMaxRequests: 'QUEUE_MAX_REQUESTS',
  batchConcurrency: 'BATCH_CONCURRENCY',
  requestDeadlineMs: 'REQUEST_DEADLINE_MS',
  maxRequestDeadlineMs: 'MAX_REQUEST_DEADLINE_MS',
};

/** Variables whose values are secrets: a refusal names them without quoting the value. */
const SECRET_KEYS: ReadonlySet<keyof Config> = new Set(['modelControlToken', 'apiKeys']);

export class ConfigError extends Error {}

/** The words a boolean variable accepts; anything else is refused with the variable's name. */
const BOOLEANS: Record<string, boolean> = { true: true, false: false, '1': true, '0': false };

/** Reads the config from `env`; throws ConfigError naming each bad variable. */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, overrides: Partial<Config> = {}): Config {
  const raw: Record<string, unknown> = {};
  for (const [key, envName] of Object.entries(ENV_NAMES)) {
    const value = env[envName];
    if (value === undefined || value === '') continue;
    const schema = ConfigSchema.properties[key as keyof Config];
    if (schema.type === 'integer') raw[key] = /^-?\d+$/.test(value.trim()) ? Number(value) : value;
    else if (schema.type === 'boolean') raw[key] = BOOLEANS[value.trim().toLowerCase()] ?? value;
    else if (key === 'inferenceWorkers') raw[key] = BOOLEANS[value.trim().toLowerCase()] ?? (value.trim().toLowerCase() === 'auto' ? 'auto' : value);
    else raw[key] = value;
  }
  const candidate = Value.Default(ConfigSchema, { ...raw, ...overrides }) as Config;
  const errors = [...Value.Errors(ConfigSchema, candidate)];
  if (errors.length > 0) {
    const lines = errors.map((e) => {
      const key = e.path.replace(/^\//, '') as keyof Config;
      const value = SECRET_KEYS.has(key) ? '(hidden)' : JSON.stringify(raw[key]);
      return `${ENV_NAMES[key] ?? key}=${value}: ${e.message}`;
    });
    throw new ConfigError(`invalid configuration:\n  ${[...new Set(lines)].join('\n  ')}`);
  }
  return candidate;
}

/**
 * The limits every model is loaded with (src/pipelines/served-model.ts ModelLimits, which this
 * object satisfies structurally: the config imports nothing of the code it configures).
 */
export function modelLimitsOf(config: Config) {
  return {
    maxImagePixels: config.maxImagePixels,
    headMemoryBudgetBytes: config.headMemoryBudgetMB * 1024 * 1024,
    textCacheSize: config.textCacheSize,
    textBatchTokens: config.textBatchTokens,
    batching: { maxBatchSize: config.batchMaxSize, maxQueueDelayMs: config.batchMaxDelayMs, maxQueue: config.queueMaxRequests, maxConcurrentRuns: config.batchConcurrency },
    prompts: {
      maxLabels: config.maxZeroShotLabels,
      maxLabelLength: config.maxLabelLength,
      maxTemplates: config.maxZeroShotTemplates,
      maxPromptTokens: config.maxZeroShotPromptTokens,
    },
  };
}
