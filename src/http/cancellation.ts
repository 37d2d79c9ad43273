// Stops the work of a request whose client has gone away. An MC request at the paper's scale
// computes for seconds (docs/performance.md); without this, a client that times out and retries
// would leave the old computation running for nobody, on a machine it already saturates.
import type { FastifyReply } from 'fastify';

/**
 * A signal aborted when the response's connection closes before the response was sent (the
 * client disconnected or timed out). Pass it to a pipeline's predict(), which checks it before each image
 * is decoded, before the backbone, before the head and between MC chunks. A closed connection
 * after a complete response aborts nothing.
 */
export function abortedWhenClientLeaves(reply: FastifyReply): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  if (response.destroyed) controller.abort();
  else response.once('close', () => {
    if (!response.writableFinished) controller.abort();
  });
  return controller.signal;
}

/** The error an aborted MC loop rejects with (the signal's default reason). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error && error.name === 'AbortError';
}

/** A request's deadline passed (REQUEST_DEADLINE_MS, or its own deadlineMs): answered 504. */
export class DeadlineExceededError extends Error {
  override readonly name = 'DeadlineExceededError';
  constructor(readonly deadlineMs: number) {
    super(`the request did not complete within its deadline of ${deadlineMs} ms (deadlineMs, REQUEST_DEADLINE_MS); its computation was stopped`);
  }
}

/**
 * The signal of an inference request: aborted with an AbortError when its client leaves (as
 * abortedWhenClientLeaves), or with DeadlineExceededError `deadlineMs` after the request arrived
 * (the time already spent receiving it counts). The timer goes with the response, so a server
 * answering thousands of requests a second holds no timers for the ones already answered.
 */
export function requestSignal(reply: FastifyReply, deadlineMs: number): AbortSignal {
  const left = abortedWhenClientLeaves(reply);
  const controller = new AbortController();
  const remaining = deadlineMs - reply.elapsedTime;
  if (left.aborted) controller.abort(left.reason);
  else if (remaining <= 0) controller.abort(new DeadlineExceededError(deadlineMs));
  else {
    const timer = setTimeout(() => controller.abort(new DeadlineExceededError(deadlineMs)), remaining);
    left.addEventListener('abort', () => controller.abort(left.reason), { once: true });
    reply.raw.once('close', () => clearTimeout(timer));
  }
  return controller.signal;
}
