// tfjs on its WebAssembly backend: runs offline in Node without native builds. It cannot
// back-propagate through convolution filters, hence the MLP backbone in network.ts.
import * as tf from '@tensorflow/tfjs';
import '@tensorflow/tfjs-backend-wasm';

let ready: Promise<typeof tf> | undefined;

/** tfjs with the wasm backend selected (once per process). */
export function tfWasm(): Promise<typeof tf> {
  ready ??= (async () => {
    if (!(await tf.setBackend('wasm'))) throw new Error('tfjs: the wasm backend could not be initialised');
    await tf.ready();
    return tf;
  })();
  return ready;
}

/** A parameter's value copied to the host, as the exporters write it. */
export interface ParamValue {
  dims: number[];
  data: Float32Array;
}

/** Host copies of named variables (what a trainer exports). */
export function snapshotVariables(params: ReadonlyMap<string, tf.Variable>): Map<string, ParamValue> {
  const out = new Map<string, ParamValue>();
  for (const [name, v] of params) out.set(name, { dims: v.shape, data: v.dataSync() as Float32Array });
  return out;
}

export { tf };
