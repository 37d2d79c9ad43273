// The zero-shot dual encoder in tfjs (wasm backend): the same maths the served checkpoint runs.
//   image tower  a small CNN on x (32x32x3 NHWC, [0, 1]): per layer l, h = relu(conv3x3(h, K_l) + c_l),
//                then 2x2 max pooling after every layer but the last; the global mean and the
//                global max of the last feature map, concatenated, then z = [mean, max] W + b.
//                Convolutions and pooling see a shape wherever it is and at any size, which the
//                varied training scenes (varied-shapes.ts) ask for.
//   text tower   g(c) = mean_{tokens of c} table[token] @ P      (a [B, V] bag-of-words matrix
//                times the table: the same as the ONNX Gather + masked mean of text-tower.ts,
//                which wasm cannot differentiate)
//   HET-XL noise on z (parameter-efficient, docs/method.md):
//                v = z W_het + b_het,  d = softplus(z W_diag + b_diag) + minScale,
//                z_s = z + (eps_R,s J + b_J) ⊙ v + d ⊙ eps_D,s
//   logits       <z_s / |z_s|, t_k> / tau,  t_k = g(c_k) / |g(c_k)|   (normalised after the noise)
//   tau          min + (max - min) sigmoid(t), learned (src/format/temperature.ts).
// Head tensors carry edward2's names, so the export is a copy; DET has no head tensors.
import type { ParamShape } from '../../format/head-params.ts';
import { temperatureT } from '../../format/temperature.ts';
import { createVariables, glorotNormalOrZeros, snapshotVariables, TEMPERATURE_PARAM, variableOf, type ParamValue } from '../common/parameters.ts';
import { normalStream, type NoiseSeeds } from '../common/random.ts';
import { tf } from '../common/tf.ts';
import { conv3x3 } from './conv.ts';

export type ZeroShotHead = 'het-xl' | 'det';

export interface DualEncoderConfig {
  head: ZeroShotHead;
  /** Input image side (square) and channels: 32, 3. */
  imageSize: number;
  imageChannels: number;
  /** Output channels of the image tower's 3x3 convolutions, first to last (a 2x2 max pool after each but the last). */
  convWidths: number[];
  /** Embedding width E (image and text). */
  dim: number;
  /** Vocabulary size including [PAD] = 0 and [UNK] = 1. */
  vocabulary: number;
  /** Token embedding width W of the text tower. */
  tokenWidth: number;
  /** Factors R of the low-rank covariance (het-xl). */
  factors: number;
  minScale: number;
  temperature: { min: number; max: number; init: number };
  /** Initial b_diag: softplus(b) is the initial diagonal noise scale (het-xl). */
  diagBiasInit: number;
}

export const IMAGE_PARAMS = {
  convKernel: (layer: number) => `image/conv${layer}/kernel`,
  convBias: (layer: number) => `image/conv${layer}/bias`,
  outKernel: 'image/embedding/kernel',
  outBias: 'image/embedding/bias',
} as const;

/** The image tower's tensors: per convolution its kernel [3, 3, C_in, C_out] and bias, then the embedding [2 C_last, E] and bias. */
export function imageTensorShapes(config: DualEncoderConfig): ParamShape[] {
  const shapes: ParamShape[] = [];
  let channels = config.imageChannels;
  config.convWidths.forEach((width, l) => {
    shapes.push({ name: IMAGE_PARAMS.convKernel(l), dims: [3, 3, channels, width] }, { name: IMAGE_PARAMS.convBias(l), dims: [width] });
    channels = width;
  });
  shapes.push({ name: IMAGE_PARAMS.outKernel, dims: [2 * channels, config.dim] }, { name: IMAGE_PARAMS.outBias, dims: [config.dim] });
  return shapes;
}

export const TEXT_PARAMS = { table: 'text/token_embeddings', projection: 'text/projection' } as const;
export const HEAD_PARAMS = {
  hetKernel: 'scale_layer_heteroscedastic/kernel',
  hetBias: 'scale_layer_heteroscedastic/bias',
  homKernel: 'scale_layer_homoscedastic/kernel',
  homBias: 'scale_layer_homoscedastic/bias',
  diagKernel: 'diag_layer/kernel',
  diagBias: 'diag_layer/bias',
} as const;

/** The head tensors of the checkpoint (edward2 names, no loc_layer), in file order. */
export function headTensorShapes(config: DualEncoderConfig): ParamShape[] {
  if (config.head === 'det') return [];
  const E = config.dim;
  return [
    { name: HEAD_PARAMS.hetKernel, dims: [E, E] },
    { name: HEAD_PARAMS.hetBias, dims: [E] },
    { name: HEAD_PARAMS.homKernel, dims: [config.factors, E] },
    { name: HEAD_PARAMS.homBias, dims: [E] },
    { name: HEAD_PARAMS.diagKernel, dims: [E, E] },
    { name: HEAD_PARAMS.diagBias, dims: [E] },
  ];
}

/**
 * The trainers' Glorot-normal kernels and zero biases, but for the convolution kernels (He
 * normal, std sqrt(2 / (9 C_in)), for ReLU layers), b_diag (the initial diagonal noise scale is
 * softplus(b_diag)) and the [PAD] row.
 */
function initialValue(name: string, dims: number[], seed: number, config: DualEncoderConfig): Float32Array {
  if (name === HEAD_PARAMS.diagBias) return new Float32Array(dims[0]).fill(config.diagBiasInit);
  if (dims.length === 4) {
    const std = Math.sqrt(2 / (dims[0] * dims[1] * dims[2]));
    const next = normalStream(seed, name);
    return Float32Array.from({ length: dims.reduce((a, b) => a * b, 1) }, () => std * next());
  }
  const out = glorotNormalOrZeros(name, dims, seed);
  if (name === TEXT_PARAMS.table) out.fill(0, 0, dims[1]); // [PAD] never contributes
  return out;
}

export class DualEncoder {
  readonly params: Map<string, tf.Variable>;

  constructor(
    readonly config: DualEncoderConfig,
    seed: number,
  ) {
    const { dim: E, vocabulary: V, tokenWidth: W } = config;
    const shapes = [
      ...imageTensorShapes(config),
      { name: TEXT_PARAMS.table, dims: [V, W] },
      { name: TEXT_PARAMS.projection, dims: [W, E] },
      ...headTensorShapes(config),
    ];
    this.params = createVariables(shapes, (name, dims) => initialValue(name, dims, seed, config));
    const { min, max, init } = config.temperature;
    this.params.set(TEMPERATURE_PARAM, tf.variable(tf.scalar(temperatureT(init, min, max))));
  }

  p(name: string): tf.Variable {
    return variableOf(this.params, name, 'dual encoder');
  }

  get variables(): tf.Variable[] {
    return [...this.params.values()];
  }

  /** Unnormalised image embedding z [B, E] of flattened NHWC images [B, 32 * 32 * 3]. */
  imageEmbedding(x: tf.Tensor2D): tf.Tensor2D {
    const { imageSize: n, imageChannels: c, convWidths } = this.config;
    let h = tf.reshape(x, [x.shape[0], n, n, c]) as tf.Tensor4D;
    convWidths.forEach((_, l) => {
      h = tf.relu(tf.add(conv3x3(h, this.p(IMAGE_PARAMS.convKernel(l)) as tf.Tensor4D), this.p(IMAGE_PARAMS.convBias(l)))) as tf.Tensor4D;
      if (l < convWidths.length - 1) h = tf.maxPool(h, 2, 2, 'valid');
    });
    const pooled = tf.concat([tf.mean(h, [1, 2]), tf.max(h, [1, 2])], 1) as tf.Tensor2D;
    return tf.add(tf.matMul(pooled, this.p(IMAGE_PARAMS.outKernel)), this.p(IMAGE_PARAMS.outBias));
  }

  /** Unnormalised text embedding [B, E] from a bag-of-words matrix [B, V] (rows: 1/length per token). */
  textEmbedding(bow: tf.Tensor2D): tf.Tensor2D {
    return tf.matMul(tf.matMul(bow, this.p(TEXT_PARAMS.table)), this.p(TEXT_PARAMS.projection));
  }

  /** tau as a tfjs scalar, so that gradients reach t: the formula of src/format/temperature.ts in tfjs ops. */
  tau(): tf.Scalar {
    const { min, max } = this.config.temperature;
    return tf.add(min, tf.mul(max - min, tf.sigmoid(this.p(TEMPERATURE_PARAM)))) as tf.Scalar;
  }

  tauValue(): number {
    return tf.tidy(() => this.tau().dataSync()[0]);
  }

  /** v(z) [B, E] and d(z) [B, E] of the HET-XL noise. */
  noiseScales(z: tf.Tensor2D): { v: tf.Tensor2D; d: tf.Tensor2D } {
    const v = tf.add(tf.matMul(z, this.p(HEAD_PARAMS.hetKernel)), this.p(HEAD_PARAMS.hetBias)) as tf.Tensor2D;
    const d = tf.add(tf.softplus(tf.add(tf.matMul(z, this.p(HEAD_PARAMS.diagKernel)), this.p(HEAD_PARAMS.diagBias))), this.config.minScale) as tf.Tensor2D;
    return { v, d };
  }

  /** z_s = z + (eps_R J + b_J) ⊙ v + d ⊙ eps_D for given eps_R [S, B, R], eps_D [S, B, E]: [S, B, E]. */
  noisyEmbeddingsFrom(z: tf.Tensor2D, epsR: tf.Tensor3D, epsD: tf.Tensor3D): tf.Tensor3D {
    const [S, B, R] = epsR.shape;
    const E = this.config.dim;
    const { v, d } = this.noiseScales(z);
    const a = tf.reshape(tf.add(tf.matMul(tf.reshape(epsR, [S * B, R]), this.p(HEAD_PARAMS.homKernel)), this.p(HEAD_PARAMS.homBias)), [S, B, E]);
    return tf.add(tf.add(z, tf.mul(a, v)), tf.mul(d, epsD)) as tf.Tensor3D;
  }

  /** S noisy embeddings [S, B, E] with tf.randomNormal noise from the given seeds (DET: z itself, S = 1). */
  noisyEmbeddings(z: tf.Tensor2D, samples: number, seeds: NoiseSeeds): tf.Tensor3D {
    if (this.config.head === 'det') return tf.expandDims(z, 0) as tf.Tensor3D;
    const B = z.shape[0];
    const epsR = tf.randomNormal([samples, B, this.config.factors], 0, 1, 'float32', seeds.factor) as tf.Tensor3D;
    const epsD = tf.randomNormal([samples, B, this.config.dim], 0, 1, 'float32', seeds.diagonal) as tf.Tensor3D;
    return this.noisyEmbeddingsFrom(z, epsR, epsD);
  }

  /**
   * Symmetric contrastive loss over the batch with the HET-XL MC average inside the log:
   * image i picks its caption among the batch's captions, and caption j its image, each
   * -log max(p_hat, 1e-7) with p_hat = mean_s softmax(<u_s, t> / tau); the two directions averaged.
   */
  loss(x: tf.Tensor2D, bow: tf.Tensor2D, samples: number, seeds: NoiseSeeds): tf.Scalar {
    return this.contrastiveLoss(this.noisyEmbeddings(this.imageEmbedding(x), samples, seeds), this.textEmbedding(bow));
  }

  /** The loss above from noisy image embeddings z_s [S, B, E] and unnormalised caption embeddings [B, E]. */
  contrastiveLoss(zs: tf.Tensor3D, text: tf.Tensor2D): tf.Scalar {
    const [S, B, E] = zs.shape;
    const t = l2normalise(text);
    const u = l2normalise(tf.reshape(zs, [S * B, E]));
    const logits = tf.reshape(tf.div(tf.matMul(u, t, false, true), this.tau()), [S, B, B]) as tf.Tensor3D; // [s, image, caption]
    const eye = tf.expandDims(tf.eye(B), 0);
    const direction = (l: tf.Tensor3D): tf.Scalar => {
      const logPy = tf.sum(tf.mul(tf.logSoftmax(l), eye), 2); // [S, B]
      const logPHat = tf.sub(tf.logSumExp(logPy, 0), Math.log(S)); // [B]
      return tf.neg(tf.mean(tf.maximum(logPHat, Math.log(1e-7)))) as tf.Scalar;
    };
    return tf.div(tf.add(direction(logits), direction(tf.transpose(logits, [0, 2, 1]) as tf.Tensor3D)), 2) as tf.Scalar;
  }

  snapshot(): Map<string, ParamValue> {
    return snapshotVariables(this.params);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}

/** Rows scaled to unit L2 norm (last axis). */
export function l2normalise<T extends tf.Tensor>(x: T): T {
  return tf.div(x, tf.add(tf.norm(x, 'euclidean', -1, true), 1e-12)) as T;
}

/** The [count, V] bag-of-words matrix of token id lists: 1/length at each token (mean pooling). */
export function bagOfWords(ids: number[][], vocabulary: number): Float32Array {
  const bow = new Float32Array(ids.length * vocabulary);
  ids.forEach((row, b) => {
    for (const id of row) bow[b * vocabulary + id] += 1 / Math.max(1, row.length);
  });
  return bow;
}
