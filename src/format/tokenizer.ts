// The prompt tokenizer of a zero-shot checkpoint: tokenizer.json in Hugging Face tokenizers
// format, read with @huggingface/tokenizers (the maintained JS port). Part of the checkpoint
// format: the loader builds it, and a checkpoint that has no [UNK] token is refused.

import { Tokenizer } from '@huggingface/tokenizers';

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
/**
 * tokenizer.json for a WordLevel model: lowercase normaliser, whitespace pre-tokeniser,
 * [PAD] = 0 and [UNK] = 1, then the words in the given order. The same JSON the Python
 * `tokenizers` package writes for `Tokenizer(WordLevel(vocab, unk_token="[UNK]"))`.
 */
export function wordLevelTokenizerJson(words: readonly string[]): Record<string, unknown> {
  const vocab: Record<string, number> = { [PAD_TOKEN]: 0, [UNK_TOKEN]: 1 };
  for (const w of words) if (!(w in vocab)) vocab[w] = Object.keys(vocab).length;
  const special = (id: number, content: string) => ({
    id, content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true,
  });
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [special(0, PAD_TOKEN), special(1, UNK_TOKEN)],
    normalizer: { type: 'Lowercase' },
    pre_tokenizer: { type: 'Whitespace' },
    post_processor: null,
    decoder: null,
    model: { type: 'WordLevel', vocab, unk_token: UNK_TOKEN },
  };
}

export interface EncodedPrompt {
  ids: number[];
  /** Words of the prompt that mapped to [UNK], in order of appearance. */
  unknownWords: string[];
}

export class PromptTokenizer {
  private readonly tokenizer: Tokenizer;
  private readonly unkId: number;

  constructor(json: Record<string, unknown>) {
    this.tokenizer = new Tokenizer(json, {});
    const unk = this.tokenizer.token_to_id(UNK_TOKEN);
    if (unk === undefined) throw new Error(`tokenizer.json has no ${UNK_TOKEN} token`);
    this.unkId = unk;
  }

  encode(text: string): EncodedPrompt {
    const tokens: string[] = this.tokenizer.tokenize(text, { add_special_tokens: false });
    const ids = tokens.map((t) => this.tokenizer.token_to_id(t) ?? this.unkId);
    const unknownWords = tokens.filter((_, i: number) => ids[i] === this.unkId);
    return { ids, unknownWords };
  }
}
