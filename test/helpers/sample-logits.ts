// Test diagnostic: the sampled logits u_s of a head, untempered (before the division by tau),
// with the noise the MC loop uses for the same options: [batch, S, K] row-major. Built from the
// heads' own logits-mode sample graph (HeadGraphs.buildLogitsModel) outside the production
// runner, for tests of the implied mean and covariance; it materialises S x K values per image.
import { createSession, floatTensor, type EngineOptions, type Tensor } from '../../src/engine/session.ts';
import type { HeadWeights } from '../../src/format/head-params.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { buildHeadGraphs } from '../../src/heads/graphs.ts';
import { CENTER, LOC, LOGITS, PHI } from '../../src/heads/graph-io.ts';
import { planChunks } from '../../src/mc/chunking.ts';
import { chunkNoise } from '../../src/mc/loop.ts';
import type { McOptions } from '../../src/mc/types.ts';
import { NoiseCache } from '../../src/noise/cache.ts';

const ENGINE: EngineOptions = { provider: 'cpu', threads: 1 };
const SAMPLES_PER_CHUNK = 1000;

export async function sampleLogits(spec: HeadSpec, weights: HeadWeights, phi: Float32Array, batch: number, options: McOptions): Promise<Float32Array> {
  const graphs = buildHeadGraphs(spec, weights);
  const { D, K, R, diagonalWidth } = graphs;
  const sessions = await Promise.all(
    [graphs.centerModel, graphs.scaleModel, graphs.buildLogitsModel()].map((model) => (model ? createSession(model, ENGINE) : undefined)),
  );
  const [center, scale, logits] = sessions;
  try {
    const phiTensor = floatTensor(phi, [batch, D]);
    const feeds: Record<string, Tensor> = { [CENTER]: center ? (await center.run({ [PHI]: phiTensor }))[LOC] : phiTensor };
    const out = new Float32Array(batch * options.samples * K);
    if (spec.type === 'det') {
      // No noise: every sample's logits are W^T phi + b.
      const u = (await logits!.run(feeds))[LOGITS].data as Float32Array;
      for (let b = 0; b < batch; b++) for (let s = 0; s < options.samples; s++) out.set(u.subarray(b * K, (b + 1) * K), (b * options.samples + s) * K);
      return out;
    }
    const scales = await scale!.run({ [PHI]: phiTensor });
    for (const { name } of graphs.scaleTensors) feeds[name] = scales[name];
    // HET-XL with shared diagonal noise samples in logit space around the scale graph's center.
    if (graphs.centerFromScaleModel) feeds[CENTER] = scales[CENTER];
    const noise = new NoiseCache(0);
    for (const chunk of planChunks(options.samples, SAMPLES_PER_CHUNK)) {
      const eps = chunkNoise(noise, options, chunk, R, diagonalWidth);
      const u = (await logits!.run({ ...feeds, ...eps }))[LOGITS].data as Float32Array;
      for (let b = 0; b < batch; b++) out.set(u.subarray(b * chunk.count * K, (b + 1) * chunk.count * K), (b * options.samples + chunk.start) * K);
    }
    return out;
  } finally {
    for (const session of sessions) await session?.release();
  }
}
