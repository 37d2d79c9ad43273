import assert from 'node:assert/strict';
import { test } from 'node:test';
import { createSession, defaultEngineOptions, type Session } from '../../src/engine/session.ts';
import { LabelEmbedder, planTextBatches } from '../../src/text/label-embedder.ts';
import { TEXT_INPUT } from '../../src/format/manifest.ts';
import { EmbeddingCache } from '../../src/text/embedding-cache.ts';
import { buildTextTower } from '../../src/training/common/text-tower.ts';
import { PromptTokenizer, wordLevelTokenizerJson } from '../../src/format/tokenizer.ts';
import { mulberry32 } from '../reference/heads.ts';
import { eventLoopTurnsDuring } from '../helpers/event-loop.ts';

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
  const embedder = new LabelEmbedder(session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(16), E, 1024);
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
  const big = new LabelEmbedder(session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(1000), E, 1024);
  const small = new LabelEmbedder(session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(2), E, 1024);
  const labels = ['red circle', 'blue square', 'red square', 'blue circle'];
  const templates = ['a {label}', 'a photo of a {label}'];
  const reference = await big.embed(labels, templates);
  await small.embed(labels.slice(0, 1), templates); // two prompts cached, then eight needed at once
  assert.deepEqual(await small.embed(labels, templates), reference);
  assert.deepEqual(await small.embed(labels, templates), reference);
  await session.release();
});

/** The session with every run's input shape [rows, length] recorded. */
function recorded(session: Session): { session: Session; shapes: number[][] } {
  const shapes: number[][] = [];
  return { shapes, session: { provider: session.provider, release: () => session.release(), run: (feeds) => (shapes.push([...feeds[TEXT_INPUT].dims]), session.run(feeds)) } };
}

/** 60 distinct labels of 1 to 5 known words (i written in base 7, one word per digit). */
const manyLabels = Array.from({ length: 60 }, (_, i) => {
  const digits: string[] = [];
  for (let n = i * 37 + 1; n > 0 && digits.length < 1 + (i % 5); n = Math.floor(n / 7)) digits.push(words[n % 7]);
  return `${digits.join(' ')} ${i}`;
});
const manyTemplates = ['a {label}', 'a photo of a {label} of a {label}'];

test('batch plan: sorted prompts in consecutive batches of at most budget rows x padded length; an over-long prompt alone', () => {
  assert.deepEqual(planTextBatches([1, 2, 2, 3, 3, 3, 9], 8), [
    { start: 0, count: 3, length: 2 },
    { start: 3, count: 2, length: 3 },
    { start: 5, count: 1, length: 3 },
    { start: 6, count: 1, length: 9 },
  ]);
  assert.deepEqual(planTextBatches([0, 0], 1), [{ start: 0, count: 1, length: 1 }, { start: 1, count: 1, length: 1 }]);
  assert.deepEqual(planTextBatches([], 8), []);
});

test('the text tower runs in batches within TEXT_BATCH_TOKENS, with the results of one big batch', async () => {
  const base = await textTower(6);
  const tokenizer = new PromptTokenizer(wordLevelTokenizerJson(words));
  const one = recorded(base);
  const reference = await new LabelEmbedder(one.session, tokenizer, new EmbeddingCache(1000), E, 1_000_000).embed(manyLabels, manyTemplates);
  assert.equal(one.shapes.length, 1);
  assert.equal(one.shapes[0][0], 120);
  const budget = 48;
  const batched = recorded(base);
  const embedder = new LabelEmbedder(batched.session, tokenizer, new EmbeddingCache(1000), E, budget);
  const result = await embedder.embed(manyLabels, manyTemplates);
  assert.ok(batched.shapes.length >= 120 * 4 / budget, `${batched.shapes.length} runs`);
  assert.equal(embedder.towerRuns, batched.shapes.length);
  for (const [rows, length] of batched.shapes) assert.ok(rows * length <= budget, `a run of ${rows} x ${length} tokens`);
  assert.equal(batched.shapes.reduce((n, [rows]) => n + rows, 0), 120, 'every prompt embedded once');
  assert.equal(result.length, reference.length);
  result.forEach((v, i) => assert.ok(Math.abs(v - reference[i]) < 1e-6, `element ${i}: ${v} vs ${reference[i]}`));
  await base.release();
});

test('the event loop turns between text-tower batches (other requests are served meanwhile)', async () => {
  const base = await textTower(7);
  const tower = recorded(base);
  const embedder = new LabelEmbedder(tower.session, new PromptTokenizer(wordLevelTokenizerJson(words)), new EmbeddingCache(1000), E, 32);
  const turns = await eventLoopTurnsDuring(() => embedder.embed(manyLabels, manyTemplates));
  assert.ok(tower.shapes.length >= 10, `${tower.shapes.length} runs`);
  assert.ok(turns >= tower.shapes.length, `the event loop turned ${turns} times during ${tower.shapes.length} runs`);
  await base.release();
});

test('an aborted signal stops the embedding before the next text-tower batch', async () => {
  const base = await textTower(8);
  const tokenizer = new PromptTokenizer(wordLevelTokenizerJson(words));
  const before = recorded(base);
  const cache = new EmbeddingCache(1000);
  await assert.rejects(new LabelEmbedder(before.session, tokenizer, cache, E, 32).embed(manyLabels, manyTemplates, AbortSignal.abort()), { name: 'AbortError' });
  assert.equal(before.shapes.length, 0, 'aborted before the first batch: no run');
  assert.equal(cache.size, 0);

  // Aborted while the second batch runs (as a client hanging up then would): no third run.
  const midway = new AbortController();
  const partial = recorded(base);
  const aborting: Session = { ...partial.session, run: (feeds) => (partial.shapes.length === 1 && midway.abort(), partial.session.run(feeds)) };
  await assert.rejects(new LabelEmbedder(aborting, tokenizer, new EmbeddingCache(1000), E, 32).embed(manyLabels, manyTemplates, midway.signal), { name: 'AbortError' });
  assert.equal(partial.shapes.length, 2);
  await base.release();
});

test('a CLIP-style feed: ids with the specials, pads of the pad id to the static length, the mask 1 on tokens, 0 on pads', async () => {
  const vocabulary = ['a', 'red', 'circle'];
  const json = wordLevelTokenizerJson(vocabulary);
  // [CLS] = 5 and [SEP] = 6 around each prompt, a pad id of 7: none of them 0, so a zero left by mistake shows.
  json.added_tokens = [...(json.added_tokens as object[]), ...['[CLS]', '[SEP]', '<pad>'].map((content, i) => ({ id: 5 + i, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }))];
  json.post_processor = { type: 'BertProcessing', cls: ['[CLS]', 5], sep: ['[SEP]', 6] };
  const tokenizer = new PromptTokenizer(json, { config: { pad_token: '<pad>' }, contextLength: 6 });
  const feeds: Record<string, { dims: readonly number[]; data: BigInt64Array }>[] = [];
  const session: Session = {
    provider: 'cpu',
    release: async () => {},
    run: async (input) => {
      feeds.push(Object.fromEntries(Object.entries(input).map(([k, t]) => [k, { dims: t.dims, data: t.data as BigInt64Array }])));
      const rows = input.ids.dims[0];
      return { embeds: { data: Float32Array.from({ length: rows * E }, (_, i) => 1 + i), dims: [rows, E] } } as unknown as Awaited<ReturnType<Session['run']>>;
    },
  };
  const embedder = new LabelEmbedder(session, tokenizer, new EmbeddingCache(16), E, 1024, { inputIds: 'ids', attentionMask: 'mask', embedding: 'embeds', sequenceLength: 6 });
  await embedder.embed(['red circle', 'circle'], ['a {label}']);
  assert.equal(feeds.length, 1);
  const { ids, mask } = feeds[0];
  assert.deepEqual(ids.dims, [2, 6]);
  assert.deepEqual(mask.dims, [2, 6]);
  // Sorted by length: "a circle" (4 ids) first, then "a red circle" (5).
  assert.deepEqual([...ids.data].map(Number), [5, 2, 4, 6, 7, 7, 5, 2, 3, 4, 6, 7]);
  assert.deepEqual([...mask.data].map(Number), [1, 1, 1, 1, 0, 0, 1, 1, 1, 1, 1, 0]);
});
