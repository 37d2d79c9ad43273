// How many MC samples one run of the sample graph processes, so that the head's working memory
// stays under a budget whatever S is (S x K floats is 118 MB per image at JFT scale).
import type { Link } from '../format/manifest.ts';

export const DEFAULT_MEMORY_BUDGET_BYTES = 512 * 1024 * 1024;

/**
 * Bytes of resident memory per [B, Sc, K] float tensor of the reduction graph, in units of that
 * tensor. The graph holds up to five at once (logits, p, p - shift, its square, p * logits), but
 * what counts is what ORT's arena keeps: its regions grow by doubling and the first run at a
 * chunk shape allocates without a memory pattern. Measured at K = 29,593, D = 1024 on the first
 * request at a new shape: +385 MiB for chunks [1, 500, K] and +625 MiB for [8, 100, K], both
 * about 6.5 tensors (bench/ and test/system/memory.test.ts). With 7, the first batch-8 S = 1000
 * request rose by +503 to +517 MiB (chunks [8, 77, K], ~7.4 tensors) against a 512 MiB budget;
 * 8 keeps a margin.
 */
const LIVE_CLASS_TENSORS = 8;
/**
 * The same for the sigmoid reductions (addSigmoidSampleReductions), which hold more [B, Sc, K]
 * tensors (q, its deviation and square, |t|, e^-|t|, 1 + e^-|t|, h): measured at K = 29,593,
 * D = 256, first request, chunks [1, 500, K]: +402 MiB where the softmax graph took +287 MiB
 * (1.4 times), so 8 x 1.4.
 */
const LIVE_SIGMOID_CLASS_TENSORS = 11;
/** [B, Sc, N] float tensors of the noise: low-rank part, diagonal part, their sum, z. */
const LIVE_NOISE_TENSORS = 4;

export interface Chunk {
  /** Index of the chunk's first sample. */
  start: number;
  count: number;
}

/** The largest chunk (at least 1) whose estimated working memory fits in budgetBytes. */
export function maxSamplesPerChunk(budgetBytes: number, batch: number, K: number, noiseWidth: number, R: number, link: Link = 'softmax'): number {
  // Per sample: the batch's [K]- and [N]-sized tensors plus its share of eps_R and eps_D.
  const classTensors = link === 'sigmoid' ? LIVE_SIGMOID_CLASS_TENSORS : LIVE_CLASS_TENSORS;
  const bytesPerSample = 4 * (batch * (classTensors * K + LIVE_NOISE_TENSORS * noiseWidth) + R + noiseWidth);
  return Math.max(1, Math.floor(budgetBytes / bytesPerSample));
}

/**
 * Splits S samples into as few chunks as maxChunk allows, of near-equal sizes (at most two
 * distinct sizes, so ORT sees few shapes).
 */
export function planChunks(samples: number, maxChunk: number): Chunk[] {
  const count = Math.ceil(samples / maxChunk);
  const base = Math.floor(samples / count);
  const remainder = samples % count;
  const chunks: Chunk[] = [];
  let start = 0;
  for (let i = 0; i < count; i++) {
    const size = base + (i < remainder ? 1 : 0);
    chunks.push({ start, count: size });
    start += size;
  }
  return chunks;
}
