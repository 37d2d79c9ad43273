// The server as the HTTP benchmarks run it: `node --import tsx src/server.ts` in a child process
// on a free loopback port (node directly, not npm start, so that the pid is the server's and /proc
// gives its CPU time), ready when /v2/health/ready (every model) answers 200.
import { spawn, type ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

export interface BenchServer {
  child: ChildProcess;
  base: string;
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/** Starts the server with `env` over this process's environment; rejects if not ready within `readyTimeoutMs`. */
export async function startServer(env: Record<string, string>, readyTimeoutMs = 60_000): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(process.execPath, ['--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  for (const started = performance.now(); performance.now() - started < readyTimeoutMs; ) {
    try {
      if ((await fetch(`${base}/v2/health/ready`)).ok) return { child, base };
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`the server did not become ready in ${readyTimeoutMs / 1000} s`);
}

/** SIGTERM, and the exit. */
export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
