// The server as the HTTP benchmarks run it: `node --import tsx src/server.ts` in a child process
// on a free loopback port (node directly, not npm start, so that the pid is the server's and /proc
// gives its CPU time), ready when /v2/health/ready (every model) answers 200; and the CPU time of a
// server's process tree.
import { spawn, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:net';

export interface BenchServer {
  child: ChildProcess;
  base: string;
}

export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts the server with `env` over this process's environment (and `nodeArgs`, e.g. --cpu-prof,
 * before the script); rejects if not ready within `readyTimeoutMs`.
 */
export async function startServer(env: Record<string, string>, readyTimeoutMs = 60_000, nodeArgs: string[] = []): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', 'src/server.ts'], {
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', LOG_LEVEL: 'warn', ...env },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, `${base}/v2/health/ready`, readyTimeoutMs);
  return { child, base };
}

/** Polls `url` until it answers 200; kills `child` and rejects after `timeoutMs` or when it exits. */
export async function waitUntilReady(child: ChildProcess, url: string, timeoutMs: number): Promise<void> {
  for (const started = performance.now(); performance.now() - started < timeoutMs && child.exitCode === null; ) {
    try {
      if ((await fetch(url)).ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  child.kill('SIGKILL');
  throw new Error(`${url} was not ready in ${timeoutMs / 1000} s${child.exitCode !== null ? ` (the process exited with ${child.exitCode})` : ''}`);
}

/**
 * User + system CPU seconds of `pid` and every process below it, so far (Linux /proc): a
 * process's stat counts all its threads (Node's worker threads, ORT's pools), and its children
 * (uvicorn's worker processes) are summed here.
 */
export function treeCpuSeconds(pid: number): number {
  const stats = new Map<number, { ppid: number; ticks: number }>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let text: string;
    try {
      text = readFileSync(`/proc/${entry}/stat`, 'utf8');
    } catch {
      continue; // exited meanwhile
    }
    // After "pid (comm) ": state, ppid, ..., utime and stime are fields 14 and 15 (11 and 12 here).
    const fields = text.slice(text.lastIndexOf(') ') + 2).split(' ');
    stats.set(Number(entry), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]) });
  }
  const inTree = (p: number): boolean => {
    for (let at = p, depth = 0; at > 1 && depth < 64; at = stats.get(at)?.ppid ?? 0, depth++) if (at === pid) return true;
    return false;
  };
  let ticks = 0;
  for (const [p, { ticks: t }] of stats) if (inTree(p)) ticks += t;
  // Clock ticks of 1/100 s (USER_HZ on Linux).
  return ticks / 100;
}

/** SIGTERM, and the exit. */
export async function stopServer(child: ChildProcess): Promise<void> {
  const exited = new Promise((resolve) => child.once('exit', resolve));
  child.kill('SIGTERM');
  await exited;
}
