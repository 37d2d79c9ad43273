// The --head-config of the edward2 converter: edward2's defaults (heteroscedastic_lib.py: the
// layers' field defaults, TEMPERATURE_LOWER_BOUND 0.3, TEMPERATURE_UPPER_BOUND 3.0), and the
// fields accepted without effect on serving, which the CLI lists.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseHeadConfig } from '../../src/convert/edward2-config.ts';
import { describeConversion } from '../../src/cli/convert.ts';
import type { Edward2Conversion } from '../../src/convert/edward2.ts';

test("edward2's defaults fill what the head-config leaves out", () => {
  assert.deepEqual(parseHeadConfig({ layer: 'MCSoftmaxDenseFA', num_factors: 10 }, 'h.json'), {
    layer: 'MCSoftmaxDenseFA',
    link: 'softmax',
    numFactors: 10,
    parameterEfficient: false,
    latentDim: null,
    temperature: 1,
    tuneTemperature: false,
    temperatureLowerBound: 0.3,
    temperatureUpperBound: 3,
    testMcSamples: 1000,
    ignored: [],
  });
  const tuned = parseHeadConfig({ layer: 'MCSigmoidDenseFA', num_factors: 3, tune_temperature: true, temperature_lower_bound: null, temperature_upper_bound: 5 }, 'h.json');
  assert.equal(tuned.link, 'sigmoid');
  assert.equal(tuned.temperatureLowerBound, 0.3, 'null reads as the default bound, as in compute_temperature');
  assert.equal(tuned.temperatureUpperBound, 5);
});

test("uncertainty-baselines' arguments: the ones without effect on an image's predictive are accepted and listed", () => {
  const config = parseHeadConfig(
    {
      layer: 'MCSoftmaxDenseFA',
      num_classes: 1000,
      num_factors: 15,
      temperature: -1,
      parameter_efficient: false,
      train_mc_samples: 1000,
      test_mc_samples: 1000,
      logits_only: true,
      return_locs: false,
      tune_temperature: true,
      latent_dim: 768,
      share_samples_across_batch: false,
      eps: 1e-7,
      cov_layer_kernel_init_scale: null,
    },
    'h.json',
  );
  assert.equal(config.classes, 1000);
  assert.equal(config.latentDim, 768);
  assert.deepEqual(config.ignored, ['train_mc_samples', 'share_samples_across_batch', 'logits_only', 'return_locs', 'eps', 'cov_layer_kernel_init_scale']);
  const printed = describeConversion({
    dir: '/m/x',
    files: ['manifest.json'],
    prefix: '',
    config,
    manifest: { head: { type: 'het-xl', D: 768, K: 1000, R: 15, covariance: 'full', link: 'softmax', diagonalNoise: 'shared', tau: 1.65, temperature: { t: 0, min: 0.3, max: 3 }, minScale: 1e-3 }, mc: { defaultSamples: 1000, maxSamples: 10000 } },
  } as unknown as Edward2Conversion);
  assert.match(printed, /subtree \(the root\)/);
  assert.match(printed, /ignored head-config field share_samples_across_batch: correlates the noise of the images of one batch/);
  assert.match(printed, /ignored head-config field eps: /);
});
