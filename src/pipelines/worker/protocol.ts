// The messages between a WorkerModel (main thread, worker-model.ts) and its model's worker thread
// (model-worker.ts), and the two things both sides do to them: errors flattened to plain data and
// rebuilt with the same name and message, and the typed arrays handed over without a copy.
import type { EngineOptions } from '../../engine/session.ts';
import { CheckpointError } from '../../format/errors.ts';
import type { Manifest } from '../../format/manifest.ts';
import type { ModelLimits, ModelMetadata, PixelBatch, Prediction, PredictOptions } from '../served-model.ts';

/** What a worker is started with (workerData): it loads the checkpoint folder itself. */
export interface WorkerInit {
  dir: string;
  engine: EngineOptions;
  limits: ModelLimits;
  /** The manifest and labels the main thread loaded: the worker refuses a folder that changed since. */
  manifest: Manifest;
  labels: readonly string[];
}

export type TextCacheCounts = { hits: number; misses: number };

/** Main -> worker. Every request has an id that its reply carries; abort has no reply of its own. */
export type WorkerRequest =
  | { type: 'predict'; id: number; pixels: PixelBatch; labels?: readonly string[]; templates?: readonly string[]; options: Omit<PredictOptions, 'signal'> }
  | { type: 'warmUp'; id: number }
  | { type: 'dispose'; id: number }
  | { type: 'abort'; id: number };

/** Worker -> main: once 'ready' or 'failed' after the load, then one reply per request. */
export type WorkerReply =
  | { type: 'ready'; metadata: ModelMetadata; textCache?: TextCacheCounts }
  | { type: 'failed'; error: SerializedError }
  | { type: 'done'; id: number; predictions?: Prediction[]; textCache?: TextCacheCounts }
  | { type: 'error'; id: number; error: SerializedError; textCache?: TextCacheCounts };

export interface SerializedError {
  name: string;
  message: string;
  stack?: string;
  /** The error's own string, number and boolean fields (code, file, problem, ...). */
  fields: Record<string, string | number | boolean>;
}

/**
 * Structured clone keeps only the message of a custom error (its class, name and fields are
 * lost), so errors cross as plain data and are rebuilt: a CheckpointError as itself (the registry
 * reads its file and problem), anything else as an Error with the same name, message and fields.
 */
export function serializeError(error: unknown): SerializedError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), fields: {} };
  const fields: SerializedError['fields'] = {};
  for (const [key, value] of Object.entries(error)) {
    if (typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean') fields[key] = value;
  }
  return { name: error.name, message: error.message, stack: error.stack, fields };
}

export function deserializeError(serialized: SerializedError): Error {
  const { name, message, stack, fields } = serialized;
  if (name === 'CheckpointError' && typeof fields.file === 'string' && typeof fields.problem === 'string') {
    return new CheckpointError(fields.file, fields.problem);
  }
  const error = new Error(message);
  Object.assign(error, fields);
  // `name` is a field of most custom errors already; set it for those that define it on the class.
  error.name = name;
  if (stack) error.stack = stack;
  return error;
}

/**
 * The buffers of `arrays` that can be moved to the other thread instead of copied: each one only
 * once, and only a plain ArrayBuffer that the view covers whole (a view into a larger buffer, a
 * Node Buffer's pool for one, would take the rest of that buffer away from its owner).
 */
export function transferablesOf(arrays: Iterable<ArrayBufferView | undefined>): ArrayBuffer[] {
  const buffers = new Set<ArrayBuffer>();
  for (const view of arrays) {
    if (!view || !(view.buffer instanceof ArrayBuffer)) continue;
    if (view.byteOffset === 0 && view.byteLength === view.buffer.byteLength) buffers.add(view.buffer);
  }
  return [...buffers];
}

/** Every typed array of some predictions (all made fresh for the call that returns them). */
export function predictionArrays(predictions: readonly Prediction[]): (ArrayBufferView | undefined)[] {
  return predictions.flatMap((p) => [p.probs, p.std, p.stdError, p.logits, p.binary?.binaryEntropy, p.binary?.expectedBinaryEntropy, p.binary?.mutualInformation]);
}
