// The head runner: ORT sessions for one head's graphs (built once, at creation), mean mode, and
// the MC predictive through the one chunked loop of src/mc/loop.ts.
import { createSession, floatTensor, type EngineOptions, type ExecutionProvider, type Session, type Tensor } from '../engine/session.ts';
import type { HeadWeights } from '../format/head-params.ts';
import type { HeadSpec, Link } from '../format/manifest.ts';
import { DEFAULT_MEMORY_BUDGET_BYTES, maxSamplesPerChunk, planChunks, type Chunk } from '../mc/chunking.ts';
import { runMc, runSigmoidMc, type McShape, type RunChunk } from '../mc/loop.ts';
import { ARGMAX, BINARY_ENTROPY_SUM, ENTROPY, EPS_D, EPS_R, SHIFT } from '../mc/sample-graph.ts';
import type { McOptions, McResult, SigmoidMcResult } from '../mc/types.ts';
import { NoiseCache } from '../noise/cache.ts';
import { ESTIMATORS } from '../noise/estimator.ts';
import { buildHeadGraphs } from './graphs.ts';
import { CENTER, LOC, PHI, type HeadGraphs } from './graph-io.ts';
import type { HeadRunner } from './types.ts';

export interface HeadRunnerOptions {
  /** Bound on the sample graph's working memory; sets the chunk size (default 512 MB). */
  memoryBudgetBytes?: number;
  /** Bound on the cached noise blocks (default 64 MB; 0 disables the cache). */
  noiseCacheBytes?: number;
}

const DEFAULT_NOISE_CACHE_BYTES = 64 * 1024 * 1024;

type Feeds = Record<string, Tensor>;
type HeadMetadata = Pick<HeadGraphs, 'type' | 'link' | 'D' | 'K' | 'R' | 'noiseWidth' | 'diagonalWidth' | 'centerWidth' | 'centerFromScaleModel' | 'scaleTensors'>;

export class OrtHeadRunner implements HeadRunner {
  private constructor(
    private readonly graphs: HeadMetadata,
    private readonly memoryBudgetBytes: number,
    private readonly noise: NoiseCache,
    private readonly centerSession: Session | undefined,
    private readonly scaleSession: Session | undefined,
    private readonly sampleSession: Session,
    /**
     * DET and HET-XL: phi -> the noise-free logits (HET takes them from its center session); for
     * HET-XL with shared diagonal noise also the center of mean mode.
     */
    private readonly locSession: Session | undefined,
    /** HET-XL with shared diagonal noise: loc -> mean mode's reductions (HeadGraphs.meanModel). */
    private readonly meanSession: Session | undefined,
  ) {}

  static async create(spec: HeadSpec, weights: HeadWeights, engine: EngineOptions, options: HeadRunnerOptions = {}): Promise<OrtHeadRunner> {
    const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    if (!(budget > 0)) throw new RangeError(`memoryBudgetBytes must be positive, got ${budget}`);
    const graphs = buildHeadGraphs(spec, weights);
    const center = graphs.centerModel && (await createSession(graphs.centerModel, engine));
    const scale = graphs.scaleModel && (await createSession(graphs.scaleModel, engine));
    const sample = await createSession(graphs.sampleModel, engine, { spinning: true });
    const loc = graphs.locModel && (await createSession(graphs.locModel, engine));
    const mean = graphs.meanModel && (await createSession(graphs.meanModel, engine));
    // Keep only the metadata: the model bytes and the weights (W alone can be 121 MB at JFT
    // scale) are garbage once the sessions exist.
    const { type, link, D, K, R, noiseWidth, diagonalWidth, centerWidth, centerFromScaleModel, scaleTensors } = graphs;
    const noise = new NoiseCache(options.noiseCacheBytes ?? DEFAULT_NOISE_CACHE_BYTES);
    const metadata = { type, link, D, K, R, noiseWidth, diagonalWidth, centerWidth, centerFromScaleModel, scaleTensors };
    return new OrtHeadRunner(metadata, budget, noise, center, scale, sample, loc, mean);
  }

  /** The execution provider the sessions run on. */
  get provider(): ExecutionProvider {
    return this.sampleSession.provider;
  }

  /** The chunks mc() splits S samples into for a batch of this size. */
  chunksFor(samples: number, batch: number): Chunk[] {
    return planChunks(samples, this.samplesPerChunk(batch));
  }

  async mean(phi: Float32Array, batch: number): Promise<Float32Array[]> {
    this.checkPhi(phi, batch);
    const { K } = this.graphs;
    const outputs = this.meanSession
      ? await this.meanSession.run({ [CENTER]: await this.noiseFreeCenter(phi, batch) })
      : await this.sampleSession.run(await this.noiseFreeFeeds(phi, batch));
    // With Sc = 1 the chunk's shift is that one sample's p: softmax((W^T phi + b) / tau), or
    // sigmoid((W^T phi + b) / tau) per class for a sigmoid head.
    const probs = outputs[SHIFT].data as Float32Array;
    return Array.from({ length: batch }, (_, b) => probs.slice(b * K, (b + 1) * K));
  }

  get link(): Link {
    return this.graphs.link;
  }

  /** The noise-free, untempered logits W^T phi + b, one [K] array per image. */
  async logits(phi: Float32Array, batch: number): Promise<Float32Array[]> {
    this.checkPhi(phi, batch);
    const { K } = this.graphs;
    const session = this.centerSession ?? this.locSession!;
    const loc = (await session.run({ [PHI]: floatTensor(phi, [batch, this.graphs.D]) }))[LOC].data as Float32Array;
    return Array.from({ length: batch }, (_, b) => loc.slice(b * K, (b + 1) * K));
  }

  async mc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]> {
    this.requireLink('softmax');
    this.checkPhi(phi, batch);
    checkMcOptions(options);
    // Before any session runs, not only between chunks: at small K all of S is one chunk.
    options.signal?.throwIfAborted();
    if (this.graphs.type === 'det') return this.detMc(phi, batch, options.samples);
    return runMc(this.mcShape(batch), options, this.noise, await this.runChunkFor(phi, batch));
  }

  async sigmoidMc(phi: Float32Array, batch: number, options: McOptions): Promise<SigmoidMcResult[]> {
    this.requireLink('sigmoid');
    this.checkPhi(phi, batch);
    checkMcOptions(options);
    options.signal?.throwIfAborted();
    if (this.graphs.type === 'det') return this.detSigmoidMc(phi, batch);
    return runSigmoidMc(this.mcShape(batch), options, this.noise, await this.runChunkFor(phi, batch));
  }

  async dispose(): Promise<void> {
    for (const session of [this.centerSession, this.scaleSession, this.sampleSession, this.locSession, this.meanSession]) await session?.release();
  }

  private requireLink(link: Link): void {
    if (this.graphs.link !== link) throw new Error(`this head's link is ${this.graphs.link}: use ${this.graphs.link === 'sigmoid' ? 'sigmoidMc' : 'mc'}`);
  }

  private mcShape(batch: number): McShape {
    const { K, R, noiseWidth, diagonalWidth } = this.graphs;
    return { batch, K, R, noiseWidth, diagonalWidth, samplesPerChunk: this.samplesPerChunk(batch) };
  }

  /** One sample-graph run per chunk, with the per-image feeds computed once. */
  private async runChunkFor(phi: Float32Array, batch: number): Promise<RunChunk> {
    const perImage = await this.perImageFeeds(phi, batch);
    return (noise) => this.sampleSession.run({ ...perImage, ...noise });
  }

  private samplesPerChunk(batch: number): number {
    const { K, noiseWidth, R, link } = this.graphs;
    return maxSamplesPerChunk(this.memoryBudgetBytes, batch, K, noiseWidth, R, link);
  }

  /** DET: every p_s is the same p, so S samples cost one evaluation. */
  private async detMc(phi: Float32Array, batch: number, samples: number): Promise<McResult[]> {
    const { K } = this.graphs;
    const outputs = await this.sampleSession.run(await this.noiseFreeFeeds(phi, batch));
    const probs = outputs[SHIFT].data as Float32Array;
    const entropy = outputs[ENTROPY].data as Float32Array;
    const argmax = outputs[ARGMAX].data as BigInt64Array;
    return Array.from({ length: batch }, (_, b) => ({
      probs: probs.slice(b * K, (b + 1) * K),
      std: new Float32Array(K),
      expectedEntropy: entropy[b],
      sampleArgmax: new Int32Array(samples).fill(Number(argmax[b])),
    }));
  }

  /** DET, sigmoid link: every q_s is the same q, so the std is 0 and E[h(q_s)] = h(q). */
  private async detSigmoidMc(phi: Float32Array, batch: number): Promise<SigmoidMcResult[]> {
    const { K } = this.graphs;
    const outputs = await this.sampleSession.run(await this.noiseFreeFeeds(phi, batch));
    const probs = outputs[SHIFT].data as Float32Array;
    const binaryEntropy = outputs[BINARY_ENTROPY_SUM].data as Float32Array;
    return Array.from({ length: batch }, (_, b) => ({
      probs: probs.slice(b * K, (b + 1) * K),
      std: new Float32Array(K),
      expectedBinaryEntropy: Float64Array.from(binaryEntropy.subarray(b * K, (b + 1) * K)),
    }));
  }

  /**
   * The sample graph's center (phi; loc for HET; the scale graph's center for HET-XL with shared
   * diagonal noise) and the per-image noise scales.
   */
  private async perImageFeeds(phi: Float32Array, batch: number): Promise<Feeds> {
    const feeds: Feeds = {};
    if (!this.graphs.centerFromScaleModel) feeds[CENTER] = await this.noiseFreeCenter(phi, batch);
    if (this.scaleSession) {
      const scales = await this.scaleSession.run({ [PHI]: floatTensor(phi, [batch, this.graphs.D]) });
      for (const { name } of this.graphs.scaleTensors) feeds[name] = scales[name];
      if (this.graphs.centerFromScaleModel) feeds[CENTER] = scales[CENTER];
    }
    return feeds;
  }

  /** Feeds that switch the noise off exactly: zero scales, zero eps, one sample. */
  private async noiseFreeFeeds(phi: Float32Array, batch: number): Promise<Feeds> {
    const { R, diagonalWidth } = this.graphs;
    const feeds: Feeds = { [CENTER]: await this.noiseFreeCenter(phi, batch) };
    if (this.graphs.type === 'det') return feeds;
    for (const { name, dims } of this.graphs.scaleTensors) {
      const size = dims.reduce((a, b) => a * b, batch);
      feeds[name] = floatTensor(new Float32Array(size), [batch, ...dims]);
    }
    if (R > 0) feeds[EPS_R] = floatTensor(new Float32Array(R), [1, R]);
    feeds[EPS_D] = floatTensor(new Float32Array(diagonalWidth), [1, diagonalWidth]);
    return feeds;
  }

  /** The sample graph's center with the noise off: phi, or loc (HET; HET-XL with shared diagonal noise). */
  private async noiseFreeCenter(phi: Float32Array, batch: number): Promise<Tensor> {
    const phiTensor = floatTensor(phi, [batch, this.graphs.D]);
    const locSession = this.centerSession ?? (this.graphs.centerFromScaleModel ? this.locSession : undefined);
    if (!locSession) return phiTensor;
    return (await locSession.run({ [PHI]: phiTensor }))[LOC];
  }

  private checkPhi(phi: Float32Array, batch: number): void {
    if (!Number.isInteger(batch) || batch < 1) throw new RangeError(`batch must be a positive integer, got ${batch}`);
    if (phi.length !== batch * this.graphs.D) throw new RangeError(`phi holds ${phi.length} values, expected batch * D = ${batch * this.graphs.D}`);
  }
}

function checkMcOptions(options: McOptions): void {
  if (!Number.isInteger(options.samples) || options.samples < 1) throw new RangeError(`samples must be a positive integer, got ${options.samples}`);
  if (!Number.isSafeInteger(options.seed)) throw new RangeError(`seed must be a safe integer, got ${options.seed}`);
  if (options.estimator !== undefined && !ESTIMATORS.includes(options.estimator)) throw new RangeError(`estimator must be one of ${ESTIMATORS.join(', ')}, got ${options.estimator}`);
}

/** Builds the head's graphs from its weights and opens their ORT sessions. */
export function createHeadRunner(spec: HeadSpec, weights: HeadWeights, engine: EngineOptions, options: HeadRunnerOptions = {}): Promise<OrtHeadRunner> {
  return OrtHeadRunner.create(spec, weights, engine, options);
}
