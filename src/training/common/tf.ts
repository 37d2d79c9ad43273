// tfjs on its WebAssembly backend: runs offline in Node without native builds. It has no
// gradient for convolution filters (no Conv2DBackpropFilter kernel): the Fashion-MNIST trainer
// uses an MLP, the zero-shot CNN brings its own filter gradient (src/training/zero-shot/conv.ts).
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
