// Connection timeouts of the HTTP server (issue #17: with Fastify's defaults, requestTimeout 0,
// an upload that never finishes holds its connection forever). Spread into the options of
// Fastify(...) by buildApp.
import type { Server, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyHttpOptions } from 'fastify';
import type { Config } from '../config.ts';

type TimeoutConfig = Pick<Config, 'requestTimeoutMs' | 'headersTimeoutMs' | 'keepAliveTimeoutMs'>;

/** Node's headersTimeout: at most the request timeout (Node refuses a larger one at construction). */
export function effectiveHeadersTimeout(config: TimeoutConfig): number {
  return Math.min(config.headersTimeoutMs, config.requestTimeoutMs);
}

export function timeoutOptions(config: TimeoutConfig): FastifyHttpOptions<Server> {
  const headersTimeout = effectiveHeadersTimeout(config);
  return {
    // Node's requestTimeout ends when the request message is complete, so it bounds the upload
    // (headers and body) and never the handler's work or the response.
    requestTimeout: config.requestTimeoutMs,
    keepAliveTimeout: config.keepAliveTimeoutMs,
    // No socket inactivity timeout (Fastify's connectionTimeout, Node's server.setTimeout): an MC
    // request at the paper's scale computes for seconds without sending a byte, and an inactivity
    // timer would destroy its socket mid-computation (and the cancellation would abort the work).
    // The request timeout covers slow or stalled clients; computations are bounded by MAX_SAMPLES.
    connectionTimeout: 0,
    http: {
      // Also here, not only above: Node checks headersTimeout <= requestTimeout when the server is
      // constructed, against its own 300 s default if requestTimeout is not given.
      requestTimeout: config.requestTimeoutMs,
      headersTimeout,
      // Node enforces both timeouts by sweeping its connections every connectionsCheckingInterval
      // (default 30 s, so a 10 s headers timeout could fire after 40 s); sweep every second, or
      // faster when the timeouts are shorter than that.
      connectionsCheckingInterval: Math.min(1000, headersTimeout),
    },
    // On close, idle keep-alive connections go at once; busy ones finish their request (and get
    // `connection: close`) until src/shutdown.ts closes what is left after the drain time.
    forceCloseConnections: 'idle',
    clientErrorHandler(error, socket) {
      answerClientError(error as NodeJS.ErrnoException, socket, config);
    },
  };
}

/**
 * Errors Node raises before a request reaches Fastify (timeouts, unparsable HTTP, oversized
 * headers): a JSON error in the server's usual shape, then the connection is closed. Replaces
 * Fastify's default handler, whose bodies have no `code` and do not name the limit.
 */
export function answerClientError(error: NodeJS.ErrnoException, socket: Socket, config: TimeoutConfig): void {
  if (error.code === 'ECONNRESET' || socket.destroyed) return;
  const [statusCode, status, code, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'REQUEST_TIMEOUT',
        `the request was not received in time: headers within ${effectiveHeadersTimeout(config)} ms (HEADERS_TIMEOUT_MS), ` +
        `headers and body within ${config.requestTimeoutMs} ms (REQUEST_TIMEOUT_MS)`]
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'HEADERS_TOO_LARGE', 'the request headers exceed Node\'s limit (--max-http-header-size, 16 KiB by default)']
        : [400, 'Bad Request', 'BAD_HTTP_REQUEST', 'the request is not valid HTTP/1.1'];
  // A response already under way on this socket (a handler that answered before the body ended)
  // must not get a second status line written into it.
  const response = (socket as Socket & { _httpMessage?: ServerResponse })._httpMessage;
  if (socket.writable && !response?.headersSent) {
    const body = JSON.stringify({ statusCode, code, error: status, message });
    socket.write(
      `HTTP/1.1 ${statusCode} ${status}\r\nContent-Type: application/json; charset=utf-8\r\n` +
        `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy(error);
}
