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
