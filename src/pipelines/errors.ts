// The errors a served model throws for bad input, in one place for whoever maps them to a
// protocol (src/http/errors.ts maps them to 4xx): an undecodable or oversized image, a zero-shot
// request's labels or templates that fail a check; and the batcher's refusals (a full queue, a
// model unloaded while a request waited), which are 503s. Anything else a model throws is a
// server fault.
export { ImageError, isImageError, type ImageErrorCode } from '../image/errors.ts';
export { PromptError } from '../text/prompts.ts';

/** The model's queue is full: the caller should retry after `retryAfterSeconds`. */
export class QueueFullError extends Error {
  override readonly name = 'QueueFullError';
  constructor(
    readonly model: string,
    readonly maxQueue: number,
    readonly retryAfterSeconds: number,
  ) {
    super(`model '${model}' has ${maxQueue} requests waiting (QUEUE_MAX_REQUESTS): try again in ${retryAfterSeconds} s`);
  }
}

/** The model was unloaded while the request waited. */
export class ModelUnloadedError extends Error {
  override readonly name = 'ModelUnloadedError';
  constructor(readonly model: string) {
    super(`model '${model}' was unloaded before the request ran`);
  }
}
