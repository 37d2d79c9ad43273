// npm run bench:healthz [-- --rounds 2 --duration 20 --samples 1000 --mean-reps 40 --mc-reps 4 --workers true,false,auto --bundled]
// Inference off the event loop (issue #13 item 1): /healthz latency while MC requests keep a
// paper-scale model busy (K = 29,593, D = 1024, R = 50, generated once into the OS temp folder as
// bench/mc.ts does), and what the worker costs a single request: mean mode on the bundled
// hetxl-fashion-mnist, MC S = --samples at paper scale. Every figure with each INFERENCE_WORKERS
// setting of --workers, on fresh servers in child processes, alternating their order for --rounds
// rounds (a shared, loaded machine drifts: compare neighbouring runs, report the ranges).
// --bundled: the MC load and the MC request on the bundled hetxl-fashion-mnist instead (no
// paper-scale model), for INFERENCE_WORKERS=auto, which keeps that model's short runs
// (S = 100: 64,000 multiply-adds an image) on the HTTP thread and sends long ones (S = 10,000) to its worker.
// Not a test: figures depend on the machine; docs/performance.md records them with the machine.
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { parseMakeCheckpointArgs } from '../src/cli/make-checkpoint.ts';
import { generateCheckpoint } from '../src/synthetic/random-checkpoint.ts';
import { startServer, stopServer, type BenchServer } from './server.ts';

const { values: args } = parseArgs({
  options: {
    rounds: { type: 'string', default: '2' },
    duration: { type: 'string', default: '20' },
    samples: { type: 'string', default: '1000' },
    clients: { type: 'string', default: '2' },
    'mean-reps': { type: 'string', default: '40' },
    'mc-reps': { type: 'string', default: '4' },
    workers: { type: 'string', default: 'true,false,auto' },
    bundled: { type: 'boolean', default: false },
  },
});
const SAMPLES = Number(args.samples);

/** The paper-scale checkpoint's MODELS_DIR (one model), generated on first use. */
async function paperScaleModels(): Promise<{ modelsDir: string; name: string }> {
  const options = parseMakeCheckpointArgs(['--out', path.join(tmpdir(), 'hetxl-bench')]);
  if (options === 'help') throw new Error('unreachable');
  if (!existsSync(path.join(options.modelsDir, options.name, 'manifest.json'))) {
    console.error(`generating ${options.modelsDir}/${options.name} (K = 29,593, D = 1024, R = 50) ...`);
    await generateCheckpoint(options);
  }
  return { modelsDir: options.modelsDir, name: options.name };
}

/** A server over `modelsDir` with INFERENCE_WORKERS=`workers` (paper-scale models take minutes to load). */
function startBenchServer(modelsDir: string, workers: string): Promise<BenchServer> {
  return startServer({ MODELS_DIR: modelsDir, INFERENCE_WORKERS: String(workers), MAX_SAMPLES: String(Math.max(SAMPLES, 10_000)) }, 300_000);
}

const percentile = (sorted: number[], p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))];
const median = (values: number[]) => percentile([...values].sort((a, b) => a - b), 50);
const fmt = (ms: number) => (ms >= 100 ? ms.toFixed(0) : ms >= 10 ? ms.toFixed(1) : ms.toFixed(2));

async function classify(base: string, model: string, query: string, body: string): Promise<number> {
  const started = performance.now();
  const res = await fetch(`${base}/v1/models/${model}/classify?${query}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
  await res.arrayBuffer();
  if (!res.ok) throw new Error(`classify answered ${res.status}`);
  return performance.now() - started;
}

/** /healthz latencies, one probe every 20 ms, while `clients` loops of MC requests keep the model busy. */
async function healthzUnderLoad(base: string, model: string, body: string): Promise<{ p50: number; p99: number; max: number; probes: number; mcRequests: number }> {
  const until = performance.now() + Number(args.duration) * 1000;
  let mcRequests = 0;
  const load = Array.from({ length: Number(args.clients) }, async () => {
    while (performance.now() < until) {
      await classify(base, model, `mode=mc&samples=${SAMPLES}`, body);
      mcRequests++;
    }
  });
  const latencies: number[] = [];
  // Let the first MC requests start.
  await new Promise((r) => setTimeout(r, 500));
  while (performance.now() < until) {
    const started = performance.now();
    const res = await fetch(`${base}/healthz`);
    await res.arrayBuffer();
    latencies.push(performance.now() - started);
    await new Promise((r) => setTimeout(r, 20));
  }
  await Promise.all(load);
  latencies.sort((a, b) => a - b);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: latencies[latencies.length - 1], probes: latencies.length, mcRequests };
}

/** Median latency of `reps` sequential requests after two warm-up ones. */
async function singleRequest(base: string, model: string, query: string, body: string, reps: number): Promise<number> {
  for (let i = 0; i < 2; i++) await classify(base, model, query, body);
  const times: number[] = [];
  for (let i = 0; i < reps; i++) times.push(await classify(base, model, query, body));
  return median(times);
}

async function pngBody(width: number, height: number, channels: 1 | 3): Promise<string> {
  const pixels = Buffer.alloc(width * height * channels);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (i * 37 + ((i * i) % 13)) % 256;
  const png = await sharp(pixels, { raw: { width, height, channels } }).png().toBuffer();
  return JSON.stringify({ images: [png.toString('base64')] });
}

async function main(): Promise<void> {
  const paper = args.bundled ? { modelsDir: 'models', name: 'hetxl-fashion-mnist' } : await paperScaleModels();
  const paperInput = JSON.parse(readFileSync(path.join(paper.modelsDir, paper.name, 'manifest.json'), 'utf8')).input as { width: number; height: number; channels: 1 | 3 };
  const paperBody = await pngBody(paperInput.width, paperInput.height, paperInput.channels);
  const fashionBody = await pngBody(28, 28, 1);
  console.log(`machine: ${cpus().length} x ${cpus()[0]?.model ?? 'cpu'}, load average ${loadavg().map((l) => l.toFixed(1)).join(' ')}; MC S = ${SAMPLES}, ${args.clients} MC clients`);
  console.log(`| round | workers | /healthz p50 ms | p99 ms | max ms | probes | MC requests | mean, hetxl-fashion-mnist ms | MC ${paper.name} ms |`);
  console.log('|---|---|---|---|---|---|---|---|---|');
  for (let round = 1; round <= Number(args.rounds); round++) {
    // Alternate which setting goes first, so that drift over a round does not favour one.
    const settings = args.workers!.split(',');
    const order = round % 2 === 1 ? settings : settings.reverse();
    for (const workers of order) {
      const server = await startBenchServer(paper.modelsDir, workers);
      const health = await healthzUnderLoad(server.base, paper.name, paperBody);
      const mcMs = await singleRequest(server.base, paper.name, `mode=mc&samples=${SAMPLES}`, paperBody, Number(args['mc-reps']));
      await stopServer(server.child);
      const fashion = await startBenchServer('models', workers);
      const meanMs = await singleRequest(fashion.base, 'hetxl-fashion-mnist', 'mode=mean', fashionBody, Number(args['mean-reps']));
      await stopServer(fashion.child);
      console.log(`| ${round} | ${workers} | ${fmt(health.p50)} | ${fmt(health.p99)} | ${fmt(health.max)} | ${health.probes} | ${health.mcRequests} | ${fmt(meanMs)} | ${fmt(mcMs)} |`);
    }
  }
  console.log(`load average after: ${loadavg().map((l) => l.toFixed(1)).join(' ')}`);
}

await main();
