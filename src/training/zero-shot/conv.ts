// A trainable 3x3 convolution on tfjs's wasm backend, which has Conv2D and Conv2DBackpropInput
// but no Conv2DBackpropFilter: the forward and the input gradient are tfjs's own kernels, and
// the filter gradient is computed from its definition,
//   dL/dW[i, j, c, f] = sum_{b, y, x} xpad[b, y + i, x + j, c] * dL/dy[b, y, x, f],
// as one matrix product of the 9 shifted copies of the zero-padded input (im2col) with dL/dy.
// Stride 1, 'same' padding (one pixel of zeros on each side), NHWC, kernel [3, 3, C, F].
import { tf } from '../common/tf.ts';

/** [B*H*W, 9*C]: row (b, y, x) holds the 3x3 neighbourhood of (y, x), in (i, j, c) order, zeros outside the image. */
export function im2col3x3(x: tf.Tensor4D): tf.Tensor2D {
  const [b, h, w, c] = x.shape;
  const padded = tf.pad(x, [[0, 0], [1, 1], [1, 1], [0, 0]]);
  const shifted: tf.Tensor4D[] = [];
  for (let i = 0; i < 3; i++) for (let j = 0; j < 3; j++) shifted.push(tf.slice(padded, [0, i, j, 0], [b, h, w, c]));
  return tf.reshape(tf.concat(shifted, 3), [b * h * w, 9 * c]);
}

const conv3x3Op = tf.customGrad<tf.Tensor4D>((x, kernel, save) => {
  const input = x as tf.Tensor4D;
  const filter = kernel as tf.Tensor4D;
  (save as tf.GradSaveFunc)([input, filter]);
  return {
    value: tf.conv2d(input, filter, 1, 'same'),
    gradFunc: (dy, saved) => {
      const [xs, w] = saved as [tf.Tensor4D, tf.Tensor4D];
      const g = dy as tf.Tensor4D;
      const [b, h, wd, c] = xs.shape;
      const f = w.shape[3];
      const dx = tf.conv2dTranspose(g, w, xs.shape, 1, 'same');
      const dw = tf.reshape(tf.matMul(im2col3x3(xs), tf.reshape(g, [b * h * wd, f]), true, false), [3, 3, c, f]);
      return [dx, dw];
    },
  };
});

/** 'same' 3x3 convolution of NHWC x [B, H, W, C] with kernel [3, 3, C, F], differentiable in both on the wasm backend. */
export function conv3x3(x: tf.Tensor4D, kernel: tf.Tensor4D): tf.Tensor4D {
  return conv3x3Op(x, kernel);
}
