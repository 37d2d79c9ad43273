// The prompt tokenizer of a zero-shot checkpoint: tokenizer.json in Hugging Face tokenizers
// format (and tokenizer_config.json when the checkpoint has one), read with
// @huggingface/tokenizers (the maintained JS port). Any tokenizer the library loads is used as it
// comes: its normaliser, pre-tokeniser, model and post-processor (the special tokens it adds,
// e.g. CLIP's <|startoftext|> ... <|endoftext|>). The library has no truncation or padding, so
// this module does both the way the Rust library does: the content is cut to the context length
// less the special tokens before the post-processor runs, and rows are padded with the
// tokenizer's pad id. Part of the checkpoint format: the loader builds it.

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

/**
 * Hugging Face writes model_max_length = int(1e30) (VERY_LARGE_INTEGER) when a tokenizer has no
 * context length; any value above this reads as "none".
 */
const NO_CONTEXT_LENGTH_ABOVE = 1_000_000;

export interface EncodedPrompt {
  /** Token ids of the text alone, without the special tokens the post-processor adds. */
  ids: number[];
  /** Words of the prompt the vocabulary does not know (they become the unknown token), in order of appearance. */
  unknownWords: string[];
  /** True when every word of the text is unknown (false for an empty text). */
  allUnknown: boolean;
}

export interface TokenizerOptions {
  /** tokenizer_config.json, when the checkpoint has one (model_max_length, pad_token, ...). */
  config?: Record<string, unknown>;
  /** The manifest's zeroShot.text.contextLength. */
  contextLength?: number;
}

/** A tokenizer.json or tokenizer_config.json the server cannot use; the loader names the file. */
export class TokenizerError extends Error {
  constructor(
    readonly file: 'tokenizer.json' | 'tokenizer_config.json' | 'manifest.json',
    message: string,
  ) {
    super(message);
  }
}

type Json = Record<string, unknown>;

/** A token named by a tokenizer_config.json field: a string, or an AddedToken object ({content}). */
function tokenContent(value: unknown): string | undefined {
  if (typeof value === 'string') return value;
  if (value && typeof value === 'object' && typeof (value as Json).content === 'string') return (value as Json).content as string;
  return undefined;
}

/** Whether a pre-tokenizer (or a Sequence of them) maps text to bytes first: then every piece is in the vocabulary. */
function isByteLevel(preTokenizer: unknown): boolean {
  if (!preTokenizer || typeof preTokenizer !== 'object') return false;
  const p = preTokenizer as Json;
  if (p.type === 'ByteLevel') return true;
  return p.type === 'Sequence' && Array.isArray(p.pretokenizers) && p.pretokenizers.some(isByteLevel);
}

export class PromptTokenizer {
  private readonly tokenizer: Tokenizer;
  /** The id an unknown piece becomes (the model's unk_token); undefined where none is defined (never for WordLevel). */
  private readonly unkId: number | undefined;
  private readonly unkToken: string | undefined;
  /** False for byte-level BPE (every byte is a token: no word can be unknown) and models without an unknown token: none is reported. */
  readonly reportsUnknownWords: boolean;
  /** Tokens the post-processor adds to one text (CLIP: 2, the demo's WordLevel: 0). */
  readonly specialTokens: number;
  /** Longest prompt in tokens, special tokens included; undefined: no limit. */
  readonly contextLength: number | undefined;
  /** Where contextLength came from, for messages. */
  readonly contextLengthSource: string | undefined;
  /** The id rows are padded with. */
  readonly padId: number;

  constructor(json: Json, options: TokenizerOptions = {}) {
    const config = options.config ?? {};
    this.tokenizer = new Tokenizer(json, config);
    const model = (json.model ?? {}) as Json;
    // WordLevel, WordPiece and BPE name their unknown token, Unigram (SentencePiece) gives its id.
    this.unkToken = typeof model.unk_token === 'string' ? model.unk_token : typeof model.unk_id === 'number' ? this.tokenizer.id_to_token(model.unk_id) : tokenContent(config.unk_token);
    this.unkId = this.unkToken === undefined ? undefined : this.tokenizer.token_to_id(this.unkToken);
    // The library leaves a word outside a WordLevel vocabulary as it is (other models map it to their unknown token or drop it).
    if (model.type === 'WordLevel' && this.unkId === undefined) {
      const named = this.unkToken === undefined ? 'names no unk_token' : `names unk_token "${this.unkToken}", which is not in its vocabulary`;
      throw new TokenizerError('tokenizer.json', `its WordLevel model ${named}; words outside the vocabulary would have no id`);
    }
    const byteLevel = isByteLevel(json.pre_tokenizer) || model.byte_fallback === true;
    this.reportsUnknownWords = !byteLevel && this.unkId !== undefined;
    this.specialTokens = this.postProcess([]).length;
    this.padId = this.findPadId(json, config);
    const fromConfig = typeof config.model_max_length === 'number' && config.model_max_length <= NO_CONTEXT_LENGTH_ABOVE ? config.model_max_length : undefined;
    if (fromConfig !== undefined && options.contextLength !== undefined && fromConfig !== options.contextLength) {
      throw new TokenizerError(
        'manifest.json',
        `zeroShot.text.contextLength ${options.contextLength} disagrees with tokenizer_config.json's model_max_length ${fromConfig}; give one of them, or the same value`,
      );
    }
    this.contextLength = options.contextLength ?? fromConfig;
    this.contextLengthSource = options.contextLength !== undefined ? 'zeroShot.text.contextLength' : fromConfig !== undefined ? "tokenizer_config.json's model_max_length" : undefined;
    if (this.contextLength !== undefined && this.contextLength <= this.specialTokens) {
      throw new TokenizerError('manifest.json', `a context length of ${this.contextLength} tokens leaves no room beside the ${this.specialTokens} special tokens`);
    }
  }

  /**
   * The pad id the tokenizer defines: tokenizer.json's padding.pad_id, else tokenizer_config.json's
   * pad_token, else a [PAD] token, else 0 (open_clip's pad id). Towers that take an attention mask
   * or pool at the end-of-text token do not read the pads.
   */
  private findPadId(json: Json, config: Json): number {
    const padding = json.padding as Json | null | undefined;
    if (padding && typeof padding.pad_id === 'number') return padding.pad_id;
    const named = tokenContent(config.pad_token);
    if (named !== undefined) {
      const id = this.tokenizer.token_to_id(named);
      if (id === undefined) throw new TokenizerError('tokenizer_config.json', `pad_token "${named}" is not a token of tokenizer.json`);
      return id;
    }
    return this.tokenizer.token_to_id(PAD_TOKEN) ?? 0;
  }

  /** Token strings -> ids; a piece outside the vocabulary (a WordLevel model leaves words as they are) -> the unknown id. */
  private toIds(tokens: readonly string[]): number[] {
    return tokens.map((t) => this.tokenizer.token_to_id(t) ?? this.unkId!);
  }

  /** The tokenizer's post-processor applied to the pieces of one text (its special tokens added). */
  private postProcess(tokens: string[]): string[] {
    const post = this.tokenizer.post_processor;
    return post ? post.post_process(tokens, null, true).tokens : tokens;
  }

  /**
   * The words of `text` (normalised, then split at whitespace) the vocabulary does not know: those
   * the tokenizer maps, in whole or in part, to its unknown token. Whitespace rather than the
   * pre-tokeniser's pieces, because pre-tokenisers such as Metaspace (SentencePiece) do not split
   * words at all.
   */
  private unknownWordsOf(text: string): { words: number; unknown: string[] } {
    const normalizer = this.tokenizer.normalizer;
    const normalised: string = normalizer ? normalizer.normalize(text) : text;
    const words = normalised.split(/\s+/).filter((w) => w !== '');
    const isUnknown = (piece: string) => piece === this.unkToken || this.tokenizer.token_to_id(piece) === undefined;
    const unknown = words.filter((word) => this.tokenizer.tokenize(word, { add_special_tokens: false }).some(isUnknown));
    return { words: words.length, unknown };
  }

  /** The text's own token ids (no special tokens), and its unknown words where the tokenizer can have any. */
  encode(text: string): EncodedPrompt {
    const ids = this.toIds(this.tokenizer.tokenize(text, { add_special_tokens: false }));
    if (!this.reportsUnknownWords) return { ids, unknownWords: [], allUnknown: false };
    const { words, unknown } = this.unknownWordsOf(text);
    return { ids, unknownWords: unknown, allUnknown: words > 0 && unknown.length === words };
  }

  /**
   * What the text tower gets for one prompt: its tokens cut to the context length less the
   * special tokens (the Rust library's truncation, which happens before the post-processor), then
   * the post-processor's special tokens. Requests are refused before this when a prompt is too
   * long (src/text/prompts.ts); the cut only guards the tower against a longer encoding than that
   * check's count.
   */
  towerIds(text: string): number[] {
    let tokens = this.tokenizer.tokenize(text, { add_special_tokens: false });
    if (this.contextLength !== undefined) tokens = tokens.slice(0, this.contextLength - this.specialTokens);
    return this.toIds(this.postProcess(tokens));
  }
}
