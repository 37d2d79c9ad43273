// npm run bench:http [-- --model hetxl-fashion-mnist --image docs/examples/sneaker.png --duration 10 --batching both]
// npm run bench:http -- --peer [--rounds 2 --duration 8]
// npm run bench:http -- --workers true,auto,false [--rounds 2 --duration 6]
// Throughput and latency over HTTP on loopback (issue #13 item 2 and item 8, issue #18 item 3):
// starts the server on the bundled models in a child process, drives it with autocannon
// (multipart PNG classify requests, keep-alive), and prints per scenario requests/s, p50 / p99
// latency, non-2xx answers and the server's CPU time per request (from /proc: Linux only).
// Scenarios: mean mode at concurrency 1, 8 and 32; MC S = 100 at concurrency 8 and 32. With
// --batching both (the default) every scenario runs twice on fresh servers: dynamic batching on
// (the defaults) and off (BATCH_MAX_SIZE=1: one request per run, still one run at a time).
// With --peer: the same load against the FastAPI + uvicorn + PyTorch peer (bench/peer/server.py;
// Debian packages, the script says which when they are missing), one uvicorn worker, and two at
// concurrency 32, alternating the servers scenario by scenario for --rounds rounds, after a check
// that the peer's mean-mode probabilities agree with ours within 1e-6; then a table of ranges and
// ratios. CPU per request counts each server's whole process tree (threads and worker processes).
// With --workers: one fresh server per INFERENCE_WORKERS setting in the list, the settings in
// turn for --rounds rounds, on WORKER_SCENARIOS (concurrency 1, where the hop to the model's
// worker thread counts most, and two loaded scenarios).
// Not a test: figures depend on the machine; docs/performance.md records them with the machine.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { multipartBody } from './multipart.ts';
import { checkPeerAgrees, missingPeerPackages, startPeer, stopPeer } from './peer/peer.ts';
import { startServer, stopServer, treeCpuSeconds, type BenchServer } from './server.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'hetxl-fashion-mnist' },
    image: { type: 'string', default: 'docs/examples/sneaker.png' },
    duration: { type: 'string' },
    batching: { type: 'string', default: 'both' },
    models: { type: 'string', default: 'models' },
    peer: { type: 'boolean', default: false },
    rounds: { type: 'string', default: '2' },
    workers: { type: 'string' },
  },
});
const DURATION = Number(args.duration ?? (args.peer ? 8 : 10));

interface Scenario {
  name: string;
  query: string;
  connections: number;
}

const SCENARIOS: Scenario[] = [
  { name: 'mean', query: 'mode=mean', connections: 1 },
  { name: 'mean', query: 'mode=mean', connections: 8 },
  { name: 'mean', query: 'mode=mean', connections: 32 },
  { name: 'MC S=100', query: 'mode=mc&samples=100', connections: 8 },
  { name: 'MC S=100', query: 'mode=mc&samples=100', connections: 32 },
];

/** The INFERENCE_WORKERS comparison's scenarios (--workers). */
const WORKER_SCENARIOS: Scenario[] = [
  { name: 'mean', query: 'mode=mean', connections: 1 },
  { name: 'MC S=100', query: 'mode=mc&samples=100', connections: 1 },
  { name: 'MC S=100', query: 'mode=mc&samples=100', connections: 8 },
  { name: 'mean', query: 'mode=mean', connections: 32 },
];

interface Row {
  /** The server measured: 'batch on' / 'batch off', or 'ours' / 'peer' / 'peer x2'. */
  server: string;
  scenario: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  cpuMs: number;
}

async function runScenario(base: string, pid: number, scenario: Scenario, payload: { body: Buffer; contentType: string }, server: string): Promise<Row> {
  const url = `${base}/v1/models/${args.model}/classify?${scenario.query}`;
  const options = { url, method: 'POST' as const, body: payload.body, headers: { 'content-type': payload.contentType } };
  // Warm-up: the first requests pay for ORT's first runs of each batch shape.
  await autocannon({ ...options, connections: scenario.connections, duration: 2 });
  const cpuBefore = treeCpuSeconds(pid);
  const result = await autocannon({ ...options, connections: scenario.connections, duration: DURATION });
  const cpu = treeCpuSeconds(pid) - cpuBefore;
  if (result.non2xx > 0) console.log(`  non-2xx answers by status: ${JSON.stringify(result.statusCodeStats)}`);
  return {
    server,
    scenario: scenario.name,
    connections: scenario.connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
    cpuMs: (cpu * 1000) / Math.max(1, result.requests.total),
  };
}

function printRow(row: Row): void {
  console.log(
    `${row.server.padEnd(9)} | ${row.scenario.padEnd(8)} | c=${String(row.connections).padStart(2)} | ` +
      `${row.rps.toFixed(0).padStart(5)} req/s | p50 ${row.p50.toFixed(1).padStart(6)} ms | p99 ${row.p99.toFixed(1).padStart(6)} ms | ` +
      `non-2xx ${row.non2xx} | CPU ${row.cpuMs.toFixed(2)} ms/req`,
  );
}

const load = () => loadavg().map((l) => l.toFixed(2)).join(' ');

async function batchingBench(payload: { body: Buffer; contentType: string }): Promise<void> {
  const modes = args.batching === 'both' ? ['on', 'off'] : [args.batching!];
  const rows: Row[] = [];
  for (const batching of modes) {
    const { child, base } = await startServer({ MODELS_DIR: args.models!, ...(batching === 'off' ? { BATCH_MAX_SIZE: '1' } : {}) });
    try {
      for (const scenario of SCENARIOS) {
        const row = await runScenario(base, child.pid!, scenario, payload, `batch ${batching}`);
        rows.push(row);
        printRow(row);
      }
    } finally {
      await stopServer(child);
    }
  }
  if (modes.length === 2) {
    console.log('\n| scenario | concurrency | req/s, batching on | req/s, off | on / off | p99 on / off (ms) |');
    console.log('|---|---|---|---|---|---|');
    for (const on of rows.filter((r) => r.server === 'batch on')) {
      const off = rows.find((r) => r.server === 'batch off' && r.scenario === on.scenario && r.connections === on.connections)!;
      console.log(`| ${on.scenario} | ${on.connections} | ${on.rps.toFixed(0)} | ${off.rps.toFixed(0)} | ${(on.rps / off.rps).toFixed(2)} | ${on.p99.toFixed(1)} / ${off.p99.toFixed(1)} |`);
    }
  }
}

/** --workers: the same scenarios on a fresh server per INFERENCE_WORKERS setting, the settings in turn, round after round. */
async function workersBench(payload: { body: Buffer; contentType: string }, settings: string[]): Promise<void> {
  for (let round = 1; round <= Number(args.rounds); round++) {
    for (const workers of settings) {
      const { child, base } = await startServer({ MODELS_DIR: args.models!, INFERENCE_WORKERS: workers });
      try {
        for (const scenario of WORKER_SCENARIOS) printRow(await runScenario(base, child.pid!, scenario, payload, `w=${workers}`));
      } finally {
        await stopServer(child);
      }
    }
    console.log(`# round ${round} done, load ${load()}`);
  }
}

/** Which servers run a scenario in the peer comparison: ours and the one-worker peer always, the two-worker peer at c = 32. */
const PEER_SCENARIOS = SCENARIOS.map((scenario) => ({ scenario, servers: scenario.connections === 32 ? ['ours', 'peer', 'peer x2'] : ['ours', 'peer'] }));

async function peerBench(payload: { body: Buffer; contentType: string }): Promise<void> {
  const missing = missingPeerPackages();
  if (missing) {
    console.log(missing);
    return;
  }
  const modelDir = path.join(args.models!, args.model!);
  const K = (JSON.parse(readFileSync(path.join(modelDir, 'manifest.json'), 'utf8')) as { head: { K: number } }).head.K;
  const servers: Record<string, BenchServer> = {};
  try {
    servers.ours = await startServer({ MODELS_DIR: args.models! });
    servers.peer = await startPeer(modelDir, 1);
    servers['peer x2'] = await startPeer(modelDir, 2);
    for (const name of ['peer', 'peer x2']) {
      const worst = await checkPeerAgrees(servers.ours.base, servers[name].base, args.model!, payload, K);
      console.log(`# ${name}: mean-mode probabilities of all ${K} classes agree with ours within ${worst.toExponential(1)}`);
    }
    const rows: Row[] = [];
    for (let round = 1; round <= Number(args.rounds); round++) {
      console.log(`# round ${round}, load ${load()}`);
      for (const { scenario, servers: names } of PEER_SCENARIOS) {
        for (const name of names) {
          const row = await runScenario(servers[name].base, servers[name].child.pid!, scenario, payload, name);
          rows.push(row);
          printRow(row);
        }
      }
    }
    console.log(`# load at the end ${load()}\n`);
    printPeerTable(rows);
  } finally {
    if (servers.ours) await stopServer(servers.ours.child);
    for (const name of ['peer', 'peer x2']) if (servers[name]) await stopPeer(servers[name]);
  }
}

/** "a" or "a-b" of the values' range, rounded by `format`. */
function range(values: number[], format: (v: number) => string): string {
  const [lo, hi] = [Math.min(...values), Math.max(...values)].map(format);
  return lo === hi ? lo : `${lo}-${hi}`;
}

function printPeerTable(rows: Row[]): void {
  const of = (server: string, scenario: string, c: number) => rows.filter((r) => r.server === server && r.scenario === scenario && r.connections === c);
  const whole = (v: number) => v.toFixed(0);
  const tenth = (v: number) => v.toFixed(1);
  const hundredth = (v: number) => v.toFixed(2);
  console.log('| scenario | concurrency | req/s, ours | req/s, peer | ours / peer | req/s, peer x2 | ours / peer x2 | p50 / p99 ms, ours | p50 / p99 ms, peer | CPU ms/req, ours / peer |');
  console.log('|---|---|---|---|---|---|---|---|---|---|');
  for (const { scenario } of PEER_SCENARIOS) {
    const [ours, peer, peer2] = ['ours', 'peer', 'peer x2'].map((s) => of(s, scenario.name, scenario.connections));
    // Ratios of the same round's neighbouring runs, the fairest pairing on a drifting machine.
    const ratios = (other: Row[]) => (other.length ? range(ours.map((r, i) => r.rps / other[i].rps), hundredth) : '-');
    const rps = (list: Row[]) => (list.length ? range(list.map((r) => r.rps), whole) : '-');
    const latency = (list: Row[]) => `${range(list.map((r) => r.p50), tenth)} / ${range(list.map((r) => r.p99), tenth)}`;
    console.log(
      `| ${scenario.name} | ${scenario.connections} | ${rps(ours)} | ${rps(peer)} | ${ratios(peer)} | ${rps(peer2)} | ${ratios(peer2)} | ` +
        `${latency(ours)} | ${latency(peer)} | ${range(ours.map((r) => r.cpuMs), hundredth)} / ${range(peer.map((r) => r.cpuMs), hundredth)} |`,
    );
  }
}

const payload = await multipartBody(readFileSync(args.image!));
console.log(`# bench:http${args.peer ? ' --peer' : ''}, model ${args.model}, ${args.image}, ${DURATION} s per scenario; ${cpus().length} x ${cpus()[0]?.model}; load ${load()}`);
await (args.peer ? peerBench(payload) : args.workers ? workersBench(payload, args.workers.split(',')) : batchingBench(payload));
