// head.diagonalNoise in the checkpoint format: absent reads as independent, shared is kept, and
// the refusals name the field (an unknown value, a det head, a zero-shot model).
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

const parent = await mkdtemp(path.join(tmpdir(), 'hetxl-diagonal-'));
after(() => rm(parent, { recursive: true, force: true }));

const refusal = (problem: RegExp) => (e: unknown) => e instanceof CheckpointError && problem.test(e.problem);

test('absent diagonalNoise stays absent (independent); shared is kept', async () => {
  const dir = await makeTinyCheckpoint(parent, { name: 'independent' });
  assert.equal((await loadCheckpoint(dir)).manifest.head.diagonalNoise, undefined);
  await editManifest(dir, (m) => (m.head.diagonalNoise = 'shared'));
  assert.equal((await loadCheckpoint(dir)).manifest.head.diagonalNoise, 'shared');
});

test('an unknown value, a det head and a zero-shot model are refused, naming head.diagonalNoise', async () => {
  const unknown = await makeTinyCheckpoint(parent, { name: 'unknown' });
  await editManifest(unknown, (m) => (m.head.diagonalNoise = 'scalar'));
  await assert.rejects(loadCheckpoint(unknown), refusal(/\/head\/diagonalNoise/));

  const det = await makeTinyCheckpoint(parent, { name: 'det', type: 'det' });
  await editManifest(det, (m) => (m.head.diagonalNoise = 'shared'));
  await assert.rejects(loadCheckpoint(det), refusal(/head\.diagonalNoise given for a det head/));

  const { dir: zeroShot } = await generateCheckpoint({
    modelsDir: parent,
    name: 'zero-shot',
    seed: 1,
    head: { type: 'het-xl', D: 6, K: 3, R: 2 },
    input: { height: 4, width: 4, channels: 1 },
    zeroShot: { vocabulary: ['a', 'red', 'circle'], templates: ['a {label}'] },
  });
  await editManifest(zeroShot, (m) => (m.head.diagonalNoise = 'shared'));
  await assert.rejects(loadCheckpoint(zeroShot), refusal(/zero-shot models need head\.diagonalNoise "independent"/));
});
