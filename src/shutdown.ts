// Graceful shutdown with a bound: stop accepting, let in-flight requests finish for at most the
// drain time, then close every connection left. Without the bound, app.close() waits for every
// open connection, so one stalled upload kept SIGTERM from ever finishing (issue #17).
import type { FastifyInstance } from 'fastify';

export type CloseOutcome = 'drained' | 'forced';

const IDLE_SWEEP_MS = 100;

/**
 * Closes `app` (its onClose hooks included): 'drained' when every connection ended within
 * `drainTimeoutMs`, 'forced' when the remaining ones had to be closed. Requests cut off that way
 * lose their response; their MC loops stop at the next chunk (src/http/cancellation.ts).
 */
export async function closeGracefully(app: FastifyInstance, drainTimeoutMs: number): Promise<CloseOutcome> {
  let outcome: CloseOutcome = 'drained';
  // server.close() closes the connections idle at that moment only; one whose request finishes
  // during the drain stays open as keep-alive (its response was not marked `connection: close`)
  // and would hold the close until the drain time. Close such connections as they become idle.
  const sweep = setInterval(() => app.server.closeIdleConnections(), IDLE_SWEEP_MS);
  const timer = setTimeout(() => {
    outcome = 'forced';
    app.log.warn({ drainTimeoutMs }, 'drain time over (SHUTDOWN_DRAIN_TIMEOUT_MS): closing the remaining connections');
    app.server.closeAllConnections();
  }, drainTimeoutMs);
  try {
    await app.close();
  } finally {
    clearInterval(sweep);
    clearTimeout(timer);
  }
  return outcome;
}

/**
 * On SIGTERM or SIGINT: closeGracefully, then exit 0 (1 if closing failed). A repeated signal
 * during the drain is ignored rather than cutting it short: Ctrl-C under `npm start` delivers
 * SIGINT twice, once from the terminal and once forwarded by npm.
 */
export function closeOnSignals(app: FastifyInstance, drainTimeoutMs: number): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal, drainTimeoutMs }, 'shutting down');
    closeGracefully(app, drainTimeoutMs).then(
      (outcome) => {
        app.log.info({ outcome }, 'closed');
        process.exit(0);
      },
      (error: unknown) => {
        app.log.error({ err: error }, 'error while closing');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
}
