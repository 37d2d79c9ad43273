// What the edward2 converter refuses (issue #11, "Bad input"), each with a message naming the key
// or field, and no checkpoint folder (nor a staging folder) left behind.
import { after, before, test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { convertEdward2 } from '../../src/convert/edward2.ts';
import { ConvertError } from '../../src/convert/errors.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import { npyBytes } from '../helpers/npz.ts';
import { writeEdward2Inputs, type Edward2Case, type InputEdits } from './edward2-inputs.ts';

const HETXL: Edward2Case = { layer: 'MCSigmoidDenseFA', latentDim: 6, numFactors: 3, parameterEfficient: true, tuned: { t: 0.2 }, prefix: 'params/multilabel_head', seed: 3 };
const FULL: Edward2Case = { ...HETXL, parameterEfficient: false, numFactors: 2 };
const P = 'params/multilabel_head';

let scratch: string;
let count = 0;
before(async () => {
  scratch = await mkdtemp(join(tmpdir(), 'convert-refusals-'));
});
after(() => rm(scratch, { recursive: true, force: true }));

/** Converts the case with the edits; expects a refusal whose message matches, and an untouched models folder. */
async function refused(c: Edward2Case, edits: InputEdits, message: RegExp, extra: { prefix?: string } = {}): Promise<void> {
  const dir = join(scratch, `case-${count++}`);
  const inputs = await writeEdward2Inputs(join(dir, 'inputs'), c, edits);
  const out = join(dir, 'models');
  await mkdir(out);
  await assert.rejects(convertEdward2({ ...inputs, out, name: 'converted', ...extra }), (e: unknown) => {
    assert.ok(e instanceof ConvertError || e instanceof CheckpointError, String(e));
    assert.match((e as Error).message, message);
    return true;
  });
  assert.deepEqual(await readdir(out), [], 'nothing is written');
}

test('a --params file that is not an npz', async () => {
  await refused(HETXL, { params: new TextEncoder().encode('not a zip') }, /params\.npz: is not an \.npz archive/);
  await refused(HETXL, { params: npyBytes(Float32Array.from([1]), [1]) }, /params\.npz: is a single \.npy array/);
});

test('a missing key, naming it and the layer that has it', async () => {
  await refused(HETXL, { arrays: (a) => delete a[`${P}/diag_layer/bias`] }, /missing key params\/multilabel_head\/diag_layer\/bias \(MCSigmoidDenseFA with num_factors 3, parameter_efficient true/);
  await refused(HETXL, { arrays: (a) => delete a[`${P}/pre_sigmoid_temperature`] }, /missing key params\/multilabel_head\/pre_sigmoid_temperature/);
});

test('a mis-shaped key, with the shape expected and where D, K and N come from', async () => {
  await refused(HETXL, { arrays: (a) => (a[`${P}/loc_layer/bias`] = { data: new Float32Array(6), shape: [6] }) }, /params\/multilabel_head\/loc_layer\/bias has shape \[6\], expected \[5\] \(D = 6, K = 5/);
  await refused(HETXL, { arrays: (a) => (a[`${P}/loc_layer/kernel`] = { data: new Float32Array(30), shape: [30] }) }, /loc_layer\/kernel has shape \[30\], expected \[D, K\]/);
  await refused(HETXL, { arrays: (a) => (a[`${P}/pre_sigmoid_temperature`] = { data: new Float32Array(2), shape: [2] }) }, /pre_sigmoid_temperature has shape \[2\], expected \[1\]/);
  // HET (latent_dim null) puts the noise on the K logits: a HET-XL's [D, D] diag_layer does not fit.
  await refused({ ...HETXL, latentDim: null }, { arrays: (a) => (a[`${P}/diag_layer/kernel`] = { data: new Float32Array(36), shape: [6, 6] }) }, /diag_layer\/kernel has shape \[6, 6\], expected \[6, 5\] .*N = K = 5: latent_dim is null/);
});

test('a head-config that contradicts the parameters', async () => {
  await refused(HETXL, { config: (c) => (c.num_factors = 4) }, /head-config "num_factors" 4 contradicts params\/multilabel_head\/scale_layer_homoscedastic\/kernel \[3, 6\]/);
  await refused(FULL, { config: (c) => (c.num_factors = 3) }, /head-config "num_factors" 3 contradicts params\/multilabel_head\/scale_layer\/kernel \[6, 12\]: its second dimension must be N \* num_factors = 18/);
  await refused(HETXL, { config: (c) => (c.latent_dim = 8) }, /head-config "latent_dim" 8 contradicts params\/multilabel_head\/loc_layer\/kernel \[6, 5\]: .*latent_dim must be 6/);
  await refused(HETXL, { config: (c) => (c.num_outputs = 7) }, /head-config "num_outputs" 7 contradicts params\/multilabel_head\/loc_layer\/kernel \[6, 5\]/);
  await refused(HETXL, { config: (c) => (c.num_factors = 0) }, /"num_factors" is 0 \(diagonal noise only\), but the subtree holds a low-rank layer: params\/multilabel_head\/scale_layer_/);
  await refused(HETXL, { config: (c) => (c.parameter_efficient = false) }, /"parameter_efficient" is false, but the subtree holds the parameter-efficient scale layers: params\/multilabel_head\/scale_layer_/);
  await refused(FULL, { config: (c) => (c.parameter_efficient = true) }, /"parameter_efficient" is true, but the subtree holds the full-covariance scale_layer: params\/multilabel_head\/scale_layer\//);
  await refused(HETXL, { config: (c) => ((c.tune_temperature = false), (c.temperature = 1)) }, /"tune_temperature" is false .* learned temperature: params\/multilabel_head\/pre_sigmoid_temperature/);
});

test('an unknown layer, an unknown or mistyped field, bad temperatures', async () => {
  await refused(HETXL, { config: (c) => (c.layer = 'MCSigmoidDenseFABE') }, /head-config\.json: unknown layer "MCSigmoidDenseFABE" in field "layer": the converter reads MCSoftmaxDenseFA and MCSigmoidDenseFA/);
  await refused(HETXL, { config: (c) => delete c.layer }, /head-config\.json: missing field "layer" \(MCSoftmaxDenseFA or MCSigmoidDenseFA\)/);
  await refused(HETXL, { config: (c) => (c.ens_size = 4) }, /unknown field "ens_size" for MCSigmoidDenseFA/);
  // cov_layer_kernel_init_scale exists on MCSoftmaxDenseFA only.
  await refused(HETXL, { config: (c) => (c.cov_layer_kernel_init_scale = 0.5) }, /unknown field "cov_layer_kernel_init_scale" for MCSigmoidDenseFA/);
  await refused(HETXL, { config: (c) => (c.num_factors = 2.5) }, /field "num_factors": Expected integer/);
  await refused(HETXL, { config: (c) => (c.latent_dim = '6') }, /field "latent_dim"/);
  await refused(HETXL, { config: (c) => (c.temperature_lower_bound = 0) }, /field "temperature_lower_bound" must be > 0/);
  await refused(HETXL, { config: (c) => ((c.temperature_lower_bound = 2), (c.temperature_upper_bound = 1)) }, /"temperature_lower_bound" 2 and "temperature_upper_bound" 1: the lower bound must be below the upper/);
  await refused({ ...HETXL, tuned: undefined, temperature: -1 }, {}, /field "temperature" must be > 0 when "tune_temperature" is false/);
});

test('an unknown parameter in the head subtree', async () => {
  await refused(HETXL, { arrays: (a) => (a[`${P}/loc_layer/fast_weight_alpha`] = { data: new Float32Array(6), shape: [6] }) }, /unknown parameter params\/multilabel_head\/loc_layer\/fast_weight_alpha: not a parameter of edward2's MCSigmoidDenseFA/);
});

test('several candidate subtrees without --prefix; a --prefix that holds no head', async () => {
  const twoHeads: InputEdits = {
    arrays: (a) => {
      for (const key of Object.keys(a)) if (key.startsWith(`${P}/`)) a[key.replace(P, 'params/multiclass_head')] = a[key];
    },
  };
  await refused(HETXL, twoHeads, /several subtrees hold loc_layer\/kernel \(params\/multilabel_head, params\/multiclass_head\); choose one with --prefix/);
  await refused(HETXL, {}, /--prefix params\/head: no key params\/head\/loc_layer\/kernel \(subtrees holding loc_layer\/kernel: params\/multilabel_head\)/, { prefix: 'params/head' });
  await refused(HETXL, { arrays: (a) => delete a[`${P}/loc_layer/kernel`] }, /no key ends in loc_layer\/kernel/);
});

test('an unsupported dtype, naming the key', async () => {
  await refused(HETXL, { arrays: (a) => (a[`${P}/diag_layer/bias`] = npyBytes(new Float32Array(6), [6], { descr: '<f2', raw: new Uint8Array(12) })) }, /array "params\/multilabel_head\/diag_layer\/bias": has dtype <f2 \(float16\)/);
});

test('non-finite parameters, labels that do not match K, a bad input object, a backbone of another width', async () => {
  await refused(HETXL, { arrays: (a) => (a[`${P}/loc_layer/bias`] = { data: Float32Array.from([0, 0, NaN, 0, 0]), shape: [5] }) }, /params\/multilabel_head\/loc_layer\/bias holds a non-finite value \(NaN\) at flat index 2/);
  await refused(HETXL, { labels: ['a', 'b'] }, /labels\.txt: 2 labels \(lines\), but the manifest says K = 5/);
  await refused(HETXL, { input: { height: 2, width: 3, channels: 1, mean: [0.5], std: [0.25], resize: 'squash' } }, /\/input\/resize/);
  await refused(HETXL, { input: { height: 3, width: 3, channels: 1, mean: [0.5], std: [0.25] } }, /backbone\.onnx: input "image" has shape .* height 2 != 3/);
});

test('an existing checkpoint folder is not overwritten', async () => {
  const dir = join(scratch, 'existing');
  const inputs = await writeEdward2Inputs(join(dir, 'inputs'), HETXL);
  const out = join(dir, 'models');
  await convertEdward2({ ...inputs, out, name: 'converted' });
  await assert.rejects(convertEdward2({ ...inputs, out, name: 'converted' }), /models\/converted already exists; remove it or choose another --name/);
  assert.deepEqual(await readdir(out), ['converted']);
});
