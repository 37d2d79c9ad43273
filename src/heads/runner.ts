// The head runner: ORT sessions for one head's graphs (built once, at creation) and the MC loop
// that feeds them chunks of seeded noise and accumulates the per-chunk reductions.
import { createSession, floatTensor, type EngineOptions, type ExecutionProvider, type Session, type Tensor } from '../engine/session.ts';
import { NoiseCache } from '../noise/cache.ts';
import { ESTIMATORS } from '../noise/estimator.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../noise/normal.ts';
import type { HeadSpec } from '../format/manifest.ts';
import { chunkReductions, McAccumulator } from '../mc/accumulator.ts';
import { DEFAULT_MEMORY_BUDGET_BYTES, maxSamplesPerChunk, planChunks, type Chunk } from '../mc/chunking.ts';
import { buildHeadGraphs } from './graphs.ts';
import { ARGMAX, CENTER, ENTROPY, EPS_D, EPS_R, LOC, LOGITS, PHI, SHIFT, type HeadGraphs } from './graph-io.ts';
import type { HeadRunner, HeadWeights, McOptions, McResult } from './types.ts';

export interface HeadRunnerOptions {
  /** Bound on the sample graph's working memory; sets the chunk size (default 512 MB). */
  memoryBudgetBytes?: number;
  /** Bound on the cached noise blocks (default 64 MB; 0 disables the cache). */
  noiseCacheBytes?: number;
  /**
   * Keep a reference to the weights so that the diagnostic sampleLogits() can build its graph
   * on first use (default true). Pass false to let the weights be garbage-collected once the
   * sessions exist (at JFT scale W is 121 MB); sampleLogits() then throws.
   */
  keepWeightsForDiagnostics?: boolean;
}

const DEFAULT_NOISE_CACHE_BYTES = 64 * 1024 * 1024;

type Feeds = Record<string, Tensor>;
type HeadMetadata = Pick<HeadGraphs, 'type' | 'D' | 'K' | 'R' | 'noiseWidth' | 'centerWidth' | 'scaleTensors'>;

export class OrtHeadRunner implements HeadRunner {
  private logitsSession: Promise<Session> | undefined;

  private constructor(
    private readonly graphs: HeadMetadata,
    private readonly buildLogitsModel: (() => Uint8Array) | undefined,
    private readonly engine: EngineOptions,
    private readonly memoryBudgetBytes: number,
    private readonly noise: NoiseCache,
    private readonly centerSession: Session | undefined,
    private readonly scaleSession: Session | undefined,
    private readonly sampleSession: Session,
  ) {}

  static async create(spec: HeadSpec, weights: HeadWeights, engine: EngineOptions, options: HeadRunnerOptions = {}): Promise<OrtHeadRunner> {
    const budget = options.memoryBudgetBytes ?? DEFAULT_MEMORY_BUDGET_BYTES;
    if (!(budget > 0)) throw new RangeError(`memoryBudgetBytes must be positive, got ${budget}`);
    const graphs = buildHeadGraphs(spec, weights);
    const center = graphs.centerModel && (await createSession(graphs.centerModel, engine));
    const scale = graphs.scaleModel && (await createSession(graphs.scaleModel, engine));
    const sample = await createSession(graphs.sampleModel, engine, { spinning: true });
    // Keep only the metadata: the model bytes (W alone can be 121 MB) are garbage once the
    // sessions exist, and the weights too unless sampleLogits() may need them.
    const { type, D, K, R, noiseWidth, centerWidth, scaleTensors } = graphs;
    const buildLogits = options.keepWeightsForDiagnostics === false ? undefined : graphs.buildLogitsModel;
    const noise = new NoiseCache(options.noiseCacheBytes ?? DEFAULT_NOISE_CACHE_BYTES);
    return new OrtHeadRunner({ type, D, K, R, noiseWidth, centerWidth, scaleTensors }, buildLogits, engine, budget, noise, center, scale, sample);
  }

  /** The execution provider the sessions run on. */
  get provider(): ExecutionProvider {
    return this.sampleSession.provider;
  }

  /** The chunks mc() splits S samples into for a batch of this size. */
  chunksFor(samples: number, batch: number): Chunk[] {
    const { K, noiseWidth, R } = this.graphs;
    return planChunks(samples, maxSamplesPerChunk(this.memoryBudgetBytes, batch, K, noiseWidth, R));
  }

  async mean(phi: Float32Array, batch: number): Promise<Float32Array[]> {
    this.checkPhi(phi, batch);
    const { K } = this.graphs;
    const outputs = await this.sampleSession.run(await this.noiseFreeFeeds(phi, batch));
    // With Sc = 1 the chunk's shift is that one sample's p: softmax((W^T phi + b) / tau).
    const probs = outputs[SHIFT].data as Float32Array;
    return Array.from({ length: batch }, (_, b) => probs.slice(b * K, (b + 1) * K));
  }

  async mc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]> {
    this.checkPhi(phi, batch);
    checkMcOptions(options);
    const { samples } = options;
    // Before any session runs, not only between chunks: at small K all of S is one chunk.
    options.signal?.throwIfAborted();
    if (this.graphs.type === 'det') return this.detMc(phi, batch, samples);

    const perImage = await this.perImageFeeds(phi, batch);
    const accumulator = new McAccumulator(batch, this.graphs.K, samples);
    for (const chunk of this.chunksFor(samples, batch)) {
      options.signal?.throwIfAborted();
      const outputs = await this.sampleSession.run({ ...perImage, ...this.noiseFeeds(options, chunk) });
      accumulator.addChunk(chunk.start, chunk.count, chunkReductions(outputs));
    }
    return accumulator.results();
  }

  async sampleLogits(phi: Float32Array, batch: number, options: McOptions): Promise<Float32Array> {
    this.checkPhi(phi, batch);
    checkMcOptions(options);
    const { K } = this.graphs;
    const { samples } = options;
    const buildLogitsModel = this.buildLogitsModel;
    if (!buildLogitsModel) throw new Error('sampleLogits() needs a runner created with keepWeightsForDiagnostics');
    this.logitsSession ??= createSession(buildLogitsModel(), this.engine);
    const session = await this.logitsSession;
    const out = new Float32Array(batch * samples * K);
    if (this.graphs.type === 'det') {
      // No noise: every sample's logits are W^T phi + b.
      const u = (await session.run(await this.noiseFreeFeeds(phi, batch)))[LOGITS].data as Float32Array;
      for (let b = 0; b < batch; b++) {
        for (let s = 0; s < samples; s++) out.set(u.subarray(b * K, (b + 1) * K), (b * samples + s) * K);
      }
      return out;
    }
    const perImage = await this.perImageFeeds(phi, batch);
    for (const chunk of this.chunksFor(samples, batch)) {
      const u = (await session.run({ ...perImage, ...this.noiseFeeds(options, chunk) }))[LOGITS].data as Float32Array;
      for (let b = 0; b < batch; b++) {
        out.set(u.subarray(b * chunk.count * K, (b + 1) * chunk.count * K), (b * samples + chunk.start) * K);
      }
    }
    return out;
  }

  async dispose(): Promise<void> {
    const sessions = [this.centerSession, this.scaleSession, this.sampleSession];
    if (this.logitsSession) sessions.push(await this.logitsSession);
    this.logitsSession = undefined;
    for (const session of sessions) await session?.release();
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

  /** The sample graph's center (phi, or loc for HET) and the per-image noise scales. */
  private async perImageFeeds(phi: Float32Array, batch: number): Promise<Feeds> {
    const feeds: Feeds = { [CENTER]: await this.centerTensor(phi, batch) };
    if (this.scaleSession) {
      const scales = await this.scaleSession.run({ [PHI]: floatTensor(phi, [batch, this.graphs.D]) });
      for (const { name } of this.graphs.scaleTensors) feeds[name] = scales[name];
    }
    return feeds;
  }

  /** Feeds that switch the noise off exactly: zero scales, zero eps, one sample. */
  private async noiseFreeFeeds(phi: Float32Array, batch: number): Promise<Feeds> {
    const { R, noiseWidth } = this.graphs;
    const feeds: Feeds = { [CENTER]: await this.centerTensor(phi, batch) };
    if (this.graphs.type === 'det') return feeds;
    for (const { name, dims } of this.graphs.scaleTensors) {
      const size = dims.reduce((a, b) => a * b, batch);
      feeds[name] = floatTensor(new Float32Array(size), [batch, ...dims]);
    }
    feeds[EPS_R] = floatTensor(new Float32Array(R), [1, R]);
    feeds[EPS_D] = floatTensor(new Float32Array(noiseWidth), [1, noiseWidth]);
    return feeds;
  }

  private async centerTensor(phi: Float32Array, batch: number): Promise<Tensor> {
    const phiTensor = floatTensor(phi, [batch, this.graphs.D]);
    if (!this.centerSession) return phiTensor;
    return (await this.centerSession.run({ [PHI]: phiTensor }))[LOC];
  }

  /** eps_R [Sc, R] (stream 0) and eps_D [Sc, N] (stream 1) for one chunk: shared by the batch. */
  private noiseFeeds({ seed, estimator = 'plain' }: McOptions, chunk: Chunk): Feeds {
    const { R, noiseWidth } = this.graphs;
    return {
      [EPS_R]: floatTensor(this.noise.rows(seed, STREAM_FACTOR, chunk.start, chunk.count, R, estimator), [chunk.count, R]),
      [EPS_D]: floatTensor(this.noise.rows(seed, STREAM_DIAGONAL, chunk.start, chunk.count, noiseWidth, estimator), [chunk.count, noiseWidth]),
    };
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
