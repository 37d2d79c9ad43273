// Graceful shutdown with a bound: readiness turns 503 first (for SHUTDOWN_READINESS_DELAY_MS the
// server still accepts and serves, while load balancers take it out of rotation), then stop
// accepting, let in-flight requests finish for at most the drain time, and close every connection
// left. Without the bound, app.close() waits for every open connection, so one stalled upload kept
// SIGTERM from ever finishing (issue #17). Once close() has begun, Fastify answers 503 to any new
// request on a connection still open (its return503OnClosing), readiness included.
import type { FastifyInstance } from 'fastify';
import { setTimeout as sleep } from 'node:timers/promises';
import { markDraining } from './http/routes/health.ts';

export type CloseOutcome = 'drained' | 'forced';

const IDLE_SWEEP_MS = 100;

/**
 * Marks `app` not ready, waits `readinessDelayMs` serving as usual, then closes it (its onClose
 * hooks included): 'drained' when every connection ended within `drainTimeoutMs`, 'forced' when
 * the remaining ones had to be closed. Requests cut off that way lose their response; their MC
 * loops stop at the next chunk (src/http/cancellation.ts).
 */
export async function closeGracefully(app: FastifyInstance, drainTimeoutMs: number, readinessDelayMs = 0): Promise<CloseOutcome> {
  markDraining(app);
  if (readinessDelayMs > 0) {
    app.log.info({ readinessDelayMs }, 'readiness off; still serving until the delay is over (SHUTDOWN_READINESS_DELAY_MS)');
    await sleep(readinessDelayMs);
  }
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
export function closeOnSignals(app: FastifyInstance, drainTimeoutMs: number, readinessDelayMs = 0): void {
  let closing = false;
  const onSignal = (signal: NodeJS.Signals) => {
    if (closing) return;
    closing = true;
    app.log.info({ signal, drainTimeoutMs, readinessDelayMs }, 'shutting down');
    closeGracefully(app, drainTimeoutMs, readinessDelayMs).then(
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
