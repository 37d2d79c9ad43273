import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as ort from 'onnxruntime-node';
import { createSession, defaultEngineOptions } from '../../../src/engine/session.ts';
import { buildTextTower } from '../../../src/training/common/text-tower.ts';
import { TEXT_INPUT, TEXT_OUTPUT } from '../../../src/format/manifest.ts';
import { mulberry32 } from '../../reference/heads.ts';

test('text tower graph equals a float64 mean-pool-and-project reference (abs 1e-5)', async () => {
  const V = 9, W = 4, E = 3;
  const u = mulberry32(2);
  const tokenEmbeddings = Float32Array.from({ length: V * W }, () => 2 * u() - 1);
  const projection = Float32Array.from({ length: W * E }, () => 2 * u() - 1);
  const session = await createSession(buildTextTower({ tokenEmbeddings, projection, vocabulary: V, width: W, dim: E }), defaultEngineOptions);
  const rows = [[3, 5, 8, 0], [2, 0, 0, 0], [0, 0, 0, 0]]; // padded with 0; an all-pad row gives zeros
  const ids = BigInt64Array.from(rows.flat().map(BigInt));
  const out = (await session.run({ [TEXT_INPUT]: new ort.Tensor('int64', ids, [3, 4]) }))[TEXT_OUTPUT];
  assert.deepEqual(out.dims, [3, E]);
  rows.forEach((row, b) => {
    const tokens = row.filter((t) => t !== 0);
    const pooled = Array.from({ length: W }, (_, w) => tokens.reduce((a, t) => a + tokenEmbeddings[t * W + w], 0) / Math.max(1, tokens.length));
    for (let e = 0; e < E; e++) {
      const ref = pooled.reduce((a, p, w) => a + p * projection[w * E + e], 0);
      assert.ok(Math.abs((out.data as Float32Array)[b * E + e] - ref) < 1e-5);
    }
  });
  await session.release();
});
