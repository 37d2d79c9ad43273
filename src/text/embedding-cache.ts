// Bounded LRU of text embeddings keyed by the exact prompt text. A Map keeps insertion order, so
// re-inserting on a hit makes the first key the least recently used; no package needed for that.

export class EmbeddingCache {
  private readonly entries = new Map<string, Float32Array>();
  /** Lookups that found their prompt, and those that did not (for the metrics). */
  hits = 0;
  misses = 0;

  constructor(readonly capacity: number) {
    if (!(capacity >= 1)) throw new Error(`cache capacity must be at least 1, got ${capacity}`);
  }

  get size(): number {
    return this.entries.size;
  }

  get(prompt: string): Float32Array | undefined {
    const hit = this.entries.get(prompt);
    if (hit !== undefined) {
      this.hits++;
      this.entries.delete(prompt);
      this.entries.set(prompt, hit);
    } else this.misses++;
    return hit;
  }

  set(prompt: string, embedding: Float32Array): void {
    this.entries.delete(prompt);
    this.entries.set(prompt, embedding);
    if (this.entries.size > this.capacity) this.entries.delete(this.entries.keys().next().value as string);
  }
}
