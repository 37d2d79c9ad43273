// Label embeddings for a request: each label is put into every template, the prompts missing
// from the LRU go through the text tower in one batch, each prompt's embedding is normalised,
// and a label's embedding is the renormalised mean over its templates (CLIP's prompt ensembling).
// A request whose prompts are all cached runs no text-tower work.

import { int64Tensor, type Session } from '../onnx/session.ts';
import { normaliseInPlace } from './head.ts';
import { EmbeddingCache } from './lru.ts';
import { TEXT_INPUT, TEXT_OUTPUT } from '../runtime/manifest.ts';
import { fillTemplates, type PromptTokenizer } from './tokenizer.ts';

export class LabelEmbedder {
  /** Number of text-tower runs so far (observable so tests can check cache hits). */
  towerRuns = 0;

  constructor(
    private readonly session: Session,
    private readonly tokenizer: PromptTokenizer,
    private readonly cache: EmbeddingCache,
    readonly dim: number,
  ) {}

  /** One text-tower run on a single [UNK] token, outside the cache and the run count. */
  async warmUp(): Promise<void> {
    await this.session.run({ [TEXT_INPUT]: int64Tensor(BigInt64Array.from([1n]), [1, 1]) });
  }

  /** Unit embeddings of the labels, row-major [labels, dim]. */
  async embed(labels: readonly string[], templates: readonly string[]): Promise<Float32Array> {
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
    if (missing.length > 0) {
      const encoded = missing.map((p) => this.tokenizer.encode(p).ids);
      const length = Math.max(1, ...encoded.map((ids) => ids.length));
      const ids = new BigInt64Array(missing.length * length); // 0 = [PAD]
      encoded.forEach((row, b) => row.forEach((id, i) => (ids[b * length + i] = BigInt(id))));
      this.towerRuns++;
      const out = (await this.session.run({ [TEXT_INPUT]: int64Tensor(ids, [missing.length, length]) }))[TEXT_OUTPUT];
      const data = out.data as Float32Array;
      missing.forEach((p, b) => {
        const row = data.slice(b * this.dim, (b + 1) * this.dim);
        normaliseInPlace(row);
        found.set(p, row);
        this.cache.set(p, row);
      });
    }
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
}
