// The trainers' parameters: created as tfjs variables with seeded initial values, looked up by
// our names, and copied to the host for export. Shared by the Fashion-MNIST network and the
// zero-shot dual encoder, so both initialise and export their tensors the same way.
import type { ParamShape } from '../../format/head-params.ts';
import { normalStream } from './random.ts';
import { tf } from './tf.ts';

/** The learned temperature's unconstrained t (tau = min + (max - min) sigmoid(t)), a parameter of both trainers. */
export const TEMPERATURE_PARAM = 'temperature/pre_sigmoid';

/** A parameter's value copied to the host, as the exporters write it. */
export interface ParamValue {
  dims: number[];
  data: Float32Array;
}

/**
 * Glorot-normal kernels (Keras' default family, std sqrt(2 / (fan_in + fan_out))) for 2-D
 * tensors and zeros otherwise (biases). Seeded per tensor name, so a tensor's values do not
 * depend on which other tensors a model has or in what order they are created.
 */
export function glorotNormalOrZeros(name: string, dims: number[], seed: number): Float32Array {
  const size = dims.reduce((a, b) => a * b, 1);
  if (dims.length !== 2) return new Float32Array(size);
  const std = Math.sqrt(2 / (dims[0] + dims[1]));
  const next = normalStream(seed, name);
  return Float32Array.from({ length: size }, () => std * next());
}

/**
 * One tfjs variable per shape, with `initial(name, dims)` as its value, in a map by our names:
 * tfjs names variables engine-wide and refuses duplicates, so its names are left automatic
 * (several models may live in one process, as in the tests).
 */
export function createVariables(shapes: ParamShape[], initial: (name: string, dims: number[]) => Float32Array): Map<string, tf.Variable> {
  const params = new Map<string, tf.Variable>();
  for (const { name, dims } of shapes) params.set(name, tf.variable(tf.tensor(initial(name, dims), dims)));
  return params;
}

/** The variable called `name`; `owner` says whose, in the error. */
export function variableOf(params: ReadonlyMap<string, tf.Variable>, name: string, owner: string): tf.Variable {
  const v = params.get(name);
  if (!v) throw new Error(`${owner} has no parameter ${name}`);
  return v;
}

/** Host copies of named variables (what a trainer exports). */
export function snapshotVariables(params: ReadonlyMap<string, tf.Variable>): Map<string, ParamValue> {
  const out = new Map<string, ParamValue>();
  for (const [name, v] of params) out.set(name, { dims: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

/** The host copy called `name`, for export. */
export function paramValue(values: ReadonlyMap<string, ParamValue>, name: string): ParamValue {
  const v = values.get(name);
  if (!v) throw new Error(`export: no parameter ${name}`);
  return v;
}
