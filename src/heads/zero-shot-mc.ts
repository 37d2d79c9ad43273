// The zero-shot MC predictive on ONNX Runtime: the HET-XL noise on the image embedding, the
// normalisation, the product with the request's label embeddings, and the per-chunk reductions,
// in two graphs built once at load from the noise weights. The label embeddings are an input of
// the sample graph (they change per request), which is the one difference from the classifier's
// HET-XL sample graph; the noise and the reductions are the same graph pieces (src/heads/).
//
// Why not JS: at CLIP scale (E = 512, K = 1000 labels, S = 1000) the S x K x E product is 0.5 G
// multiply-adds per image: ~1.5 s in a plain JS loop, milliseconds in ORT's GEMM
// (docs/performance.md). Samples are processed in chunks under the head's memory budget and
// merged in float64 by the one MC loop (src/mc/loop.ts), as for the classifier heads.
import { GraphBuilder } from '../engine/graph.ts';
import { createSession, floatTensor, type EngineOptions, type Session } from '../engine/session.ts';
import type { HeadWeights } from '../format/head-params.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { maxSamplesPerChunk } from '../mc/chunking.ts';
import { runMc } from '../mc/loop.ts';
import { addSampleReductions, BATCH } from '../mc/sample-graph.ts';
import type { McOptions, McResult } from '../mc/types.ts';
import { NoiseCache } from '../noise/cache.ts';
import { normaliseInPlace } from '../text/unit-norm.ts';
import { addSampledNoise, addScaleGraph } from './graph-parts.ts';
import { PHI, SCALE_D, SCALE_V } from './graph-io.ts';
import type { ImageNormalisation } from './zero-shot-mean.ts';

/** The sample graph's input of label embeddings, [E, K] (K = the request's labels). */
const TEXTS = 'texts';
const LABELS = 'labels';
const NOISE_CACHE_BYTES = 16 * 1024 * 1024;

export interface ZeroShotMcHeadOptions {
  /** Embedding width E, factors R, tau and minScale of the manifest. */
  dim: number;
  factors: number;
  tau: number;
  minScale: number;
  imageNormalisation: ImageNormalisation;
  memoryBudgetBytes: number;
}

/** Graph-builder view of the zero-shot noise: a parameter-efficient HET-XL head with D = E. */
function noiseSpec(o: ZeroShotMcHeadOptions): HeadSpec {
  return { type: 'het-xl', covariance: 'param-efficient', D: o.dim, K: 1, R: o.factors, tau: o.tau, minScale: o.minScale };
}

/** phi [B, E] (z, or z / |z| before-noise), scales, eps, texts [E, K] -> reductions of softmax(<u_s, t_k> / tau). */
function buildSampleGraph(o: ZeroShotMcHeadOptions, weights: HeadWeights): Uint8Array {
  const g = new GraphBuilder('zero_shot_sample');
  const E = o.dim;
  const phi = g.input(PHI, [BATCH, E]);
  const noise = addSampledNoise(g, noiseSpec(o), weights, E, o.factors, 1); // [B, Sc, E]
  let u = g.op('Add', [g.op('Unsqueeze', [phi, g.ints([1])]), noise]);
  if (o.imageNormalisation === 'after-noise') {
    const norm = g.op('Sqrt', [g.op('ReduceSum', [g.op('Mul', [u, u]), g.ints([2])], { keepdims: 1 })]);
    u = g.op('Div', [u, norm]);
  }
  const texts = g.input(TEXTS, [E, LABELS]);
  const tempered = g.op('Mul', [g.op('MatMul', [u, texts]), g.scalar(1 / o.tau, 'inv_tau')]);
  addSampleReductions(g, tempered, LABELS);
  return g.toBytes('hetxl-serve zero-shot MC head');
}

function buildScaleGraph(o: ZeroShotMcHeadOptions, weights: HeadWeights): Uint8Array {
  const g = new GraphBuilder('zero_shot_scale');
  addScaleGraph(g, noiseSpec(o), weights, o.dim, o.factors);
  return g.toBytes('hetxl-serve zero-shot noise scales');
}

export class ZeroShotMcHead {
  private readonly noise = new NoiseCache(NOISE_CACHE_BYTES);

  private constructor(
    private readonly options: ZeroShotMcHeadOptions,
    private readonly scaleSession: Session,
    private readonly sampleSession: Session,
  ) {}

  static async create(options: ZeroShotMcHeadOptions, weights: HeadWeights, engine: EngineOptions): Promise<ZeroShotMcHead> {
    const scale = await createSession(buildScaleGraph(options, weights), engine);
    try {
      return new ZeroShotMcHead(options, scale, await createSession(buildSampleGraph(options, weights), engine, { spinning: true }));
    } catch (error) {
      await scale.release();
      throw error;
    }
  }

  /**
   * The MC predictive for a batch of image embeddings z [B, E] over unit label embeddings
   * texts [K, E] (both row-major). The noise block of each chunk is shared by the batch.
   */
  async mc(z: Float32Array, batch: number, texts: Float32Array, options: McOptions): Promise<McResult[]> {
    const { dim: E, factors: R, imageNormalisation, memoryBudgetBytes } = this.options;
    const K = texts.length / E;
    const phi = imageNormalisation === 'before-noise' ? normaliseRows(z, E) : z;
    const phiTensor = floatTensor(phi, [batch, E]);
    const scales = await this.scaleSession.run({ [PHI]: phiTensor });
    const perRequest = { [PHI]: phiTensor, [SCALE_V]: scales[SCALE_V], [SCALE_D]: scales[SCALE_D], [TEXTS]: floatTensor(transpose(texts, K, E), [E, K]) };
    const shape = { batch, K, R, noiseWidth: E, diagonalWidth: E, samplesPerChunk: maxSamplesPerChunk(memoryBudgetBytes, batch, K, E, R) };
    return runMc(shape, options, this.noise, (noise) => this.sampleSession.run({ ...perRequest, ...noise }));
  }

  async dispose(): Promise<void> {
    await Promise.all([this.scaleSession.release(), this.sampleSession.release()]);
  }
}

/** Row-major [rows, cols] -> [cols, rows]. */
function transpose(m: Float32Array, rows: number, cols: number): Float32Array {
  const out = new Float32Array(m.length);
  for (let r = 0; r < rows; r++) for (let c = 0; c < cols; c++) out[c * rows + r] = m[r * cols + c];
  return out;
}

/** Each row of [B, E] scaled to unit L2 norm. */
function normaliseRows(z: Float32Array, E: number): Float32Array {
  const out = Float32Array.from(z);
  for (let b = 0; b < z.length / E; b++) normaliseInPlace(out.subarray(b * E, (b + 1) * E));
  return out;
}
