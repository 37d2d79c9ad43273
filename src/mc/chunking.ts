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
 * Splits samples start .. end - 1 into as few chunks as maxChunk allows, of near-equal sizes (at
 * most two distinct sizes, so ORT sees few shapes). With `align` > 1 every chunk holds a multiple
 * of `align` samples and the remainder, if any, is a chunk of its own at the end, so that chunks
 * starting at a multiple of `align` keep the antithetic pairs (align 2) whole, and the unpaired
 * sample of an odd S is alone (src/mc/accumulator.ts reads its value from that chunk).
 */
export function planChunks(samples: number, maxChunk: number, align = 1, start = 0): Chunk[] {
  const units = Math.floor((samples - start) / align);
  const tail = (samples - start) % align;
  const count = Math.ceil(units / Math.max(1, Math.floor(maxChunk / align)));
  const base = Math.floor(units / count);
  const remainder = units % count;
  const chunks: Chunk[] = [];
  for (let i = 0; i < count; i++) {
    const size = (base + (i < remainder ? 1 : 0)) * align;
    chunks.push({ start, count: size });
    start += size;
  }
  if (tail > 0) chunks.push({ start, count: tail });
  return chunks;
}

/**
 * The stopping rule's minimum sample count: the CLT's normal approximation of p_hat's error is
 * not trusted on fewer samples (with p near 0 or 1 a few dozen samples can all agree).
 */
export const MIN_STOP_SAMPLES = 64;

/**
 * Where a run with a precision target checks it: MIN_STOP_SAMPLES, twice that, ... below the
 * cap S, then S. Fixed sample counts, not chunk ends, so that where a request stops does not
 * depend on the batch it shares or the memory budget. Without a target: S alone.
 */
export function stopCheckpoints(samples: number, stopping: boolean): number[] {
  const checkpoints: number[] = [];
  if (stopping) for (let n = MIN_STOP_SAMPLES; n < samples; n *= 2) checkpoints.push(n);
  checkpoints.push(samples);
  return checkpoints;
}
