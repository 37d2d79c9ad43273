// npx tsx bench/profile-http.ts [--query mode=mean] [--connections 1] [--duration 10] [--workers auto|true|false] [--log-level warn]
// Where a request's CPU time goes (issue #18 item 1): the server under autocannon load (one
// multipart PNG classify, as bench/http.ts sends it) with node --cpu-prof, which writes one
// profile per thread (the HTTP thread, and each model's worker); each profile's self time summed
// by what the code belongs to (the HTTP stack, multipart, sharp, onnxruntime-node, statistics,
// serialisation, logging, GC, ...) and printed in microseconds per request and in % of the
// thread. Not a test; docs/performance.md records what it printed, with the machine.
import { mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { multipartBody } from './multipart.ts';
import { startServer, stopServer, treeCpuSeconds } from './server.ts';

const { values: args } = parseArgs({
  options: {
    model: { type: 'string', default: 'hetxl-fashion-mnist' },
    image: { type: 'string', default: 'docs/examples/sneaker.png' },
    query: { type: 'string', default: 'mode=mean' },
    connections: { type: 'string', default: '1' },
    duration: { type: 'string', default: '10' },
    workers: { type: 'string', default: 'auto' },
    'log-level': { type: 'string', default: 'warn' },
    top: { type: 'string', default: '12' },
    functions: { type: 'string', default: '0' },
  },
});

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string };
}
interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** What a frame belongs to: the first rule whose pattern its url (or name) matches. */
const BUCKETS: [string, RegExp][] = [
  ['(idle)', /^\(idle\)$/],
  ['(garbage collector)', /^\(garbage collector\)$/],
  ['(program: native, unattributed)', /^\(program\)$/],
  ['onnxruntime-node (JS and native run)', /onnxruntime/],
  ['sharp (JS; libvips runs on the libuv pool)', /node_modules\/sharp\//],
  ['multipart (@fastify/multipart, busboy)', /@fastify\/multipart|busboy|streamsearch/],
  ['logging (pino)', /pino|sonic-boom/],
  ['serialisation (fast-json-stringify)', /fast-json-stringify/],
  ['validation (ajv)', /ajv/],
  ['helmet, cors, rate limit', /@fastify\/(helmet|cors|rate-limit)|helmet/],
  ['prom-client (metrics)', /prom-client/],
  ['fastify', /node_modules\/(fastify|find-my-way|light-my-request|avvio|@fastify)\//],
  ['typebox (Value.Clean)', /@sinclair\/typebox/],
  ['src/http', /\/src\/http\//],
  ['src/pipelines (batching, worker messages, classifier)', /\/src\/pipelines\//],
  ['src/mc, src/noise (MC loop, noise, accumulator)', /\/src\/(mc|noise)\//],
  ['src/uncertainty (statistics)', /\/src\/uncertainty\//],
  ['src/heads, src/engine', /\/src\/(heads|engine)\//],
  ['src/image (PNG decode, normalise)', /\/src\/image\//],
  ['src (other)', /\/src\//],
  ['module loading, compiling (start-up)', /node:internal\/(modules|deps\/cjs-module-lexer|bootstrap)|tsx\/dist|^(internalModuleStat|ModuleWrap|compileFunction)$|^wasm/],
  ['node: http, net, streams (writev: the socket write)', /node:(_http|http|net|stream|internal\/(http|streams|stream_base|net|js_stream))|^(writev|writeBuffer|writeUtf8String|writeLatin1String)$/],
  ['node: worker messages (postMessage: the hand-over to the other thread)', /node:internal\/(worker|per_context\/messageport)|MessagePort|postMessage|receiveMessageOnPort|MessageChannel/],
  ['node: events, timers, AbortController', /node:(events|internal\/(event_target|abort_controller|timers|process\/task_queues))|^(setImmediate|processImmediate|processTicksAndRejections)$/],
  ['node: zlib (the PNG inflate)', /node:zlib/],
  ['node: other', /^node:/],
  ['native / V8 builtins (no url)', /^$/],
  ['other JS', /./],
];

function bucketOf(frame: ProfileNode['callFrame']): string {
  const key = frame.url || frame.functionName;
  const name = /^\(.*\)$/.test(frame.functionName) ? frame.functionName : key;
  return (BUCKETS.find(([, pattern]) => pattern.test(name)) ?? BUCKETS[BUCKETS.length - 1])[0];
}

/** Self time per bucket, in microseconds, and the profile's span. */
function selfTimes(profile: Profile, key: (frame: ProfileNode['callFrame']) => string = bucketOf): { byBucket: Map<string, number>; totalUs: number } {
  const nodeBucket = new Map(profile.nodes.map((n) => [n.id, key(n.callFrame)]));
  const byBucket = new Map<string, number>();
  let totalUs = 0;
  profile.samples.forEach((id, i) => {
    const dt = profile.timeDeltas[i] ?? 0;
    totalUs += dt;
    const bucket = nodeBucket.get(id)!;
    byBucket.set(bucket, (byBucket.get(bucket) ?? 0) + dt);
  });
  return { byBucket, totalUs };
}

/** A frame as "function (file)", for --functions, and the bucket of each such name. */
const bucketOfName = new Map<string, string>();
function functionOf(frame: ProfileNode['callFrame']): string {
  const name = `${frame.functionName || '(anonymous)'} ${frame.url.replace(/^.*node_modules\//, '').replace(/^file:\/\/.*\/(src|bench)\//, '$1/')}`;
  bucketOfName.set(name, bucketOf(frame));
  return name;
}

const dir = mkdtempSync(path.join(tmpdir(), 'hetxl-cpu-prof-'));
const payload = await multipartBody(readFileSync(args.image!));
const server = await startServer({ MODELS_DIR: 'models', INFERENCE_WORKERS: args.workers!, LOG_LEVEL: args['log-level']! }, 60_000, ['--cpu-prof', '--cpu-prof-dir', dir]);
const url = `${server.base}/v1/models/${args.model}/classify?${args.query}`;
const options = { url, method: 'POST' as const, body: payload.body, headers: { 'content-type': payload.contentType }, connections: Number(args.connections) };
let requests = 0;
let cpuSeconds = 0;
try {
  await autocannon({ ...options, duration: 2 });
  const before = treeCpuSeconds(server.child.pid!);
  const result = await autocannon({ ...options, duration: Number(args.duration) });
  cpuSeconds = treeCpuSeconds(server.child.pid!) - before;
  requests = result.requests.total;
  console.log(`# ${args.query}, c=${args.connections}, INFERENCE_WORKERS=${args.workers}: ${result.requests.average.toFixed(0)} req/s, p50 ${result.latency.p50} ms, ` +
    `CPU ${((cpuSeconds * 1e3) / requests).toFixed(2)} ms/request (process, all threads, measured part only); ${cpus().length} x ${cpus()[0]?.model}, load ${loadavg()[0].toFixed(2)}`);
} finally {
  await stopServer(server.child);
}
// The profiles span start-up and warm-up too: per request is over every request the server answered.
const total = requests + Math.round((requests * 2) / Number(args.duration));
console.log(`# profiles cover start-up, warm-up and the measured run: about ${total} requests; microseconds per request below are over that count\n`);
for (const file of readdirSync(dir).filter((f) => f.endsWith('.cpuprofile')).sort()) {
  const profile = JSON.parse(readFileSync(path.join(dir, file), 'utf8')) as Profile;
  const { byBucket, totalUs } = selfTimes(profile);
  const busyUs = totalUs - (byBucket.get('(idle)') ?? 0);
  console.log(`## ${file}: ${(totalUs / 1e6).toFixed(1)} s profiled, ${(busyUs / 1e6).toFixed(1)} s busy (${((busyUs / total)).toFixed(0)} us per request)`);
  console.log('| part | us / request | % of the thread |');
  console.log('|---|---|---|');
  const rows = [...byBucket].sort((a, b) => b[1] - a[1]).slice(0, Number(args.top));
  for (const [bucket, us] of rows) console.log(`| ${bucket} | ${(us / total).toFixed(0)} | ${((100 * us) / totalUs).toFixed(1)} |`);
  console.log('');
  if (Number(args.functions) > 0 && busyUs / total > 300) {
    const functions = [...selfTimes(profile, functionOf).byBucket].sort((a, b) => b[1] - a[1]).slice(0, Number(args.functions));
    for (const [name, us] of functions) console.log(`    ${(us / total).toFixed(0).padStart(5)} us  ${name}  [${bucketOfName.get(name)}]`);
    console.log('');
  }
}
rmSync(dir, { recursive: true, force: true });
