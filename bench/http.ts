// npm run bench:http [-- --model hetxl-fashion-mnist --image docs/examples/sneaker.png --duration 10 --batching both]
// Throughput and latency over HTTP on loopback (issue #13 item 2 and item 8, issue #18 item 3):
// starts the server on the bundled models in a child process, drives it with autocannon
// (multipart PNG classify requests, keep-alive), and prints per scenario requests/s, p50 / p99
// latency, non-2xx answers and the server's CPU time per request (from /proc: Linux only).
// Scenarios: mean mode at concurrency 1, 8 and 32; MC S = 100 at concurrency 8 and 32. With
// --batching both (the default) every scenario runs twice on fresh servers: dynamic batching on
// (the defaults) and off (BATCH_MAX_SIZE=1: one request per run, still one run at a time).
// Not a test: figures depend on the machine; docs/performance.md records them with the machine.
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { startServer, stopServer } from './server.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'hetxl-fashion-mnist' },
    image: { type: 'string', default: 'docs/examples/sneaker.png' },
    duration: { type: 'string', default: '10' },
    batching: { type: 'string', default: 'both' },
    models: { type: 'string', default: 'models' },
  },
});

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

/** A multipart/form-data body with one PNG file part, as a browser or curl -F sends it. */
async function multipartBody(png: Buffer): Promise<{ body: Buffer; contentType: string }> {
  const form = new FormData();
  form.append('image', new Blob([new Uint8Array(png)], { type: 'image/png' }), 'image.png');
  const request = new Request('http://localhost/', { method: 'POST', body: form });
  return { body: Buffer.from(await request.arrayBuffer()), contentType: request.headers.get('content-type')! };
}

/** The child's user + system CPU seconds so far (Linux /proc). */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
  // utime and stime are fields 14 and 15 of stat, 12 and 13 after the "pid (comm) " prefix; clock ticks of 1/100 s.
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

interface Row {
  batching: string;
  scenario: string;
  connections: number;
  rps: number;
  p50: number;
  p99: number;
  non2xx: number;
  cpuMs: number;
}

async function runScenario(base: string, pid: number, scenario: Scenario, payload: { body: Buffer; contentType: string }, batching: string): Promise<Row> {
  const url = `${base}/v1/models/${args.model}/classify?${scenario.query}`;
  const options = { url, method: 'POST' as const, body: payload.body, headers: { 'content-type': payload.contentType } };
  // Warm-up: the first requests pay for ORT's first runs of each batch shape.
  await autocannon({ ...options, connections: scenario.connections, duration: 2 });
  const cpuBefore = cpuSeconds(pid);
  const result = await autocannon({ ...options, connections: scenario.connections, duration: Number(args.duration) });
  const cpu = cpuSeconds(pid) - cpuBefore;
  if (result.non2xx > 0) console.log(`  non-2xx answers by status: ${JSON.stringify(result.statusCodeStats)}`);
  return {
    batching,
    scenario: scenario.name,
    connections: scenario.connections,
    rps: result.requests.average,
    p50: result.latency.p50,
    p99: result.latency.p99,
    non2xx: result.non2xx + result.errors,
    cpuMs: (cpu * 1000) / Math.max(1, result.requests.total),
  };
}

async function main(): Promise<void> {
  const payload = await multipartBody(readFileSync(args.image!));
  const modes = args.batching === 'both' ? ['on', 'off'] : [args.batching!];
  console.log(`# bench:http, model ${args.model}, ${args.image}, ${args.duration} s per scenario; ${cpus().length} x ${cpus()[0]?.model}; load ${loadavg()[0].toFixed(2)}`);
  const rows: Row[] = [];
  for (const batching of modes) {
    const { child, base } = await startServer({ MODELS_DIR: args.models!, ...(batching === 'off' ? { BATCH_MAX_SIZE: '1' } : {}) });
    try {
      for (const scenario of SCENARIOS) {
        const row = await runScenario(base, child.pid!, scenario, payload, batching);
        rows.push(row);
        console.log(
          `batching ${row.batching.padEnd(3)} | ${row.scenario.padEnd(8)} | c=${String(row.connections).padStart(2)} | ` +
            `${row.rps.toFixed(0).padStart(5)} req/s | p50 ${row.p50.toFixed(1).padStart(6)} ms | p99 ${row.p99.toFixed(1).padStart(6)} ms | ` +
            `non-2xx ${row.non2xx} | CPU ${row.cpuMs.toFixed(2)} ms/req`,
        );
      }
    } finally {
      await stopServer(child);
    }
  }
  if (modes.length === 2) {
    console.log('\n| scenario | concurrency | req/s, batching on | req/s, off | on / off | p99 on / off (ms) |');
    console.log('|---|---|---|---|---|---|');
    for (const on of rows.filter((r) => r.batching === 'on')) {
      const off = rows.find((r) => r.batching === 'off' && r.scenario === on.scenario && r.connections === on.connections)!;
      console.log(`| ${on.scenario} | ${on.connections} | ${on.rps.toFixed(0)} | ${off.rps.toFixed(0)} | ${(on.rps / off.rps).toFixed(2)} | ${on.p99.toFixed(1)} / ${off.p99.toFixed(1)} |`);
    }
  }
}

await main();
