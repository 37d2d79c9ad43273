// The --head-config of `npm run convert -- edward2`: the constructor arguments of edward2's JAX
// layer, under edward2's own names (google/edward2 edward2/jax/nn/heteroscedastic_lib.py, the
// fields of MCSoftmaxDenseFA and MCSigmoidDenseFA), checked and with edward2's defaults applied.
// A field this project has no counterpart for is refused unless it cannot change what one image's
// predictive is (IGNORED below, each with the reason); the BatchEnsemble variants are refused.
import { Type, type TSchema } from '@sinclair/typebox';
import { Value } from '@sinclair/typebox/value';
import type { Link } from '../format/manifest.ts';
import { ConvertError } from './errors.ts';

// Module constants of heteroscedastic_lib.py: the bounds compute_temperature uses when the
// layer's temperature_lower_bound / temperature_upper_bound are None.
export const EDWARD2_TEMPERATURE_LOWER_BOUND = 0.3;
export const EDWARD2_TEMPERATURE_UPPER_BOUND = 3.0;
/** MIN_SCALE_MONTE_CARLO, added to softplus(diag_layer(x)) in _compute_scale_param. */
export const EDWARD2_MIN_SCALE = 1e-3;
/** The layers' default test_mc_samples. */
const EDWARD2_TEST_MC_SAMPLES = 1000;

/** The layers converted, their link, and the name of their class-count field. */
export const EDWARD2_LAYERS = {
  MCSoftmaxDenseFA: { link: 'softmax', classes: 'num_classes' },
  MCSigmoidDenseFA: { link: 'sigmoid', classes: 'num_outputs' },
} as const satisfies Record<string, { link: Link; classes: string }>;
export type Edward2Layer = keyof typeof EDWARD2_LAYERS;

/** Fields accepted and not used, with why they cannot change the served predictive of an image. */
export const IGNORED: Record<string, string> = {
  train_mc_samples: 'samples while training only',
  share_samples_across_batch: 'correlates the noise of the images of one batch; each image\'s predictive is the same',
  logits_only: 'chooses what __call__ returns; the server returns probabilities, and the locs with include=logits',
  return_locs: 'chooses what __call__ returns; the server returns the locs with include=logits',
  eps: 'clips probabilities before their log in __call__; the server reports unclipped probabilities',
  cov_layer_kernel_init_scale: 'scales the initialiser only',
};

const nullable = (schema: TSchema) => Type.Optional(Type.Union([schema, Type.Null()]));

const commonFields = {
  num_factors: Type.Integer({ minimum: 0 }),
  temperature: Type.Optional(Type.Number()),
  parameter_efficient: Type.Optional(Type.Boolean()),
  train_mc_samples: Type.Optional(Type.Integer({ minimum: 1 })),
  test_mc_samples: Type.Optional(Type.Integer({ minimum: 1 })),
  share_samples_across_batch: Type.Optional(Type.Boolean()),
  logits_only: Type.Optional(Type.Boolean()),
  return_locs: Type.Optional(Type.Boolean()),
  eps: Type.Optional(Type.Number()),
  tune_temperature: Type.Optional(Type.Boolean()),
  temperature_lower_bound: nullable(Type.Number()),
  temperature_upper_bound: nullable(Type.Number()),
  latent_dim: nullable(Type.Integer({ minimum: 1 })),
};

/** Each layer's fields (MCSigmoidDenseFA has no cov_layer_kernel_init_scale). */
const SCHEMAS: Record<Edward2Layer, TSchema> = {
  MCSoftmaxDenseFA: Type.Object(
    { layer: Type.Literal('MCSoftmaxDenseFA'), num_classes: Type.Optional(Type.Integer({ minimum: 1 })), ...commonFields, cov_layer_kernel_init_scale: nullable(Type.Number()) },
    { additionalProperties: false },
  ),
  MCSigmoidDenseFA: Type.Object(
    { layer: Type.Literal('MCSigmoidDenseFA'), num_outputs: Type.Optional(Type.Integer({ minimum: 1 })), ...commonFields },
    { additionalProperties: false },
  ),
};

/** A head-config with edward2's defaults applied. */
export interface Edward2HeadConfig {
  layer: Edward2Layer;
  link: Link;
  /** num_classes (softmax) or num_outputs (sigmoid) when given: checked against loc_layer/kernel. */
  classes?: number;
  numFactors: number;
  parameterEfficient: boolean;
  /** null: HET (noise on the K logits); a number: HET-XL (noise on the latent_dim = D pre-logits). */
  latentDim: number | null;
  temperature: number;
  tuneTemperature: boolean;
  temperatureLowerBound: number;
  temperatureUpperBound: number;
  testMcSamples: number;
  /** The IGNORED fields the config gave. */
  ignored: string[];
}

/** Checks a parsed --head-config (JSON) and applies edward2's defaults; refusals name the field. */
export function parseHeadConfig(raw: unknown, file: string): Edward2HeadConfig {
  const fail = (problem: string): never => {
    throw new ConvertError(`${file}: ${problem}`);
  };
  if (raw === null || typeof raw !== 'object' || Array.isArray(raw)) return fail('the head-config must be a JSON object');
  const config = raw as Record<string, unknown>;
  const layer = config.layer;
  if (layer === undefined) return fail(`missing field "layer" (${Object.keys(EDWARD2_LAYERS).join(' or ')})`);
  if (typeof layer !== 'string' || !(layer in EDWARD2_LAYERS)) {
    return fail(
      `unknown layer ${JSON.stringify(layer)} in field "layer": the converter reads ${Object.keys(EDWARD2_LAYERS).join(' and ')} ` +
        '(the BatchEnsemble variants MCSoftmaxDenseFABE / MCSigmoidDenseFABE and the TF layers are not converted)',
    );
  }
  const name = layer as Edward2Layer;
  const schema = SCHEMAS[name];
  if (!Value.Check(schema, config)) {
    const problems = [...Value.Errors(schema, config)].slice(0, 5).map((e) => {
      const field = e.path.replace(/^\//, '') || '/';
      return e.message === 'Unexpected property' ? `unknown field "${field}" for ${name}` : `field "${field}": ${e.message}`;
    });
    fail(problems.join('; '));
  }
  const c = config as {
    num_factors: number;
    num_classes?: number;
    num_outputs?: number;
    temperature?: number;
    parameter_efficient?: boolean;
    test_mc_samples?: number;
    tune_temperature?: boolean;
    temperature_lower_bound?: number | null;
    temperature_upper_bound?: number | null;
    latent_dim?: number | null;
  };
  const parsed: Edward2HeadConfig = {
    layer: name,
    link: EDWARD2_LAYERS[name].link,
    ...(c.num_classes !== undefined || c.num_outputs !== undefined ? { classes: c.num_classes ?? c.num_outputs } : {}),
    numFactors: c.num_factors,
    parameterEfficient: c.parameter_efficient ?? false,
    latentDim: c.latent_dim ?? null,
    temperature: c.temperature ?? 1,
    tuneTemperature: c.tune_temperature ?? false,
    // compute_temperature: `lower if lower is not None else TEMPERATURE_LOWER_BOUND`, and the same for upper.
    temperatureLowerBound: c.temperature_lower_bound ?? EDWARD2_TEMPERATURE_LOWER_BOUND,
    temperatureUpperBound: c.temperature_upper_bound ?? EDWARD2_TEMPERATURE_UPPER_BOUND,
    testMcSamples: c.test_mc_samples ?? EDWARD2_TEST_MC_SAMPLES,
    ignored: Object.keys(IGNORED).filter((k) => k in config),
  };
  if (parsed.tuneTemperature) {
    const { temperatureLowerBound: lower, temperatureUpperBound: upper } = parsed;
    if (!(lower > 0)) fail(`field "temperature_lower_bound" must be > 0 (a temperature divides the logits), got ${lower}`);
    if (!(lower < upper)) fail(`fields "temperature_lower_bound" ${lower} and "temperature_upper_bound" ${upper}: the lower bound must be below the upper`);
  } else if (!(parsed.temperature > 0)) {
    fail(`field "temperature" must be > 0 when "tune_temperature" is false, got ${parsed.temperature} (uncertainty-baselines learns it when temperature <= 0: set "tune_temperature": true)`);
  }
  return parsed;
}
