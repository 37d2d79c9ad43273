// A small LRU cache of standard-normal noise blocks. The noise of an MC request depends only on
// (seed, stream, sample range, width), never on the image, so repeated requests with the same
// seed (the usual case: a fixed default seed) reuse the block instead of regenerating it.
import { fillEstimatorRows, type Estimator } from './estimator.ts';

export class NoiseCache {
  private readonly blocks = new Map<string, Float32Array>();
  private bytes = 0;

  /** maxBytes: total size of the kept blocks; 0 disables caching. */
  constructor(private readonly maxBytes: number) {}

  /**
   * The rows fillEstimatorRows(estimator, seed, stream, sStart, sCount, width) writes. The array
   * may be shared with other callers: treat it as read-only.
   */
  rows(seed: number, stream: number, sStart: number, sCount: number, width: number, estimator: Estimator = 'plain'): Float32Array {
    const key = `${estimator}:${seed}:${stream}:${sStart}:${sCount}:${width}`;
    const hit = this.blocks.get(key);
    if (hit !== undefined) {
      // Re-insert to mark it most recently used (a Map iterates in insertion order).
      this.blocks.delete(key);
      this.blocks.set(key, hit);
      return hit;
    }
    const block = new Float32Array(sCount * width);
    fillEstimatorRows(block, estimator, seed, stream, sStart, sCount, width);
    if (block.byteLength <= this.maxBytes) {
      this.blocks.set(key, block);
      this.bytes += block.byteLength;
      for (const [oldKey, old] of this.blocks) {
        if (this.bytes <= this.maxBytes) break;
        this.blocks.delete(oldKey);
        this.bytes -= old.byteLength;
      }
    }
    return block;
  }

  clear(): void {
    this.blocks.clear();
    this.bytes = 0;
  }
}
