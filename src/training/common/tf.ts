// tfjs on its WebAssembly backend: runs offline in Node without native builds. It cannot
// back-propagate through convolution filters, hence the MLP backbones of the trainers.
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

export { tf };
