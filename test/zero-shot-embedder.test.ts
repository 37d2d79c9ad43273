import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, defaultEngineOptions } from '../src/onnx/session.ts';
import { LabelEmbedder } from '../src/zeroshot/text-embeddings.ts';
import { EmbeddingCache } from '../src/zeroshot/lru.ts';
import { buildTextTower } from '../src/zeroshot/text-tower.ts';
import { PromptTokenizer, wordLevelTokenizerJson } from '../src/zeroshot/tokenizer.ts';
import { mulberry32 } from './reference.ts';

const words = ['a', 'photo', 'of', 'red', 'circle', 'blue', 'square'];
const W = 4, E = 3, V = words.length + 2;

/** A random demo text tower's session, seeded. */
async function textTower(seed: number) {
  const u = mulberry32(seed);
  const tokenEmbeddings = Float32Array.from({ length: V * W }, () => 2 * u() - 1);
  const projection = Float32Array.from({ length: W * E }, () => 2 * u() - 1);
  return createSession(buildTextTower({ tokenEmbeddings, projection, vocabulary: V, width: W, dim: E }), defaultEngineOptions);
}

test('cached labels run no text-tower work; template ensemble is the renormalised mean', async () => {
  const session = await textTower(4);
  const embedder = new LabelEmbedder(session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(16), E);
  const templates = ['a {label}', 'a photo of a {label}'];

  const first = await embedder.embed(['red circle', 'blue square'], templates);
  assert.equal(embedder.towerRuns, 1);
  const again = await embedder.embed(['blue square', 'red circle'], templates);
  assert.equal(embedder.towerRuns, 1, 'all prompts cached: no tower run');
  assert.deepEqual(again.subarray(0, E), first.subarray(E, 2 * E));
  await embedder.embed(['red square'], templates);
  assert.equal(embedder.towerRuns, 2);

  // Reference: each prompt embedded alone, normalised, averaged, renormalised (float64).
  const single = async (prompt: string) => {
    const e = await embedder.embed([prompt.replace(/^a (photo of a )?/, '')], [prompt.startsWith('a photo') ? 'a photo of a {label}' : 'a {label}']);
    return Array.from(e);
  };
  const [p1, p2] = [await single('a red circle'), await single('a photo of a red circle')];
  const mean = p1.map((v, i) => v + p2[i]);
  const n = Math.hypot(...mean);
  mean.forEach((v, i) => assert.ok(Math.abs(first[i] - v / n) < 1e-6));
  await session.release();
});

test('a request with more prompts than the cache holds still gets every embedding, cached or not', async () => {
  const session = await textTower(5);
  const big = new LabelEmbedder(session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(1000), E);
  const small = new LabelEmbedder(session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(2), E);
  const labels = ['red circle', 'blue square', 'red square', 'blue circle'];
  const templates = ['a {label}', 'a photo of a {label}'];
  const reference = await big.embed(labels, templates);
  await small.embed(labels.slice(0, 1), templates); // two prompts cached, then eight needed at once
  assert.deepEqual(await small.embed(labels, templates), reference);
  assert.deepEqual(await small.embed(labels, templates), reference);
  await session.release();
});
