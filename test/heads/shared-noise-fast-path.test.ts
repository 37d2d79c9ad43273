// HET-XL with shared diagonal noise (edward2's JAX layers) is computed in the K-dimensional logit
// space, where one image's noise has rank R + 1 (src/heads/het-xl.ts). Checked against the
// float64 reference of test/reference/ fed the same noise rows as production (eps_D's one scalar
// per sample repeated over the D dimensions: the shared semantics), for both covariances,
// R = 3 and R = 0, both links. Tolerances: 1e-5 for the MC estimates (float32 rounding of the
// loadings, [R + 2] x D x K products, and of sums over 300 samples: ~1e-7 per sample, while the
// MC error at S = 300 is ~1e-2, so agreement means the same samples, not just the same
// distribution); 1e-6 for mean mode and the logits (one float32 product of length D); 1e-6
// between chunkings (float32 per-chunk sums merged in float64).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import onnxProto from 'onnx-proto';
import { createSession, floatTensor, type EngineOptions } from '../../src/engine/session.ts';
import type { HeadSpec } from '../../src/format/manifest.ts';
import { buildHeadGraphs } from '../../src/heads/graphs.ts';
import type { OrtHeadRunner } from '../../src/heads/runner.ts';
import { CENTER, LOGITS, PHI } from '../../src/heads/graph-io.ts';
import { EPS_D, EPS_R } from '../../src/mc/sample-graph.ts';
import { STREAM_DIAGONAL, STREAM_FACTOR } from '../../src/noise/normal.ts';
import { randomHeadWeights, referenceLocLogits, referenceLogits, referenceMc, referenceMeanProbs, type Matrix, type Vector } from '../reference/heads.ts';
import { referenceSigmoidMc, referenceSigmoidMean } from '../reference/sigmoid.ts';
import { assertClose, headRunners, noiseRows } from '../helpers/heads.ts';

const engine: EngineOptions = { provider: 'cpu', threads: 1 };
const D = 6;
const K = 5;
const BATCH = 2;
const S = 300;
const SEED = 31;

const SPECS: HeadSpec[] = (['param-efficient', 'full'] as const).flatMap((covariance) =>
  [3, 0].flatMap((R) =>
    (['softmax', 'sigmoid'] as const).map((link): HeadSpec => ({ type: 'het-xl', covariance, R, D, K, tau: 0.7, minScale: 1e-3, link, diagonalNoise: 'shared' })),
  ),
);
const label = (s: HeadSpec) => `${s.link} het-xl/${s.covariance} R=${s.R} shared`;

const phi = Float32Array.from({ length: BATCH * D }, (_, i) => 1.2 * Math.sin(1.7 * i + 0.4));
const phiOf = (b: number): Vector => Array.from(phi.subarray(b * D, (b + 1) * D));

/** The production noise of samples [0, S) as the reference reads the shared semantics: eps_D's scalar repeated over D. */
function sharedNoiseRows(seed: number, samples: number, R: number): { epsR: Matrix; epsD: Matrix } {
  const xi = noiseRows(seed, samples, 1, STREAM_DIAGONAL);
  return { epsR: noiseRows(seed, samples, R, STREAM_FACTOR), epsD: xi.map(([x]) => new Array<number>(D).fill(x)) };
}

const runnerFor = headRunners();

/** MC of either link, as the estimates both share plus the link's entropy term. */
async function mcOf(runner: OrtHeadRunner, spec: HeadSpec, seed: number): Promise<{ probs: Float32Array; std: Float32Array; entropy: ArrayLike<number> }[]> {
  if (spec.link === 'sigmoid') {
    return (await runner.sigmoidMc(phi, BATCH, { samples: S, seed })).map((r) => ({ probs: r.probs, std: r.std, entropy: r.expectedBinaryEntropy }));
  }
  return (await runner.mc(phi, BATCH, { samples: S, seed })).map((r) => ({ probs: r.probs, std: r.std, entropy: [r.expectedEntropy] }));
}

test('the graphs work in logit space: noise width K, eps_D of width 1, and sample and mean graphs with no weights', () => {
  for (const spec of SPECS) {
    const graphs = buildHeadGraphs(spec, randomHeadWeights(spec, 71));
    assert.equal(graphs.noiseWidth, K, label(spec));
    assert.equal(graphs.diagonalWidth, 1, label(spec));
    assert.equal(graphs.centerWidth, K, label(spec));
    assert.equal(graphs.centerFromScaleModel, true, label(spec));
    for (const model of [graphs.sampleModel, graphs.buildLogitsModel(), graphs.meanModel!]) {
      const { graph } = onnxProto.onnx.ModelProto.decode(model);
      const floats = graph!.initializer!.filter((t) => t.dataType === onnxProto.onnx.TensorProto.DataType.FLOAT);
      // Only scalars (1/tau): neither W nor any scale layer.
      for (const t of floats) assert.deepEqual(t.dims ?? [], [], `${label(spec)}: initializer ${t.name} of dims ${t.dims}`);
    }
  }
});

test('shared-noise fast path: MC equals the float64 reference from the same noise rows, both covariances, R = 3 and 0, both links', async () => {
  for (const spec of SPECS) {
    const weights = randomHeadWeights(spec, 71);
    const runner = await runnerFor(spec, weights);
    const results = await mcOf(runner, spec, SEED);
    const { epsR, epsD } = sharedNoiseRows(SEED, S, spec.R!);
    for (let b = 0; b < BATCH; b++) {
      const what = `${label(spec)} image ${b}`;
      if (spec.link === 'sigmoid') {
        const ref = referenceSigmoidMc(spec, weights, phiOf(b), epsR, epsD);
        assertClose(results[b].probs, ref.probs, 1e-5, `${what} probs`);
        assertClose(results[b].std, ref.std, 1e-5, `${what} std`);
        assertClose(results[b].entropy, ref.expectedBinaryEntropy, 1e-5, `${what} expected binary entropy`);
        assert.ok(Math.max(...ref.std) > 0.02, `${what}: the test weights should make the noise matter`);
      } else {
        const ref = referenceMc(spec, weights, phiOf(b), epsR, epsD);
        assertClose(results[b].probs, ref.probs, 1e-5, `${what} probs`);
        assertClose(results[b].std, ref.std, 1e-5, `${what} std`);
        assertClose(results[b].entropy, [ref.expectedEntropy], 1e-5, `${what} expected entropy`);
        assert.ok(Math.max(...ref.std) > 0.02, `${what}: the test weights should make the noise matter`);
      }
    }
  }
});

test('shared-noise fast path: the sampled logits are the reference logits of the same noise (logits-mode graph)', async () => {
  const samples = 7;
  for (const spec of SPECS) {
    const weights = randomHeadWeights(spec, 72);
    const graphs = buildHeadGraphs(spec, weights);
    const [perImage, logitsGraph] = await Promise.all([createSession(graphs.scaleModel!, engine), createSession(graphs.buildLogitsModel(), engine)]);
    try {
      const outputs = await perImage.run({ [PHI]: floatTensor(phi, [BATCH, D]) });
      const feeds = { [CENTER]: outputs[CENTER], ...Object.fromEntries(graphs.scaleTensors.map(({ name }) => [name, outputs[name]])) };
      const { epsR, epsD } = sharedNoiseRows(SEED, samples, spec.R!);
      const noise = { [EPS_D]: floatTensor(Float32Array.from(epsD, (row) => row[0]), [samples, 1]) };
      if (spec.R) Object.assign(noise, { [EPS_R]: floatTensor(Float32Array.from(epsR.flat()), [samples, spec.R]) });
      const u = (await logitsGraph.run({ ...feeds, ...noise }))[LOGITS].data as Float32Array;
      for (let b = 0; b < BATCH; b++) {
        for (let s = 0; s < samples; s++) {
          const row = u.subarray((b * samples + s) * K, (b * samples + s + 1) * K);
          assertClose(row, referenceLogits(spec, weights, phiOf(b), epsR[s], epsD[s]), 1e-5, `${label(spec)} image ${b} sample ${s}`);
        }
      }
    } finally {
      await perImage.release();
      await logitsGraph.release();
    }
  }
});

test('shared-noise fast path: mean mode and logits as before (noise-free, from the loc graph)', async () => {
  for (const spec of SPECS) {
    const weights = randomHeadWeights(spec, 73);
    const runner = await runnerFor(spec, weights);
    const independent = await runnerFor({ ...spec, diagonalNoise: 'independent' }, weights);
    const [means, logits] = [await runner.mean(phi, BATCH), await runner.logits(phi, BATCH)];
    // The same loc graph as the independent-noise head: the same logits, bit for bit.
    assert.deepEqual(logits, await independent.logits(phi, BATCH), `${label(spec)} logits`);
    const independentMeans = await independent.mean(phi, BATCH);
    for (let b = 0; b < BATCH; b++) {
      const what = `${label(spec)} image ${b}`;
      const reference = spec.link === 'sigmoid' ? referenceSigmoidMean(spec, weights, phiOf(b)) : referenceMeanProbs(spec, weights, phiOf(b));
      assertClose(means[b], reference, 1e-6, `${what} mean mode`);
      assertClose(means[b], independentMeans[b], 1e-6, `${what} mean mode against independent noise`);
      assertClose(logits[b], referenceLocLogits(weights, phiOf(b)), 1e-6, `${what} logits`);
    }
  }
});

test('shared-noise fast path: same seed same answer, another seed differs, any chunking the same within 1e-6', async () => {
  for (const spec of SPECS) {
    const weights = randomHeadWeights(spec, 74);
    const runner = await runnerFor(spec, weights);
    // A budget this small forces chunks of a few samples (checked below).
    const chunked = await runnerFor(spec, weights, { memoryBudgetBytes: 2000, noiseCacheBytes: 0 });
    assert.equal(runner.chunksFor(S, BATCH).length, 1, label(spec));
    assert.ok(chunked.chunksFor(S, BATCH).length > 10, `${label(spec)}: ${chunked.chunksFor(S, BATCH).length} chunks`);
    const first = await mcOf(runner, spec, 9);
    assert.deepEqual(await mcOf(runner, spec, 9), first, `${label(spec)}: same seed`);
    const other = await mcOf(runner, spec, 10);
    const inChunks = await mcOf(chunked, spec, 9);
    for (let b = 0; b < BATCH; b++) {
      const what = `${label(spec)} image ${b}`;
      assert.ok(first[b].probs.some((p, k) => Math.abs(p - other[b].probs[k]) > 1e-4), `${what}: another seed should differ`);
      assertClose(inChunks[b].probs, first[b].probs, 1e-6, `${what} chunked probs`);
      assertClose(inChunks[b].std, first[b].std, 1e-6, `${what} chunked std`);
      assertClose(inChunks[b].entropy, first[b].entropy, 1e-6, `${what} chunked entropy`);
    }
  }
});
