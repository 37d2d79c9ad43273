// edward2 parameter subtree -> this project's head: the HeadSpec and the head.safetensors tensors.
//
// From google/edward2 edward2/jax/nn/heteroscedastic_lib.py (MCSoftmaxDenseFA / MCSigmoidDenseFA):
// - setup()/_setup(): the submodules and so the subtree's keys: loc_layer (num_classes or
//   num_outputs), diag_layer (actual_latent_dim), scale_layer_homoscedastic and
//   scale_layer_heteroscedastic (actual_latent_dim each) when parameter_efficient, else
//   scale_layer (actual_latent_dim * num_factors) when num_factors > 0, and pre_sigmoid_temperature
//   [1] when tune_temperature. actual_latent_dim is latent_dim, or the class count when None.
// - _compute_mc_samples: with latent_dim None the noise is added to the K locs (HET here), else to
//   the layer's inputs before loc_layer (HET-XL), so latent_dim must equal the input width D.
// - _compute_noise_samples: parameter-efficient noise (eps_R J + b_J) * (phi W_v + b_v); full noise
//   reshape(scale_layer(phi), [N, R]) eps_R; plus the diagonal, diag_scale * one normal per sample
//   (_compute_diagonal_noise_samples draws shape [B, S, 1]): diagonalNoise "shared" here.
// - _compute_scale_param: diag_scale = softplus(diag_layer(phi)) + MIN_SCALE_MONTE_CARLO.
// - get_temperature / compute_temperature: tau = lower + (upper - lower) * sigmoid(t) when tuned.
// A flax nn.Dense stores kernel [in, out] and bias [out], as head.safetensors does
// (src/format/head-params.ts), so the tensors are copied as they are.
import { headParamShapes } from '../format/head-params.ts';
import type { HeadSpec } from '../format/manifest.ts';
import type { NpyArray } from '../format/npz.ts';
import { temperatureTau } from '../format/temperature.ts';
import { EDWARD2_MIN_SCALE, type Edward2HeadConfig } from './edward2-config.ts';
import { ConvertError } from './errors.ts';

const LOC_KERNEL = 'loc_layer/kernel';
const TEMPERATURE = 'pre_sigmoid_temperature';
const PARAMETER_EFFICIENT = ['scale_layer_heteroscedastic/kernel', 'scale_layer_heteroscedastic/bias', 'scale_layer_homoscedastic/kernel', 'scale_layer_homoscedastic/bias'];
const FULL = ['scale_layer/kernel', 'scale_layer/bias'];
/** Every parameter name either layer can have, relative to its subtree. */
const KNOWN = new Set([LOC_KERNEL, 'loc_layer/bias', 'diag_layer/kernel', 'diag_layer/bias', ...PARAMETER_EFFICIENT, ...FULL, TEMPERATURE]);

export interface ConvertedHead {
  head: HeadSpec;
  /** head.safetensors, in the order of headParamShapes. */
  tensors: { name: string; dims: number[]; data: Float32Array }[];
}

const fmt = (dims: readonly number[]) => `[${dims.join(', ')}]`;

/** The full key of a name of the subtree. */
export function keyIn(prefix: string, name: string): string {
  return prefix === '' ? name : `${prefix}/${name}`;
}

/**
 * The head's subtree: `--prefix` when given (it must hold loc_layer/kernel), else the one subtree
 * whose keys include loc_layer/kernel ('' when the npz holds the head's tree alone).
 */
export function findHeadPrefix(keys: readonly string[], prefix: string | undefined, file: string): string {
  const candidates = keys.filter((k) => k === LOC_KERNEL || k.endsWith(`/${LOC_KERNEL}`)).map((k) => k.slice(0, Math.max(0, k.length - LOC_KERNEL.length - 1)));
  const shown = candidates.map((c) => (c === '' ? '(the root)' : c)).join(', ');
  if (prefix !== undefined) {
    const wanted = prefix.replace(/^\/+|\/+$/g, '');
    if (!keys.includes(keyIn(wanted, LOC_KERNEL))) {
      throw new ConvertError(
        `${file}: --prefix ${prefix}: no key ${keyIn(wanted, LOC_KERNEL)}` + (candidates.length ? ` (subtrees holding ${LOC_KERNEL}: ${shown})` : ` (no subtree holds ${LOC_KERNEL})`),
      );
    }
    return wanted;
  }
  if (candidates.length === 0) {
    throw new ConvertError(`${file}: no key ends in ${LOC_KERNEL}, so no head subtree was found (keys must be flattened with sep='/', e.g. multilabel_head/${LOC_KERNEL})`);
  }
  if (candidates.length > 1) throw new ConvertError(`${file}: several subtrees hold ${LOC_KERNEL} (${shown}); choose one with --prefix`);
  return candidates[0];
}

/** The keys below the subtree, by their name in it. */
export function subtreeNames(keys: readonly string[], prefix: string): Map<string, string> {
  const names = new Map<string, string>();
  for (const key of keys) {
    if (prefix === '') names.set(key, key);
    else if (key.startsWith(`${prefix}/`)) names.set(key.slice(prefix.length + 1), key);
  }
  return names;
}

/** What the config makes edward2 create, to name it in messages. */
function layerText(config: Edward2HeadConfig): string {
  return `${config.layer} with num_factors ${config.numFactors}, parameter_efficient ${config.parameterEfficient}, latent_dim ${config.latentDim}, tune_temperature ${config.tuneTemperature}`;
}

/** The subtree's names that the config makes edward2 create. */
function expectedNames(config: Edward2HeadConfig): string[] {
  const names = [LOC_KERNEL, 'loc_layer/bias', 'diag_layer/kernel', 'diag_layer/bias'];
  // setup() creates the scale layers whenever parameter_efficient, but flax stores a submodule's
  // parameters only once it is called, and _compute_noise_samples calls them only when num_factors > 0.
  if (config.numFactors > 0) names.push(...(config.parameterEfficient ? PARAMETER_EFFICIENT : FULL));
  if (config.tuneTemperature) names.push(TEMPERATURE);
  return names;
}

/** Why a parameter the config does not create contradicts it. */
function contradiction(name: string, config: Edward2HeadConfig): string {
  if (name === TEMPERATURE) return 'head-config "tune_temperature" is false (a fixed "temperature"), but the subtree holds a learned temperature';
  if (config.numFactors === 0) return 'head-config "num_factors" is 0 (diagonal noise only), but the subtree holds a low-rank layer';
  return config.parameterEfficient
    ? 'head-config "parameter_efficient" is true, but the subtree holds the full-covariance scale_layer'
    : 'head-config "parameter_efficient" is false, but the subtree holds the parameter-efficient scale layers';
}

/** Checks the subtree against the config and returns the head; every refusal names the key or field. */
export function convertHeadParams(arrays: Map<string, NpyArray>, config: Edward2HeadConfig, prefix: string, file: string): ConvertedHead {
  const fail = (problem: string): never => {
    throw new ConvertError(`${file}: ${problem}`);
  };
  const key = (name: string) => keyIn(prefix, name);
  const names = subtreeNames([...arrays.keys()], prefix);
  for (const name of names.keys()) {
    if (!KNOWN.has(name)) fail(`unknown parameter ${key(name)}: not a parameter of edward2's ${config.layer} (subtree ${prefix || '(the root)'})`);
  }
  const expected = expectedNames(config);
  for (const name of names.keys()) if (!expected.includes(name)) fail(`${contradiction(name, config)}: ${key(name)}`);
  for (const name of expected) if (!names.has(name)) fail(`missing key ${key(name)} (${layerText(config)} has it)`);
  const array = (name: string) => arrays.get(key(name))!;

  const loc = array(LOC_KERNEL);
  if (loc.shape.length !== 2) fail(`${key(LOC_KERNEL)} has shape ${fmt(loc.shape)}, expected [D, K] (a flax Dense kernel, [in, out])`);
  const [D, K] = loc.shape;
  const classField = config.link === 'softmax' ? 'num_classes' : 'num_outputs';
  if (config.classes !== undefined && config.classes !== K) fail(`head-config "${classField}" ${config.classes} contradicts ${key(LOC_KERNEL)} ${fmt(loc.shape)} (K = ${K})`);
  if (config.latentDim !== null && config.latentDim !== D) {
    fail(`head-config "latent_dim" ${config.latentDim} contradicts ${key(LOC_KERNEL)} ${fmt(loc.shape)}: edward2 adds the latent noise to the layer's D = ${D} inputs, so latent_dim must be ${D}`);
  }
  const type = config.latentDim === null ? 'het' : 'het-xl';
  const N = type === 'het' ? K : D;
  const R = config.numFactors;
  const nText = type === 'het' ? `N = K = ${K}: latent_dim is null, the noise is on the logits` : `N = latent_dim = ${D}`;
  if (R > 0 && config.parameterEfficient) {
    const hom = array('scale_layer_homoscedastic/kernel');
    if (hom.shape.length === 2 && hom.shape[0] !== R) {
      fail(`head-config "num_factors" ${R} contradicts ${key('scale_layer_homoscedastic/kernel')} ${fmt(hom.shape)}: its first dimension is the number of factors`);
    }
  } else if (R > 0) {
    const scale = array('scale_layer/kernel');
    if (scale.shape.length === 2 && scale.shape[1] !== N * R) {
      fail(`head-config "num_factors" ${R} contradicts ${key('scale_layer/kernel')} ${fmt(scale.shape)}: its second dimension must be N * num_factors = ${N * R} (${nText})`);
    }
  }

  let tau = config.temperature;
  let temperature: HeadSpec['temperature'];
  if (config.tuneTemperature) {
    const t = array(TEMPERATURE);
    if (t.data.length !== 1 || t.shape.length > 1) fail(`${key(TEMPERATURE)} has shape ${fmt(t.shape)}, expected [1] (one learned value)`);
    if (!Number.isFinite(t.data[0])) fail(`${key(TEMPERATURE)} is ${t.data[0]}, not a finite number`);
    temperature = { t: t.data[0], min: config.temperatureLowerBound, max: config.temperatureUpperBound };
    // The same tau as edward2's compute_temperature: lower + (upper - lower) * sigmoid(t).
    tau = temperatureTau(temperature);
  }

  const head: HeadSpec = {
    type,
    covariance: config.parameterEfficient ? 'param-efficient' : 'full',
    D,
    K,
    R,
    link: config.link,
    diagonalNoise: 'shared',
    tau,
    ...(temperature ? { temperature } : {}),
    minScale: EDWARD2_MIN_SCALE,
  };
  const tensors = headParamShapes(head).map(({ name, dims }) => {
    const a = array(name);
    if (a.shape.length !== dims.length || a.shape.some((d, i) => d !== dims[i])) {
      fail(`${key(name)} has shape ${fmt(a.shape)}, expected ${fmt(dims)} (D = ${D}, K = ${K} from ${key(LOC_KERNEL)}; ${nText}; R = num_factors = ${R})`);
    }
    const data = a.data instanceof Float32Array ? a.data : Float32Array.from(a.data);
    for (let i = 0; i < data.length; i++) {
      if (!Number.isFinite(data[i])) fail(`${key(name)} holds a non-finite value (${data[i]}) at flat index ${i}${a.dtype === 'float64' ? ' (after the conversion to float32)' : ''}`);
    }
    return { name, dims, data };
  });
  return { head, tensors };
}
