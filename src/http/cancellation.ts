// Stops the work of a request whose client has gone away. An MC request at the paper's scale
// computes for seconds (docs/performance.md); without this, a client that times out and retries
// would leave the old computation running for nobody, on a machine it already saturates.
import type { FastifyReply } from 'fastify';

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
 * The signal of an inference request, passed to the model's predict(), which checks it before
 * each image is decoded, before the backbone, before the head and between MC chunks. Aborted with
 * an AbortError when the response's connection closes before the response was sent (the client
 * disconnected or timed out; a close after a complete response aborts nothing), or with
 * DeadlineExceededError `deadlineMs` after the request arrived (the time already spent receiving
 * it counts). One controller, and the timer goes with the response, so a server answering
 * thousands of requests a second holds no timers for the ones already answered.
 */
export function requestSignal(reply: FastifyReply, deadlineMs: number): AbortSignal {
  const controller = new AbortController();
  const response = reply.raw;
  const remaining = deadlineMs - reply.elapsedTime;
  if (response.destroyed) controller.abort();
  else if (remaining <= 0) controller.abort(new DeadlineExceededError(deadlineMs));
  else {
    const timer = setTimeout(() => controller.abort(new DeadlineExceededError(deadlineMs)), remaining);
    response.once('close', () => {
      clearTimeout(timer);
      if (!response.writableFinished) controller.abort();
    });
  }
  return controller.signal;
}
