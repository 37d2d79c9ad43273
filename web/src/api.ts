// The page's client of the HTTP API: the fields it reads (the contract is openapi/openapi.json)
// and one fetch wrapper that turns every failure into an ApiError the page can show.

export interface ModelSummary {
  name: string;
  status: string;
  task?: string;
  headType?: string;
  K?: number;
  error?: { file: string; problem: string };
}

export interface ModelDetails {
  name: string;
  task: string;
  description?: string;
  untrained: boolean;
  // `link` is not served yet (softmax is the only link); the page shows `link ?? 'softmax'`.
  head: { type: string; K: number; D: number; R?: number; tau?: number; link?: string };
  extraParameters: number;
  provider: string;
  defaults: { mode: 'mean' | 'mc'; samples: number; maxSamples: number; topK: number; maxTopK: number; seed: number };
  /** The estimators the model takes in mode mc, its default first (empty without mc). */
  estimators: string[];
  zeroShot?: { templates: string[] };
}

export interface ClassScore {
  index: number;
  label: string;
  probability: number;
  std?: number;
  stdError?: number;
}

export interface Statistics {
  predictiveEntropy: number;
  maxProbability: number;
  margin: number;
  expectedEntropy?: number;
  mutualInformation?: number;
  variationRatio?: number;
}

export interface ClassifyResult {
  model: string;
  mode: 'mean' | 'mc';
  provider: string;
  samples?: number;
  seed?: number;
  estimator?: string;
  templates?: string[];
  warnings?: string[];
  predictions: { classes: ClassScore[]; statistics: Statistics }[];
}

export interface PredictiveResult {
  K: number;
  probabilities: string;
}

/** An answer other than 2xx, or no answer: what the page shows in its error box. */
export class ApiError extends Error {
  readonly status: number;
  readonly code: string;
  constructor(status: number, code: string, message: string) {
    super(message);
    this.status = status;
    this.code = code;
  }
}

async function request<T>(url: string, init?: RequestInit): Promise<T> {
  let response: Response;
  try {
    response = await fetch(url, init);
  } catch (error) {
    throw new ApiError(0, 'NETWORK_ERROR', `the server could not be reached (${(error as Error).message})`);
  }
  const text = await response.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    throw new ApiError(response.status, 'NOT_JSON', `HTTP ${response.status}: the answer is not JSON (${text.slice(0, 100)})`);
  }
  if (!response.ok) {
    const error = body as { code?: string; message?: string };
    throw new ApiError(response.status, error.code ?? 'HTTP_ERROR', error.message ?? response.statusText);
  }
  return body as T;
}

export const listModels = () => request<{ models: ModelSummary[] }>('/v1/models');
export const modelDetails = (name: string) => request<ModelDetails>(`/v1/models/${encodeURIComponent(name)}`);

/** Options as the API takes them; undefined fields are left to the model's defaults. */
export interface RunOptions {
  mode: 'mean' | 'mc';
  samples?: number;
  seed?: number;
  estimator?: string;
  topK?: number;
}

function form(image: Blob, options: RunOptions, extra: Record<string, string[]> = {}): FormData {
  const body = new FormData();
  body.append('image', image, 'image.png');
  for (const [key, value] of Object.entries(options)) if (value !== undefined) body.append(key, String(value));
  for (const [key, values] of Object.entries(extra)) for (const value of values) body.append(key, value);
  return body;
}

const modelUrl = (model: string, action: string) => `/v1/models/${encodeURIComponent(model)}/${action}`;

export function classify(model: string, image: Blob, options: RunOptions): Promise<ClassifyResult> {
  return request(modelUrl(model, 'classify'), { method: 'POST', body: form(image, options) });
}

export function zeroShot(model: string, image: Blob, options: RunOptions, labels: string[], templates: string[]): Promise<ClassifyResult> {
  const extra: Record<string, string[]> = { labels };
  if (templates.length > 0) extra.templates = templates;
  return request(modelUrl(model, 'zero-shot'), { method: 'POST', body: form(image, options, extra) });
}

/** All K probabilities of one request (f32-base64: compact even at K = 29,593). */
export async function predictive(model: string, image: Blob, options: RunOptions): Promise<Float32Array> {
  const result = await request<PredictiveResult>(`${modelUrl(model, 'predictive')}?encoding=f32-base64`, {
    method: 'POST',
    body: form(image, options),
  });
  const bytes = Uint8Array.from(atob(result.probabilities), (c) => c.charCodeAt(0));
  return new Float32Array(bytes.buffer);
}
