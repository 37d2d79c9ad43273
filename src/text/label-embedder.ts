// Label embeddings for a request: each label is put into every template, the prompts missing
// from the LRU go through the text tower in batches of at most `batchTokens` tokens (rows x
// padded length), each prompt's embedding is normalised, and a label's embedding is the
// renormalised mean over its templates (CLIP's prompt ensembling). A request whose prompts are
// all cached runs no text-tower work. A prompt reaches the tower as the tokenizer's ids with its
// special tokens (src/format/tokenizer.ts towerIds), padded with its pad id to the batch's longest
// prompt, or to the tower's static length, with an attention mask where the tower takes one.
//
// Why batches: ORT runs on the event-loop thread, so one run over every prompt of a large
// request held the server for seconds and grew the heap (and ORT's arena) by gigabytes. Bounded
// runs keep each hold short and the working memory that of one batch; the loop turns between
// runs (and between slices of tokenising), and the request's AbortSignal is checked there.

import { int64Tensor, type Session, type Tensor } from '../engine/session.ts';
import { normaliseInPlace } from './unit-norm.ts';
import { EmbeddingCache } from './embedding-cache.ts';
import { TEXT_INPUT, TEXT_OUTPUT, type TextTowerSpec } from '../format/manifest.ts';
import { fillTemplates } from './prompts.ts';
import { type PromptTokenizer } from '../format/tokenizer.ts';

/** One text-tower run: prompts [start, start + count) of the length-sorted list, padded to `length`. */
export interface TextBatch {
  start: number;
  count: number;
  length: number;
}

/**
 * Splits prompts sorted by ascending token count into consecutive batches with
 * count x length <= budget, length being the batch's longest prompt (at least 1: an all-pad row
 * is still a row). Sorting first keeps the padding small. A prompt longer than the budget runs
 * alone, since it cannot be split.
 */
export function planTextBatches(sortedLengths: readonly number[], budget: number): TextBatch[] {
  const batches: TextBatch[] = [];
  for (let i = 0; i < sortedLengths.length; i++) {
    const length = Math.max(1, sortedLengths[i]);
    const last = batches.at(-1);
    if (last && (last.count + 1) * length <= budget) {
      last.count++;
      last.length = length;
    } else {
      batches.push({ start: i, count: 1, length });
    }
  }
  return batches;
}

const turnEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** How text.onnx is fed: the manifest's tensor names, and the static prompt length of a tower exported with one. */
export interface TextTowerFeed extends Pick<TextTowerSpec, 'inputIds' | 'attentionMask' | 'embedding'> {
  /** Every row is padded to this length (open_clip's 77); absent: to the batch's longest prompt. */
  sequenceLength?: number;
}

const DEMO_FEED: TextTowerFeed = { inputIds: TEXT_INPUT, embedding: TEXT_OUTPUT };

export class LabelEmbedder {
  /** Number of text-tower runs so far (observable so tests can check cache hits). */
  towerRuns = 0;

  constructor(
    private readonly session: Session,
    private readonly tokenizer: PromptTokenizer,
    private readonly cache: EmbeddingCache,
    readonly dim: number,
    /** Most rows x padded length of one text-tower run (TEXT_BATCH_TOKENS). */
    readonly batchTokens: number,
    private readonly feed: TextTowerFeed = DEMO_FEED,
  ) {
    if (!(batchTokens >= 1)) throw new Error(`text batch budget must be at least 1 token, got ${batchTokens}`);
  }

  /** The prompt cache's lookups so far: hits and misses. */
  get cacheLookups(): { hits: number; misses: number } {
    return { hits: this.cache.hits, misses: this.cache.misses };
  }

  /** One text-tower run on the empty prompt (its special tokens, or one pad), outside the cache and the run count. */
  async warmUp(): Promise<void> {
    await this.session.run(this.feeds([this.tokenizer.towerIds('')], 1));
  }

  /** The tower's inputs for rows of ids padded to `length` with the tokenizer's pad id (mask 0 there). */
  private feeds(rows: readonly number[][], length: number): Record<string, Tensor> {
    const width = this.feed.sequenceLength ?? Math.max(1, length);
    const ids = new BigInt64Array(rows.length * width).fill(BigInt(this.tokenizer.padId));
    const mask = new BigInt64Array(rows.length * width);
    rows.forEach((row, b) =>
      row.forEach((id, i) => {
        ids[b * width + i] = BigInt(id);
        mask[b * width + i] = 1n;
      }),
    );
    const dims = [rows.length, width];
    return {
      [this.feed.inputIds]: int64Tensor(ids, dims),
      ...(this.feed.attentionMask !== undefined ? { [this.feed.attentionMask]: int64Tensor(mask, dims) } : {}),
    };
  }

  /** Unit embeddings of the labels, row-major [labels, dim]. Throws the signal's reason once it is aborted. */
  async embed(labels: readonly string[], templates: readonly string[], signal?: AbortSignal): Promise<Float32Array> {
    const prompts = labels.map((label) => fillTemplates(label, templates));
    // Every prompt's embedding is taken into this request-local map first: inserting the new
    // ones may evict cached prompts of this very request when it holds more than the cache.
    const found = new Map<string, Float32Array>();
    const missing: string[] = [];
    for (const p of new Set(prompts.flat())) {
      const hit = this.cache.get(p);
      if (hit) found.set(p, hit);
      else missing.push(p);
    }
    if (missing.length > 0) await this.runTower(missing, found, signal);
    const result = new Float32Array(labels.length * this.dim);
    prompts.forEach((forLabel, k) => {
      const row = result.subarray(k * this.dim, (k + 1) * this.dim);
      for (const p of forLabel) {
        const e = found.get(p)!;
        for (let i = 0; i < this.dim; i++) row[i] += e[i];
      }
      normaliseInPlace(row);
    });
    return result;
  }

  /** Embeds `prompts` in bounded batches into `found` and the cache. */
  private async runTower(prompts: readonly string[], found: Map<string, Float32Array>, signal: AbortSignal | undefined): Promise<void> {
    const encoded = await this.encodeAll(prompts, signal);
    const order = prompts.map((_, i) => i).sort((a, b) => encoded[a].length - encoded[b].length);
    const paddedLength = (i: number) => this.feed.sequenceLength ?? encoded[i].length;
    for (const { start, count, length } of planTextBatches(order.map(paddedLength), this.batchTokens)) {
      signal?.throwIfAborted();
      const rows = order.slice(start, start + count).map((i) => encoded[i]);
      this.towerRuns++;
      const data = (await this.session.run(this.feeds(rows, length)))[this.feed.embedding].data as Float32Array;
      for (let b = 0; b < count; b++) {
        const row = data.slice(b * this.dim, (b + 1) * this.dim);
        normaliseInPlace(row);
        const prompt = prompts[order[start + b]];
        found.set(prompt, row);
        this.cache.set(prompt, row);
      }
    }
  }

  /**
   * Token ids of each prompt. Tokenising runs in JS on the event-loop thread too (~2 us a token
   * here, 0.6 s for 300k tokens), so the loop turns after every `batchTokens` tokens.
   */
  private async encodeAll(prompts: readonly string[], signal: AbortSignal | undefined): Promise<number[][]> {
    const encoded: number[][] = [];
    let sinceTurn = 0;
    for (const p of prompts) {
      const ids = this.tokenizer.towerIds(p);
      encoded.push(ids);
      sinceTurn += ids.length;
      if (sinceTurn >= this.batchTokens) {
        sinceTurn = 0;
        await turnEventLoop();
        signal?.throwIfAborted();
      }
    }
    return encoded;
  }
}
