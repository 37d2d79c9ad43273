// The FastAPI + uvicorn + PyTorch peer (bench/peer/server.py) as bench/http.ts --peer runs it: the
// Debian packages it needs (checked, with the install command when missing), a server in a child
// process on a free loopback port, and the check that its mean-mode answer agrees with ours.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { freePort, waitUntilReady, type BenchServer } from '../server.ts';

/** Debian's python3 (numpy, torch and onnx live there, not in a pyenv or venv); PEER_PYTHON names another. */
export const PEER_PYTHON = process.env.PEER_PYTHON ?? (existsSync('/usr/bin/python3') ? '/usr/bin/python3' : 'python3');

const MODULES = ['fastapi', 'uvicorn', 'multipart', 'torch', 'onnx', 'numpy', 'PIL', 'uvloop', 'httptools'];
export const PEER_PACKAGES = 'python3-fastapi python3-uvicorn python3-multipart python3-torch python3-onnx python3-numpy python3-pil python3-uvloop python3-httptools';

/** null when the peer can run, else what to tell the user. */
export function missingPeerPackages(): string | null {
  const probe = spawnSync(PEER_PYTHON, ['-c', `import ${MODULES.join(', ')}`], { encoding: 'utf8' });
  if (probe.status === 0) return null;
  const why = probe.error ? probe.error.message : probe.stderr.trim().split('\n').pop();
  return (
    `the peer needs Python modules that ${PEER_PYTHON} cannot import (${why}).\n` +
    `Install Debian's packages:  sudo apt-get update && sudo apt-get install -y ${PEER_PACKAGES}\n` +
    `(or set PEER_PYTHON to a python3 that has ${MODULES.join(', ')})`
  );
}

/** The peer with `workers` uvicorn workers on `modelDir`; ready when /healthz answers. */
export async function startPeer(modelDir: string, workers: number): Promise<BenchServer> {
  const port = await freePort();
  const child = spawn(PEER_PYTHON, ['bench/peer/server.py', '--model-dir', modelDir, '--port', String(port), '--workers', String(workers)], {
    stdio: ['ignore', 'ignore', 'inherit'],
    // Its own process group, so that stopping it reaches uvicorn's worker processes too.
    detached: true,
  });
  const base = `http://127.0.0.1:${port}`;
  await waitUntilReady(child, `${base}/healthz`, 60_000);
  return { child, base };
}

/** SIGTERM to the peer's process group (uvicorn and its workers), and the exit. */
export async function stopPeer(peer: BenchServer): Promise<void> {
  const exited = new Promise((resolve) => peer.child.once('exit', resolve));
  process.kill(-peer.child.pid!, 'SIGTERM');
  await exited;
}

interface ClassifyAnswer {
  predictions: { classes: { index: number; probability: number }[] }[];
}

/**
 * The largest difference between the two servers' mean-mode probabilities of every class of the
 * image; throws when it is over `tolerance` (the peer would not be serving the same model).
 */
export async function checkPeerAgrees(ours: string, peer: string, model: string, body: { body: Buffer; contentType: string }, classes: number, tolerance = 1e-6): Promise<number> {
  const ask = async (base: string): Promise<Map<number, number>> => {
    const res = await fetch(`${base}/v1/models/${model}/classify?mode=mean&topK=${classes}`, { method: 'POST', body: new Uint8Array(body.body), headers: { 'content-type': body.contentType } });
    if (!res.ok) throw new Error(`${base} answered ${res.status}: ${await res.text()}`);
    const answer = (await res.json()) as ClassifyAnswer;
    return new Map(answer.predictions[0].classes.map((c) => [c.index, c.probability]));
  };
  const [a, b] = await Promise.all([ask(ours), ask(peer)]);
  if (a.size !== classes || b.size !== classes) throw new Error(`expected ${classes} classes from both, got ${a.size} and ${b.size}`);
  let worst = 0;
  for (const [index, p] of a) worst = Math.max(worst, Math.abs(p - (b.get(index) ?? Infinity)));
  if (!(worst <= tolerance)) throw new Error(`the peer's mean-mode probabilities differ from ours by ${worst}, over ${tolerance}: not the same model or preprocessing`);
  return worst;
}
