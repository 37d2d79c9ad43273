// The prompt tokenizer (src/format/tokenizer.ts) with tokenizers as they come: the CLIP stand-in
// of test/fixtures/clip/ (byte-level BPE, </w> word ends, RobertaProcessing), a BERT-style
// WordPiece with a TemplateProcessing post-processor, a SentencePiece Unigram, and the demo's WordLevel. Token ids are
// checked against OpenAI's BPE algorithm (expected.json, computed by the fixture script) and
// against @huggingface/tokenizers' own encode; padding, context length and truncation against
// what the Rust library and CLIPTokenizer do (pads from tokenizer_config.json, specials kept).
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Tokenizer } from '@huggingface/tokenizers';
import { PromptTokenizer, TokenizerError, wordLevelTokenizerJson } from '../../src/format/tokenizer.ts';
import { clipExpected, clipJson } from '../convert/clip-fixture.ts';

const clipFiles = async () => ({ json: await clipJson('tokenizer/tokenizer.json'), config: await clipJson('tokenizer/tokenizer_config.json') });

test('CLIP: ids with <|startoftext|> / <|endoftext|> equal OpenAI\'s BPE and the library\'s encode; pad id, context length from tokenizer_config.json', async () => {
  const { json, config } = await clipFiles();
  const expected = await clipExpected();
  const tokenizer = new PromptTokenizer(json, { config });
  const library = new Tokenizer(json, config);
  for (const [prompt, { ids }] of Object.entries(expected.prompts)) {
    assert.deepEqual(tokenizer.towerIds(prompt), ids, prompt);
    assert.deepEqual(library.encode(prompt).ids, ids, prompt);
    assert.deepEqual(tokenizer.encode(prompt).ids, ids.slice(1, -1), `${prompt}: the text's own ids, without the specials`);
  }
  const eot = library.token_to_id('<|endoftext|>')!;
  assert.equal(eot, Object.keys((json.model as { vocab: object }).vocab).length - 1, 'the two specials come last');
  assert.equal(tokenizer.specialTokens, 2);
  assert.equal(tokenizer.padId, eot);
  assert.equal(tokenizer.contextLength, 77);
  assert.equal(tokenizer.contextLengthSource, "tokenizer_config.json's model_max_length");
});

test('CLIP: byte-level BPE reports no unknown words (it has none), even for words outside its merges', async () => {
  const { json, config } = await clipFiles();
  const tokenizer = new PromptTokenizer(json, { config });
  assert.equal(tokenizer.reportsUnknownWords, false);
  assert.deepEqual(tokenizer.encode('a zebra-hexagon'), { ids: tokenizer.encode('a zebra-hexagon').ids, unknownWords: [], allUnknown: false });
  assert.ok(tokenizer.encode('zebra').ids.length > 1, 'an unseen word becomes byte pieces');
});

test('CLIP: towerIds cuts the text to the context length less the specials, keeping <|startoftext|> and <|endoftext|>', async () => {
  const { json } = await clipFiles();
  const tokenizer = new PromptTokenizer(json, { contextLength: 6 });
  const full = new Tokenizer(json, {}).encode('a photo of a red circle').ids; // 6 words, 8 ids
  assert.equal(full.length, 8);
  assert.deepEqual(tokenizer.towerIds('a photo of a red circle'), [...full.slice(0, 5), full.at(-1)!]);
});

test('without tokenizer_config.json: pad id 0 (open_clip), the context length from the manifest or none', async () => {
  const { json } = await clipFiles();
  const bare = new PromptTokenizer(json);
  assert.equal(bare.padId, 0);
  assert.equal(bare.contextLength, undefined);
  const fromManifest = new PromptTokenizer(json, { contextLength: 77 });
  assert.equal(fromManifest.contextLength, 77);
  assert.equal(fromManifest.contextLengthSource, 'zeroShot.text.contextLength');
});

test('tokenizer_config.json: pad_token as an AddedToken object; 1e30 (no length) ignored; refusals name the file', async () => {
  const { json, config } = await clipFiles();
  const objectPad = new PromptTokenizer(json, { config: { ...config, pad_token: { __type: 'AddedToken', content: '!' }, model_max_length: 1e30 } });
  assert.equal(objectPad.padId, new Tokenizer(json, {}).token_to_id('!'));
  assert.equal(objectPad.contextLength, undefined);
  const refuses = (options: ConstructorParameters<typeof PromptTokenizer>[1], file: string, message: RegExp) =>
    assert.throws(() => new PromptTokenizer(json, options), (e: unknown) => e instanceof TokenizerError && e.file === file && message.test(e.message));
  refuses({ config: { ...config, pad_token: '<pad>' } }, 'tokenizer_config.json', /pad_token "<pad>" is not a token of tokenizer.json/);
  refuses({ config, contextLength: 64 }, 'manifest.json', /zeroShot.text.contextLength 64 disagrees with tokenizer_config.json's model_max_length 77/);
  refuses({ contextLength: 2 }, 'manifest.json', /context length of 2 tokens leaves no room beside the 2 special tokens/);
});

/** A BERT-style tokenizer.json: WordPiece with ## continuations, [CLS] ... [SEP] by TemplateProcessing. */
function wordPieceJson(): Record<string, unknown> {
  const vocab = Object.fromEntries(['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'a', 'red', 'circle', 'cir', '##cle', 'photo'].map((t, i) => [t, i]));
  const special = (content: string) => ({ id: vocab[content], content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: ['[PAD]', '[UNK]', '[CLS]', '[SEP]'].map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }],
      pair: [{ SpecialToken: { id: '[CLS]', type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '[SEP]', type_id: 0 } }, { Sequence: { id: 'B', type_id: 1 } }, { SpecialToken: { id: '[SEP]', type_id: 1 } }],
      special_tokens: { '[CLS]': { id: '[CLS]', ids: [2], tokens: ['[CLS]'] }, '[SEP]': { id: '[SEP]', ids: [3], tokens: ['[SEP]'] } },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: { type: 'WordPiece', unk_token: '[UNK]', continuing_subword_prefix: '##', max_input_chars_per_word: 100, vocab },
  };
}

test('WordPiece with TemplateProcessing: [CLS] ... [SEP] added, [PAD] is the pad id, unknown words named as words', () => {
  const tokenizer = new PromptTokenizer(wordPieceJson());
  assert.equal(tokenizer.specialTokens, 2);
  assert.equal(tokenizer.padId, 0);
  assert.deepEqual(tokenizer.towerIds('A red circle'), [2, 4, 5, 6, 3]);
  assert.deepEqual(tokenizer.encode('a red hexagon'), { ids: [4, 5, 1], unknownWords: ['hexagon'], allUnknown: false });
  assert.equal(tokenizer.encode('zebra hexagon').allUnknown, true);
});

test("WordLevel (the demo's): no specials, [PAD] = 0, unknown words reported; an unk_token outside the vocabulary is refused", () => {
  const tokenizer = new PromptTokenizer(wordLevelTokenizerJson(['a', 'red', 'circle']));
  assert.equal(tokenizer.specialTokens, 0);
  assert.equal(tokenizer.padId, 0);
  assert.deepEqual(tokenizer.towerIds('A red hexagon'), [2, 3, 1]);
  assert.deepEqual(tokenizer.encode('A red hexagon'), { ids: [2, 3, 1], unknownWords: ['hexagon'], allUnknown: false });
  assert.deepEqual(tokenizer.encode('purple hexagon'), { ids: [1, 1], unknownWords: ['purple', 'hexagon'], allUnknown: true });
  const json = wordLevelTokenizerJson(['a']);
  (json.model as { unk_token: string }).unk_token = '<unk>';
  assert.throws(() => new PromptTokenizer(json), /WordLevel model names unk_token "<unk>", which is not in its vocabulary/);
});

test('Unigram (SentencePiece, e.g. SigLIP / T5): unk_id for the unknown token, </s> from TemplateProcessing, pad_token from the config', () => {
  const special = (id: number, content: string) => ({ id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const metaspace = { type: 'Metaspace', replacement: '▁', prepend_scheme: 'always', split: true };
  const json = {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, '<pad>'), special(1, '</s>'), special(2, '<unk>')],
    normalizer: null,
    pre_tokenizer: metaspace,
    post_processor: { type: 'TemplateProcessing', single: [{ Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: '</s>', type_id: 0 } }], pair: [], special_tokens: { '</s>': { id: '</s>', ids: [1], tokens: ['</s>'] } } },
    decoder: metaspace,
    model: { type: 'Unigram', unk_id: 2, byte_fallback: false, vocab: [['<pad>', 0], ['</s>', 0], ['<unk>', 0], ['▁a', -1], ['▁red', -2], ['▁circle', -2], ['▁', -3], ['r', -5], ['e', -5], ['d', -5]] },
  };
  const tokenizer = new PromptTokenizer(json, { config: { pad_token: '<pad>', model_max_length: 64 } });
  assert.deepEqual(tokenizer.towerIds('a red circle'), [3, 4, 5, 1]);
  assert.equal(tokenizer.specialTokens, 1);
  assert.equal(tokenizer.padId, 0);
  assert.deepEqual(tokenizer.encode('a red hexagon').unknownWords, ['hexagon']);
  assert.equal(tokenizer.encode('a red hexagon').allUnknown, false);
});
