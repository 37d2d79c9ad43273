// Head parameters: edward2 tensor names and shapes, and extra-parameter counts (docs/method.md).
// One table drives checkpoint validation, the random checkpoint generator and the graph builders.
import type { Covariance, HeadSpec, Link } from './manifest.ts';

/** Head weights as read from head.safetensors: name -> float32 data with its shape. */
export type HeadWeights = Map<string, { dims: number[]; data: Float32Array }>;

export interface ParamShape {
  name: string;
  dims: number[];
}

/** The safetensors entries a head of this spec must hold, in a stable order. */
export function headParamShapes(spec: HeadSpec): ParamShape[] {
  const { D, K } = spec;
  const loc: ParamShape[] = [
    { name: 'loc_layer/kernel', dims: [D, K] },
    { name: 'loc_layer/bias', dims: [K] },
  ];
  if (spec.type === 'det') return loc;
  const R = requireR(spec);
  // HET puts its noise on the K logits, HET-XL on the D pre-logits: same layers, other width.
  const N = spec.type === 'het' ? K : D;
  const diag: ParamShape[] = [
    { name: 'diag_layer/kernel', dims: [D, N] },
    { name: 'diag_layer/bias', dims: [N] },
  ];
  // R = 0: diagonal noise only, so no low-rank layers (edward2 num_factors = 0).
  if (R === 0) return [...loc, ...diag];
  if (covarianceOf(spec) === 'full') {
    return [...loc, { name: 'scale_layer/kernel', dims: [D, N * R] }, { name: 'scale_layer/bias', dims: [N * R] }, ...diag];
  }
  return [
    ...loc,
    { name: 'scale_layer_heteroscedastic/kernel', dims: [D, N] },
    { name: 'scale_layer_heteroscedastic/bias', dims: [N] },
    { name: 'scale_layer_homoscedastic/kernel', dims: [R, N] },
    { name: 'scale_layer_homoscedastic/bias', dims: [N] },
    ...diag,
  ];
}

export function requireR(spec: HeadSpec): number {
  if (spec.R === undefined) throw new Error(`head type ${spec.type} needs R (number of covariance factors)`);
  return spec.R;
}

export function covarianceOf(spec: HeadSpec): Covariance {
  return spec.covariance ?? 'param-efficient';
}

/**
 * Width of eps_D in the sample graph: N, one normal per noise dimension, or 1 for edward2's
 * shared scalar, which the graph's d * eps_D broadcasts over the N dimensions.
 */
export function diagonalWidth(spec: HeadSpec, N: number): number {
  return spec.diagonalNoise === 'shared' ? 1 : N;
}

/** The head's link; a spec that does not say is softmax (every checkpoint before the field). */
export function linkOf(spec: HeadSpec): Link {
  return spec.link ?? 'softmax';
}

/** Parameters beyond the DET head's W and b (biases included), as in docs/method.md. */
export function extraParameterCount(spec: HeadSpec): number {
  const loc = spec.D * spec.K + spec.K;
  return headParamShapes(spec)
    .map((p) => p.dims.reduce((a, b) => a * b, 1))
    .reduce((a, b) => a + b, 0) - loc;
}

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
