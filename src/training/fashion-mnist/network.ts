// The trained network in tfjs: an MLP backbone (pixels -> hidden ReLU -> D tanh pre-logits) and a
// DET, HET or HET-XL head with the parameter-efficient covariance (docs/method.md):
//   noise = (eps_R J + b_J) * v(x) + d(x) * eps_D,  v = phi W_v + b_v,  d = softplus(phi W_d + b_d) + minScale
//   HET-XL: u_s = W^T (phi + noise_s) + b   (noise width D)
//   HET:    u_s = W^T phi + b + noise_s     (noise width K)
//   p_s = softmax(u_s / tau),  tau fixed or tau = min + (max - min) sigmoid(t) learned
//   (src/format/temperature.ts).
// Head tensors carry edward2's names (src/format/head-params.ts), so export is a copy.
import { headParamShapes } from '../../format/head-params.ts';
import type { HeadSpec, HeadType } from '../../format/manifest.ts';
import { createVariables, glorotNormalOrZeros, snapshotVariables, TEMPERATURE_PARAM, variableOf, type ParamValue } from '../common/parameters.ts';
import type { NoiseSeeds } from '../common/random.ts';
import { tf } from '../common/tf.ts';

/** A learned temperature's `init` is its initial t (0: tau midway between min and max); the zero-shot trainer's is a tau. */
export type TemperatureConfig = { kind: 'fixed'; tau: number } | { kind: 'learned'; min: number; max: number; init: number };

export interface NetworkConfig {
  inputSize: number;
  hidden: number;
  D: number;
  K: number;
  head: HeadType;
  /** Factors of the low-rank covariance (het, het-xl). */
  R: number;
  minScale: number;
  temperature: TemperatureConfig;
}

export const BACKBONE_PARAMS = {
  hiddenKernel: 'backbone/hidden/kernel',
  hiddenBias: 'backbone/hidden/bias',
  outKernel: 'backbone/prelogits/kernel',
  outBias: 'backbone/prelogits/bias',
} as const;

export class Network {
  readonly params: Map<string, tf.Variable>;

  constructor(
    readonly config: NetworkConfig,
    seed: number,
  ) {
    const { inputSize, hidden, D } = config;
    const shapes = [
      { name: BACKBONE_PARAMS.hiddenKernel, dims: [inputSize, hidden] },
      { name: BACKBONE_PARAMS.hiddenBias, dims: [hidden] },
      { name: BACKBONE_PARAMS.outKernel, dims: [hidden, D] },
      { name: BACKBONE_PARAMS.outBias, dims: [D] },
      ...headParamShapes(this.headSpec(1)),
    ];
    this.params = createVariables(shapes, (name, dims) => glorotNormalOrZeros(name, dims, seed));
    if (config.temperature.kind === 'learned') this.params.set(TEMPERATURE_PARAM, tf.variable(tf.scalar(config.temperature.init)));
  }

  /** The manifest's head spec, with the given tau. */
  headSpec(tau: number): HeadSpec {
    const { head: type, D, K, R, minScale } = this.config;
    return type === 'det' ? { type, D, K, tau, minScale } : { type, covariance: 'param-efficient', D, K, R, tau, minScale };
  }

  /** Every trainable variable except the temperature's t. */
  get weightVariables(): tf.Variable[] {
    return [...this.params].filter(([name]) => name !== TEMPERATURE_PARAM).map(([, v]) => v);
  }

  /** The learned temperature's t, if any. */
  get temperatureVariable(): tf.Variable | undefined {
    return this.params.get(TEMPERATURE_PARAM);
  }

  private p(name: string): tf.Variable {
    return variableOf(this.params, name, 'network');
  }

  /** phi = tanh(relu(x W1 + b1) W2 + b2), x [B, inputSize] -> [B, D]. */
  prelogits(x: tf.Tensor2D): tf.Tensor2D {
    const h = tf.relu(tf.add(tf.matMul(x, this.p(BACKBONE_PARAMS.hiddenKernel)), this.p(BACKBONE_PARAMS.hiddenBias)));
    return tf.tanh(tf.add(tf.matMul(h as tf.Tensor2D, this.p(BACKBONE_PARAMS.outKernel)), this.p(BACKBONE_PARAMS.outBias))) as tf.Tensor2D;
  }

  /** tau as a tfjs scalar, so that gradients reach t: the formula of src/format/temperature.ts in tfjs ops. */
  tau(): tf.Scalar {
    const t = this.config.temperature;
    if (t.kind === 'fixed') return tf.scalar(t.tau);
    return tf.add(t.min, tf.mul(t.max - t.min, tf.sigmoid(this.p(TEMPERATURE_PARAM)))) as tf.Scalar;
  }

  private locLogits(phi: tf.Tensor2D): tf.Tensor2D {
    return tf.add(tf.matMul(phi, this.p('loc_layer/kernel')), this.p('loc_layer/bias'));
  }

  /** Untempered sampled logits u_s [B, S, K]; noise from tf.randomNormal with the given seeds. */
  sampledLogits(phi: tf.Tensor2D, samples: number, seeds: NoiseSeeds): tf.Tensor3D {
    const { head, D, K, R } = this.config;
    if (head === 'det') throw new Error('DET has no noise to sample');
    const B = phi.shape[0];
    const N = head === 'het' ? K : D;
    const v = tf.add(tf.matMul(phi, this.p('scale_layer_heteroscedastic/kernel')), this.p('scale_layer_heteroscedastic/bias'));
    const d = tf.add(tf.softplus(tf.add(tf.matMul(phi, this.p('diag_layer/kernel')), this.p('diag_layer/bias'))), this.config.minScale);
    const epsR = tf.randomNormal([B * samples, R], 0, 1, 'float32', seeds.factor);
    const epsD = tf.randomNormal([B, samples, N], 0, 1, 'float32', seeds.diagonal);
    const factor = tf.reshape(
      tf.add(tf.matMul(epsR, this.p('scale_layer_homoscedastic/kernel')), this.p('scale_layer_homoscedastic/bias')),
      [B, samples, N],
    );
    const noise = tf.add(tf.mul(factor, tf.expandDims(v, 1)), tf.mul(tf.expandDims(d, 1), epsD));
    if (head === 'het') return tf.add(tf.expandDims(this.locLogits(phi), 1), noise) as tf.Tensor3D;
    const z = tf.reshape(tf.add(tf.expandDims(phi, 1), noise), [B * samples, D]) as tf.Tensor2D;
    return tf.reshape(this.locLogits(z), [B, samples, K]);
  }

  /**
   * MC negative log-likelihood -log(max(p_hat(y|x), 1e-7)), p_hat = mean_s softmax(u_s / tau),
   * computed as logsumexp_s log p_s(y) - log S so that small probabilities do not underflow.
   * DET uses its single deterministic softmax. yOneHot is [B, K].
   */
  loss(x: tf.Tensor2D, yOneHot: tf.Tensor2D, samples: number, seeds: NoiseSeeds): tf.Scalar {
    const phi = this.prelogits(x);
    const logits = this.config.head === 'det' ? tf.expandDims(this.locLogits(phi), 1) : this.sampledLogits(phi, samples, seeds);
    const S = logits.shape[1] as number;
    const logP = tf.logSoftmax(tf.div(logits, this.tau()));
    const logPy = tf.sum(tf.mul(logP, tf.expandDims(yOneHot, 1)), 2);
    const logPHat = tf.sub(tf.logSumExp(logPy, 1), Math.log(S));
    return tf.neg(tf.mean(tf.maximum(logPHat, Math.log(1e-7)))) as tf.Scalar;
  }

  /** Mean mode: softmax((W^T phi + b) / tau), noise switched off. */
  meanProbs(x: tf.Tensor2D): tf.Tensor2D {
    return tf.softmax(tf.div(this.locLogits(this.prelogits(x)), this.tau())) as tf.Tensor2D;
  }

  /** The MC predictive (1/S) sum_s softmax(u_s / tau), [B, K]. */
  mcProbs(x: tf.Tensor2D, samples: number, seeds: NoiseSeeds): tf.Tensor2D {
    const logits = this.sampledLogits(this.prelogits(x), samples, seeds);
    return tf.mean(tf.softmax(tf.div(logits, this.tau())), 1) as tf.Tensor2D;
  }

  /** The current tau as a number. */
  tauValue(): number {
    return tf.tidy(() => this.tau().dataSync()[0]);
  }

  /** Every parameter's current value (host copies). */
  snapshot(): Map<string, ParamValue> {
    return snapshotVariables(this.params);
  }

  dispose(): void {
    for (const v of this.params.values()) v.dispose();
  }
}
