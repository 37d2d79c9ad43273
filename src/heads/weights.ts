// Helpers of the graph builders over head weights (the names and shape checks are the format's:
// src/format/head-params.ts).
import { requireWeight, type HeadWeights } from '../format/head-params.ts';

/** The classifier bias b [K], zeros when the checkpoint has none. */
export function locBias(weights: HeadWeights, K: number): Float32Array {
  return weights.has('loc_layer/bias') ? requireWeight(weights, 'loc_layer/bias', [K]) : new Float32Array(K);
}

/** A copy of `data` multiplied by `factor` (the same array when factor is 1). */
export function scaled(data: Float32Array, factor: number): Float32Array {
  if (factor === 1) return data;
  const out = new Float32Array(data.length);
  for (let i = 0; i < data.length; i++) out[i] = data[i] * factor;
  return out;
}
