// Head parameters: edward2 tensor names and shapes, and extra-parameter counts (method.md).
// One table drives checkpoint validation, the random checkpoint generator and the graph builders.
import type { HeadSpec } from './manifest.ts';

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

export function covarianceOf(spec: HeadSpec): 'param-efficient' | 'full' {
  return spec.covariance ?? 'param-efficient';
}

/** Parameters beyond the DET head's W and b (biases included), as in method.md. */
export function extraParameterCount(spec: HeadSpec): number {
  const loc = spec.D * spec.K + spec.K;
  return headParamShapes(spec)
    .map((p) => p.dims.reduce((a, b) => a * b, 1))
    .reduce((a, b) => a + b, 0) - loc;
}
