// npx tsx bench/profile-nodes.ts [checkpoint dir] [samples per chunk]
// ORT's own per-node times for one HET-XL sample graph at one chunk shape (batch 1): where the
// time beyond the big product goes. Default checkpoint: the one `npm run bench` generates.
import ort from 'onnxruntime-node';
import { readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../src/format/checkpoint.ts';
import { buildHeadGraphs } from '../src/heads/graphs.ts';
import { CENTER } from '../src/heads/graph-io.ts';
import { EPS_D, EPS_R, layoutFeeds } from '../src/mc/sample-graph.ts';
import { normalRows, STREAM_DIAGONAL, STREAM_FACTOR } from '../src/noise/normal.ts';

const dir = process.argv[2] ?? path.join(tmpdir(), 'hetxl-bench', 'het-xl-k29593-d1024-r50');
const Sc = Number(process.argv[3] ?? 500);
const RUNS = 6;
const WARM_UP = 2;
const checkpoint = await loadCheckpoint(dir);
const { D, R } = checkpoint.manifest.head;
const graphs = buildHeadGraphs(checkpoint.manifest.head, checkpoint.weights);
const profileDir = path.join(tmpdir(), `hetxl-ort-profile-${process.pid}`);
const session = await ort.InferenceSession.create(graphs.sampleModel, {
  executionProviders: ['cpu'],
  interOpNumThreads: 1,
  graphOptimizationLevel: 'all',
  enableProfiling: true,
  profileFilePrefix: profileDir,
});
const feeds: Record<string, ort.Tensor> = {
  [CENTER]: new ort.Tensor('float32', Float32Array.from({ length: D }, (_, i) => Math.tanh(Math.sin(i))), [1, D]),
  [EPS_R]: new ort.Tensor('float32', normalRows(1, STREAM_FACTOR, 0, Sc, R!), [Sc, R!]),
  [EPS_D]: new ort.Tensor('float32', normalRows(1, STREAM_DIAGONAL, 0, Sc, D), [Sc, D]),
  ...layoutFeeds(),
};
for (const { name, dims } of graphs.scaleTensors) feeds[name] = new ort.Tensor('float32', new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(0.2), [1, ...dims]);
for (let i = 0; i < RUNS; i++) await session.run(feeds);
session.endProfiling();

const file = readdirSync(tmpdir()).find((f) => f.startsWith(path.basename(profileDir)))!;
const events = JSON.parse(readFileSync(path.join(tmpdir(), file), 'utf8')) as { name: string; dur: number; cat: string; args?: { op_name?: string } }[];
rmSync(path.join(tmpdir(), file));
const perNode = new Map<string, number[]>();
for (const e of events) {
  if (e.cat !== 'Node' || !e.name.endsWith('_kernel_time')) continue;
  const key = `${e.args?.op_name} ${e.name.replace('_kernel_time', '')}`;
  (perNode.get(key) ?? perNode.set(key, []).get(key)!).push(e.dur / 1000);
}
const rows = [...perNode].map(([k, v]) => [k, v.slice(WARM_UP).reduce((a, b) => a + b, 0) / (v.length - WARM_UP)] as const).sort((a, b) => b[1] - a[1]);
console.log(`chunk of ${Sc} samples, mean over runs ${WARM_UP + 1}..${RUNS}, ms:`);
for (const [k, ms] of rows) if (ms >= 0.1) console.log(ms.toFixed(2).padStart(8), k);
console.log(`${rows.reduce((a, r) => a + r[1], 0).toFixed(1).padStart(8)} all nodes`);
