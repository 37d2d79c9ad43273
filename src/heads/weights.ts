// Reading head weights by their edward2 names, with the shape checks the graph builders rely on.
import type { HeadSpec } from '../format/manifest.ts';
import { headParamShapes } from '../format/head-params.ts';
import type { HeadWeights } from './types.ts';

/**
 * Checks that every tensor the spec needs is present with its exact shape and length.
 * `loc_layer/bias` may be absent (zero-shot models have none): it then reads as zeros.
 */
export function validateHeadWeights(spec: HeadSpec, weights: HeadWeights): void {
  for (const { name, dims } of headParamShapes(spec)) {
    if (name === 'loc_layer/bias' && !weights.has(name)) continue;
    requireWeight(weights, name, dims);
  }
}

/** The tensor's data; throws when it is missing or shaped differently. */
export function requireWeight(weights: HeadWeights, name: string, dims: number[]): Float32Array {
  const tensor = weights.get(name);
  if (tensor === undefined) throw new Error(`head weight ${name} is missing`);
  const expected = dims.reduce((a, b) => a * b, 1);
  if (tensor.dims.length !== dims.length || tensor.dims.some((d, i) => d !== dims[i])) {
    throw new Error(`head weight ${name} has shape [${tensor.dims.join(', ')}], expected [${dims.join(', ')}]`);
  }
  if (tensor.data.length !== expected) throw new Error(`head weight ${name} holds ${tensor.data.length} values, expected ${expected}`);
  return tensor.data;
}

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
