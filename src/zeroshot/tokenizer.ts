// Prompt tokenizer of a zero-shot checkpoint: tokenizer.json in Hugging Face tokenizers format,
// read with @huggingface/tokenizers (the maintained JS port), plus the checks a request's labels
// and templates must pass before any text-tower work.

import { Tokenizer } from '@huggingface/tokenizers';

export const PAD_TOKEN = '[PAD]';
export const UNK_TOKEN = '[UNK]';
/** The placeholder a prompt template must contain; replaced by each label. */
export const LABEL_PLACEHOLDER = '{label}';

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

/** A request's labels or templates failed a check; message says which and why (HTTP 400). */
export class PromptError extends Error {}

export interface PromptLimits {
  maxLabels: number;
  maxLabelLength: number;
}

/**
 * Checks labels and templates: 1..maxLabels labels, no duplicates, none longer than
 * maxLabelLength characters, every template contains {label}, and each label has at least one
 * known word (a label of unknown words only would embed as [UNK] and match arbitrarily).
 */
export function checkPrompts(labels: readonly string[], templates: readonly string[], tokenizer: PromptTokenizer, limits: PromptLimits): void {
  if (labels.length === 0) throw new PromptError('labels: give at least one label');
  if (labels.length > limits.maxLabels) throw new PromptError(`labels: ${labels.length} labels, at most ${limits.maxLabels} allowed`);
  const seen = new Set<string>();
  for (const label of labels) {
    if (seen.has(label)) throw new PromptError(`labels: duplicate label "${label}"`);
    seen.add(label);
    if (label.length > limits.maxLabelLength) {
      throw new PromptError(`labels: "${label.slice(0, 40)}…" is ${label.length} characters, at most ${limits.maxLabelLength} allowed`);
    }
    const { ids, unknownWords } = tokenizer.encode(label);
    if (ids.length === 0) throw new PromptError(`labels: "${label}" contains no words`);
    if (unknownWords.length === ids.length) {
      throw new PromptError(`labels: "${label}" has only words the text tower does not know: ${unknownWords.join(', ')}`);
    }
  }
  if (templates.length === 0) throw new PromptError('templates: give at least one template or leave the field out');
  for (const template of templates) {
    if (!template.includes(LABEL_PLACEHOLDER)) throw new PromptError(`templates: "${template}" does not contain ${LABEL_PLACEHOLDER}`);
  }
}

/** The prompts for one label: each template with {label} replaced. */
export function fillTemplates(label: string, templates: readonly string[]): string[] {
  return templates.map((t) => t.replaceAll(LABEL_PLACEHOLDER, label));
}
