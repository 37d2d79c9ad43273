// head.link and diagonal-only (R = 0) heads in the checkpoint format: the default, the tensors
// each needs, and the refusals (each naming the field).
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadCheckpoint } from '../../src/format/checkpoint.ts';
import { CheckpointError } from '../../src/format/errors.ts';
import { generateCheckpoint } from '../../src/synthetic/random-checkpoint.ts';
import { makeTinyCheckpoint } from '../helpers/checkpoints.ts';
import { editManifest } from '../helpers/manifest.ts';

const parent = await mkdtemp(path.join(tmpdir(), 'hetxl-link-'));
after(() => rm(parent, { recursive: true, force: true }));

const refusal = (problem: RegExp) => (e: unknown) => e instanceof CheckpointError && problem.test(e.problem);

test('a manifest without head.link loads as softmax; sigmoid is kept', async () => {
  const softmax = await loadCheckpoint(await makeTinyCheckpoint(parent, { name: 'no-link' }));
  assert.equal(softmax.manifest.head.link, 'softmax');
  const sigmoid = await loadCheckpoint(await makeTinyCheckpoint(parent, { name: 'sigmoid', link: 'sigmoid' }));
  assert.equal(sigmoid.manifest.head.link, 'sigmoid');
});

test('an unknown link is refused with a message naming head.link', async () => {
  const dir = await makeTinyCheckpoint(parent, { name: 'bad-link' });
  await editManifest(dir, (m) => (m.head.link = 'softplus'));
  await assert.rejects(loadCheckpoint(dir), refusal(/\/head\/link.*"softmax", "sigmoid"/));
});

test('R = 0 heads hold the loc and diag layers only, for both covariances and both noise widths', async () => {
  for (const [type, covariance] of [['het', 'full'], ['het', 'param-efficient'], ['het-xl', 'full'], ['het-xl', 'param-efficient']] as const) {
    const c = await loadCheckpoint(await makeTinyCheckpoint(parent, { name: `r0-${type}-${covariance}`, type, covariance, R: 0 }));
    assert.deepEqual([...c.weights.keys()].sort(), ['diag_layer/bias', 'diag_layer/kernel', 'loc_layer/bias', 'loc_layer/kernel'], `${type} ${covariance}`);
  }
});

test('an R = 0 head with low-rank tensors is refused, and so is an R = 3 head without them', async () => {
  const withScales = await makeTinyCheckpoint(parent, { name: 'r0-with-scales', R: 3 });
  await editManifest(withScales, (m) => (m.head.R = 0));
  await assert.rejects(loadCheckpoint(withScales), refusal(/unexpected tensor scale_layer_heteroscedastic\/kernel/));
  const without = await makeTinyCheckpoint(parent, { name: 'r3-without-scales', R: 0 });
  await editManifest(without, (m) => (m.head.R = 3));
  await assert.rejects(loadCheckpoint(without), refusal(/missing tensor scale_layer_heteroscedastic\/kernel/));
});

test('zero-shot models refuse link sigmoid and R = 0, naming the field', async () => {
  const zeroShot = async (name: string, head: { link?: 'sigmoid'; R?: number }) =>
    (
      await generateCheckpoint({
        modelsDir: parent,
        name,
        seed: 3,
        head: { type: 'het-xl', D: 6, K: 3, R: 2, ...head },
        input: { height: 4, width: 4, channels: 1 },
        zeroShot: { vocabulary: ['a', 'red', 'circle'], templates: ['a {label}'] },
      })
    ).dir;
  await assert.rejects(loadCheckpoint(await zeroShot('zs-sigmoid', { link: 'sigmoid' })), refusal(/head\.link "softmax"/));
  await assert.rejects(loadCheckpoint(await zeroShot('zs-r0', { R: 0 })), refusal(/head\.R >= 1/));
});
