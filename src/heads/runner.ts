// The head runner: ORT sessions for one head's graphs (built once, at creation), mean mode, and
// the MC predictive through the one chunked loop of src/mc/loop.ts.
import { createSession, floatTensor, int64Tensor, type EngineOptions, type ExecutionProvider, type Session, type Tensor } from '../engine/session.ts';
import type { HeadWeights } from '../format/head-params.ts';
import type { HeadSpec, Link } from '../format/manifest.ts';
import { DEFAULT_MEMORY_BUDGET_BYTES, maxSamplesPerChunk, planChunks, type Chunk } from '../mc/chunking.ts';
import { runMc, runSigmoidMc, type McShape, type RunChunk } from '../mc/loop.ts';
import { ARGMAX, BINARY_ENTROPY_SUM, ENTROPY, EPS_D, EPS_R, layoutFeeds, SHIFT } from '../mc/sample-graph.ts';
import type { McOptions, McResult, SigmoidMcResult } from '../mc/types.ts';
import { NoiseCache } from '../noise/cache.ts';
import { ESTIMATORS } from '../noise/estimator.ts';
import { buildHeadGraphs } from './graphs.ts';
import { CENTER, LOADINGS, LOC, PHI, type HeadGraphs } from './graph-io.ts';
import { marginalsFromFeeds, marginalsFromOutputs, marginalsPlan, type LogitMarginals, type MarginalsPlan } from './marginals.ts';
import { buildCandidateSampleModel, CANDIDATE_FRACTION, CANDIDATES, gatherColumns, selectCandidates, type CandidateMcResult } from './candidates.ts';
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
    /** How marginals() gets the logits' marginals (absent for DET), and its session for HET-XL with independent diagonal noise. */
    private readonly marginalSource: Exclude<MarginalsPlan, { kind: 'graph' }> | { kind: 'graph' } | undefined,
    private readonly marginalsSession: Session | undefined,
    /** Softmax HET-XL: the sample graph over candidate classes (estimator=candidates). */
    private readonly candidateSession: Session | undefined,
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
    const plan = graphs.type === 'det' ? undefined : marginalsPlan(spec, weights);
    const marginals = plan?.kind === 'graph' ? await createSession(plan.model, engine) : undefined;
    const candidates = graphs.type === 'het-xl' && graphs.link === 'softmax' ? await createSession(buildCandidateSampleModel(spec, weights), engine, { spinning: true }) : undefined;
    // Keep only the metadata: the model bytes and the weights (W alone can be 121 MB at JFT
    // scale) are garbage once the sessions exist.
    const { type, link, D, K, R, noiseWidth, diagonalWidth, centerWidth, centerFromScaleModel, scaleTensors } = graphs;
    const noise = new NoiseCache(options.noiseCacheBytes ?? DEFAULT_NOISE_CACHE_BYTES);
    const metadata = { type, link, D, K, R, noiseWidth, diagonalWidth, centerWidth, centerFromScaleModel, scaleTensors };
    // The marginals graph's bytes are garbage once its session exists, like the other graphs'.
    const kept = plan?.kind === 'graph' ? { kind: 'graph' as const } : plan;
    return new OrtHeadRunner(metadata, budget, noise, center, scale, sample, loc, mean, kept, marginals, candidates);
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
      ? await this.meanSession.run({ [CENTER]: await this.noiseFreeCenter(phi, batch), ...layoutFeeds() })
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

  /**
   * Per image, the Gaussian marginals of the tempered logits u_k / tau (src/heads/marginals.ts):
   * O(K D R), no samples. DET has none (no noise).
   */
  async marginals(phi: Float32Array, batch: number, signal?: AbortSignal): Promise<LogitMarginals[]> {
    this.checkPhi(phi, batch);
    signal?.throwIfAborted();
    const plan = this.marginalSource;
    if (!plan) throw new Error('a det head has no noise, so no logit marginals');
    if (plan.kind === 'graph') return marginalsFromOutputs(await this.marginalsSession!.run({ [PHI]: floatTensor(phi, [batch, this.graphs.D]) }), this.graphs.K, batch);
    return marginalsFromFeeds(plan, await this.perImageFeeds(phi, batch), batch);
  }

  /**
   * estimator=control (src/mc/control.ts), softmax HET and HET-XL heads: antithetic MC corrected
   * per class by lognormal control variates of known mean from the logits' marginals,
   * exp(t_k - a_k) and (HET-XL) exp(t_k - t_top - b_k); a precision target applies to the
   * corrected estimate's own standard errors.
   */
  async controlMc(phi: Float32Array, batch: number, options: McOptions): Promise<McResult[]> {
    this.requireLink('softmax');
    this.checkPhi(phi, batch);
    checkMcOptions(options);
    options.signal?.throwIfAborted();
    // The marginals carry the differences to the top class: the second control variate's (HET-XL; HET has none).
    const { feeds, marginals } = await this.feedsAndMarginals(phi, batch, options.signal);
    return runMc(this.mcShape(batch), { ...options, estimator: 'antithetic' }, this.noise, (noise) => this.sampleSession.run({ ...feeds, ...noise }), marginals);
  }

  /**
   * estimator=candidates (src/heads/candidates.ts), softmax HET-XL heads: per image, the candidate
   * set whose bound on E[TV] is at most `tolerance`, and the MC predictive over it from plain MC's
   * noise; or, when the set holds more than CANDIDATE_FRACTION of K, the full product (fallback).
   */
  async candidatesMc(phi: Float32Array, batch: number, options: McOptions, tolerance: number): Promise<CandidateMcResult[]> {
    this.requireLink('softmax');
    this.checkPhi(phi, batch);
    checkMcOptions(options);
    if (!(tolerance > 0 && tolerance < 1)) throw new RangeError(`tolerance must be in (0, 1), got ${tolerance}`);
    if (!this.candidateSession) throw new Error(`estimator candidates needs a HET-XL head, this one is ${this.graphs.type}`);
    options.signal?.throwIfAborted();
    const plain: McOptions = { ...options, estimator: 'plain' };
    const { feeds, marginals } = await this.feedsAndMarginals(phi, batch, options.signal);
    const results: CandidateMcResult[] = [];
    for (let b = 0; b < batch; b++) {
      const image = imageFeeds(feeds, b);
      const { classes, bound } = selectCandidates(marginals[b], tolerance);
      if (classes.length > CANDIDATE_FRACTION * this.graphs.K) {
        const [result] = await runMc(this.mcShape(1), plain, this.noise, (noise) => this.sampleSession.run({ ...image, ...noise }));
        results.push({ result, bound: 0, fallback: true });
        continue;
      }
      const m = classes.length;
      const { R, noiseWidth, diagonalWidth } = this.graphs;
      const candidateFeeds: Feeds = { ...image };
      if (this.graphs.centerFromScaleModel) {
        // Shared diagonal noise: the candidates' columns of the MC center and of the loadings.
        candidateFeeds[CENTER] = floatTensor(gatherColumns(feeds[CENTER].data as Float32Array, b, 1, this.graphs.K, classes), [1, m]);
        candidateFeeds[LOADINGS] = floatTensor(gatherColumns(feeds[LOADINGS].data as Float32Array, b, R + 1, this.graphs.K, classes), [1, R + 1, m]);
      } else {
        candidateFeeds[CANDIDATES] = int64Tensor(BigInt64Array.from(classes, (k) => BigInt(k)), [m]);
      }
      const shape: McShape = { batch: 1, K: m, R, noiseWidth, diagonalWidth, samplesPerChunk: maxSamplesPerChunk(this.memoryBudgetBytes, 1, m, noiseWidth, R) };
      const [result] = await runMc(shape, plain, this.noise, (noise) => this.candidateSession!.run({ ...candidateFeeds, ...noise }));
      results.push({ result, classes, bound, fallback: false });
    }
    return results;
  }

  async dispose(): Promise<void> {
    for (const session of [this.centerSession, this.scaleSession, this.sampleSession, this.locSession, this.meanSession, this.marginalsSession, this.candidateSession]) await session?.release();
  }

  private requireLink(link: Link): void {
    if (this.graphs.link !== link) throw new Error(`this head's link is ${this.graphs.link}: use ${this.graphs.link === 'sigmoid' ? 'sigmoidMc' : 'mc'}`);
  }

  /** The per-image feeds of the sample graph and the logits' marginals, each computed once. */
  private async feedsAndMarginals(phi: Float32Array, batch: number, signal: AbortSignal | undefined): Promise<{ feeds: Feeds; marginals: LogitMarginals[] }> {
    const plan = this.marginalSource;
    if (!plan) throw new Error('a det head has no noise, so no logit marginals');
    const feeds = await this.perImageFeeds(phi, batch);
    return { feeds, marginals: plan.kind === 'graph' ? await this.marginals(phi, batch, signal) : marginalsFromFeeds(plan, feeds, batch) };
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
    const feeds: Feeds = { [CENTER]: await this.noiseFreeCenter(phi, batch), ...layoutFeeds() };
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

/** Image b's rows of the per-image feeds (every one is [B, ...]), as a batch of one. */
function imageFeeds(feeds: Feeds, b: number): Feeds {
  const out: Feeds = {};
  for (const [name, tensor] of Object.entries(feeds)) {
    const [batch, ...dims] = tensor.dims;
    const size = (tensor.data as Float32Array).length / batch;
    out[name] = floatTensor((tensor.data as Float32Array).subarray(b * size, (b + 1) * size), [1, ...dims]);
  }
  return out;
}
