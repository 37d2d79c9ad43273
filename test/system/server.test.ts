// `npm start` under a process manager (issue #17, item 5): SIGTERM or SIGINT sent to the npm
// process must reach the server, which closes and exits, so that npm exits with the port free
// and no process left behind. npm forwards these signals to its child only, and /bin/sh (dash)
// neither forwards them nor execs the last command of `sh -c` by itself; the start script's
// `exec` makes the node server that child.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import net from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const DEADLINE_MS = 60_000;

/** Listens on `port` (0: any) of 127.0.0.1 and closes again: the port it got. Rejects if taken. */
function listenOnce(port: number): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(port, '127.0.0.1', () => {
      const got = (server.address() as net.AddressInfo).port;
      server.close(() => resolve(got));
    });
  });
}

/** Whether any process of the process group `pgid` still exists (zombies included). */
function groupAlive(pgid: number): boolean {
  try {
    process.kill(-pgid, 0);
    return true;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ESRCH') return false;
    throw error;
  }
}

async function stopsOn(signal: 'SIGTERM' | 'SIGINT'): Promise<void> {
  const modelsDir = await mkdtemp(path.join(tmpdir(), 'hetxl-server-'));
  const port = await listenOnce(0);
  // Its own process group, so that cleanup after a failure reaches npm, sh and node alike.
  const npm = spawn('npm', ['start'], {
    cwd: ROOT,
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    // LOG_LEVEL info rather than silent: the server's own log lines show which process got
    // the signal and that it closed.
    env: { ...process.env, PORT: String(port), HOST: '127.0.0.1', MODELS_DIR: modelsDir, LOG_LEVEL: 'info' },
  });
  let output = '';
  npm.stdout.on('data', (chunk) => (output += chunk));
  npm.stderr.on('data', (chunk) => (output += chunk));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    npm.once('exit', (code, signal) => resolve({ code, signal })),
  );
  const pgid = npm.pid!;
  try {
    let healthy = false;
    for (let waited = 0; !healthy && waited < DEADLINE_MS; waited += 200) {
      healthy = await fetch(`http://127.0.0.1:${port}/healthz`).then((r) => r.ok, () => false);
      if (!healthy) await sleep(200);
    }
    assert.ok(healthy, `npm start did not answer /healthz within ${DEADLINE_MS} ms:\n${output}`);
    const listening = /"pid":(\d+)[^\n]*"msg":"Server listening/.exec(output);
    assert.ok(listening, `no "Server listening" line:\n${output}`);
    const serverPid = Number(listening[1]);

    npm.kill(signal);
    const exit = await Promise.race([exited, sleep(DEADLINE_MS, null, { ref: false })]);
    assert.ok(exit, `npm did not exit within ${DEADLINE_MS} ms of ${signal}:\n${output}`);
    assert.deepEqual(exit, { code: 0, signal: null }, output);
    assert.match(output, new RegExp(`"pid":${serverPid},[^\\n]*"signal":"${signal}"[^\\n]*"msg":"shutting down"`));
    // npm has exited; what it started may take a moment to be reaped. Bounded wait, then assert.
    for (let waited = 0; groupAlive(pgid) && waited < 5000; waited += 100) await sleep(100);
    assert.equal(groupAlive(pgid), false, `a process of npm start is still running 5 s after npm exited:\n${output}`);
    assert.throws(() => process.kill(serverPid, 0), { code: 'ESRCH' });
    assert.equal(await listenOnce(port), port, 'the port is free again');
  } finally {
    if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    await rm(modelsDir, { recursive: true, force: true });
  }
}

test('SIGTERM to npm start stops the server: npm exits 0, the port is free, no process is left', () => stopsOn('SIGTERM'));

test('SIGINT to npm start stops the server the same way', () => stopsOn('SIGINT'));
